package extractor

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The phase pipeline: a phase's pages are fetched while the pages already fetched are
// committed, each batch with the checkpoint that follows it. A page token or cursor that
// Affinity refuses restarts the phase from its first page, once per run.

// fetched is one API page turned into warehouse rows, and what fetching it spent.
type fetched struct {
	rows      loader.Page // only the row slices are set
	n         int
	nextToken string
	spent     spent
	noPage    bool // only what was spent: nothing to commit
}

// convertPages maps an API page iterator to pages of warehouse rows.
func convertPages[T any](pages iter.Seq2[affinity.Page[T], error], add func(T, *loader.Page)) iter.Seq2[fetched, error] {
	return func(yield func(fetched, error) bool) {
		for page, err := range pages {
			if err != nil {
				yield(fetched{}, err)
				return
			}
			f := fetched{n: len(page.Items), nextToken: page.NextToken}
			for _, item := range page.Items {
				add(item, &f.rows)
			}
			if !yield(f, nil) {
				return
			}
		}
	}
}

// runPhase reads the phase's pages from cp.PageToken on and returns what it read. When
// Affinity refuses the page token or cursor of a page after the first (an expired one, say),
// the token is dropped and the phase starts over from its first page, within the same pass
// (which so still soft-deletes only what it did not see), with one warning. A second refusal
// in the same run, or a refusal of the first page, is the phase's error; a refused token is
// never kept, so the next run starts the phase over.
func (s *Syncer) runPhase(ctx context.Context, cp *loader.Checkpoint, ph phase) (PhaseResult, error) {
	res := PhaseResult{Phase: ph.id}
	for {
		err := s.readPhase(ctx, cp, ph, &res)
		if err == nil || cp.PageToken == "" || !tokenRefused(err) {
			return res, err
		}
		restart := *cp
		restart.PageToken = ""
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		_, cerr := s.store.CommitPage(commitCtx, loader.Page{Checkpoint: restart, SeenAt: s.opts.Now()})
		cancel()
		if cerr != nil {
			return res, fmt.Errorf("%w; drop refused page token: %w", err, cerr)
		}
		*cp = restart
		if res.Restarted {
			return res, fmt.Errorf("%w (page token refused again after a restart: the next run starts the phase over)", err)
		}
		res.Restarted = true
		s.log.Warn("page token refused: the phase restarts from its first page", "stream", ph.stream, "phase", ph.id.String(),
			"error", err)
	}
}

// readPhase fetches the phase's pages from cp.PageToken on while the loader commits the
// pages already fetched, and adds what it read to res. Three goroutines form the pipeline:
// the fetcher pages through the API; the coalescer merges the pages that arrive while a batch
// commits into the next batch (at most BatchRows rows, so the fetcher only waits for the
// loader when a whole batch is already waiting); the committer (this goroutine) commits every
// batch together with the checkpoint that follows its last page.
func (s *Syncer) readPhase(ctx context.Context, cp *loader.Checkpoint, ph phase, res *PhaseResult) error {
	fetchCtx, stop := context.WithCancel(ctx)
	defer stop()
	pages := make(chan fetched)
	var (
		fetchErr error
		sent     PhaseResult // what the fetcher spent; read after pages is closed
	)
	go func() {
		defer close(pages)
		for f, err := range ph.pages(fetchCtx, *cp) {
			sent.add(f.spent)
			if err != nil {
				fetchErr = err // read after pages is closed
				return
			}
			if f.noPage {
				continue
			}
			select {
			case pages <- f:
			case <-fetchCtx.Done():
				return
			}
		}
	}()
	batches := make(chan pendingBatch)
	go coalesce(pages, batches, s.opts.BatchRows)

	commitErr := s.commitBatches(ctx, cp, ph, batches, res)
	stop()
	for range batches { // after a failed commit: let the coalescer and the fetcher exit
	}
	res.V2Pages += sent.V2Pages
	res.ProbeRequests += sent.ProbeRequests
	res.EntityRequests += sent.EntityRequests
	res.Refused += sent.Refused
	res.ReadWhole = res.ReadWhole || sent.ReadWhole
	res.CapReached = res.CapReached || sent.CapReached
	if commitErr != nil {
		return commitErr
	}
	if fetchErr != nil {
		return fmt.Errorf("fetch page %d: %w", cp.Pages+1, fetchErr)
	}
	return ctx.Err()
}

// pendingBatch is pages merged for one transaction.
type pendingBatch struct {
	rows  loader.Page // only the row slices are set
	items int         // API items of its pages
	pages int
	next  string // the page token after its last page
}

func (b *pendingBatch) add(f fetched) {
	b.rows.Append(f.rows)
	b.items += f.n
	b.pages++
	b.next = f.nextToken
}

// coalesce merges the pages from in into batches of at most maxRows items (a
// single larger page is a batch of its own) and hands each to out as soon as
// out takes it. It closes out once in is closed and every page is handed on.
func coalesce(in <-chan fetched, out chan<- pendingBatch, maxRows int) {
	defer close(out)
	var (
		cur  pendingBatch
		held *fetched // a page that would overflow cur: it starts the next batch
	)
	for {
		if held != nil && cur.pages == 0 {
			cur.add(*held)
			held = nil
		}
		recv := in
		if held != nil || cur.items >= maxRows {
			recv = nil // full: the fetcher waits for the loader
		}
		var send chan<- pendingBatch
		if cur.pages > 0 {
			send = out
		}
		if recv == nil && send == nil {
			return // in is closed and nothing is left
		}
		select {
		case f, ok := <-recv:
			if !ok {
				in = nil
				continue
			}
			if cur.pages > 0 && cur.items+f.n > maxRows {
				held = &f
				continue
			}
			cur.add(f)
		case send <- cur:
			cur = pendingBatch{}
		}
	}
}

// commitBatches commits every batch from batches, each with the checkpoint
// that follows it, and adds what it wrote to res. Batches already fetched are
// committed even when ctx ends meanwhile: their requests are spent, and a
// commit is short.
func (s *Syncer) commitBatches(ctx context.Context, cp *loader.Checkpoint, ph phase, batches <-chan pendingBatch, res *PhaseResult) error {
	for b := range batches {
		batch := b.rows
		batch.WithDates = ph.withDates()
		next := *cp
		next.PageToken = b.next
		next.Pages += int64(b.pages)
		next.Rows += int64(b.items)
		batch.Checkpoint = next
		batch.SeenAt = s.opts.Now()
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		stats, err := s.store.CommitPage(commitCtx, batch)
		cancel()
		if err != nil {
			return fmt.Errorf("commit pages %d-%d: %w", cp.Pages+1, next.Pages, err)
		}
		*cp = next
		res.Pages += int64(b.pages)
		res.Items += int64(b.items)
		res.Rows += stats.Rows
		res.NULs += stats.NULsReplaced
		s.log.Debug("batch committed", "stream", cp.Stream, "phase", cp.Phase, "pages", b.pages, "rows", stats.Rows, "pass_pages", cp.Pages)
	}
	return nil
}

// tokenRefused reports whether err is Affinity refusing a listing page outright (400 or 422,
// a v2 cursor refused among them), which for a page after the first means its page token or
// cursor. An entity's own error (per-entity phases) never is.
func tokenRefused(err error) bool {
	var ae *affinity.APIError
	var entity *entityError
	return errors.As(err, &ae) && (ae.StatusCode == 400 || ae.StatusCode == 422) && !affinity.IsMerged(err) &&
		!errors.As(err, &entity)
}
