package migrations_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// migrationTables are the tables and views each migration adds, in order: the warehouse
// and its bookkeeping (docs/warehouse.md), its views, the request ledger (docs/quota.md),
// the entities' freshness, the notes, the as-of function and the workspace guard, the
// webhook deliveries the daemon records, field values without an Affinity id, the API
// path of each stream's last pass, each run's requests by stream, the change feed's state,
// each run's job, and relationship intelligence and files (with their bookkeeping).
var migrationTables = [][]string{
	{"dropdown_options", "field_value_changes", "field_values", "fields", "list_entries", "lists",
		"opportunities", "opportunity_organizations", "opportunity_persons", "organization_persons",
		"organizations", "persons", "sync_checkpoints", "sync_runs"},
	{"field_history", "list_entry_values", "stage_durations"},
	{"sync_request_ledger"},
	{"sync_entity_freshness"},
	{"note_opportunities", "note_organizations", "note_persons", "notes"},
	{}, // 00006 adds the function field_values_as_of only
	{"sync_workspace"},
	{"sync_webhook_deliveries"},
	{}, // 00009 lets field_values hold values without an Affinity id
	{"sync_stream_paths"},
	{}, // 00011 adds sync_runs.requests_by_stream
	{"sync_change_feed", "sync_change_histories"},
	{}, // 00013 adds sync_runs.job
	{"entity_files", "interaction_persons", "interactions", "relationship_strength_history", "relationship_strengths",
		"reminders", "reminders_current", "sync_file_fetches", "sync_interaction_fetches", "sync_strength_fetches"},
}

// migrationVersions are the versions of migrationTables' migrations, in order.
var migrationVersions = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}

// tablesAfter is what information_schema.tables lists after the first n migrations, sorted.
func tablesAfter(n int) []string {
	all := append([]string{"goose_db_version"}, slices.Concat(migrationTables[:n]...)...)
	slices.Sort(all)
	return all
}

// everything is what information_schema.tables lists after all migrations: tables and views.
func everything() []string { return tablesAfter(len(migrationTables)) }

func tablesIn(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = $1 ORDER BY 1`, schema)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestUpDownUpStatus(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	conn := connect(t, dbURL)
	ctx := t.Context()
	const schema = "affinity"

	require.NoError(t, migrations.Run(ctx, dbURL, schema, "up", nil, nil))
	require.Equal(t, everything(), tablesIn(t, conn, schema))
	require.NoError(t, migrations.Run(ctx, dbURL, schema, "up", nil, nil), "up is idempotent")

	var out bytes.Buffer
	require.NoError(t, migrations.Run(ctx, dbURL, schema, "status", &out, nil))
	for _, file := range []string{"00001_warehouse.sql", "00002_views.sql", "00003_ledger.sql", "00004_freshness.sql",
		"00005_notes.sql", "00006_as_of.sql", "00007_workspace.sql"} {
		require.Contains(t, out.String(), file)
	}
	require.Len(t, migrationVersions, len(migrationTables))
	for _, v := range migrationVersions {
		require.Regexp(t, fmt.Sprintf(`(?m)^%d\s+applied`, v), out.String())
	}

	for v := len(migrationTables); v >= 1; v-- {
		require.NoError(t, migrations.Run(ctx, dbURL, schema, "down", nil, nil))
		require.Equal(t, tablesAfter(v-1), tablesIn(t, conn, schema), "one step down undoes migration %d only", v)
	}
	out.Reset()
	require.NoError(t, migrations.Run(ctx, dbURL, schema, "status", &out, nil))
	for _, v := range migrationVersions {
		require.Regexp(t, fmt.Sprintf(`(?m)^%d\s+pending`, v), out.String())
	}
	require.NoError(t, migrations.Run(ctx, dbURL, schema, "down", nil, nil), "down with nothing applied is a no-op")

	require.NoError(t, migrations.Run(ctx, dbURL, schema, "up", nil, nil))
	require.Equal(t, everything(), tablesIn(t, conn, schema))
	require.Equal(t, []string{}, tablesIn(t, conn, "public"), "nothing leaks into public")
}

func TestEveryTableAndColumnCommented(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Run(t.Context(), dbURL, "wh", "up", nil, nil))
	conn := connect(t, dbURL)
	rows, err := conn.Query(t.Context(), `
		SELECT c.relname || coalesce('.' || a.attname, '')
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'wh'
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.relkind IN ('r', 'v') AND c.relname <> 'goose_db_version'
		  AND col_description(c.oid, coalesce(a.attnum, 0)) IS NULL
		  AND (a.attnum IS NOT NULL OR obj_description(c.oid, 'pg_class') IS NULL)`)
	require.NoError(t, err)
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, missing, "tables, views or columns without COMMENT ON")
}

func TestContractColumnTypes(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Run(t.Context(), dbURL, "affinity", "up", nil, nil))
	conn := connect(t, dbURL)
	tests := []struct{ table, column, typ string }{
		{"persons", "id", "bigint"},
		{"persons", "type", "smallint"},
		{"persons", "emails", "ARRAY"},
		{"persons", "last_interaction_at", "timestamp with time zone"},
		{"persons", "interaction_dates_synced_at", "timestamp with time zone"},
		{"organizations", "domains", "ARRAY"},
		{"organizations", "global", "boolean"},
		{"opportunities", "list_id", "bigint"},
		{"lists", "type", "smallint"},
		{"list_entries", "entity_type", "smallint"},
		{"fields", "value_type", "smallint"},
		{"dropdown_options", "rank", "integer"},
		{"field_values", "value", "jsonb"},
		{"field_values", "value_number", "numeric"},
		{"field_values", "value_date", "timestamp with time zone"},
		{"field_values", "deleted_at", "timestamp with time zone"},
		{"field_value_changes", "changer_id", "bigint"},
		{"field_value_changes", "action_type", "smallint"},
		{"opportunity_persons", "person_id", "bigint"},
		{"organization_persons", "organization_id", "bigint"},
		{"sync_runs", "requests_by_stream", "jsonb"},
		{"sync_runs", "job", "text"},
		{"entity_files", "size", "bigint"},
		{"reminders", "status", "smallint"},
		{"relationship_strengths", "strength", "double precision"},
		{"relationship_strength_history", "strength", "double precision"},
		{"interactions", "note_ids", "ARRAY"},
		{"interactions", "raw", "jsonb"},
		{"interaction_persons", "role", "text"},
	}
	for _, tt := range tests {
		var got string
		err := conn.QueryRow(t.Context(), `SELECT data_type FROM information_schema.columns
			WHERE table_schema = 'affinity' AND table_name = $1 AND column_name = $2`, tt.table, tt.column).Scan(&got)
		require.NoError(t, err, "%s.%s", tt.table, tt.column)
		require.Equal(t, tt.typ, got, "%s.%s", tt.table, tt.column)
	}
	// field_value_changes is append-only: no deleted_at.
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'affinity' AND table_name = 'field_value_changes' AND column_name = 'deleted_at'`).Scan(&n))
	require.Zero(t, n)
}

