package loader_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is one test's warehouse: a migrated schema in its own database.
type env struct {
	store  *loader.Store
	conn   *pgx.Conn
	schema string
	url    string
}

func newEnv(t *testing.T, schema string) env {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Run(t.Context(), dbURL, schema, "up", nil, nil))
	store, err := loader.Open(t.Context(), dbURL, schema, nil)
	require.NoError(t, err)
	t.Cleanup(store.Close)
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return env{store: store, conn: conn, schema: schema, url: dbURL}
}

func (e env) table(name string) string { return pgx.Identifier{e.schema, name}.Sanitize() }

func (e env) count(t *testing.T, table, where string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.conn.QueryRow(t.Context(), "SELECT count(*) FROM "+e.table(table)+" WHERE "+where, args...).Scan(&n))
	return n
}

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func cp(stream string, started time.Time, token string) loader.Checkpoint {
	return loader.Checkpoint{Stream: stream, PassStartedAt: started, PageToken: token, Pages: 1, Rows: 1}
}
