package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
			require.False(t, cfg.Sync.FieldValuesForUnlisted)
			require.InDelta(t, 0.5, cfg.Sync.MaxDeleteShare, 1e-12)
			require.Equal(t, 20*time.Hour, cfg.Sync.ValuesMaxAge)
			require.Equal(t, 168*time.Hour, cfg.Sync.UnlistedValuesMaxAge)
			require.Empty(t, cfg.Sync.Lists)
			require.Empty(t, cfg.Sync.Streams)
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
sync:
  field_values_for_unlisted: true
  max_delete_share: 1
  values_max_age: 3h
  unlisted_values_max_age: 48h
  lists: ["Deal Flow", "42"]
  streams: [persons, lists]
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
	require.True(t, cfg.Sync.FieldValuesForUnlisted)
	require.InDelta(t, 1.0, cfg.Sync.MaxDeleteShare, 1e-12)
	require.Equal(t, 3*time.Hour, cfg.Sync.ValuesMaxAge)
	require.Equal(t, 48*time.Hour, cfg.Sync.UnlistedValuesMaxAge)
	require.Equal(t, []string{"Deal Flow", "42"}, cfg.Sync.Lists)
	require.Equal(t, []string{"persons", "lists"}, cfg.Sync.Streams)
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
		{"max delete share above 1", "sync:\n  max_delete_share: 1.01\n", nil, []string{"sync.max_delete_share"}},
		{"max delete share negative", "sync:\n  max_delete_share: -1\n", nil, []string{"sync.max_delete_share"}},
		{"max delete share NaN", "sync:\n  max_delete_share: .nan\n", nil, []string{"sync.max_delete_share"}},
		{"values max age zero", "sync:\n  values_max_age: 0s\n", nil, []string{"sync.values_max_age"}},
		{"unlisted values max age negative", "sync:\n  unlisted_values_max_age: -1h\n", nil, []string{"sync.unlisted_values_max_age"}},
		{"bad log level", "log:\n  level: loud\n", nil, []string{"log.level", "loud"}},
		{"bad log format", "log:\n  format: xml\n", nil, []string{"log.format", "xml"}},
		{"unknown stream", "sync:\n  streams: [persons, peeps]\n", nil, []string{"sync.streams", "peeps"}},
		{"negative ready max age", "server:\n  ready_max_age: -1h\n", nil, []string{"server.ready_max_age"}},
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
			if tt.wantWarn {
				require.Contains(t, stderr, "warning")
				require.Contains(t, stderr, path)
				require.Contains(t, stderr, "chmod 600")
			} else {
				require.NotContains(t, stderr, "warning")
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
