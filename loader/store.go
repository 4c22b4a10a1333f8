// Package loader holds every SQL statement of the program outside migrations: page upserts
// with their checkpoints in one transaction, end-of-pass soft deletes and their guard, run
// records, the small keyset-paged reads the streams plan from, and the counts that status
// and the demo print. All statements name their tables
// through the quoted schema identifier, so any schema name (even a hostile one) is harmless.
package loader

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/affinity-sync/affinity-sync/migrations"
)

// Store is the warehouse: a connection pool and the schema its tables live in.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	logger *slog.Logger
}

// Open prepares a pool for the warehouse in schema. It does not connect yet: the first
// statement (or Ping) does, so a daemon can start before its database is up.
func Open(ctx context.Context, databaseURL, schema string, logger *slog.Logger) (*Store, error) {
	if err := migrations.Validate(schema); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open store: parse database url: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		// A run commits from up to seven streams at once, reads work lists
		// beside them and holds the run lock on a connection of its own:
		// pgxpool's default (4 on small machines) would make them queue.
		cfg.MaxConns = 16
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "affinity-sync"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Store{pool: pool, schema: schema, logger: logger}, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// table returns the quoted, schema-qualified name of a warehouse table.
func (s *Store) table(name string) string {
	return pgx.Identifier{s.schema, name}.Sanitize()
}
