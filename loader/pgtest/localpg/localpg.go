// Package localpg starts a throwaway PostgreSQL cluster from the server binaries installed on
// the machine (initdb and pg_ctl, on PATH or under /usr/lib/postgresql/*/bin). Tests use it
// through pgtest when neither TEST_DATABASE_URL nor a Docker engine is available, and the demo
// command uses it directly. A cluster lives in its own temporary directory, listens on a free
// loopback port with trust authentication, and is gone after Stop.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultBinGlob is where Debian/Ubuntu packages install the server binaries.
const DefaultBinGlob = "/usr/lib/postgresql/*/bin"

// superuser is the role initdb creates; trust auth means it needs no password.
const superuser = "postgres"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir    string // temp dir: data/ below it, and the unix socket
	pgCtl  string
	port   int
	runAs  string // system user to run binaries as ("" = current user)
	logger *slog.Logger
}

// Options tune Start. The zero value searches PATH, then DefaultBinGlob.
type Options struct {
	// BinDir, when set, is the only directory searched for initdb and pg_ctl.
	BinDir string
	// BinGlob replaces DefaultBinGlob as the fallback after PATH.
	BinGlob string
	// NoPath skips the PATH lookup.
	NoPath bool
}

// Start initialises a cluster in a new temporary directory and starts it on a free
// 127.0.0.1 port, returning once it accepts connections.
func Start(ctx context.Context, logger *slog.Logger) (*Cluster, error) {
	return StartWith(ctx, logger, Options{})
}

// StartWith is Start with explicit Options.
func StartWith(ctx context.Context, logger *slog.Logger, opts Options) (*Cluster, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	binDir, err := FindBinDir(opts)
	if err != nil {
		return nil, err
	}
	c := &Cluster{pgCtl: filepath.Join(binDir, "pg_ctl"), logger: logger}

	dir, err := os.MkdirTemp("", "localpg-")
	if err != nil {
		return nil, fmt.Errorf("localpg: create temp dir: %w", err)
	}
	c.dir = dir
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: hand the directory to the postgres user.
		if err := chownTo(dir, superuser); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("localpg: running as root, and %w", err)
		}
		c.runAs = superuser
	}

	initdb := filepath.Join(binDir, "initdb")
	out, err := c.run(ctx, initdb, "-D", c.dataDir(), "-U", superuser, "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("localpg: initdb: %w: %s", err, lastLines(out, 10))
	}

	// A free port can be taken between probing and binding: try a few times.
	var startErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("localpg: find free port: %w", err)
		}
		c.port = port
		if startErr = c.start(ctx); startErr == nil {
			logger.Info("local postgres started", "bin", binDir, "port", port, "dir", dir)
			return c, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, startErr
}

// FindBinDir returns the directory holding initdb and pg_ctl: PATH first, then the newest
// version matching the glob. The error names what is missing and how to install it.
func FindBinDir(opts Options) (string, error) {
	if opts.BinDir != "" {
		if hasServerBinaries(opts.BinDir) {
			return opts.BinDir, nil
		}
		return "", fmt.Errorf("localpg: initdb and pg_ctl not found in %s", opts.BinDir)
	}
	if !opts.NoPath {
		if p, err := exec.LookPath("initdb"); err == nil {
			if dir := filepath.Dir(p); hasServerBinaries(dir) {
				return dir, nil
			}
		}
	}
	glob := opts.BinGlob
	if glob == "" {
		glob = DefaultBinGlob
	}
	matches, _ := filepath.Glob(glob) // only ErrBadPattern, which then finds nothing
	var dirs []string
	for _, m := range matches {
		if hasServerBinaries(m) {
			dirs = append(dirs, m)
		}
	}
	if len(dirs) == 0 {
		return "", fmt.Errorf("localpg: PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in %s; "+
			"install them (e.g. apt-get install postgresql) or put their bin directory on PATH", glob)
	}
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	return dirs[0], nil
}

// versionOf reads the major version from paths like /usr/lib/postgresql/15/bin.
func versionOf(binDir string) int {
	v, err := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	if err != nil {
		return -1
	}
	return v
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// URL returns a connection URL for database on this cluster.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port is the TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down (fast mode, falling back to immediate) and removes its directory.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stopErr error
	if out, err := c.run(ctx, c.pgCtl, "stop", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "30"); err != nil {
		c.logger.Warn("local postgres fast stop failed, trying immediate", "error", err, "output", lastLines(out, 5))
		if out, err := c.run(ctx, c.pgCtl, "stop", "-D", c.dataDir(), "-m", "immediate", "-w", "-t", "30"); err != nil {
			stopErr = fmt.Errorf("localpg: pg_ctl stop: %w: %s", err, lastLines(out, 5))
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return errors.Join(stopErr, fmt.Errorf("localpg: remove %s: %w", c.dir, err))
	}
	return stopErr
}

// Crash stops the server at once, the way a power cut would (pg_ctl stop -m
// immediate: no checkpoint, recovery at the next start), then starts it again
// on the same port and data. Tests use it to prove a sync survives a database
// restart.
func (c *Cluster) Crash(ctx context.Context) error {
	if out, err := c.run(ctx, c.pgCtl, "stop", "-D", c.dataDir(), "-m", "immediate", "-w", "-t", "30"); err != nil {
		return fmt.Errorf("localpg: pg_ctl stop -m immediate: %w: %s", err, lastLines(out, 5))
	}
	return c.start(ctx)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

func (c *Cluster) start(ctx context.Context) error {
	// The options string goes through a shell inside pg_ctl; every value here is ours
	// (a number and a temp path without spaces), never user input.
	pgOpts := strings.Join([]string{
		"-p", strconv.Itoa(c.port),
		"-k", c.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=200",
	}, " ")
	out, err := c.run(ctx, c.pgCtl, "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60", "-o", pgOpts)
	if err != nil {
		logTail, _ := os.ReadFile(c.logFile())
		// pg_ctl may have left a half-started server behind; make sure it is gone.
		_, _ = c.run(context.Background(), c.pgCtl, "stop", "-D", c.dataDir(), "-m", "immediate", "-w", "-t", "10")
		return fmt.Errorf("localpg: pg_ctl start on port %d: %w: %s %s", c.port, err, lastLines(out, 5), lastLines(logTail, 10))
	}
	return nil
}

// run executes a server binary, as c.runAs when set (through runuser), returning its output.
func (c *Cluster) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if c.runAs != "" {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return nil, fmt.Errorf("running as root needs runuser to drop to user %s: %w", c.runAs, err)
		}
		cmd = exec.CommandContext(ctx, runuser, append([]string{"-u", c.runAs, "--", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	cmd.Dir = c.dir
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.Bytes(), err
}

func chownTo(dir, username string) error {
	u, err := user.Lookup(username)
	if err != nil {
		return fmt.Errorf("look up user %s: %w", username, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("user %s uid %q: %w", username, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("user %s gid %q: %w", username, u.Gid, err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", dir, username, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
