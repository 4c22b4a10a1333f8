package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// syncBuffer is an io.Writer safe for the concurrent writes of loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCLI runs the program in-process with env as its whole environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = run(t.Context(), args, &out, &errOut, envOf(env))
	return code, out.String(), errOut.String()
}

// smallWorkspace is a workspace that syncs in well under a second.
func smallWorkspace() *affinitytest.Workspace {
	cfg := affinitytest.DefaultConfig()
	cfg.Persons, cfg.Organizations, cfg.Opportunities = 30, 12, 6
	cfg.EntriesPerList = 8
	return affinitytest.Generate(cfg)
}

// newFake serves a small generated workspace that accepts only key.
func newFake(t *testing.T, key string) (baseURL string, ws *affinitytest.Workspace) {
	t.Helper()
	ws = smallWorkspace()
	require.NotEmpty(t, ws.Persons)
	require.NotEmpty(t, ws.Organizations)
	srv := httptest.NewServer(affinitytest.NewServer(ws, affinitytest.WithAPIKey(key)))
	t.Cleanup(srv.Close)
	return srv.URL, ws
}

// quickConfig writes a config (mode 0600) that turns the client-side
// per-minute limit off, so tests do not wait on it, and logs at debug level,
// so that everything the program could log is exercised.
func quickConfig(t *testing.T) string {
	t.Helper()
	return writeFile(t, "config.yaml", "quota:\n  per_minute: 0\nlog:\n  level: debug\n  format: json\n", 0o600)
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func countRows(t *testing.T, conn *pgx.Conn, schema, table string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{schema, table}.Sanitize()).Scan(&n))
	return n
}

func TestRunUsageErrors(t *testing.T) {
	t.Parallel()
	unreachableDB := map[string]string{
		"DATABASE_URL":     "postgres://nobody@127.0.0.1:1/none?connect_timeout=1",
		"AFFINITY_API_KEY": "sk-usage",
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // on stderr
	}{
		{"no arguments", nil, nil, "usage:"},
		{"unknown command", nil, []string{"frobnicate"}, "frobnicate"},
		{"unknown global flag", nil, []string{"--bogus", "sync"}, "bogus"},
		{"migrate sideways", unreachableDB, []string{"migrate", "sideways"}, "sideways"},
		{"migrate two directions", unreachableDB, []string{"migrate", "up", "down"}, "migrate"},
		{"sync without key", map[string]string{"DATABASE_URL": unreachableDB["DATABASE_URL"]}, []string{"sync"}, "AFFINITY_API_KEY"},
		{"sync without database", map[string]string{"AFFINITY_API_KEY": "sk-usage"}, []string{"sync"}, "DATABASE_URL"},
		{"sync unknown stream", unreachableDB, []string{"sync", "--streams", "nope"}, "nope"},
		{"sync unknown stream among known", unreachableDB, []string{"sync", "--streams", "persons,nope"}, "nope"},
		{"sync empty streams", unreachableDB, []string{"sync", "--streams", ","}, "--streams"},
		{"sync unknown flag", unreachableDB, []string{"sync", "--everything"}, "everything"},
		{"sync extra argument", unreachableDB, []string{"sync", "persons"}, "persons"},
		{"status without database", nil, []string{"status"}, "DATABASE_URL"},
		{"daemon without key", map[string]string{"DATABASE_URL": unreachableDB["DATABASE_URL"]}, []string{"daemon"}, "AFFINITY_API_KEY"},
		{"plan unknown stream", unreachableDB, []string{"plan", "--streams", "nope"}, "nope"},
		{"fake-api negative size", nil, []string{"fake-api", "--addr", "127.0.0.1:0", "--persons", "-1"}, "negative"},
		{"fake-api unknown v2 mode", nil, []string{"fake-api", "--addr", "127.0.0.1:0", "--v2", "maybe"}, "--v2"},
		{"fake-api unknown v2 changes mode", nil, []string{"fake-api", "--addr", "127.0.0.1:0", "--v2-changes", "maybe"}, "--v2-changes"},
		{"fake-api unknown files-unfiltered mode", nil, []string{"fake-api", "--addr", "127.0.0.1:0", "--files-unfiltered", "sometimes"}, "--files-unfiltered"},
		{"demo unknown v2 changes mode", nil, []string{"demo", "--v2-changes", "sometimes"}, "--v2-changes"},
		{"bench --json without --day", nil, []string{"bench", "--json"}, "--day"},
		{"bench --day with --latency", nil, []string{"bench", "--day", "--latency", "1s"}, "--latency"},
		{"bench --day negative trickle", nil, []string{"bench", "--day", "--trickle", "-1"}, "--trickle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			require.Equal(t, exitUsage, code, "stderr: %s", stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tt.want)
			require.NotContains(t, stderr, "sk-usage")
		})
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, stdout, stderr := runCLI(t, nil, args...)
		require.Equal(t, exitOK, code, "args %v", args)
		require.Contains(t, stdout+stderr, "usage:")
	}
}

