package main

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/migrations"
)

// FuzzParseConfig feeds arbitrary bytes to the config parser. It never
// panics; a parse error is an error; a parsed config either validates, and
// then every value is in its documented range, or fails validation with a
// usage error (exit 2) that says what is wrong.
func FuzzParseConfig(f *testing.F) {
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		f.Fatalf("read example config: %v", err)
	}
	for _, seed := range []string{
		string(example),
		"",
		"---\n",
		"~\n",
		"affinity: [\n",
		"affinity:\n  api_key: [a, b]\n",
		"affinity: 42\n",
		"quota:\n  daily_requests: 1e99\n",
		"quota:\n  per_minute: -3\n",
		"quota:\n  reserve: .nan\n",
		"quota:\n  reserve: .inf\n",
		"sync:\n  max_delete_share: .nan\n",
		"sync:\n  streams: [persons, nope]\n",
		"server:\n  ready_max_age: forever\n",
		"log:\n  level: LOUD\n",
		"a: &a [*a]\n",
		"- - - - - -\n",
		"affinity:\n  api_key: x\naffinity:\n  api_key: y\n",
		"\t\x00\xff",
		"database:\n  schema: \"\\0\"\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := defaultConfig()
		if err := parseConfig(data, &cfg); err != nil {
			if err.Error() == "" {
				t.Fatal("parse error with an empty message")
			}
			return
		}
		err := cfg.validate()
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("validate returned %T, want a usage error: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), "invalid configuration: ") || len(err.Error()) <= len("invalid configuration: ") {
				t.Fatalf("validate error does not say what is wrong: %q", err)
			}
			return
		}
		checkInRange(t, cfg)
	})
}

// checkInRange states the documented range of every value a valid config
// may hold. The comparisons are written so that NaN is out of every range.
func checkInRange(t *testing.T, cfg Config) {
	t.Helper()
	if err := migrations.Validate(cfg.Database.Schema); err != nil {
		t.Fatalf("valid config with a schema the warehouse refuses: %v", err)
	}
	if cfg.Quota.DailyRequests < 0 || cfg.Quota.MonthlyRequests < 0 || cfg.Quota.PerMinute < 0 {
		t.Fatalf("valid config with a negative cap: %+v", cfg.Quota)
	}
	if !(cfg.Quota.Reserve >= 0 && cfg.Quota.Reserve < 1) {
		t.Fatalf("valid config with quota.reserve %v", cfg.Quota.Reserve)
	}
	if !(cfg.Sync.MaxDeleteShare >= 0 && cfg.Sync.MaxDeleteShare <= 1) {
		t.Fatalf("valid config with sync.max_delete_share %v", cfg.Sync.MaxDeleteShare)
	}
	for _, s := range cfg.Sync.Streams {
		if !slices.Contains(extractor.Streams(), extractor.StreamName(s)) {
			t.Fatalf("valid config with unknown stream %q", s)
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, cfg.Log.Level) {
		t.Fatalf("valid config with log.level %q", cfg.Log.Level)
	}
	if !slices.Contains([]string{"", "text", "json"}, cfg.Log.Format) {
		t.Fatalf("valid config with log.format %q", cfg.Log.Format)
	}
	if cfg.Server.ReadyMaxAge < 0 {
		t.Fatalf("valid config with server.ready_max_age %v", cfg.Server.ReadyMaxAge)
	}
}
