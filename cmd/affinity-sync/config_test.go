package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

// envOf turns a map into the getenv function run and loadConfig take.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes data to a new file named name in a fresh directory with mode perm.
func writeFile(t *testing.T, name, data string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(data), perm))
	require.NoError(t, os.Chmod(path, perm)) // umask may have narrowed WriteFile's mode
	return path
}

// loadFromYAML runs loadConfig on a file holding yaml (mode 0600) and env.
func loadFromYAML(t *testing.T, yaml string, env map[string]string) (Config, []string, error) {
	t.Helper()
	path := ""
	if yaml != "" {
		path = writeFile(t, "config.yaml", yaml, 0o600)
	}
	var warnings []string
	cfg, err := loadConfig(path, envOf(env), func(msg string) { warnings = append(warnings, msg) })
	return cfg, warnings, err
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	for name, yaml := range map[string]string{
		"no file":        "",
		"empty file":     "\n",
		"only comments":  "# nothing set\n",
		"empty sections": "affinity:\nquota:\nsync:\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, warnings, err := loadFromYAML(t, yaml, nil)
			require.NoError(t, err)
			require.Empty(t, warnings)
			require.Empty(t, cfg.Affinity.APIKey.reveal())
			require.Empty(t, cfg.Affinity.APIKeyFile)
			require.Equal(t, "https://api.affinity.co", cfg.Affinity.BaseURL)
			require.Empty(t, cfg.Database.URL.reveal())
			require.Equal(t, "affinity", cfg.Database.Schema)
			require.EqualValues(t, 40000, cfg.Quota.DailyRequests)
			require.EqualValues(t, 0, cfg.Quota.MonthlyRequests)
			require.Equal(t, 900, cfg.Quota.PerMinute)
			require.InDelta(t, 0.10, cfg.Quota.Reserve, 1e-12)
			require.Equal(t, PaceMonth, cfg.Quota.Pace)
			require.True(t, cfg.limits().PaceMonth)
			require.EqualValues(t, 2000, cfg.Quota.IntelligenceRequests)
			require.False(t, cfg.Sync.FieldValuesForUnlisted)
			require.InDelta(t, 0.5, cfg.Sync.MaxDeleteShare, 1e-12)
			require.Equal(t, 20*time.Hour, cfg.Sync.ValuesMaxAge)
			require.Equal(t, 168*time.Hour, cfg.Sync.UnlistedValuesMaxAge)
			require.Empty(t, cfg.Sync.Lists)
			require.Empty(t, cfg.Sync.Streams)
			require.Equal(t, "listed", cfg.Sync.IntelligenceScope)
			require.Equal(t, 720*time.Hour, cfg.Sync.IntelligenceMaxAge)
			require.Equal(t, 8760*time.Hour, cfg.Sync.InteractionsSince)
			require.Equal(t, "0 2 * * *", cfg.Schedule.Sync)
			require.Equal(t, "*/30 * * * *", cfg.Schedule.Changes)
			require.Equal(t, "127.0.0.1:9464", cfg.Server.Addr)
			require.Equal(t, 26*time.Hour, cfg.Server.ReadyMaxAge)
			require.Empty(t, cfg.Webhook.Token.reveal())
			require.Equal(t, "info", cfg.Log.Level)
			require.Empty(t, cfg.Log.Format)
		})
	}
}

// TestExampleConfigIsTheDefaults checks that config.example.yaml parses and
// shows every default it claims to show.
func TestExampleConfigIsTheDefaults(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../config.example.yaml")
	require.NoError(t, err)
	cfg := defaultConfig()
	require.NoError(t, parseConfig(data, &cfg))
	require.NoError(t, cfg.validate())
	want := defaultConfig()
	// The example spells empty lists as [], which decodes to empty non-nil slices.
	require.Empty(t, cfg.Sync.Lists)
	require.Empty(t, cfg.Sync.Streams)
	cfg.Sync.Lists, cfg.Sync.Streams = nil, nil
	require.Equal(t, want, cfg)
}