// TestSyncRefusesPlainHTTPToRemoteHost checks the base-URL rule: http:// only
// for loopback hosts, exit 2 with a message that says why.
func TestSyncRefusesPlainHTTPToRemoteHost(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	for _, base := range []string{"http://api.affinity.co", "http://10.1.2.3:8089", "ftp://api.affinity.co"} {
		t.Run(base, func(t *testing.T) {
			env := map[string]string{
				"AFFINITY_API_KEY":  "sk-SECRET-123",
				"AFFINITY_BASE_URL": base,
				"DATABASE_URL":      dbURL,
			}
			code, stdout, stderr := runCLI(t, env, "--config", quickConfig(t), "sync")
			require.Equal(t, exitUsage, code, "stderr: %s", stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, "https")
			require.Regexp(t, `(?i)base[ _]url`, stderr)
			require.NotContains(t, stderr, "sk-SECRET-123")
		})
	}
}

// TestSyncBaseURLCheckedBeforeDatabase: a bad base URL is a configuration
// error, found before the database is touched, so it exits 2 even when the
// database is down.
func TestSyncBaseURLCheckedBeforeDatabase(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AFFINITY_API_KEY":  "sk-SECRET-123",
		"AFFINITY_BASE_URL": "http://api.affinity.co",
		"DATABASE_URL":      "postgres://nobody@127.0.0.1:1/none?connect_timeout=1",
	}
	code, _, stderr := runCLI(t, env, "sync")
	require.Equal(t, exitUsage, code, "stderr: %s", stderr)
	require.Contains(t, stderr, "https")
	require.Regexp(t, `(?i)base[ _]url`, stderr)
	require.NotContains(t, stderr, "127.0.0.1:1", "the database was not contacted")
}

// TestMigrateDatabaseDown: an unreachable database is a failure (exit 1)
// whose message reads as one path and never shows the password.
func TestMigrateDatabaseDown(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://nobody:pw-SECRET-456@127.0.0.1:1/none?connect_timeout=1"}
	for _, direction := range []string{"up", "down", "status"} {
		t.Run(direction, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, env, "migrate", direction)
			require.Equal(t, exitFailed, code, "stderr: %s", stderr)
			require.Empty(t, stdout)
			require.NotContains(t, stderr, "pw-SECRET-456")
			require.Equal(t, 1, strings.Count(stderr, "migrate "+direction+":"), "error path repeats itself: %s", stderr)
		})
	}
}

