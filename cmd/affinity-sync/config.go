package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/migrations"
)

// secret holds a credential. It prints as a placeholder in every format the
// program might use (fmt verbs, slog), so a key can never leak by accident.
type secret string

const redacted = "[redacted]"

func (s secret) String() string   { return redacted }
func (s secret) GoString() string { return redacted }

// LogValue keeps the key out of structured logs.
func (s secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format covers %v, %+v, %s, %q and friends.
func (s secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalText keeps the key out of encoding/json (and so slog's JSON handler).
func (s secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// reveal returns the credential itself, for the one place that sends it.
func (s secret) reveal() string { return string(s) }

// APIV2Mode says whether field values and organization links are read through
// Affinity's API v2 where that costs fewer requests (setting affinity.api_v2).
type APIV2Mode string

const (
	// APIV2Auto uses v2 and falls back to v1 when v2 refuses or disagrees.
	APIV2Auto APIV2Mode = "auto"
	// APIV2On uses v2 and fails the stream when v2 refuses or disagrees.
	APIV2On APIV2Mode = "on"
	// APIV2Off reads through v1 only.
	APIV2Off APIV2Mode = "off"
)

// PaceMode says whether the daily cap is paced to the month's allowance (setting
// quota.pace, docs/quota.md).
type PaceMode string

const (
	// PaceMonth keeps each day's spending within an even share of what is left of the
	// month's allowance, when one is known.
	PaceMonth PaceMode = "month"
	// PaceOff caps a day by quota.daily_requests only.
	PaceOff PaceMode = "off"
)

// extractorMode is the setting as the streams take it.
func (m APIV2Mode) extractorMode() extractor.V2Mode {
	switch m {
	case APIV2On:
		return extractor.V2On
	case APIV2Off:
		return extractor.V2Off
	}
	return extractor.V2Auto
}

// Config is every setting of the program. The YAML keys are a contract
// (docs/configuration.md); config.example.yaml documents each one. A field
// tagged oneof accepts only the listed values.
type Config struct {
	Affinity struct {
		APIKey     secret    `yaml:"api_key"`
		APIKeyFile string    `yaml:"api_key_file"`
		BaseURL    string    `yaml:"base_url"`
		APIV2      APIV2Mode `yaml:"api_v2" oneof:"auto,on,off"`
	} `yaml:"affinity"`
	Database struct {
		URL    secret `yaml:"url"`
		Schema string `yaml:"schema"`
	} `yaml:"database"`
	Quota struct {
		DailyRequests   int64    `yaml:"daily_requests"`
		MonthlyRequests int64    `yaml:"monthly_requests"`
		PerMinute       int      `yaml:"per_minute"`
		Reserve         float64  `yaml:"reserve"`
		Pace            PaceMode `yaml:"pace" oneof:"month,off"`
		// IntelligenceRequests caps the requests of the per-entity intelligence
		// streams (interactions, relationship strengths, the entity-file fallback)
		// in one pass; 0 = no cap.
		IntelligenceRequests int64 `yaml:"intelligence_requests"`
	} `yaml:"quota"`
	Sync struct {
		FieldValuesForUnlisted bool          `yaml:"field_values_for_unlisted"`
		MaxDeleteShare         float64       `yaml:"max_delete_share"`
		ValuesMaxAge           time.Duration `yaml:"values_max_age"`
		UnlistedValuesMaxAge   time.Duration `yaml:"unlisted_values_max_age"`
		Lists                  []string      `yaml:"lists"`
		Streams                []string      `yaml:"streams"`
		// IntelligenceScope is whose interactions and strengths are read: listed,
		// all or none (the two per-entity streams off).
		IntelligenceScope string `yaml:"intelligence_scope" oneof:"listed,all,none"`
		// IntelligenceMaxAge: a person's strengths are re-read at the latest after this.
		IntelligenceMaxAge time.Duration `yaml:"intelligence_max_age"`
		// InteractionsSince is how far back an entity's first interactions fetch reaches.
		InteractionsSince time.Duration `yaml:"interactions_since"`
	} `yaml:"sync"`
	Schedule struct {
		Sync    string `yaml:"sync"`
		Changes string `yaml:"changes"`
	} `yaml:"schedule"`
	Server struct {
		Addr        string        `yaml:"addr"`
		ReadyMaxAge time.Duration `yaml:"ready_max_age"`
	} `yaml:"server"`
	Webhook struct {
		Token secret `yaml:"token"`
	} `yaml:"webhook"`
	Log struct {
		Level  string `yaml:"level" oneof:"debug,info,warn,error"`
		Format string `yaml:"format" oneof:",text,json"`
	} `yaml:"log"`
}

// defaultConfig returns the settings used where neither the file nor the
// environment says otherwise.
func defaultConfig() Config {
	var c Config
	c.Affinity.BaseURL = "https://api.affinity.co"
	c.Affinity.APIV2 = APIV2Auto
	c.Database.Schema = "affinity"
	c.Quota.DailyRequests = 40000
	c.Quota.PerMinute = 900
	c.Quota.Reserve = 0.10
	c.Quota.Pace = PaceMonth
	c.Quota.IntelligenceRequests = 2000
	c.Sync.MaxDeleteShare = 0.5
	c.Sync.ValuesMaxAge = 20 * time.Hour
	c.Sync.UnlistedValuesMaxAge = 7 * 24 * time.Hour
	c.Sync.IntelligenceScope = "listed"
	c.Sync.IntelligenceMaxAge = 30 * 24 * time.Hour
	c.Sync.InteractionsSince = 365 * 24 * time.Hour
	c.Schedule.Sync = "0 2 * * *"
	c.Schedule.Changes = "*/30 * * * *"
	c.Server.Addr = "127.0.0.1:9464"
	c.Server.ReadyMaxAge = 26 * time.Hour
	c.Log.Level = "info"
	return c
}

// usageError marks a problem with flags or settings: the program exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// loadConfig reads the YAML file (when path is not empty), then applies the
// environment variables of the contract, then checks every value. Warnings
// (such as a key file readable by others) go to warn. A mistake in the file
// names the file, the line and the key.
func loadConfig(path string, getenv func(string) string, warn func(string)) (Config, error) {
	cfg := defaultConfig()
	lines := map[string]int{}
	var problems configProblems // the file's, then the values'
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, usagef("read config: %v", err)
		}
		if lines, err = decodeConfig(data, &cfg); err != nil {
			if !errors.As(err, &problems) || lines == nil { // the file is not YAML: nothing to check
				return cfg, usagef("config %s: %v", path, err)
			}
		}
		if cfg.Affinity.APIKey != "" || cfg.Webhook.Token != "" {
			if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
				warn(fmt.Sprintf("config %s holds a secret and is readable by other users (mode %v); chmod 600 it", path, st.Mode().Perm()))
			}
		}
	}
	for _, s := range envSettings() {
		if v := getenv(s.name); v != "" {
			s.set(&cfg, v)
			delete(lines, s.key) // the file's line no longer says where the value came from
		}
	}
	problems = append(problems, cfg.check(lines)...)
	if len(problems) > 0 {
		if path != "" {
			return cfg, usagef("config %s: %s", path, strings.Join(byLine(problems), "; "))
		}
		return cfg, usagef("invalid configuration: %s", strings.Join(problems, "; "))
	}
	if cfg.Affinity.APIKey == "" && cfg.Affinity.APIKeyFile != "" {
		key, err := readKeyFile(cfg.Affinity.APIKeyFile, os.ReadFile, os.Getuid())
		if err != nil {
			return cfg, err
		}
		cfg.Affinity.APIKey = key
	}
	return cfg, nil
}

// envSetting is an environment variable that overrides a key of the file.
type envSetting struct {
	name string // AFFINITY_API_KEY
	key  string // affinity.api_key
	set  func(*Config, string)
}

// envSettings are the environment variables of the contract.
func envSettings() []envSetting {
	return []envSetting{
		{"AFFINITY_API_KEY", "affinity.api_key", func(c *Config, v string) { c.Affinity.APIKey = secret(v) }},
		{"AFFINITY_API_KEY_FILE", "affinity.api_key_file", func(c *Config, v string) { c.Affinity.APIKeyFile = v }},
		{"AFFINITY_BASE_URL", "affinity.base_url", func(c *Config, v string) { c.Affinity.BaseURL = v }},
		{"DATABASE_URL", "database.url", func(c *Config, v string) { c.Database.URL = secret(v) }},
		{"AFFINITY_SYNC_SCHEMA", "database.schema", func(c *Config, v string) { c.Database.Schema = v }},
		{"AFFINITY_WEBHOOK_TOKEN", "webhook.token", func(c *Config, v string) { c.Webhook.Token = secret(v) }},
	}
}

// readKeyFile reads the API key from path (the trailing newline dropped).
// A file the process may not read fails with one line that says who the
// process runs as and what to change; read and uid are parameters so that a
// test running as root can see that line.
func readKeyFile(path string, read func(string) ([]byte, error), uid int) (secret, error) {
	data, err := read(path)
	if err == nil {
		return secret(strings.TrimRight(string(data), "\r\n")), nil
	}
	cause := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err // the path is named once, below
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "", usagef("affinity.api_key_file %s: permission denied (running as uid %d): make the file readable by uid %d (chown %d FILE; for a compose secret, FILE is its source on the host) or run as its owner",
			path, uid, uid, uid)
	case errors.Is(err, fs.ErrNotExist):
		return "", usagef("affinity.api_key_file %s: no such file: set AFFINITY_API_KEY_FILE or affinity.api_key_file to the file that holds the key", path)
	}
	return "", usagef("affinity.api_key_file %s: %v", path, cause)
}