func TestLoadConfigReadsEveryKey(t *testing.T) {
	t.Parallel()
	keyFile := writeFile(t, "key", "sk-from-file\n", 0o600)
	yaml := `
affinity:
  api_key: sk-yaml
  api_key_file: ` + keyFile + `
  base_url: http://127.0.0.1:8089
database:
  url: postgres://u@db.example:5432/warehouse
  schema: crm
quota:
  daily_requests: 123
  monthly_requests: 4567
  per_minute: 60
  reserve: 0.25
  intelligence_requests: 0
sync:
  field_values_for_unlisted: true
  max_delete_share: 1
  values_max_age: 3h
  unlisted_values_max_age: 48h
  lists: ["Deal Flow", "42"]
  streams: [persons, lists]
  intelligence_scope: all
  intelligence_max_age: 168h
  interactions_since: 720h
schedule:
  sync: "15 3 * * *"
  changes: "*/5 * * * *"
server:
  addr: 0.0.0.0:9999
  ready_max_age: 90m
webhook:
  token: hook-token
log:
  level: debug
  format: json
`
	cfg, _, err := loadFromYAML(t, yaml, nil)
	require.NoError(t, err)
	require.Equal(t, "sk-yaml", cfg.Affinity.APIKey.reveal(), "the plain key wins over the key file")
	require.Equal(t, keyFile, cfg.Affinity.APIKeyFile)
	require.Equal(t, "http://127.0.0.1:8089", cfg.Affinity.BaseURL)
	require.Equal(t, "postgres://u@db.example:5432/warehouse", cfg.Database.URL.reveal())
	require.Equal(t, "crm", cfg.Database.Schema)
	require.EqualValues(t, 123, cfg.Quota.DailyRequests)
	require.EqualValues(t, 4567, cfg.Quota.MonthlyRequests)
	require.Equal(t, 60, cfg.Quota.PerMinute)
	require.InDelta(t, 0.25, cfg.Quota.Reserve, 1e-12)
	require.Zero(t, cfg.Quota.IntelligenceRequests, "0 = no cap")
	require.True(t, cfg.Sync.FieldValuesForUnlisted)
	require.InDelta(t, 1.0, cfg.Sync.MaxDeleteShare, 1e-12)
	require.Equal(t, 3*time.Hour, cfg.Sync.ValuesMaxAge)
	require.Equal(t, 48*time.Hour, cfg.Sync.UnlistedValuesMaxAge)
	require.Equal(t, []string{"Deal Flow", "42"}, cfg.Sync.Lists)
	require.Equal(t, []string{"persons", "lists"}, cfg.Sync.Streams)
	require.Equal(t, "all", cfg.Sync.IntelligenceScope)
	require.Equal(t, 168*time.Hour, cfg.Sync.IntelligenceMaxAge)
	require.Equal(t, 720*time.Hour, cfg.Sync.InteractionsSince)
	require.Equal(t, "15 3 * * *", cfg.Schedule.Sync)
	require.Equal(t, "*/5 * * * *", cfg.Schedule.Changes)
	require.Equal(t, "0.0.0.0:9999", cfg.Server.Addr)
	require.Equal(t, 90*time.Minute, cfg.Server.ReadyMaxAge)
	require.Equal(t, "hook-token", cfg.Webhook.Token.reveal())
	require.Equal(t, "debug", cfg.Log.Level)
	require.Equal(t, "json", cfg.Log.Format)
}

