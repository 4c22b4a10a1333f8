package loader_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest"
	"github.com/affinity-sync/affinity-sync/migrations"
)

// The loader benchmark of issue 7: 100,000 persons-shaped rows arrive in
// 500-row pages into a persons table that already holds 100,000 rows; half
// of them update stored rows, half insert new ones. In the same run it
// measures the physical limit — one raw COPY of the same rows into an
// identical empty table — and the naive way, one autocommitted
// INSERT … ON CONFLICT per row. Run it with
//
//	go test ./loader/ -run '^$' -bench BenchmarkLoadPersons -benchtime 1x
//
// Metrics (rows/s unless named otherwise):
//
//	copy-rows/s      raw COPY into an empty twin table
//	page-rows/s      CommitPage, one 500-row page per transaction
//	batch-rows/s     CommitPage, ten pages merged per transaction (5,000 rows,
//	                 what the extractor commits when pages arrive faster than
//	                 they commit)
//	perrow-rows/s    autocommitted INSERT … ON CONFLICT per row (measured on
//	                 the first benchPerRowRows rows: a rate, not a total)
//	batch/copy       batch-rows/s ÷ copy-rows/s (target ≥ 0.5)
//	batch/perrow     batch-rows/s ÷ perrow-rows/s (target ≥ 10)
const (
	benchStored   = 100_000 // rows in the table before the load
	benchLoaded   = 100_000 // rows loaded: ids from benchStored/2+1, half updates, half inserts
	benchPageRows = 500
	// benchPerRowRows bounds the per-row baseline (≈35 s for all 100,000
	// rows); its rate is what is compared.
	benchPerRowRows = 5_000
)

var benchPersonCols = []string{"id", "type", "first_name", "last_name", "primary_email", "emails", "synced_at"}

// benchPersons returns n persons with ids first, first+1, …; version changes
// their names so that an update really changes the row.
func benchPersons(first int64, n int, version string) []loader.Person {
	out := make([]loader.Person, n)
	for i := range out {
		id := first + int64(i)
		fn, ln := fmt.Sprintf("First%d%s", id, version), fmt.Sprintf("Last%d", id)
		email := fmt.Sprintf("first%d.last%d@example%d.com", id, id, id%97)
		out[i] = loader.Person{ID: id, Type: int(id % 2), FirstName: &fn, LastName: &ln, PrimaryEmail: &email,
			Emails: []string{email, fmt.Sprintf("alt%d@example.org", id)}}
	}
	return out
}

// benchRows is persons as COPY rows of benchPersonCols.
func benchRows(persons []loader.Person, seenAt time.Time) [][]any {
	rows := make([][]any, len(persons))
	for i, p := range persons {
		rows[i] = []any{p.ID, p.Type, p.FirstName, p.LastName, p.PrimaryEmail, p.Emails, seenAt}
	}
	return rows
}

type benchEnv struct {
	store  *loader.Store
	pool   *pgxpool.Pool
	schema string
}

func newBenchEnv(b *testing.B) benchEnv {
	b.Helper()
	ctx := b.Context()
	dbURL := pgtest.NewDatabase(b)
	const schema = "affinity"
	require.NoError(b, migrations.Run(ctx, dbURL, schema, "up", nil, nil))
	store, err := loader.Open(ctx, dbURL, schema, nil)
	require.NoError(b, err)
	b.Cleanup(store.Close)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	e := benchEnv{store: store, pool: pool, schema: schema}
	_, err = pool.Exec(ctx, `CREATE TABLE `+e.table("persons_copy")+` (LIKE `+e.table("persons")+` INCLUDING ALL)`)
	require.NoError(b, err)
	return e
}

func (e benchEnv) table(name string) string { return pgx.Identifier{e.schema, name}.Sanitize() }

// reset empties the copy twin and leaves persons holding exactly the
// benchStored original rows, vacuumed and analysed as a settled table is.
func (e benchEnv) reset(ctx context.Context, b *testing.B) {
	b.Helper()
	_, err := e.pool.Exec(ctx, `TRUNCATE `+e.table("persons")+`, `+e.table("persons_copy"))
	require.NoError(b, err)
	seen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n, err := e.pool.CopyFrom(ctx, pgx.Identifier{e.schema, "persons"}, benchPersonCols,
		pgx.CopyFromRows(benchRows(benchPersons(1, benchStored, "a"), seen)))
	require.NoError(b, err)
	require.EqualValues(b, benchStored, n)
	_, err = e.pool.Exec(ctx, `VACUUM ANALYZE `+e.table("persons")+`, `+e.table("persons_copy"))
	require.NoError(b, err)
}

