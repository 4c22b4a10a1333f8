package pgtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader/pgtest/localpg"
)

func TestMain(m *testing.M) { Main(m) }

func currentDatabase(t *testing.T, dbURL string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var name string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
	return name
}

func databaseExists(t *testing.T, adminURL, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), adminURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var ok bool
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok))
	return ok
}

func TestNewDatabaseIsolated(t *testing.T) {
	t.Parallel()
	a := currentDatabase(t, NewDatabase(t))
	b := currentDatabase(t, NewDatabase(t))
	require.NotEqual(t, a, b)
	require.Contains(t, a, "pgtest_testnewdatabaseisolated_")
}

// TestEnvStrategy points a fresh finder at the shared server through TEST_DATABASE_URL.
func TestEnvStrategy(t *testing.T) {
	t.Parallel()
	srv, err := shared.acquire(t.Context())
	require.NoError(t, err)
	t.Cleanup(shared.release)

	f := newFinder(func(key string) string {
		if key == EnvURL {
			return srv.adminURL
		}
		return ""
	})
	var name string
	t.Run("inner", func(t *testing.T) {
		name = currentDatabase(t, f.newDatabase(t))
		require.Equal(t, "env", f.srv.how)
		require.Nil(t, f.srv.stop, "a server from the environment is never ours to stop")
		require.True(t, databaseExists(t, srv.adminURL, name))
	})
	require.False(t, databaseExists(t, srv.adminURL, name), "database must be dropped after the test")
	require.NotNil(t, f.srv, "the env server stays known")
}

// TestLocalpgStrategy starts a cluster without Main: it stops when its last database is dropped.
func TestLocalpgStrategy(t *testing.T) {
	t.Parallel()
	f := newFinder(func(string) string { return "" })
	f.dockerSocket = filepath.Join(t.TempDir(), "no-docker.sock")
	var adminURL string
	t.Run("inner", func(t *testing.T) {
		dbURL := f.newDatabase(t)
		require.Equal(t, "localpg", f.srv.how)
		adminURL = f.srv.adminURL
		require.NotEmpty(t, currentDatabase(t, dbURL))
	})
	require.Nil(t, f.srv, "unmanaged server must stop with its last database")
	_, err := pgx.Connect(t.Context(), adminURL)
	require.Error(t, err)
}

func TestNothingFound(t *testing.T) {
	t.Parallel()
	f := newFinder(func(string) string { return "" })
	f.dockerSocket = filepath.Join(t.TempDir(), "no-docker.sock")
	f.localOpts = localpg.Options{NoPath: true, BinGlob: filepath.Join(t.TempDir(), "*", "bin")}
	_, err := f.acquire(t.Context())
	require.Error(t, err)
	msg := notFoundMessage(err)
	for _, want := range []string{"TEST_DATABASE_URL=", "Docker engine", "initdb", "apt-get install postgresql", "no-docker.sock"} {
		require.Contains(t, msg, want)
	}
}

func TestBadEnvURL(t *testing.T) {
	t.Parallel()
	f := newFinder(func(key string) string {
		if key == EnvURL {
			return "postgres://nobody@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"
		}
		return ""
	})
	_, err := f.acquire(t.Context())
	require.ErrorContains(t, err, "TEST_DATABASE_URL is set but its server does not answer")
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/x1?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/x1"},
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=x1"},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.in, "x1")
		require.NoError(t, err)
		require.Equal(t, tt.want, got)
	}
}

func TestDatabaseName(t *testing.T) {
	t.Parallel()
	long := databaseName("TestSomething/with spaces and \"quotes\"/and a very very very long subtest name indeed")
	require.LessOrEqual(t, len(long), 63)
	require.Regexp(t, `^pgtest_[a-z0-9_]+_[0-9a-f]{12}$`, long)
	require.NotEqual(t, databaseName("T"), databaseName("T"))
}