func TestLoadConfigEnvironment(t *testing.T) {
	t.Parallel()
	fileYAML := `
affinity:
  api_key: sk-yaml
  base_url: https://yaml.example
database:
  url: postgres://yaml@h/db
  schema: from_yaml
webhook:
  token: yaml-token
`
	keyFile := writeFile(t, "key", "sk-from-file\n", 0o600)
	keyFileCRLF := writeFile(t, "key-crlf", "sk-crlf\r\n\n", 0o600)
	tests := []struct {
		name  string
		yaml  string
		env   map[string]string
		check func(t *testing.T, cfg Config)
	}{
		{
			name: "every variable overrides the file",
			yaml: fileYAML,
			env: map[string]string{
				"AFFINITY_API_KEY":       "sk-env",
				"AFFINITY_BASE_URL":      "http://localhost:1234",
				"DATABASE_URL":           "postgres://env@h/db",
				"AFFINITY_SYNC_SCHEMA":   "from_env",
				"AFFINITY_WEBHOOK_TOKEN": "env-token",
			},
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-env", cfg.Affinity.APIKey.reveal())
				require.Equal(t, "http://localhost:1234", cfg.Affinity.BaseURL)
				require.Equal(t, "postgres://env@h/db", cfg.Database.URL.reveal())
				require.Equal(t, "from_env", cfg.Database.Schema)
				require.Equal(t, "env-token", cfg.Webhook.Token.reveal())
			},
		},
		{
			name: "variables alone, no file",
			env: map[string]string{
				"AFFINITY_API_KEY":       "sk-env",
				"DATABASE_URL":           "postgres://env@h/db",
				"AFFINITY_SYNC_SCHEMA":   "from_env",
				"AFFINITY_WEBHOOK_TOKEN": "env-token",
			},
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-env", cfg.Affinity.APIKey.reveal())
				require.Equal(t, "https://api.affinity.co", cfg.Affinity.BaseURL)
				require.Equal(t, "postgres://env@h/db", cfg.Database.URL.reveal())
				require.Equal(t, "from_env", cfg.Database.Schema)
				require.Equal(t, "env-token", cfg.Webhook.Token.reveal())
			},
		},
		{
			name: "empty variables do not override",
			yaml: fileYAML,
			env:  map[string]string{"AFFINITY_API_KEY": "", "AFFINITY_SYNC_SCHEMA": ""},
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-yaml", cfg.Affinity.APIKey.reveal())
				require.Equal(t, "https://yaml.example", cfg.Affinity.BaseURL)
				require.Equal(t, "postgres://yaml@h/db", cfg.Database.URL.reveal())
				require.Equal(t, "from_yaml", cfg.Database.Schema)
				require.Equal(t, "yaml-token", cfg.Webhook.Token.reveal())
			},
		},
		{
			name: "key file, trailing newline dropped",
			env:  map[string]string{"AFFINITY_API_KEY_FILE": keyFile},
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-from-file", cfg.Affinity.APIKey.reveal())
			},
		},
		{
			name: "key file, trailing CRLF and blank line dropped",
			env:  map[string]string{"AFFINITY_API_KEY_FILE": keyFileCRLF},
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-crlf", cfg.Affinity.APIKey.reveal())
			},
		},
		{
			name: "key file from the YAML",
			yaml: "affinity:\n  api_key_file: " + keyFile + "\n",
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-from-file", cfg.Affinity.APIKey.reveal())
			},
		},
		{
			name: "plain key variable wins over key file variable",
			env:  map[string]string{"AFFINITY_API_KEY": "sk-env", "AFFINITY_API_KEY_FILE": keyFile},
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-env", cfg.Affinity.APIKey.reveal())
			},
		},
		{
			name: "plain key in the file wins over key file variable",
			yaml: fileYAML,
			env:  map[string]string{"AFFINITY_API_KEY_FILE": keyFile},
			check: func(t *testing.T, cfg Config) {
				require.Equal(t, "sk-yaml", cfg.Affinity.APIKey.reveal())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, _, err := loadFromYAML(t, tt.yaml, tt.env)
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

func TestLoadConfigMissingKeyFile(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-such-key")
	_, _, err := loadFromYAML(t, "", map[string]string{"AFFINITY_API_KEY_FILE": missing})
	require.Error(t, err)
	var ue *usageError
	require.ErrorAs(t, err, &ue)
	require.Contains(t, err.Error(), "api_key_file")
}

// TestConfigErrorsExit2 runs a command that needs no database or API with a
// broken config: run must exit 2 and name the offending key on stderr.
func TestConfigErrorsExit2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // every one must appear on stderr
	}{
		{"unknown top-level key", "affinty:\n  api_key: x\n", nil, []string{"affinty"}},
		{"unknown nested key", "quota:\n  dayly_requests: 5\n", nil, []string{"dayly_requests"}},
		{"not YAML", "affinity: [\n", nil, []string{"config"}},
		{"wrong type", "quota:\n  per_minute: lots\n", nil, []string{"lots"}},
		{"negative daily cap", "quota:\n  daily_requests: -1\n", nil, []string{"quota.daily_requests"}},
		{"negative monthly cap", "quota:\n  monthly_requests: -5\n", nil, []string{"quota.monthly_requests"}},
		{"negative per minute", "quota:\n  per_minute: -1\n", nil, []string{"quota.per_minute"}},
		{"reserve 1", "quota:\n  reserve: 1\n", nil, []string{"quota.reserve"}},
		{"reserve above 1", "quota:\n  reserve: 1.5\n", nil, []string{"quota.reserve"}},
		{"reserve negative", "quota:\n  reserve: -0.1\n", nil, []string{"quota.reserve"}},
		{"reserve NaN", "quota:\n  reserve: .nan\n", nil, []string{"quota.reserve"}},
		{"bad pace", "quota:\n  pace: weekly\n", nil, []string{"quota.pace", "weekly", "month or off"}},
		{"max delete share above 1", "sync:\n  max_delete_share: 1.01\n", nil, []string{"sync.max_delete_share"}},
		{"max delete share negative", "sync:\n  max_delete_share: -1\n", nil, []string{"sync.max_delete_share"}},
		{"max delete share NaN", "sync:\n  max_delete_share: .nan\n", nil, []string{"sync.max_delete_share"}},
		{"values max age zero", "sync:\n  values_max_age: 0s\n", nil, []string{"sync.values_max_age"}},
		{"unlisted values max age negative", "sync:\n  unlisted_values_max_age: -1h\n", nil, []string{"sync.unlisted_values_max_age"}},
		{"bad log level", "log:\n  level: loud\n", nil, []string{"log.level", "loud"}},
		{"bad log format", "log:\n  format: xml\n", nil, []string{"log.format", "xml"}},
		{"unknown stream", "sync:\n  streams: [persons, peeps]\n", nil, []string{"sync.streams", "peeps"}},
		{"negative ready max age", "server:\n  ready_max_age: -1h\n", nil, []string{"server.ready_max_age"}},
		{"negative intelligence requests", "quota:\n  intelligence_requests: -1\n", nil, []string{"quota.intelligence_requests"}},
		{"intelligence requests not a number", "quota:\n  intelligence_requests: many\n", nil,
			[]string{"quota.intelligence_requests", "many"}},
		{"bad intelligence scope", "sync:\n  intelligence_scope: some\n", nil,
			[]string{"sync.intelligence_scope", "some", "listed, all or none"}},
		{"intelligence max age zero", "sync:\n  intelligence_max_age: 0s\n", nil, []string{"sync.intelligence_max_age"}},
		{"intelligence max age not a duration", "sync:\n  intelligence_max_age: 30d\n", nil,
			[]string{"sync.intelligence_max_age", "30d"}},
		{"interactions since negative", "sync:\n  interactions_since: -24h\n", nil, []string{"sync.interactions_since"}},
		{"interactions since zero", "sync:\n  interactions_since: 0s\n", nil, []string{"sync.interactions_since"}},
		{"schema too long", "", map[string]string{"AFFINITY_SYNC_SCHEMA": strings.Repeat("s", 64)}, []string{"database.schema"}},
		{"duplicate key", "affinity:\n  api_key: x\naffinity:\n  base_url: https://a.example\n", nil, []string{"affinity"}},
		// A second document would otherwise be dropped without a word, the
		// very thing refusing unknown keys is there to prevent.
		{"second YAML document", "quota:\n  per_minute: 10\n---\nquota:\n  daily_requests: -1\n", nil, []string{"document"}},
		{"two problems, both named", "quota:\n  daily_requests: -1\nlog:\n  level: loud\n", nil,
			[]string{"quota.daily_requests", "log.level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "config.yaml", tt.yaml, 0o600)
			env := map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
			for k, v := range tt.env {
				env[k] = v
			}
			// migrate status reads the config before it connects anywhere.
			code, stdout, stderr := runCLI(t, env, "--config", path, "migrate", "status")
			require.Equal(t, exitUsage, code, "stderr: %s", stderr)
			require.Empty(t, stdout)
			for _, w := range tt.want {
				require.Contains(t, stderr, w)
			}
		})
	}
}