// TestSyncStatusMigrate is the happy path of the commands that use the
// warehouse, one database throughout.
func TestSyncStatusMigrate(t *testing.T) {
	t.Parallel()
	const key = "sk-happy"
	baseURL, ws := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}
	cfgPath := quickConfig(t)

	code, _, stderr := runCLI(t, env, "--config", cfgPath, "sync")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)

	conn := connect(t, dbURL)
	require.EqualValues(t, len(ws.Persons), countRows(t, conn, "affinity", "persons"))
	require.EqualValues(t, len(ws.Organizations), countRows(t, conn, "affinity", "organizations"))

	code, stdout, stderr := runCLI(t, env, "status")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	lines := strings.Split(stdout, "\n")
	require.GreaterOrEqual(t, len(lines), 2, stdout)
	require.Contains(t, lines[0], "RUN")
	require.Regexp(t, `^1\s+\S+\s+\S+\s+completed\s+[1-9]\d*\s+[1-9]\d*\s+lists,fields,persons,`, lines[1])
	require.Contains(t, stdout, "persons")

	// With the dependencies complete, a run limited by --streams may go on; it
	// is recorded as partial, never as complete.
	code, _, stderr = runCLI(t, env, "--config", cfgPath, "sync", "--streams", "field_values")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	code, stdout, _ = runCLI(t, env, "status")
	require.Equal(t, exitOK, code)
	require.Regexp(t, `(?m)^2\s+\S+\s+\S+\s+partial\s+.*field_values`, stdout)

	t.Run("migrate", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, env, "migrate", "status")
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
		require.Contains(t, stdout, `"affinity"`)
		require.NotContains(t, stdout, "pending")
		applied := strings.Count(stdout, "applied")
		require.Positive(t, applied)

		code, _, stderr = runCLI(t, env, "migrate", "down")
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
		code, stdout, _ = runCLI(t, env, "migrate", "status")
		require.Equal(t, exitOK, code)
		require.Equal(t, 1, strings.Count(stdout, "pending"), stdout)
		require.Equal(t, applied-1, strings.Count(stdout, "applied"), stdout)

		code, _, stderr = runCLI(t, env, "migrate", "up")
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
		code, _, _ = runCLI(t, env, "migrate")
		require.Equal(t, exitOK, code, "migrate without a direction means up")
		code, stdout, _ = runCLI(t, env, "migrate", "status")
		require.Equal(t, exitOK, code)
		require.NotContains(t, stdout, "pending")
		require.Equal(t, applied, strings.Count(stdout, "applied"), stdout)

		code, _, stderr = runCLI(t, env, "migrate", "sideways")
		require.Equal(t, exitUsage, code)
		require.Contains(t, stderr, "sideways")
	})
}

func TestSyncStreamsNeedsCompletedDependency(t *testing.T) {
	t.Parallel()
	const key = "sk-deps"
	baseURL, _ := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": baseURL, "DATABASE_URL": dbURL}

	code, stdout, stderr := runCLI(t, env, "--config", quickConfig(t), "sync", "--streams", "field_values")
	require.Equal(t, exitUsage, code, "stderr: %s", stderr)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "field_values")
	require.Contains(t, stderr, "list_entries")
	require.Contains(t, stderr, "fields")

	// Nothing was fetched and no run was recorded.
	conn := connect(t, dbURL)
	require.Zero(t, countRows(t, conn, "affinity", "sync_runs"))

	// Naming the dependencies too is fine.
	code, _, stderr = runCLI(t, env, "--config", quickConfig(t), "sync", "--streams", "lists,fields,list_entries,field_values")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
}

