// Package pgtest finds a real PostgreSQL server for tests and hands each test its own
// database. The server is looked for once per test binary, in this order:
//
//  1. TEST_DATABASE_URL — any database on an existing server, with rights to CREATE DATABASE;
//  2. a Docker engine through testcontainers-go (postgres:15), only when DOCKER_HOST is set or
//     /var/run/docker.sock exists;
//  3. the PostgreSQL server binaries on this machine, started as a throwaway cluster
//     (package localpg).
//
// With none of them the test fails with a message saying how to get one; it never skips.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Main stops a server it started once the tests are done. Without Main a started server is
// reference counted instead: it stops when the last database handed out from it is dropped
// (in t.Cleanup), and a later NewDatabase starts a new one. That is correct but slower, so
// prefer Main. Only test code imports this package (it links testcontainers-go).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/affinity-sync/affinity-sync/loader/pgtest/localpg"
)

// EnvURL names the environment variable that points the finder at an existing server.
const EnvURL = "TEST_DATABASE_URL"

// server is what the finder found: an admin URL and, for servers it started, how to stop them.
type server struct {
	adminURL string
	how      string       // "env", "docker" or "localpg", for messages
	stop     func() error // nil when the server is not ours
}

// finder finds or starts a server at most once at a time and remembers it.
type finder struct {
	getenv       func(string) string
	dockerSocket string
	localOpts    localpg.Options
	logger       *slog.Logger

	mu      sync.Mutex
	managed bool // Main owns the lifetime; otherwise reference counting
	srv     *server
	err     error
	refs    int
}

// shared is the one finder of this test binary. It is the package's only state: a process-
// wide server is what Main and NewDatabase exist to share.
var shared = newFinder(os.Getenv)

func newFinder(getenv func(string) string) *finder {
	return &finder{
		getenv:       getenv,
		dockerSocket: "/var/run/docker.sock",
		logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// Main runs the tests, stops any server the finder started, and exits with the tests' code.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.managed = true
	shared.mu.Unlock()
	code := m.Run()
	if err := shared.shutdown(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// NewDatabase creates a database with a unique name on the found server and returns its URL.
// The database is dropped (WITH (FORCE)) when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return shared.newDatabase(t)
}

func (f *finder) newDatabase(t testing.TB) string {
	t.Helper()
	srv, err := f.acquire(t.Context())
	if err != nil {
		t.Fatal(notFoundMessage(err))
	}
	name := databaseName(t.Name())
	dbURL, err := withDatabase(srv.adminURL, name)
	if err != nil {
		f.release()
		t.Fatalf("pgtest: %v", err)
	}
	if err := adminExec(t.Context(), srv.adminURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		f.release()
		t.Fatalf("pgtest: create database %s on %s server: %v", name, srv.how, err)
	}
	t.Cleanup(func() {
		defer f.release()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, srv.adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dbURL
}

// notFoundMessage says why no server was found and how to get one.
func notFoundMessage(err error) string {
	return fmt.Sprintf("pgtest: no PostgreSQL server for tests: %v\n"+
		"Get one of: %s=postgres://user@host:5432/postgres?sslmode=disable (a role that may CREATE DATABASE); "+
		"a running Docker engine (DOCKER_HOST or /var/run/docker.sock); "+
		"or the PostgreSQL server binaries (apt-get install postgresql, brew install postgresql) "+
		"with initdb and pg_ctl on PATH or under %s", err, EnvURL, localpg.DefaultBinGlob)
}

// acquire returns the server, finding or starting it on first use, and counts a reference.
func (f *finder) acquire(ctx context.Context) (*server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv == nil && f.err == nil {
		f.srv, f.err = f.find(ctx)
		if f.err != nil && ctx.Err() != nil {
			// A cancelled test must not poison the finder for the others.
			err := f.err
			f.err = nil
			return nil, err
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	f.refs++
	return f.srv, nil
}

// release drops a reference; without Main the last one stops a server we started.
func (f *finder) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs--
	if f.refs > 0 || f.managed || f.srv == nil || f.srv.stop == nil {
		return
	}
	if err := f.srv.stop(); err != nil {
		f.logger.Warn("pgtest: stop server", "how", f.srv.how, "error", err)
	}
	f.srv = nil
}

// shutdown stops a server the finder started.
func (f *finder) shutdown() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv == nil || f.srv.stop == nil {
		return nil
	}
	srv := f.srv
	f.srv = nil
	if err := srv.stop(); err != nil {
		return fmt.Errorf("stop %s server: %w", srv.how, err)
	}
	return nil
}

// find walks the strategies in order.
func (f *finder) find(ctx context.Context) (*server, error) {
	if raw := f.getenv(EnvURL); raw != "" {
		if err := adminExec(ctx, raw, "SELECT 1"); err != nil {
			return nil, fmt.Errorf("%s is set but its server does not answer: %w", EnvURL, err)
		}
		return &server{adminURL: raw, how: "env"}, nil
	}
	var reasons []string
	if f.dockerAvailable() {
		srv, err := startDocker(ctx, f.logger)
		if err == nil {
			return srv, nil
		}
		f.logger.Warn("pgtest: docker engine found but postgres container failed; trying local binaries", "error", err)
		reasons = append(reasons, "docker: "+err.Error())
	} else {
		reasons = append(reasons, "docker: no DOCKER_HOST and no "+f.dockerSocket)
	}
	c, err := localpg.StartWith(ctx, f.logger, f.localOpts)
	if err == nil {
		return &server{adminURL: c.URL("postgres"), how: "localpg", stop: c.Stop}, nil
	}
	reasons = append(reasons, err.Error())
	return nil, fmt.Errorf("%s is not set; %s", EnvURL, strings.Join(reasons, "; "))
}

func (f *finder) dockerAvailable() bool {
	if f.getenv("DOCKER_HOST") != "" {
		return true
	}
	if f.dockerSocket == "" {
		return false
	}
	_, err := os.Stat(f.dockerSocket)
	return err == nil
}

func adminExec(ctx context.Context, connString, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase points a connection string (URL or keyword/value form) at another database.
func withDatabase(connString, database string) (string, error) {
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", errors.New("cannot parse the server URL") // the error would echo a password
		}
		u.Path = "/" + database
		u.RawPath = ""
		return u.String(), nil
	}
	// keyword/value form: a later keyword wins.
	return connString + " dbname=" + database, nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName derives a unique, readable, unquoted-safe name (≤ 63 bytes) from the test name.
func databaseName(testName string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	base := unsafeChars.ReplaceAllString(strings.ToLower(testName), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	return "pgtest_" + strings.Trim(base, "_") + "_" + hex.EncodeToString(b[:])
}