func TestConfigMissingFileExit2(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	code, _, stderr := runCLI(t, nil, "--config", missing, "migrate", "status")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "nope.yaml")
}

func TestConfigFilePermissionWarning(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		yaml     string
		perm     os.FileMode
		wantWarn bool
	}{
		{"api key, world readable", "affinity:\n  api_key: sk-perm-test\n", 0o644, true},
		{"webhook token, world readable", "webhook:\n  token: tok-perm-test\n", 0o644, true},
		// "readable by its owner only (chmod 600)", says config.example.yaml.
		{"api key, group readable", "affinity:\n  api_key: sk-perm-test\n", 0o640, true},
		{"api key, owner only", "affinity:\n  api_key: sk-perm-test\n", 0o600, false},
		{"api key, owner read-only", "affinity:\n  api_key: sk-perm-test\n", 0o400, false},
		{"no secret, world readable", "quota:\n  per_minute: 10\n", 0o644, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "config.yaml", tt.yaml, tt.perm)
			// The database setting is missing on purpose: the config is read (and
			// warned about) first, then migrate refuses to go on with exit 2.
			code, _, stderr := runCLI(t, nil, "--config", path, "migrate", "status")
			require.Equal(t, exitUsage, code)
			require.Contains(t, stderr, "no database")
			// The warning goes through the logger (JSON here: stderr is no terminal).
			if tt.wantWarn {
				require.Contains(t, stderr, `"level":"WARN"`)
				require.Contains(t, stderr, path)
				require.Contains(t, stderr, "chmod 600")
			} else {
				require.NotContains(t, stderr, "WARN")
			}
			require.NotContains(t, stderr, "sk-perm-test")
			require.NotContains(t, stderr, "tok-perm-test")
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	const key = "sk-SECRET-123"
	s := secret(key)
	var cfg Config
	cfg.Affinity.APIKey = s
	cfg.Database.URL = secret("postgres://u:" + key + "@h/db")
	cfg.Webhook.Token = s
	ptr := &cfg

	for _, verb := range []string{"%v", "%+v", "%s", "%q", "%#v", "%x", "%X", "%10s", "%d"} {
		for name, value := range map[string]any{"secret": s, "config": cfg, "pointer to config": ptr, "pointer to secret": &s} {
			t.Run(verb+" "+name, func(t *testing.T) {
				t.Parallel()
				out := fmt.Sprintf(verb, value)
				require.NotContains(t, out, key)
				require.NotContains(t, out, fmt.Sprintf("%x", key))
				require.NotContains(t, out, fmt.Sprintf("%X", key))
			})
		}
	}
	require.Equal(t, redacted, fmt.Sprint(s))
	require.Equal(t, redacted, s.String())
	require.Equal(t, key, s.reveal())
	require.Contains(t, fmt.Sprintf("%v", s), redacted)

	t.Run("slog", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			log := slog.New(h)
			log.Info("secret attr", "key", s)
			log.Info("secret any", slog.Any("key", s))
			log.Info("nested", slog.Group("g", "key", s))
			log.With("key", s).Info("with")
			log.Info("printf " + fmt.Sprintf("%v", s))
		}
		require.NotContains(t, buf.String(), key)
		require.Contains(t, buf.String(), redacted)
	})

	t.Run("slog text handler, struct holding a secret", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", cfg)
		require.NotContains(t, buf.String(), key)
	})

	// A JSON log line holding the config (or any struct with a secret in it)
	// goes through encoding/json, which neither Format nor LogValue reach.
	t.Run("slog JSON handler, struct holding a secret", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "affinity", cfg.Affinity)
		require.NotContains(t, buf.String(), key)
	})

	t.Run("encoding/json", func(t *testing.T) {
		t.Parallel()
		out, err := json.Marshal(cfg)
		require.NoError(t, err)
		require.NotContains(t, string(out), key)
	})
}