// validate checks every value (see check).
func (c *Config) validate() error {
	if problems := c.check(nil); len(problems) > 0 {
		return usagef("invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
}

// check returns what is wrong with the values, each problem led by the line
// of its key when lines knows it (the key came from the file).
func (c *Config) check(lines map[string]int) []string {
	var problems []string
	bad := func(key, format string, args ...any) {
		msg := key + ": " + fmt.Sprintf(format, args...)
		if line, ok := lines[key]; ok {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		problems = append(problems, msg)
	}
	if err := migrations.Validate(c.Database.Schema); err != nil {
		bad("database.schema", "%v", err)
	}
	if err := affinity.CheckBaseURL(c.Affinity.BaseURL); err != nil {
		bad("affinity.base_url", "%v", err)
	}
	switch c.Affinity.APIV2 {
	case APIV2Auto, APIV2On, APIV2Off:
	default:
		bad("affinity.api_v2", "must be auto, on or off, got %q", c.Affinity.APIV2)
	}
	if c.Quota.DailyRequests < 0 {
		bad("quota.daily_requests", "must be >= 0 (0 = no daily cap), got %d", c.Quota.DailyRequests)
	}
	if c.Quota.MonthlyRequests < 0 {
		bad("quota.monthly_requests", "must be >= 0 (0 = no monthly cap), got %d", c.Quota.MonthlyRequests)
	}
	if c.Quota.PerMinute < 0 {
		bad("quota.per_minute", "must be >= 0, got %d", c.Quota.PerMinute)
	}
	if !(c.Quota.Reserve >= 0 && c.Quota.Reserve < 1) { // also refuses NaN
		bad("quota.reserve", "must be in [0, 1), got %v", c.Quota.Reserve)
	}
	switch c.Quota.Pace {
	case PaceMonth, PaceOff:
	default:
		bad("quota.pace", "must be month or off, got %q", c.Quota.Pace)
	}
	if c.Quota.IntelligenceRequests < 0 {
		bad("quota.intelligence_requests", "must be >= 0 (0 = no cap), got %d", c.Quota.IntelligenceRequests)
	}
	if !(c.Sync.MaxDeleteShare >= 0 && c.Sync.MaxDeleteShare <= 1) {
		bad("sync.max_delete_share", "must be in [0, 1], got %v", c.Sync.MaxDeleteShare)
	}
	for _, s := range c.Sync.Streams {
		if _, err := extractor.ParseStreams([]string{s}); err != nil {
			bad("sync.streams", "%v", err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if c.Sync.ValuesMaxAge <= 0 {
		bad("sync.values_max_age", "must be positive, got %v", c.Sync.ValuesMaxAge)
	}
	if c.Sync.UnlistedValuesMaxAge <= 0 {
		bad("sync.unlisted_values_max_age", "must be positive, got %v", c.Sync.UnlistedValuesMaxAge)
	}
	switch c.Sync.IntelligenceScope {
	case "listed", "all", "none":
	default:
		bad("sync.intelligence_scope", "must be listed, all or none, got %q", c.Sync.IntelligenceScope)
	}
	if c.Sync.IntelligenceMaxAge <= 0 {
		bad("sync.intelligence_max_age", "must be positive, got %v", c.Sync.IntelligenceMaxAge)
	}
	if c.Sync.InteractionsSince <= 0 {
		bad("sync.interactions_since", "must be positive, got %v", c.Sync.InteractionsSince)
	}
	if c.Server.ReadyMaxAge < 0 {
		bad("server.ready_max_age", "must not be negative, got %v", c.Server.ReadyMaxAge)
	}
	return problems
}

// needAPI checks the settings that commands talking to Affinity require.
func (c *Config) needAPI() error {
	if c.Affinity.APIKey == "" {
		return usagef("no Affinity API key: set AFFINITY_API_KEY, AFFINITY_API_KEY_FILE, affinity.api_key or affinity.api_key_file")
	}
	return nil
}

// needDatabase checks the settings that commands using the warehouse require.
func (c *Config) needDatabase() error {
	if c.Database.URL == "" {
		return usagef("no database: set DATABASE_URL or database.url")
	}
	return nil
}

// effectiveStreams resolves --streams (flag) against sync.streams (config).
func effectiveStreams(flagValue string, configured []string) ([]extractor.StreamName, bool, error) {
	if flagValue == "" {
		return configuredStreams(configured), false, nil
	}
	var picked []extractor.StreamName
	for _, s := range strings.Split(flagValue, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		name, err := extractor.ParseStreams([]string{s})
		if err != nil {
			return nil, false, usagef("--streams: %v", err)
		}
		picked = append(picked, name...)
	}
	if len(picked) == 0 {
		return nil, false, usagef("--streams: no stream named")
	}
	return orderStreams(picked), true, nil
}

// configuredStreams are the streams sync.streams enables (validated with the configuration),
// in run order; every stream when it names none.
func configuredStreams(configured []string) []extractor.StreamName {
	if len(configured) == 0 {
		return extractor.Streams()
	}
	names, _ := extractor.ParseStreams(configured) // validated with the configuration
	return orderStreams(names)
}

// limits are the quota settings in the form the budget takes them.
func (c *Config) limits() quota.Limits {
	return quota.Limits{Daily: c.Quota.DailyRequests, Monthly: c.Quota.MonthlyRequests, PerMinute: c.Quota.PerMinute, Reserve: c.Quota.Reserve,
		PaceMonth: c.Quota.Pace != PaceOff}
}
