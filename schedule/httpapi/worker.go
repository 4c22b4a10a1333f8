package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/loader"
)

// Refresher runs targeted refreshes; *extractor.Refresher satisfies it.
type Refresher interface {
	RefreshEntity(ctx context.Context, k loader.EntityKind, id int64) (extractor.RefreshStats, error)
	RefreshListEntry(ctx context.Context, listID, entryID int64) (extractor.RefreshStats, error)
	RefreshList(ctx context.Context, id int64) (extractor.RefreshStats, error)
	RefreshFile(ctx context.Context, id int64) (extractor.RefreshStats, error)
	RefreshReminder(ctx context.Context, id int64) (extractor.RefreshStats, error)
}

// enqueue adds a refresh of t, or joins the one already waiting.
func (s *Server) enqueue(t target, deliveryID int64) {
	s.mu.Lock()
	if _, waiting := s.pending[t]; !waiting {
		s.order = append(s.order, t)
	}
	s.pending[t] = append(s.pending[t], deliveryID)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest waiting refresh and its deliveries.
func (s *Server) next() (target, []int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return target{}, nil, false
	}
	t := s.order[0]
	s.order = s.order[1:]
	ids := s.pending[t]
	delete(s.pending, t)
	return t, ids, true
}

// RunWorker runs queued refreshes, one at a time, until ctx ends. It starts with the
// deliveries a stopped daemon left queued, as if they had just arrived. A delivery that
// arrives while its object is being refreshed queues one more refresh, since it may describe
// a change the running one did not see. Refreshes still waiting when ctx ends stay queued in
// the warehouse, for the next worker to start with.
func (s *Server) RunWorker(ctx context.Context) {
	s.requeue(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for ctx.Err() == nil {
			t, ids, ok := s.next()
			if !ok {
				break
			}
			s.refresh(ctx, t, ids)
		}
	}
}

// requeue queues the refreshes of the deliveries still waiting in the warehouse, coalesced
// by object like new deliveries. A failure to read them is logged: the scheduled passes
// catch up all the same.
func (s *Server) requeue(ctx context.Context) {
	if s.opts.WebhookToken == "" || s.opts.Deliveries == nil {
		return
	}
	queued, err := s.opts.Deliveries.QueuedDeliveries(ctx)
	if err != nil {
		s.log.Warn("webhook: read deliveries left queued", "error", err)
		return
	}
	if len(queued) == 0 {
		return
	}
	n := 0
	for _, d := range queued {
		t, ok, err := s.targetOf(ctx, d.Type, parseObject(d.Body))
		if err != nil {
			s.log.Warn("webhook: requeue delivery", "delivery", d.ID, "type", d.Type, "error", err)
			continue
		}
		if !ok {
			// Cannot happen for a delivery that was queued; say so rather than keep it forever.
			if err := s.opts.Deliveries.SetDeliveryOutcome(ctx, []int64{d.ID}, loader.DeliveryFailed,
				"queued delivery names nothing to refresh"); err != nil {
				s.log.Warn("webhook: record outcome", "delivery", d.ID, "error", err)
			}
			continue
		}
		s.enqueue(t, d.ID)
		n++
	}
	s.log.Info("webhook deliveries left queued by the last daemon: refreshing now", "deliveries", n)
}

func (s *Server) refresh(ctx context.Context, t target, ids []int64) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.RefreshTimeout)
	defer cancel()
	var stats extractor.RefreshStats
	var err error
	kind := t.kind
	switch k, entity := kind.Entity(); {
	case entity:
		stats, err = s.opts.Refresher.RefreshEntity(rctx, k, t.id)
	case kind == loader.ObjectListEntry:
		stats, err = s.opts.Refresher.RefreshListEntry(rctx, t.listID, t.id)
	case kind == loader.ObjectList:
		stats, err = s.opts.Refresher.RefreshList(rctx, t.id)
	case kind == loader.ObjectEntityFile:
		stats, err = s.opts.Refresher.RefreshFile(rctx, t.id)
	case kind == loader.ObjectReminder:
		stats, err = s.opts.Refresher.RefreshReminder(rctx, t.id)
	default:
		err = fmt.Errorf("no targeted refresh of a %s", kind)
	}
	if err != nil && ctx.Err() != nil {
		// The worker is stopping: the refresh did not run to its end, so its deliveries stay
		// queued and the next worker starts with them.
		s.log.Info("webhook refresh interrupted by shutdown; its deliveries stay queued", "kind", kind, "id", t.id, "deliveries", len(ids))
		return
	}
	s.opts.Metrics.observeRefresh(kind, stats, err)
	outcome, errText := loader.DeliveryRefreshed, ""
	if err != nil {
		outcome, errText = loader.DeliveryFailed, err.Error()
		s.log.Warn("webhook refresh failed; the next scheduled pass catches up", "kind", kind, "id", t.id, "error", err)
	} else {
		s.log.Info("webhook refresh", "kind", kind, "id", t.id, "deliveries", len(ids), "rows", stats.Rows, "soft_deleted", stats.SoftDeleted)
	}
	octx, ocancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if oerr := s.opts.Deliveries.SetDeliveryOutcome(octx, ids, outcome, errText); oerr != nil {
		s.log.Warn("webhook: record refresh outcome", "error", oerr)
	}
	ocancel()
	if s.opts.OnRefresh != nil {
		s.opts.OnRefresh(kind, t.id, err)
	}
}
