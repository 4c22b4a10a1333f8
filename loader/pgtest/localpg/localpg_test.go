package localpg_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader/pgtest/localpg"
)

func TestStartQueryStop(t *testing.T) {
	if _, err := localpg.FindBinDir(localpg.Options{}); err != nil {
		t.Fatalf("this test needs the PostgreSQL server binaries: %v", err)
	}
	c, err := localpg.Start(t.Context(), nil)
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})

	conn, err := pgx.Connect(t.Context(), c.URL("postgres"))
	require.NoError(t, err)
	var got string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_setting('server_encoding')").Scan(&got))
	require.Equal(t, "UTF8", got)
	require.NoError(t, conn.Close(t.Context()))

	require.NoError(t, c.Stop())
	stopped = true
	_, err = pgx.Connect(t.Context(), c.URL("postgres"))
	require.Error(t, err, "server must be down after Stop")
}

func TestFindBinDir(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	fake := filepath.Join(t.TempDir(), "pg", "16", "bin")
	require.NoError(t, os.MkdirAll(fake, 0o755))
	for _, name := range []string{"initdb", "pg_ctl"} {
		require.NoError(t, os.WriteFile(filepath.Join(fake, name), []byte("#!/bin/sh\n"), 0o755))
	}
	older := filepath.Join(filepath.Dir(filepath.Dir(fake)), "9", "bin")
	require.NoError(t, os.MkdirAll(older, 0o755))
	for _, name := range []string{"initdb", "pg_ctl"} {
		require.NoError(t, os.WriteFile(filepath.Join(older, name), []byte("#!/bin/sh\n"), 0o755))
	}

	tests := []struct {
		name    string
		opts    localpg.Options
		want    string
		wantErr string
	}{
		{name: "explicit dir", opts: localpg.Options{BinDir: fake}, want: fake},
		{name: "explicit dir without binaries", opts: localpg.Options{BinDir: empty}, wantErr: "not found in " + empty},
		{name: "newest version from glob", opts: localpg.Options{NoPath: true, BinGlob: filepath.Join(filepath.Dir(filepath.Dir(fake)), "*", "bin")}, want: fake},
		{name: "nothing anywhere", opts: localpg.Options{NoPath: true, BinGlob: filepath.Join(empty, "*", "bin")}, wantErr: "apt-get install postgresql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := localpg.FindBinDir(tt.opts)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