func TestHostileSchemaName(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	conn := connect(t, dbURL)
	ctx := t.Context()
	_, err := conn.Exec(ctx, `CREATE TABLE public.x (id int)`)
	require.NoError(t, err)

	for _, schema := range []string{`we"ird; drop table x`, `Mixed Case, with comma`, `$user2`, `a\\b`, `public'); drop table public.x; --`} {
		require.NoError(t, migrations.Run(ctx, dbURL, schema, "up", nil, nil), schema)
		require.Equal(t, everything(), tablesIn(t, conn, schema), schema)
		var out bytes.Buffer
		require.NoError(t, migrations.Run(ctx, dbURL, schema, "status", &out, nil), schema)
		require.Contains(t, out.String(), "applied")
	}
	require.Equal(t, []string{"x"}, tablesIn(t, conn, "public"), "public.x survives and nothing else lands in public")
}

func TestTwoSchemasIndependent(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	ctx := t.Context()
	require.NoError(t, migrations.Run(ctx, dbURL, "one", "up", nil, nil))
	require.NoError(t, migrations.Run(ctx, dbURL, "two", "up", nil, nil))
	for range migrationTables {
		require.NoError(t, migrations.Run(ctx, dbURL, "one", "down", nil, nil))
	}
	conn := connect(t, dbURL)
	require.Equal(t, []string{"goose_db_version"}, tablesIn(t, conn, "one"))
	require.Equal(t, everything(), tablesIn(t, conn, "two"))
	require.NotEqual(t, migrations.LockID("one"), migrations.LockID("two"))
}

func TestValidateAndBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		schema  string
		wantErr string
	}{
		{"affinity", ""},
		{`we"ird; drop table x`, ""},
		{strings.Repeat("é", 31), ""}, // 62 bytes
		{"", "empty"},
		{strings.Repeat("a", 64), "64 bytes"},
		{"a\x00b", "NUL"},
		{"$user", "search_path"},
		{"pg_temp", "reserved"},
		{"PG_x", "reserved"},
		{"information_schema", "reserved"},
	}
	for _, tt := range tests {
		err := migrations.Validate(tt.schema)
		if tt.wantErr == "" {
			require.NoError(t, err, tt.schema)
		} else {
			require.ErrorContains(t, err, tt.wantErr)
		}
	}
	err := migrations.Run(t.Context(), "postgres://127.0.0.1:1/x", "affinity", "sideways", nil, nil)
	require.ErrorContains(t, err, `unknown command "sideways"`)
}

