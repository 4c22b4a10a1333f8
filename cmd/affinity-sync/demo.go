package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/affinity-sync/affinity-sync/loader/pgtest/localpg"
)

// fakeFlags are the workspace flags shared by fake-api and demo.
type fakeFlags struct {
	seed                                  int64
	persons, organizations, opportunities int
	personLists, organizationLists        int
	opportunityLists, entriesPerList      int
	key                                   string
	latency                               time.Duration
	v2                                    string // fake-api only: ok, 403 or 404
	v2Disagree                            bool   // fake-api only
	v2Changes                             string // the change feed: ok, 403, 404 or disagree
	filesUnfiltered                       string // fake-api only: GET /entity-files without a filter: ok or refuse
}

func (f *fakeFlags) register(fs interface {
	Int64Var(*int64, string, int64, string)
	IntVar(*int, string, int, string)
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	def := affinitytest.DefaultConfig()
	fs.Int64Var(&f.seed, "seed", 1, "workspace seed: the same seed gives the same workspace")
	fs.IntVar(&f.persons, "persons", def.Persons, "persons in the workspace")
	fs.IntVar(&f.organizations, "organizations", def.Organizations, "organizations in the workspace")
	fs.IntVar(&f.opportunities, "opportunities", def.Opportunities, "opportunities in the workspace")
	fs.IntVar(&f.personLists, "person-lists", def.PersonLists, "lists of persons")
	fs.IntVar(&f.organizationLists, "organization-lists", def.OrganizationLists, "lists of organizations")
	fs.IntVar(&f.opportunityLists, "opportunity-lists", def.OpportunityLists, "lists of opportunities (they hold the opportunities)")
	fs.IntVar(&f.entriesPerList, "entries-per-list", def.EntriesPerList, "entries on each person and organization list")
	fs.StringVar(&f.key, "key", "demo-key", "the only API key the fake accepts")
	fs.DurationVar(&f.latency, "latency", 0, "added to every response")
}

// registerV2 adds the API v2 flags of fake-api.
func (f *fakeFlags) registerV2(fs *flag.FlagSet) {
	fs.StringVar(&f.v2, "v2", "ok", "how API v2 answers: ok, 403 (a key without export permission) or 404 (no API v2)")
	fs.BoolVar(&f.v2Disagree, "v2-disagree", false, "make API v2 serve one text value differently from v1")
	f.registerV2Changes(fs)
	fs.StringVar(&f.filesUnfiltered, "files-unfiltered", "ok", "how GET /entity-files without an entity filter answers: "+
		"ok, or refuse (422, so a sync reads files per entity)")
}

// registerV2Changes adds --v2-changes, the change feed's mode, of fake-api and demo.
func (f *fakeFlags) registerV2Changes(fs *flag.FlagSet) {
	fs.StringVar(&f.v2Changes, "v2-changes", "ok", "how GET /v2/field-value-changes answers: ok, 403, 404, "+
		"or disagree (the first record of every page carries another value than v1's)")
}

// checkV2Changes validates --v2-changes for the command cmd.
func (f *fakeFlags) checkV2Changes(cmd string) error {
	if _, err := affinitytest.ParseV2ChangesMode(f.v2Changes); err != nil {
		return usagef("%s: --v2-changes: %v", cmd, err)
	}
	return nil
}

func (f *fakeFlags) server() *affinitytest.Server {
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = f.seed
	cfg.Persons, cfg.Organizations, cfg.Opportunities = f.persons, f.organizations, f.opportunities
	cfg.PersonLists, cfg.OrganizationLists, cfg.OpportunityLists = f.personLists, f.organizationLists, f.opportunityLists
	cfg.EntriesPerList = f.entriesPerList
	opts := []affinitytest.Option{affinitytest.WithAPIKey(f.key)}
	if f.latency > 0 {
		opts = append(opts, affinitytest.WithLatency(f.latency))
	}
	if mode, err := affinitytest.ParseV2Mode(f.v2); err == nil { // checked by cmdFakeAPI; "" is demo's ok
		opts = append(opts, affinitytest.WithV2Mode(mode))
	}
	if f.v2Disagree {
		opts = append(opts, affinitytest.WithV2Disagree())
	}
	if mode, err := affinitytest.ParseV2ChangesMode(f.v2Changes); err == nil { // checked by checkV2Changes
		opts = append(opts, affinitytest.WithV2Changes(mode))
	}
	if mode, err := affinitytest.ParseFilesUnfilteredMode(f.filesUnfiltered); err == nil { // checked by cmdFakeAPI; "" is demo's ok
		opts = append(opts, affinitytest.WithFilesUnfiltered(mode))
	}
	return affinitytest.NewServer(affinitytest.Generate(cfg), opts...)
}

// serveFake serves h on addr until ctx ends; it returns the address bound.
func serveFake(ctx context.Context, addr string, h http.Handler) (string, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return ln.Addr().String(), done, nil
}

func cmdFakeAPI(ctx context.Context, e env, args []string) error {
	fs := newFlags("fake-api", e)
	addr := fs.String("addr", "127.0.0.1:8089", "address to listen on (port 0 picks a free port)")
	var ff fakeFlags
	ff.register(fs)
	ff.registerV2(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := affinitytest.ParseV2Mode(ff.v2); err != nil {
		return usagef("fake-api: --v2: %v", err)
	}
	if err := ff.checkV2Changes("fake-api"); err != nil {
		return err
	}
	if _, err := affinitytest.ParseFilesUnfilteredMode(ff.filesUnfiltered); err != nil {
		return usagef("fake-api: --files-unfiltered: %v", err)
	}
	if min(ff.persons, ff.organizations, ff.opportunities, ff.personLists, ff.organizationLists, ff.opportunityLists, ff.entriesPerList) < 0 {
		return usagef("fake-api: sizes must not be negative")
	}
	bound, done, err := serveFake(ctx, *addr, ff.server())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "listening on http://%s\n", bound)
	return <-done
}

func cmdDemo(ctx context.Context, e env, args []string) error {
	fs := newFlags("demo", e)
	keep := fs.Bool("keep", false, "keep the database (and the fake API) running until Ctrl-C")
	var ff fakeFlags
	ff.register(fs)
	ff.registerV2Changes(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := ff.checkV2Changes("demo"); err != nil {
		return err
	}
	cfg := defaultConfig()
	cfg.Log.Format = "text"
	log := newLogger(e.stderr, cfg)

	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	fake := ff.server()
	addr, _, err := serveFake(serveCtx, "127.0.0.1:0", fake)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "fake Affinity API on http://%s (key %q)\n", addr, ff.key)

	dbURL := e.getenv("DATABASE_URL")
	throwaway := dbURL == ""
	if throwaway {
		fmt.Fprintln(e.stdout, "DATABASE_URL is not set: starting a throwaway Postgres from the local server binaries")
		cluster, err := localpg.Start(ctx, log)
		if err != nil {
			return fmt.Errorf("start local postgres: %w (set DATABASE_URL to use an existing server)", err)
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				log.Warn("stop local postgres", "error", err)
			}
		}()
		dbURL = cluster.URL("postgres")
	}
	cfg.Affinity.APIKey = secret(ff.key)
	cfg.Affinity.BaseURL = "http://" + addr
	cfg.Database.URL = secret(dbURL)
	if s := e.getenv("AFFINITY_SYNC_SCHEMA"); s != "" {
		cfg.Database.Schema = s
	}
	cfg.Quota.PerMinute = 0 // the fake does not meter requests per minute
	if err := cfg.validate(); err != nil {
		return err
	}
	started := time.Now()
	sum, err := syncOnce(ctx, cfg, log, syncOptions{streams: extractor.Streams(),
		progress: newProgress(e.stderr, log, extractor.Streams())})
	if err != nil {
		return err
	}
	if err := printDemoSummary(ctx, e, cfg, sum, time.Since(started), fake.TotalRequests(), throwaway && !*keep); err != nil {
		return err
	}
	if code := sum.exitCode(); code != exitOK {
		return fmt.Errorf("demo sync ended with exit status %d", code)
	}
	if *keep {
		fmt.Fprintln(e.stdout, "\n--keep: the database and the fake API stay up until Ctrl-C")
		<-ctx.Done()
	}
	return nil
}