// TestConfigErrorMessages: every mistake in the file names the line, the
// key's full path and what is accepted there, never the YAML library's
// description of a Go struct.
func TestConfigErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string // the message after "config PATH: "
	}{
		{"unknown key, close to a known one", "log:\n  level: info\nquota:\n  daily_request: 5\n",
			"line 4: unknown key quota.daily_request (did you mean daily_requests?)"},
		{"unknown top-level key", "affinty:\n  api_key: x\n",
			"line 1: unknown key affinty (did you mean affinity?)"},
		{"unknown key, nothing close", "quota:\n  bananas: 5\n",
			"line 2: unknown key quota.bananas (accepted here: daily_requests, monthly_requests, per_minute, reserve, pace, intelligence_requests)"},
		{"unknown top-level key, nothing close", "\n\nwhatever: 1\n",
			"line 3: unknown key whatever (accepted here: affinity, database, quota, sync, schedule, server, webhook, log)"},
		{"whole number", "\n\n\nquota:\n  daily_requests: lots\n",
			`line 5: quota.daily_requests: "lots" is not a whole number`},
		{"whole number, not a fraction", "quota:\n  per_minute: 1.5\n",
			`line 2: quota.per_minute: "1.5" is not a whole number`},
		{"float", "quota:\n  reserve: tenth\n",
			`line 2: quota.reserve: "tenth" is not a number`},
		{"duration", "sync:\n  values_max_age: 7d\n",
			`line 2: sync.values_max_age: "7d" is not a duration (such as 90s, 45m, 20h or 1h30m)`},
		{"duration in another section", "server:\n  addr: \":1\"\n  ready_max_age: soon\n",
			`line 3: server.ready_max_age: "soon" is not a duration (such as 90s, 45m, 20h or 1h30m)`},
		{"boolean", "sync:\n  field_values_for_unlisted: maybe\n",
			`line 2: sync.field_values_for_unlisted: "maybe" is not true or false`},
		{"list given one value", "sync:\n  lists: Deal Flow\n",
			`line 2: sync.lists: expected a list such as [a, b], got "Deal Flow"`},
		{"list item not a value", "sync:\n  streams:\n    - persons\n    - {name: lists}\n",
			"line 4: sync.streams[1]: expected one value, got a mapping of keys"},
		{"one value given a list", "schedule:\n  sync: [a, b]\n",
			"line 2: schedule.sync: expected one value, got a list"},
		{"section given a value", "quota: 5\n",
			`line 1: quota must be a mapping of keys (daily_requests, monthly_requests, per_minute, reserve, pace, intelligence_requests), got "5"`},
		{"log level", "log:\n  level: loud\n",
			`line 2: log.level: "loud" is not one of debug, info, warn or error`},
		{"log format", "log:\n  format: xml\n",
			`line 2: log.format: "xml" is not one of "" (unset), text or json`},
		{"api v2", "affinity:\n  api_v2: sometimes\n",
			`line 2: affinity.api_v2: "sometimes" is not one of auto, on or off`},
		{"intelligence scope", "sync:\n  intelligence_scope: everyone\n",
			`line 2: sync.intelligence_scope: "everyone" is not one of listed, all or none`},
		{"intelligence max age", "sync:\n  intelligence_max_age: -1h\n",
			"line 2: sync.intelligence_max_age: must be positive, got -1h0m0s"},
		{"interactions since", "\nsync:\n  interactions_since: 1y\n",
			`line 3: sync.interactions_since: "1y" is not a duration (such as 90s, 45m, 20h or 1h30m)`},
		{"intelligence requests", "quota:\n  intelligence_requests: -5\n",
			"line 2: quota.intelligence_requests: must be >= 0 (0 = no cap), got -5"},
		{"repeated key", "quota:\n  per_minute: 1\n  per_minute: 2\n",
			"line 3: key quota.per_minute appears twice (first on line 2): keep one"},
		{"range check after decoding keeps the line", "quota:\n  per_minute: 10\n  reserve: 1.5\n",
			"line 3: quota.reserve: must be in [0, 1), got 1.5"},
		{"every problem, each with its line", "quota:\n  daily_request: 5\n  reserve: x\nlog:\n  level: loud\n",
			`line 2: unknown key quota.daily_request (did you mean daily_requests?); line 3: quota.reserve: "x" is not a number; ` +
				`line 5: log.level: "loud" is not one of debug, info, warn or error`},
		{"not YAML", "affinity: [\n", "line 1: did not find expected node content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, "sync.yaml", tt.yaml, 0o600)
			_, err := loadConfig(path, envOf(nil), func(string) {})
			require.Error(t, err)
			var ue *usageError
			require.ErrorAs(t, err, &ue, "a config mistake exits 2")
			require.Equal(t, "config "+path+": "+tt.want, err.Error())
			require.NotContains(t, err.Error(), "struct")
		})
	}
}

