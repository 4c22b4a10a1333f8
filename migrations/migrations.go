// Package migrations owns the warehouse schema: goose SQL migrations embedded in the binary,
// applied to one Postgres schema per workspace. The schema name is only ever used as a quoted
// identifier, goose's version table lives inside that schema, and the migration lock id is
// derived from the schema name, so several workspaces in one database never block each other.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed sql/*.sql
var embedded embed.FS

// maxIdentifierBytes is Postgres' NAMEDATALEN-1: longer names would be silently truncated.
const maxIdentifierBytes = 63

// versionTable is goose's table, created unqualified inside the target schema.
const versionTable = "goose_db_version"

// Validate checks a schema name: non-empty and at most 63 bytes. Any other name is allowed,
// since it is always quoted, except the few Postgres reserves: names starting with "pg_",
// information_schema, and "$user" (which search_path reads as a placeholder for the role
// name even when quoted).
func Validate(schema string) error {
	switch {
	case schema == "":
		return errors.New("schema name is empty")
	case len(schema) > maxIdentifierBytes:
		return fmt.Errorf("schema name is %d bytes, longer than Postgres' limit of %d", len(schema), maxIdentifierBytes)
	case containsNUL(schema):
		return errors.New("schema name contains a NUL character")
	case strings.HasPrefix(strings.ToLower(schema), "pg_"), strings.EqualFold(schema, "information_schema"):
		return fmt.Errorf("schema name %q is reserved by Postgres", schema)
	case schema == "$user":
		return errors.New(`schema name "$user" is not usable: search_path reads it as the current role's name`)
	}
	return nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// AdvisoryLockID is the Postgres advisory lock id of one purpose ("migrate", "run") in one
// schema: a hash of both, so workspaces in other schemas of the same database never wait for
// each other. Every advisory lock of affinity-sync takes its id from here.
func AdvisoryLockID(purpose, schema string) int64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, "affinity-sync:"+purpose+":"+schema)
	return int64(h.Sum64())
}

// LockID is the advisory lock id that serialises migrations of one schema.
func LockID(schema string) int64 { return AdvisoryLockID("migrate", schema) }

// Run applies command to the schema: "up" (all pending), "down" (one step) or "status"
// (printed to out). It creates the schema when missing.
func Run(ctx context.Context, databaseURL, schema, command string, out io.Writer, logger *slog.Logger) error {
	if err := Validate(schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	switch command {
	case "up", "down", "status":
	default:
		return fmt.Errorf("migrate: unknown command %q (want up, down or status)", command)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if out == nil {
		out = io.Discard
	}

	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("migrate: parse database url: %w", err)
	}
	// Every connection goose uses resolves unqualified names in the target schema only. The
	// parameter is sent in the startup packet and parsed by the server as a list of
	// identifiers, so a quoted hostile name stays one harmless identifier.
	cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	if err := ensureSchema(ctx, db, schema); err != nil {
		return fmt.Errorf("migrate %s: %w", command, err)
	}
	provider, err := newProvider(db, schema, logger)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", command, err)
	}

	switch command {
	case "up":
		results, err := provider.Up(ctx)
		for _, r := range results {
			logger.Info("migration applied", "schema", schema, "version", r.Source.Version, "duration", r.Duration)
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		if len(results) == 0 {
			logger.Info("migrations up to date", "schema", schema)
		}
	case "down":
		r, err := provider.Down(ctx)
		if err != nil {
			if errors.Is(err, goose.ErrNoNextVersion) {
				logger.Info("no migration to roll back", "schema", schema)
				return nil
			}
			return fmt.Errorf("migrate down: %w", err)
		}
		logger.Info("migration rolled back", "schema", schema, "version", r.Source.Version, "duration", r.Duration)
	case "status":
		statuses, err := provider.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		return printStatus(out, schema, statuses)
	}
	return nil
}

// ensureSchema creates the schema when missing. Two processes starting at
// once would race on CREATE SCHEMA IF NOT EXISTS (a unique violation for the
// loser), so it runs under the schema's migration lock.
func ensureSchema(ctx context.Context, db *sql.DB, schema string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", LockID(schema)); err != nil {
		return fmt.Errorf("create schema: lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	return nil
}

func newProvider(db *sql.DB, schema string, logger *slog.Logger) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(LockID(schema)),
		lock.WithLockTimeout(2, 150), // retry every 2s for up to 5 minutes
	)
	if err != nil {
		return nil, fmt.Errorf("session locker: %w", err)
	}
	sqlFiles, err := fs.Sub(embedded, "sql")
	if err != nil {
		return nil, fmt.Errorf("embedded migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, sqlFiles,
		goose.WithTableName(versionTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("goose provider: %w", err)
	}
	return provider, nil
}

func printStatus(out io.Writer, schema string, statuses []*goose.MigrationStatus) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "schema %s\n", pgx.Identifier{schema}.Sanitize())
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	for _, s := range statuses {
		applied := "-"
		if s.State == goose.StateApplied {
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print status: %w", err)
	}
	return nil
}