func (e benchEnv) count(ctx context.Context, b *testing.B, table string) int64 {
	b.Helper()
	var n int64
	require.NoError(b, e.pool.QueryRow(ctx, `SELECT count(*) FROM `+e.table(table)).Scan(&n))
	return n
}

// commitInBatches commits persons through CommitPage, pagesPerBatch pages of
// benchPageRows rows per transaction, each with its checkpoint.
func (e benchEnv) commitInBatches(ctx context.Context, b *testing.B, persons []loader.Person, pagesPerBatch int) {
	b.Helper()
	seen := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	cp := loader.Checkpoint{Stream: "persons", PassStartedAt: seen}
	step := benchPageRows * pagesPerBatch
	for start := 0; start < len(persons); start += step {
		end := min(start+step, len(persons))
		cp.Pages += int64((end - start + benchPageRows - 1) / benchPageRows)
		cp.Rows += int64(end - start)
		cp.PageToken = fmt.Sprintf("token-%d", end)
		stats, err := e.store.CommitPage(ctx, loader.Page{Checkpoint: cp, SeenAt: seen, Persons: persons[start:end]})
		require.NoError(b, err)
		require.EqualValues(b, end-start, stats.Rows)
	}
}

func BenchmarkLoadPersons(b *testing.B) {
	e := newBenchEnv(b)
	ctx := b.Context()
	loaded := benchPersons(benchStored/2+1, benchLoaded, "b")
	seen := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	copyRows := benchRows(loaded, seen)
	upsertSQL := perRowUpsertSQL(e)

	var copyTime, pageTime, batchTime, perRowTime time.Duration
	timed := func(total *time.Duration, f func()) {
		e.reset(ctx, b)
		b.StartTimer()
		started := time.Now()
		f()
		*total += time.Since(started)
		b.StopTimer()
	}
	b.StopTimer()
	for range b.N {
		timed(&copyTime, func() {
			n, err := e.pool.CopyFrom(ctx, pgx.Identifier{e.schema, "persons_copy"}, benchPersonCols, pgx.CopyFromRows(copyRows))
			require.NoError(b, err)
			require.EqualValues(b, benchLoaded, n)
		})
		timed(&pageTime, func() { e.commitInBatches(ctx, b, loaded, 1) })
		require.EqualValues(b, benchStored+benchLoaded/2, e.count(ctx, b, "persons"))
		timed(&batchTime, func() { e.commitInBatches(ctx, b, loaded, 10) })
		require.EqualValues(b, benchStored+benchLoaded/2, e.count(ctx, b, "persons"))
		// Half of the per-row sample updates, half inserts, as in the loads above.
		sample := append(copyRows[benchLoaded/2-benchPerRowRows/2:benchLoaded/2:benchLoaded/2],
			copyRows[benchLoaded/2:benchLoaded/2+benchPerRowRows/2]...)
		timed(&perRowTime, func() {
			for _, row := range sample {
				_, err := e.pool.Exec(ctx, upsertSQL, row...)
				require.NoError(b, err)
			}
		})
	}
	rate := func(rows int, d time.Duration) float64 { return float64(rows) * float64(b.N) / d.Seconds() }
	copyRate, pageRate := rate(benchLoaded, copyTime), rate(benchLoaded, pageTime)
	batchRate, perRowRate := rate(benchLoaded, batchTime), rate(benchPerRowRows, perRowTime)
	b.ReportMetric(copyRate, "copy-rows/s")
	b.ReportMetric(pageRate, "page-rows/s")
	b.ReportMetric(batchRate, "batch-rows/s")
	b.ReportMetric(perRowRate, "perrow-rows/s")
	b.ReportMetric(pageRate/copyRate, "page/copy")
	b.ReportMetric(batchRate/copyRate, "batch/copy")
	b.ReportMetric(batchRate/perRowRate, "batch/perrow")
	b.ReportMetric(0, "ns/op") // the loads are timed one by one above
}

// perRowUpsertSQL is the naive baseline: one INSERT … ON CONFLICT per row.
func perRowUpsertSQL(e benchEnv) string {
	cols := strings.Join(benchPersonCols, ", ")
	params := make([]string, len(benchPersonCols))
	sets := make([]string, 0, len(benchPersonCols))
	for i, c := range benchPersonCols {
		params[i] = fmt.Sprintf("$%d", i+1)
		if i > 0 {
			sets = append(sets, c+" = EXCLUDED."+c)
		}
	}
	return `INSERT INTO ` + e.table("persons") + ` (` + cols + `, deleted_at) VALUES (` + strings.Join(params, ", ") +
		`, NULL) ON CONFLICT (id) DO UPDATE SET ` + strings.Join(append(sets, "deleted_at = NULL"), ", ")
}
