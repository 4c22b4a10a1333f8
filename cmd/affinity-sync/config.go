package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

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

// Config is every setting of the program. The YAML keys are a contract
// (design.md section 3); config.example.yaml documents each one.
type Config struct {
	Affinity struct {
		APIKey     secret `yaml:"api_key"`
		APIKeyFile string `yaml:"api_key_file"`
		BaseURL    string `yaml:"base_url"`
	} `yaml:"affinity"`
	Database struct {
		URL    secret `yaml:"url"`
		Schema string `yaml:"schema"`
	} `yaml:"database"`
	Quota struct {
		DailyRequests   int64   `yaml:"daily_requests"`
		MonthlyRequests int64   `yaml:"monthly_requests"`
		PerMinute       int     `yaml:"per_minute"`
		Reserve         float64 `yaml:"reserve"`
	} `yaml:"quota"`
	Sync struct {
		FieldValuesForUnlisted bool          `yaml:"field_values_for_unlisted"`
		MaxDeleteShare         float64       `yaml:"max_delete_share"`
		ValuesMaxAge           time.Duration `yaml:"values_max_age"`
		UnlistedValuesMaxAge   time.Duration `yaml:"unlisted_values_max_age"`
		Lists                  []string      `yaml:"lists"`
		Streams                []string      `yaml:"streams"`
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
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

// defaultConfig returns the settings used where neither the file nor the
// environment says otherwise.
func defaultConfig() Config {
	var c Config
	c.Affinity.BaseURL = "https://api.affinity.co"
	c.Database.Schema = "affinity"
	c.Quota.DailyRequests = 40000
	c.Quota.PerMinute = 900
	c.Quota.Reserve = 0.10
	c.Sync.MaxDeleteShare = 0.5
	c.Sync.ValuesMaxAge = 20 * time.Hour
	c.Sync.UnlistedValuesMaxAge = 7 * 24 * time.Hour
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
// (such as a key file readable by others) go to warn.
func loadConfig(path string, getenv func(string) string, warn func(string)) (Config, error) {
	cfg := defaultConfig()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, usagef("read config: %v", err)
		}
		if err := parseConfig(data, &cfg); err != nil {
			return cfg, usagef("config %s: %v", path, err)
		}
		if cfg.Affinity.APIKey != "" || cfg.Webhook.Token != "" {
			if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
				warn(fmt.Sprintf("config %s holds a secret and is readable by other users (mode %v); chmod 600 it", path, st.Mode().Perm()))
			}
		}
	}
	applyEnv(&cfg, getenv)
	if cfg.Affinity.APIKey == "" && cfg.Affinity.APIKeyFile != "" {
		data, err := os.ReadFile(cfg.Affinity.APIKeyFile)
		if err != nil {
			return cfg, usagef("affinity.api_key_file: %v", err)
		}
		cfg.Affinity.APIKey = secret(strings.TrimRight(string(data), "\r\n"))
	}
	return cfg, cfg.validate()
}

// parseConfig decodes YAML into cfg, refusing keys it does not know so that
// a typo never silently falls back to a default.
func parseConfig(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document: put every setting in one")
	}
	return nil
}

func applyEnv(cfg *Config, getenv func(string) string) {
	if v := getenv("AFFINITY_API_KEY"); v != "" {
		cfg.Affinity.APIKey = secret(v)
	}
	if v := getenv("AFFINITY_API_KEY_FILE"); v != "" {
		cfg.Affinity.APIKeyFile = v
	}
	if v := getenv("AFFINITY_BASE_URL"); v != "" {
		cfg.Affinity.BaseURL = v
	}
	if v := getenv("DATABASE_URL"); v != "" {
		cfg.Database.URL = secret(v)
	}
	if v := getenv("AFFINITY_SYNC_SCHEMA"); v != "" {
		cfg.Database.Schema = v
	}
	if v := getenv("AFFINITY_WEBHOOK_TOKEN"); v != "" {
		cfg.Webhook.Token = secret(v)
	}
}

func (c *Config) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if err := migrations.Validate(c.Database.Schema); err != nil {
		bad("database.schema: %v", err)
	}
	if err := affinity.CheckBaseURL(c.Affinity.BaseURL); err != nil {
		bad("affinity.base_url: %v", err)
	}
	if c.Quota.DailyRequests < 0 {
		bad("quota.daily_requests must be >= 0 (0 = no daily cap), got %d", c.Quota.DailyRequests)
	}
	if c.Quota.MonthlyRequests < 0 {
		bad("quota.monthly_requests must be >= 0 (0 = no monthly cap), got %d", c.Quota.MonthlyRequests)
	}
	if c.Quota.PerMinute < 0 {
		bad("quota.per_minute must be >= 0, got %d", c.Quota.PerMinute)
	}
	if !(c.Quota.Reserve >= 0 && c.Quota.Reserve < 1) { // also refuses NaN
		bad("quota.reserve must be in [0, 1), got %v", c.Quota.Reserve)
	}
	if !(c.Sync.MaxDeleteShare >= 0 && c.Sync.MaxDeleteShare <= 1) {
		bad("sync.max_delete_share must be in [0, 1], got %v", c.Sync.MaxDeleteShare)
	}
	for _, s := range c.Sync.Streams {
		if !knownStream(s) {
			bad("sync.streams: unknown stream %q (known: %s)", s, strings.Join(extractor.Streams(), ", "))
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		bad("log.format must be text or json, got %q", c.Log.Format)
	}
	if c.Sync.ValuesMaxAge <= 0 {
		bad("sync.values_max_age must be positive, got %v", c.Sync.ValuesMaxAge)
	}
	if c.Sync.UnlistedValuesMaxAge <= 0 {
		bad("sync.unlisted_values_max_age must be positive, got %v", c.Sync.UnlistedValuesMaxAge)
	}
	if c.Server.ReadyMaxAge < 0 {
		bad("server.ready_max_age must not be negative")
	}
	if len(problems) > 0 {
		return usagef("invalid configuration: %s", strings.Join(problems, "; "))
	}
	return nil
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
func effectiveStreams(flagValue string, configured []string) ([]string, bool, error) {
	if flagValue == "" {
		if len(configured) == 0 {
			return extractor.Streams(), false, nil
		}
		return orderStreams(configured), false, nil
	}
	var picked []string
	for _, s := range strings.Split(flagValue, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !knownStream(s) {
			return nil, false, usagef("--streams: unknown stream %q (known: %s)", s, strings.Join(extractor.Streams(), ", "))
		}
		picked = append(picked, s)
	}
	if len(picked) == 0 {
		return nil, false, usagef("--streams: no stream named")
	}
	return orderStreams(picked), true, nil
}

// limits are the quota settings in the form the budget takes them.
func (c *Config) limits() quota.Limits {
	return quota.Limits{Daily: c.Quota.DailyRequests, Monthly: c.Quota.MonthlyRequests, PerMinute: c.Quota.PerMinute, Reserve: c.Quota.Reserve}
}