// TestConfigValuesOfEveryType: the decoder reads what the YAML library would
// (quoted numbers too), and an empty value resets the key.
func TestConfigValuesOfEveryType(t *testing.T) {
	t.Parallel()
	yaml := `
affinity:
  api_v2: "off"
quota:
  daily_requests: "1_000"
  per_minute: 0x10
  reserve: 0
sync:
  field_values_for_unlisted: yes
  values_max_age: 1h30m
  lists:
    - Deal Flow
    - 42
schedule:
  changes:
`
	cfg, _, err := loadFromYAML(t, yaml, nil)
	require.NoError(t, err)
	require.Equal(t, APIV2Off, cfg.Affinity.APIV2)
	require.EqualValues(t, 1000, cfg.Quota.DailyRequests)
	require.Equal(t, 16, cfg.Quota.PerMinute)
	require.Zero(t, cfg.Quota.Reserve)
	require.True(t, cfg.Sync.FieldValuesForUnlisted)
	require.Equal(t, 90*time.Minute, cfg.Sync.ValuesMaxAge)
	require.Equal(t, []string{"Deal Flow", "42"}, cfg.Sync.Lists)
	require.Empty(t, cfg.Schedule.Changes, "an empty value turns the changes schedule off")
}

func TestConfigAPIV2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		yaml string
		want APIV2Mode
	}{
		{"", APIV2Auto},
		{"affinity:\n  base_url: https://api.affinity.co\n", APIV2Auto},
		{"affinity:\n  api_v2: auto\n", APIV2Auto},
		{"affinity:\n  api_v2: on\n", APIV2On},
		{"affinity:\n  api_v2: off\n", APIV2Off},
	}
	for _, tt := range tests {
		t.Run(string(tt.want)+" from "+strings.ReplaceAll(tt.yaml, "\n", " "), func(t *testing.T) {
			t.Parallel()
			cfg, _, err := loadFromYAML(t, tt.yaml, nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.Affinity.APIV2)
		})
	}
	// A value that reached the struct some other way is refused by the check too.
	cfg := defaultConfig()
	cfg.Affinity.APIV2 = "maybe"
	require.ErrorContains(t, cfg.validate(), `affinity.api_v2: must be auto, on or off, got "maybe"`)
	cfg = defaultConfig()
	cfg.Quota.Pace = "weekly"
	require.ErrorContains(t, cfg.validate(), `quota.pace: must be month or off, got "weekly"`)
	cfg = defaultConfig()
	cfg.Sync.IntelligenceScope = ""
	require.ErrorContains(t, cfg.validate(), `sync.intelligence_scope: must be listed, all or none, got ""`)
}