func printDemoSummary(ctx context.Context, e env, cfg Config, sum syncSummary, took time.Duration, served int, goneAfter bool) error {
	store, err := loader.Open(ctx, cfg.Database.URL.reveal(), cfg.Database.Schema, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()
	counts, err := store.TableCounts(ctx)
	if err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	out := e.stdout
	fmt.Fprintf(out, "\nsync run %d finished in %s: %d API requests sent (the fake served %d)\n\n",
		sum.runID, took.Round(time.Millisecond), sum.requests, served)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "TABLE\tROWS\tSOFT-DELETED\t")
	for _, c := range counts {
		fmt.Fprintf(tw, "%s.%s\t%d\t%d\t\n", cfg.Database.Schema, c.Table, c.Live, c.Deleted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if goneAfter {
		fmt.Fprintf(out, "\nthe throwaway database stops when the demo ends; run `affinity-sync demo --keep` to keep it\n"+
			"running and connect with psql, or set DATABASE_URL to sync into a database of yours.\n"+
			"docs/warehouse.md shows the first queries to try.\n")
		return nil
	}
	fmt.Fprintf(out, "\nconnect with:\n  psql '%s'\n  then: SET search_path TO %q; SELECT id, first_name, last_name FROM persons LIMIT 5;\n"+
		"docs/warehouse.md shows the first queries to try.\n", cfg.Database.URL.reveal(), cfg.Database.Schema)
	return nil
}