func TestViewContractColumns(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Run(t.Context(), dbURL, "affinity", "up", nil, nil))
	conn := connect(t, dbURL)
	tests := []struct {
		view    string
		columns []string
	}{
		{"field_history", []string{"change_id", "changed_at", "field_id", "field_name", "list_id", "entity_type", "entity_id",
			"list_entry_id", "action", "changer_id", "value_text", "value"}},
		{"list_entry_values", []string{"list_entry_id", "list_id", "entity_type", "entity_id", "field_id", "field_name", "value_type",
			"value_text", "value_number", "value_date", "value_entity_id", "value_option_id", "value"}},
		{"stage_durations", []string{"list_entry_id", "list_id", "entity_id", "field_id", "option_id", "stage", "entered_at",
			"left_at", "duration"}},
		{"reminders_current", []string{"id", "type", "reset_type", "reminder_days", "status", "content", "due_at", "created_at",
			"completed_at", "creator_id", "owner_id", "completer_id", "person_id", "organization_id", "opportunity_id", "status_now"}},
	}
	for _, tt := range tests {
		rows, err := conn.Query(t.Context(), `SELECT column_name::text FROM information_schema.columns
			WHERE table_schema = 'affinity' AND table_name = $1 ORDER BY ordinal_position`, tt.view)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		require.Subset(t, got, tt.columns, tt.view)
	}
	var typ string
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT data_type FROM information_schema.columns
		WHERE table_schema = 'affinity' AND table_name = 'stage_durations' AND column_name = 'duration'`).Scan(&typ))
	require.Equal(t, "interval", typ)
}

// TestFieldValuesWithoutID: after 00009 field_values holds any number of rows without an
// Affinity id, id stays unique where set, and the step down refuses while id-less rows
// exist, then restores id as the primary key once they are gone.
func TestFieldValuesWithoutID(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	ctx := t.Context()
	const schema = "wh"
	require.NoError(t, migrations.Run(ctx, dbURL, schema, "up", nil, nil))
	conn := connect(t, dbURL)

	insert := `INSERT INTO wh.field_values (id, field_id, entity_type, entity_id, synced_at) VALUES ($1, 1, 0, 7, now())`
	for _, id := range []any{int64(10), nil, nil} {
		_, err := conn.Exec(ctx, insert, id)
		require.NoError(t, err)
	}
	_, err := conn.Exec(ctx, insert, int64(10))
	require.ErrorContains(t, err, "field_values_id_key", "id stays unique where set")
	_, err = conn.Exec(ctx, `INSERT INTO wh.field_values (id, field_id, entity_type, entity_id, synced_at)
		VALUES (10, 1, 0, 7, now()) ON CONFLICT (id) DO UPDATE SET entity_id = 8`)
	require.NoError(t, err, "upserts by id still infer the unique key")

	var rows, distinctRowIDs, withID int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT row_id), count(id) FROM wh.field_values`).
		Scan(&rows, &distinctRowIDs, &withID))
	require.Equal(t, []int64{3, 3, 1}, []int64{rows, distinctRowIDs, withID})

	for v := len(migrationTables); v > 9; v-- {
		require.NoError(t, migrations.Run(ctx, dbURL, schema, "down", nil, nil), "the migrations after 00009 step down")
	}
	err = migrations.Run(ctx, dbURL, schema, "down", nil, nil)
	require.ErrorContains(t, err, "2 rows without an Affinity id")
	var version int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT max(version_id) FROM wh.goose_db_version`).Scan(&version))
	require.Equal(t, int64(9), version, "a refused step down changes nothing")

	_, err = conn.Exec(ctx, `DELETE FROM wh.field_values WHERE id IS NULL`)
	require.NoError(t, err)
	require.NoError(t, migrations.Run(ctx, dbURL, schema, "down", nil, nil))
	var pk string
	require.NoError(t, conn.QueryRow(ctx, `SELECT a.attname::text FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = 'wh.field_values'::regclass AND i.indisprimary`).Scan(&pk))
	require.Equal(t, "id", pk)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM wh.field_values WHERE id = 10 AND entity_id = 8`).Scan(&rows))
	require.Equal(t, int64(1), rows, "the rows with ids survive the step down")
	require.NoError(t, migrations.Run(ctx, dbURL, schema, "up", nil, nil))
}
