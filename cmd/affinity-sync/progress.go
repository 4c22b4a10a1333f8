package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/extractor/quota"
	"github.com/affinity-sync/affinity-sync/loader"
)

// progress shows what a sync run is doing, per stream: pages and rows committed, requests
// sent, and the request budget left. On a terminal it redraws one line per stream in place;
// otherwise it logs a progress line per active stream every logEvery. A nil *progress shows
// nothing, so callers never check.
type progress struct {
	out      io.Writer
	log      *slog.Logger
	tty      bool
	streams  []string
	redraw   time.Duration // terminal refresh
	logEvery time.Duration // log lines without a terminal

	mu       sync.Mutex
	stats    map[string]*streamProgress
	requests int64
	left     int64 // budget left now, -1 = unlimited, as last read
	drawn    int   // lines drawn by the last redraw
}

type streamProgress struct {
	pages, rows, requests int64
	done                  bool
}

// newProgress returns the progress display of a run of streams on w (stderr).
func newProgress(w io.Writer, log *slog.Logger, run []extractor.StreamName) *progress {
	streams := extractor.NamesOf(run)
	p := &progress{out: w, log: log, tty: isTerminal(w), streams: streams, redraw: 250 * time.Millisecond,
		logEvery: 15 * time.Second, stats: map[string]*streamProgress{}, left: -1}
	for _, s := range streams {
		p.stats[s] = &streamProgress{}
	}
	return p
}

// observe counts a request for the stream that sent it (affinity.WithObserver).
func (p *progress) observe(info affinity.RequestInfo) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if s := p.stats[extractor.StreamOfRequest(info)]; s != nil {
		s.requests++
	}
	if p.left > 0 {
		p.left--
	}
}

// wrap returns the store the streams write through, counting what they commit.
func (p *progress) wrap(store *loader.Store) extractor.Store {
	if p == nil {
		return store
	}
	return progressStore{Store: store, p: p}
}

type progressStore struct {
	*loader.Store
	p *progress
}

func (s progressStore) CommitPage(ctx context.Context, page loader.Page) (loader.PageStats, error) {
	stats, err := s.Store.CommitPage(ctx, page)
	if err == nil {
		s.p.mu.Lock()
		if st := s.p.stats[page.Checkpoint.Stream]; st != nil {
			st.pages = page.Checkpoint.Pages
			st.rows += stats.Rows
		}
		s.p.mu.Unlock()
	}
	return stats, err
}

func (s progressStore) CompletePhase(ctx context.Context, cp loader.Checkpoint, end loader.PhaseEnd, opts loader.PassOptions) (int64, error) {
	n, err := s.Store.CompletePhase(ctx, cp, end, opts)
	if err == nil && opts.EndsPass {
		s.p.mu.Lock()
		if st := s.p.stats[cp.Stream]; st != nil {
			st.done = true
		}
		s.p.mu.Unlock()
	}
	return n, err
}

// start shows progress until the returned stop is called; stop draws the last state.
func (p *progress) start(ctx context.Context, budget *quota.Budget) (stop func()) {
	if p == nil {
		return func() {}
	}
	readBudget := func() {
		st, err := budget.Status(ctx)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.left = st.Left()
		p.mu.Unlock()
	}
	readBudget()
	every := p.logEvery
	if p.tty {
		every = p.redraw
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		budgetTick := time.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if time.Since(budgetTick) > 5*time.Second {
					readBudget() // the ledger also counts other processes' requests
					budgetTick = time.Now()
				}
				p.show(false)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		p.show(true)
	}
}

// show redraws the terminal lines, or logs the active streams.
func (p *progress) show(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	left := "unlimited"
	if p.left >= 0 {
		left = fmt.Sprint(p.left)
	}
	if !p.tty {
		if final {
			return // the run's own summary line follows
		}
		for _, name := range p.streams {
			s := p.stats[name]
			if s.requests == 0 && s.pages == 0 {
				continue
			}
			p.log.Info("progress", "stream", name, "pages", s.pages, "rows", s.rows, "requests", s.requests,
				"done", s.done, "budget_left", left)
		}
		return
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, name := range p.streams {
		s := p.stats[name]
		state := "…"
		switch {
		case s.done:
			state = "done"
		case s.requests == 0 && s.pages == 0:
			state = "waiting"
		}
		fmt.Fprintf(&b, "\r\x1b[K%-22s %8d pages %10d rows %8d requests  %s\n", name, s.pages, s.rows, s.requests, state)
	}
	fmt.Fprintf(&b, "\r\x1b[K%-22s %8d requests sent, budget left: %s\n", "total", p.requests, left)
	p.drawn = len(p.streams) + 1
	_, _ = io.WriteString(p.out, b.String())
}