func TestSuggestKey(t *testing.T) {
	t.Parallel()
	known := []string{"daily_requests", "monthly_requests", "per_minute", "reserve"}
	tests := map[string]string{
		"daily_request":   "did you mean daily_requests?",
		"dayly_requests":  "did you mean daily_requests?",
		"perminute":       "did you mean per_minute?",
		"reserv":          "did you mean reserve?",
		"monthly":         "accepted here: daily_requests, monthly_requests, per_minute, reserve",
		"x":               "accepted here: daily_requests, monthly_requests, per_minute, reserve",
		"timeout_seconds": "accepted here: daily_requests, monthly_requests, per_minute, reserve",
	}
	for unknown, want := range tests {
		require.Equal(t, want, suggest(unknown, known), unknown)
	}
}

// TestConfigLogJSONEveryLine: with log.format: json, every line on stderr is
// one JSON object — the warning about a readable config file that holds a
// secret, and the error the command ends with.
func TestConfigLogJSONEveryLine(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "config.yaml", "affinity:\n  api_key: sk-json-test\nlog:\n  format: json\n", 0o644)
	code, stdout, stderr := runCLI(t, nil, "--config", path, "migrate", "status")
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	require.Len(t, lines, 2, "the warning and the error: %s", stderr)
	var records []map[string]any
	for _, line := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "not one JSON object: %s", line)
		records = append(records, rec)
	}
	require.Equal(t, "WARN", records[0]["level"])
	require.Contains(t, records[0]["msg"], path)
	require.Contains(t, records[0]["msg"], "chmod 600")
	require.Equal(t, "ERROR", records[1]["level"])
	require.Contains(t, records[1]["error"], "no database")
	require.NotContains(t, stderr, "sk-json-test")

	// A broken config that still says json ends with a JSON error too.
	path = writeFile(t, "config.yaml", "log:\n  format: json\nquota:\n  reserve: 2\n", 0o600)
	code, _, stderr = runCLI(t, nil, "--config", path, "migrate", "status")
	require.Equal(t, exitUsage, code)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(stderr)), &rec), "not one JSON object: %s", stderr)
	require.Contains(t, rec["error"], "line 4: quota.reserve: must be in [0, 1), got 2")

	// Text, as asked, stays plain.
	path = writeFile(t, "config.yaml", "log:\n  format: text\n", 0o600)
	code, _, stderr = runCLI(t, nil, "--config", path, "migrate", "status")
	require.Equal(t, exitUsage, code)
	require.Equal(t, "affinity-sync: no database: set DATABASE_URL or database.url\n", stderr)
}

