// Command affinity-sync keeps a Postgres warehouse in step with an Affinity
// CRM workspace. This package holds flags, subcommands and wiring only; the
// work is done by extractor, loader and migrations.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
)

// Exit statuses (docs/cli.md).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitBudgetSpent = 3
)

const usageText = `usage: affinity-sync [--config FILE] COMMAND [flags]

commands:
  migrate [up|down|status]   apply, roll back one step of, or show the warehouse migrations
  sync [--streams a,b] [--allow-mass-delete]
                             run one pass of every enabled stream, then exit
  daemon                     run on the configured schedule until SIGINT/SIGTERM
  plan [--month]             the requests the next sync would spend, against the budget;
                             --month: the month's projection against the allowance
  status [--json]            last runs, per-stream checkpoints, requests spent and left
  reset --streams a,b        clear those streams' checkpoints: the next run re-reads them
  demo [--keep]              fake API + local Postgres, one full sync, a summary
  fake-api --addr ADDR       serve the fake Affinity API (--key, --seed, --persons, --v2, ...)
  webhook subscribe --url U  register the daemon's webhook URL with Affinity [--events a,b]
  healthcheck [--url U]      exit 0 when the daemon's /healthz answers 200 (for containers)
  bench [--scale N]          the end-to-end benchmark (see docs/benchmarks.md)

exit status: 0 done, 1 failed, 2 bad usage or configuration, 3 request budget spent
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// env is what a command needs from its surroundings; tests supply their own.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	configPath     string
	// errLog, once the log format in effect is json, is the logger that prints
	// the command's final error, so that every stderr line is JSON. nil = none.
	errLog *errorLog
	// now is the clock of the request budget and the month's projection (tests fake it).
	now func() time.Time
}

// errorLog holds the logger the command's final error goes through.
type errorLog struct{ log *slog.Logger }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runAt(ctx, args, stdout, stderr, getenv, time.Now)
}

// runAt is run on the clock now: the request budget's days and months, and the month's
// projection, are taken from it.
func runAt(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) int {
	global := flag.NewFlagSet("affinity-sync", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, usageText) }
	configPath := global.String("config", "", "YAML config file")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	e := env{stdout: stdout, stderr: stderr, getenv: getenv, configPath: *configPath, errLog: &errorLog{}, now: now}
	cmd, cmdArgs := rest[0], rest[1:]
	var err error
	switch cmd {
	case "migrate":
		err = cmdMigrate(ctx, e, cmdArgs)
	case "sync":
		var code int
		code, err = cmdSync(ctx, e, cmdArgs)
		if err == nil {
			return code
		}
	case "status":
		err = cmdStatus(ctx, e, cmdArgs)
	case "plan":
		err = cmdPlan(ctx, e, cmdArgs)
	case "reset":
		err = cmdReset(ctx, e, cmdArgs)
	case "daemon":
		err = cmdDaemon(ctx, e, cmdArgs)
	case "demo":
		err = cmdDemo(ctx, e, cmdArgs)
	case "fake-api":
		err = cmdFakeAPI(ctx, e, cmdArgs)
	case "bench":
		err = cmdBench(ctx, e, cmdArgs)
	case benchPassesCommand:
		err = cmdBenchPasses(ctx, e, cmdArgs)
	case benchDayCommand:
		err = cmdBenchDay(ctx, e, cmdArgs)
	case "webhook":
		err = cmdWebhook(ctx, e, cmdArgs)
	case "healthcheck":
		err = cmdHealthcheck(ctx, e, cmdArgs)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "affinity-sync: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
	return exitCode(stderr, e.errLog, err)
}

// exitCode prints err (if any) and maps it to an exit status. With a JSON
// logger in errLog the error is one JSON line, else "affinity-sync: ...".
func exitCode(stderr io.Writer, errLog *errorLog, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	err = refusedKey(err)
	if errLog != nil && errLog.log != nil {
		errLog.log.Error("affinity-sync failed", "error", err.Error())
	} else {
		fmt.Fprintf(stderr, "affinity-sync: %v\n", err)
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

// newFlags returns a FlagSet for a subcommand whose parse errors are usage errors.
func newFlags(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// newLogger builds the slog logger: text on a terminal, JSON otherwise, unless
// log.format says which.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if logFormat(w, cfg) == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// logFormat is the log format in effect: log.format, else text on a terminal and json
// otherwise.
func logFormat(w io.Writer, cfg Config) string {
	if cfg.Log.Format != "" {
		return cfg.Log.Format
	}
	if isTerminal(w) {
		return "text"
	}
	return "json"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// commandConfig loads the configuration of a command that uses the
// warehouse (and, with api, Affinity), checks that those are set, and builds
// its logger.
func (e env) commandConfig(api bool) (Config, *slog.Logger, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return cfg, nil, err
	}
	if api {
		if err := cfg.needAPI(); err != nil {
			return cfg, nil, err
		}
	}
	if err := cfg.needDatabase(); err != nil {
		return cfg, nil, err
	}
	return cfg, newLogger(e.stderr, cfg), nil
}

// loadConfig loads the configuration and sends its warnings through the
// logger the configuration asks for, so that with log.format: json they are
// JSON lines too.
func (e env) loadConfig() (Config, error) {
	var warnings []string
	cfg, err := loadConfig(e.configPath, e.getenv, func(msg string) { warnings = append(warnings, msg) })
	log := newLogger(e.stderr, cfg)
	for _, w := range warnings {
		log.Warn(w)
	}
	if e.errLog != nil && logFormat(e.stderr, cfg) == "json" {
		e.errLog.log = log
	}
	return cfg, err
}

// refusedKey turns Affinity's 401 into one line that says the key was refused
// and which settings hold it; any other error comes back unchanged. The run
// still counts as failed (exit 1), as any other refused request.
func refusedKey(err error) error {
	var done *keyRefusedError
	if errors.As(err, &done) {
		return err
	}
	var apiErr *affinity.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		return err
	}
	return &keyRefusedError{err: apiErr}
}

// keyRefusedError is a 401 from Affinity, worded for the person who set the key.
type keyRefusedError struct{ err *affinity.APIError }

func (e *keyRefusedError) Error() string {
	return fmt.Sprintf("Affinity refused the API key (HTTP 401 on %s %s): check the key in AFFINITY_API_KEY, AFFINITY_API_KEY_FILE, affinity.api_key or affinity.api_key_file",
		e.err.Method, e.err.Path)
}

func (e *keyRefusedError) Unwrap() error { return e.err }

func cmdMigrate(ctx context.Context, e env, args []string) error {
	fs := newFlags("migrate", e)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	command := "up"
	switch fs.NArg() {
	case 0:
	case 1:
		command = fs.Arg(0)
	default:
		return usagef("migrate takes one of up, down, status")
	}
	if command != "up" && command != "down" && command != "status" {
		return usagef("migrate: unknown direction %q (up, down or status)", command)
	}
	cfg, log, err := e.commandConfig(false)
	if err != nil {
		return err
	}
	return migrateRun(ctx, cfg, command, e.stdout, log)
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