// dumpSchema returns every row of every table in schema, as text.
func dumpSchema(t *testing.T, conn *pgx.Conn, schema string) string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, schema)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "sync_runs")
	var b strings.Builder
	for _, table := range tables {
		var text *string
		require.NoError(t, conn.QueryRow(t.Context(),
			"SELECT string_agg(t::text, E'\\n') FROM "+pgx.Identifier{schema, table}.Sanitize()+" t").Scan(&text))
		if text != nil {
			b.WriteString(*text)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestSyncNeverRevealsKey(t *testing.T) {
	t.Parallel()
	const key = "sk-SECRET-123"
	dbURL := pgtest.NewDatabase(t)
	cfgPath := quickConfig(t)

	// Success: the fake accepts the key.
	goodURL, _ := newFake(t, key)
	env := map[string]string{"AFFINITY_API_KEY": key, "AFFINITY_BASE_URL": goodURL, "DATABASE_URL": dbURL}
	code, stdout, stderr := runCLI(t, env, "--config", cfgPath, "sync")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	require.NotContains(t, stdout+stderr, key)

	// Failure: the fake wants another key and answers 401 to everything.
	badURL, _ := newFake(t, "some-other-key")
	env["AFFINITY_BASE_URL"] = badURL
	code, stdout, stderr = runCLI(t, env, "--config", cfgPath, "sync")
	require.Equal(t, exitFailed, code, "stderr: %s", stderr)
	require.NotContains(t, stdout+stderr, key)
	require.NotEmpty(t, stderr, "a failed sync says why")

	// The key file route, failing as well.
	keyFile := writeFile(t, "key", key+"\n", 0o600)
	fileEnv := map[string]string{"AFFINITY_API_KEY_FILE": keyFile, "AFFINITY_BASE_URL": badURL, "DATABASE_URL": dbURL}
	code, stdout, stderr = runCLI(t, fileEnv, "--config", cfgPath, "sync")
	require.Equal(t, exitFailed, code, "stderr: %s", stderr)
	require.NotContains(t, stdout+stderr, key)

	code, stdout, stderr = runCLI(t, env, "status")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	require.NotContains(t, stdout+stderr, key)

	conn := connect(t, dbURL)
	var statuses []string
	rows, err := conn.Query(t.Context(), `SELECT status FROM affinity.sync_runs ORDER BY id`)
	require.NoError(t, err)
	statuses, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"completed", "failed", "failed"}, statuses)
	var runErr string
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT coalesce(error, '') FROM affinity.sync_runs WHERE id = 2`).Scan(&runErr))
	require.NotEmpty(t, runErr, "a failed run records its error")

	dump := dumpSchema(t, conn, "affinity")
	require.Contains(t, dump, "failed")
	require.NotContains(t, dump, key)
}

func TestSyncHostileSchema(t *testing.T) {
	t.Parallel()
	const key = "sk-schema"
	const schema = `we"ird; drop table x`
	baseURL, ws := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{
		"AFFINITY_API_KEY":     key,
		"AFFINITY_BASE_URL":    baseURL,
		"DATABASE_URL":         dbURL,
		"AFFINITY_SYNC_SCHEMA": schema,
	}
	code, _, stderr := runCLI(t, env, "--config", quickConfig(t), "sync")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)

	conn := connect(t, dbURL)
	var tables int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = $1 AND table_name IN ('persons', 'organizations', 'sync_runs')`, schema).Scan(&tables))
	require.Equal(t, 3, tables)
	require.EqualValues(t, len(ws.Persons), countRows(t, conn, schema, "persons"))
	var other bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM information_schema.schemata
		WHERE schema_name = 'affinity')`).Scan(&other))
	require.False(t, other, "nothing goes to the default schema")

	code, stdout, stderr := runCLI(t, env, "status")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	require.Contains(t, stdout, "completed")
	code, stdout, stderr = runCLI(t, env, "migrate", "status")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	require.Contains(t, stdout, `"we""ird; drop table x"`)
}

// TestReservedSchemaIsAConfigError: a schema name Postgres reserves is bad
// configuration (exit 2), not a failure met half-way (exit 1).
func TestReservedSchemaIsAConfigError(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	for _, schema := range []string{"pg_mine", "information_schema", "$user"} {
		t.Run(schema, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": dbURL, "AFFINITY_SYNC_SCHEMA": schema}
			code, _, stderr := runCLI(t, env, "migrate", "up")
			require.Equal(t, exitUsage, code, "stderr: %s", stderr)
			require.Contains(t, stderr, "schema")
		})
	}
}

// TestConfigFileOnly runs sync with every setting in the file and nothing in
// the environment.
func TestConfigFileOnly(t *testing.T) {
	t.Parallel()
	const key = "sk-file-only"
	baseURL, ws := newFake(t, key)
	dbURL := pgtest.NewDatabase(t)
	yaml := "affinity:\n  api_key: " + key + "\n  base_url: " + baseURL + "\n" +
		"database:\n  url: " + dbURL + "\n  schema: from_file\n" +
		"quota:\n  per_minute: 0\n"
	path := writeFile(t, "config.yaml", yaml, 0o600)
	code, _, stderr := runCLI(t, nil, "--config", path, "sync", "--streams", "persons")
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	require.NotContains(t, stderr, "warning")
	conn := connect(t, dbURL)
	require.EqualValues(t, len(ws.Persons), countRows(t, conn, "from_file", "persons"))
}