// TestKeyFileUnreadable: a key file the process may not read stops it with one
// line naming the file, the uid it runs as and what to change. Tests run as
// root, who reads any file, so the refusal is injected.
func TestKeyFileUnreadable(t *testing.T) {
	t.Parallel()
	const path = "/run/secrets/affinity_api_key"
	denied := func(p string) ([]byte, error) {
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}
	}
	_, err := readKeyFile(path, denied, 65532)
	var ue *usageError
	require.ErrorAs(t, err, &ue, "exit 2")
	require.Equal(t, "affinity.api_key_file /run/secrets/affinity_api_key: permission denied (running as uid 65532): "+
		"make the file readable by uid 65532 (chown 65532 FILE; for a compose secret, FILE is its source on the host) or run as its owner",
		err.Error())

	missing := func(p string) ([]byte, error) { return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.ENOENT} }
	_, err = readKeyFile(path, missing, 1000)
	require.EqualError(t, err, "affinity.api_key_file /run/secrets/affinity_api_key: no such file: "+
		"set AFFINITY_API_KEY_FILE or affinity.api_key_file to the file that holds the key")

	key, err := readKeyFile(path, func(string) ([]byte, error) { return []byte("sk-1\n"), nil }, 0)
	require.NoError(t, err)
	require.Equal(t, "sk-1", key.reveal())

	// Through the command: a path that cannot be read as a file (a directory)
	// is one line on stderr and exit 2.
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, map[string]string{"AFFINITY_API_KEY_FILE": dir, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"},
		"migrate", "status")
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout)
	// stderr is no terminal, so the log format in effect is json: the one line is a JSON object.
	require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	var line struct{ Level, Msg, Error string }
	require.NoError(t, json.Unmarshal([]byte(stderr), &line), stderr)
	require.Equal(t, "ERROR", line.Level)
	require.Equal(t, "affinity.api_key_file "+dir+": is a directory", line.Error)
}

// TestKeyRefusedMessage: a 401 from Affinity reads as one line that says the
// key was refused and names the settings that hold it.
func TestKeyRefusedMessage(t *testing.T) {
	t.Parallel()
	refused := &affinity.APIError{StatusCode: 401, Method: "GET", Endpoint: "/auth/whoami", Path: "/auth/whoami",
		Body: `{"errors":[{"message":"Unauthorized"}]}`}
	want := "Affinity refused the API key (HTTP 401 on GET /auth/whoami): check the key in " +
		"AFFINITY_API_KEY, AFFINITY_API_KEY_FILE, affinity.api_key or affinity.api_key_file"
	for name, err := range map[string]error{
		"bare":          refused,
		"wrapped":       fmt.Errorf("ask Affinity which workspace the key belongs to: %w", refused),
		"applied twice": refusedKey(fmt.Errorf("x: %w", refused)),
	} {
		got := refusedKey(err)
		require.EqualError(t, got, want, name)
		var apiErr *affinity.APIError
		require.ErrorAs(t, got, &apiErr, "%s: still an API error underneath", name)
		var ue *usageError
		require.False(t, errors.As(got, &ue), "%s: a refused key fails the run (exit 1), as before", name)
	}
	other := fmt.Errorf("fetch: %w", &affinity.APIError{StatusCode: 404, Method: "GET", Path: "/persons/1"})
	require.Same(t, other, refusedKey(other))
	require.NoError(t, refusedKey(nil))

	var buf bytes.Buffer
	require.Equal(t, exitFailed, exitCode(&buf, nil, fmt.Errorf("ask Affinity for the rate limit: %w", refused)))
	require.Equal(t, "affinity-sync: "+want+"\n", buf.String())
}

// TestKeyRefusedBySync: a sync whose key Affinity refuses fails (exit 1),
// records the one line in its run and logs it.
func TestKeyRefusedBySync(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	badURL, _ := newFake(t, "the-right-key")
	env := map[string]string{"AFFINITY_API_KEY": "sk-wrong", "AFFINITY_BASE_URL": badURL, "DATABASE_URL": dbURL}
	code, _, stderr := runCLI(t, env, "--config", quickConfig(t), "sync")
	require.Equal(t, exitFailed, code, "stderr: %s", stderr)
	require.Contains(t, stderr, "Affinity refused the API key (HTTP 401 on GET /auth/whoami): check the key in AFFINITY_API_KEY")
	require.NotContains(t, stderr, "sk-wrong")
	var runErr string
	require.NoError(t, connect(t, dbURL).QueryRow(t.Context(),
		`SELECT coalesce(error, '') FROM affinity.sync_runs ORDER BY id DESC LIMIT 1`).Scan(&runErr))
	require.True(t, strings.HasPrefix(runErr, "Affinity refused the API key"), runErr)
}
