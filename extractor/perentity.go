package extractor

import (
	"context"
	"fmt"
	"iter"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The per-entity streams (field values, organization details) send one
// request per entity. The warehouse says which entities are due, in priority
// order; an entity committed in this pass is no longer due, so a resumed pass
// simply asks again from the start. The checkpoint token names the last
// entity committed, for status.

func encodeKey(k loader.EntityKey) string { return fmt.Sprintf("%d:%d", k.Type, k.ID) }

// slot is one entity's fetch, in flight or done.
type slot struct {
	key  loader.EntityKey
	rows loader.Page
	n    int
	sent bool // the fetch ran: it sent its one request
	err  error
	done chan struct{}
}

// entityError is the error of one entity's request in a per-entity phase.
type entityError struct {
	key loader.EntityKey
	err error
}

func (e *entityError) Error() string { return fmt.Sprintf("entity %s: %v", encodeKey(e.key), e.err) }

func (e *entityError) Unwrap() error { return e.err }

// perEntity yields one page per entity, in key order, while up to
// s.opts.Workers entities are fetched at once; fetch sends one request per entity, which each
// page counts. An entity that Affinity no
// longer has (404) or has merged into another (422) is logged and skipped.
func perEntity(ctx context.Context, s *Syncer,
	keys func(ctx context.Context, after loader.RefreshKey) ([]loader.RefreshKey, error),
	fetch func(ctx context.Context, k loader.EntityKey, out *loader.Page) error,
) iter.Seq2[fetched, error] {
	return func(yield func(fetched, error) bool) {
		var after loader.RefreshKey
		ctx, cancel := context.WithCancel(ctx)
		// A slot's fetch starts once the slot is in the window, and the
		// consumer holds one more: Workers in flight at most.
		window := make(chan *slot, s.opts.Workers-1)
		var listErr error
		go func() {
			defer close(window)
			for {
				batch, err := keys(ctx, after)
				if err != nil {
					listErr = err
					return
				}
				if len(batch) == 0 {
					return
				}
				for _, rk := range batch {
					k := rk.EntityKey
					sl := &slot{key: k, done: make(chan struct{})}
					select {
					case window <- sl:
					case <-ctx.Done():
						return
					}
					go func() {
						defer close(sl.done)
						sl.sent = true
						sl.err = fetch(ctx, k, &sl.rows)
						sl.n = sl.rows.RowCount()
					}()
				}
				after = batch[len(batch)-1]
			}
		}()
		defer func() {
			cancel()
			for sl := range window { // wait for every fetch still in flight
				<-sl.done
			}
		}()
		for sl := range window {
			<-sl.done
			var sp spent
			if sl.sent {
				sp.entityRequests = 1
			}
			if sl.err != nil {
				if !skippable(sl.err) {
					yield(fetched{spent: sp}, &entityError{key: sl.key, err: sl.err})
					return
				}
				s.log.Warn("entity skipped", "entity_type", sl.key.Type, "entity_id", sl.key.ID, "error", sl.err)
			}
			if !yield(fetched{rows: sl.rows, n: sl.n, nextToken: encodeKey(sl.key), spent: sp}, nil) {
				return
			}
		}
		if listErr != nil {
			yield(fetched{}, listErr)
		}
	}
}

// skippable reports whether a per-entity error means the entity is gone
// (deleted mid-run, or merged): it is logged and skipped.
func skippable(err error) bool {
	return affinity.IsNotFound(err) || affinity.IsMerged(err)
}
