package extractor

import (
	"context"
	"errors"
	"iter"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The entity_files and reminders streams list their resource whole. entity_files first asks
// for the unfiltered listing; when Affinity refuses it (400, 404 or 422), the pass warns once
// and reads instead the files of the entities on live entries of the synced lists, one entity
// at a time, least recently read first, within the intelligence cap — and soft-deletes only
// the files of the entities it read.

func (s *Syncer) remindersPhases(ctx context.Context, _ passState) (passPlan, error) {
	return only(phase{id: PhaseID{Kind: PhaseMain}, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
		q := affinity.PageQuery{PageSize: s.opts.PageSize, PageToken: cp.PageToken}
		return convertPages(s.api.Reminders(ctx, q), func(r affinity.Reminder, out *loader.Page) {
			out.Reminders = append(out.Reminders, reminderRow(r))
		})
	}})
}

func (s *Syncer) entityFilesPhases(ctx context.Context, ps passState) (passPlan, error) {
	// Each listed entity's set replaces its stored files.
	perEntity := phase{id: PhaseID{Kind: PhasePerEntity}, pages: dueItems(s, s.store.FilesDue, encodeKey, s.fetchEntityFiles)}
	listing := func(first *affinity.Page[affinity.EntityFile]) phase {
		return phase{id: PhaseID{Kind: PhaseMain}, pages: func(ctx context.Context, cp loader.Checkpoint) iter.Seq2[fetched, error] {
			add := func(f affinity.EntityFile, out *loader.Page) { out.EntityFiles = append(out.EntityFiles, fileRow(f)) }
			rest := func(token string) iter.Seq2[fetched, error] {
				q := affinity.FileQuery{PageQuery: affinity.PageQuery{PageSize: s.opts.PageSize, PageToken: token}}
				return convertPages(s.api.EntityFiles(ctx, q), add)
			}
			if first == nil || cp.PageToken != "" {
				return rest(cp.PageToken)
			}
			// The page the pass's first request read: then the pages after it.
			head := convertPages(func(yield func(affinity.Page[affinity.EntityFile], error) bool) { yield(*first, nil) }, add)
			if first.NextToken == "" {
				return head
			}
			return concat(head, rest(first.NextToken))
		}}
	}
	if ps.resuming {
		// A pass in progress goes on the way it went.
		if ps.at.Kind == PhasePerEntity {
			return only(perEntity)
		}
		return only(listing(nil))
	}
	q := affinity.FileQuery{PageQuery: affinity.PageQuery{PageSize: s.opts.PageSize}}
	first, err := firstPage(s.api.EntityFiles(ctx, q))
	if err == nil {
		return only(listing(&first))
	}
	ae, refused := filesListingRefused(err)
	if !refused {
		return passPlan{spent: []PhaseResult{{Phase: PhaseID{Kind: PhaseMain}, ProbeRequests: 1}}}, err
	}
	s.log.Warn("Affinity refused the unfiltered file listing: reading the files of the listed entities one by one",
		"status", ae.StatusCode, "error", err)
	return passPlan{phases: []phase{perEntity}, spent: []PhaseResult{{Phase: PhaseID{Kind: PhaseMain}, ProbeRequests: 1}},
		path: &PathNote{Path: "per entity", Reason: "the unfiltered listing was refused: " + refusalText(ae)}}, nil
}

// filesListingRefused reports whether err is Affinity refusing the unfiltered file listing
// (400, 404 or 422), and that answer.
func filesListingRefused(err error) (*affinity.APIError, bool) {
	var ae *affinity.APIError
	if !errors.As(err, &ae) {
		return nil, false
	}
	switch ae.StatusCode {
	case 400, 404, 422:
		return ae, true
	}
	return ae, false
}

// fetchEntityFiles reads every file of one entity.
func (s *Syncer) fetchEntityFiles(ctx context.Context, k loader.EntityKey, emit func(fetched)) error {
	set := loader.EntityFileSet{Entity: k, FetchedAt: s.opts.Now()}
	sel := selectorOf(k)
	q := affinity.FileQuery{PageQuery: affinity.PageQuery{PageSize: s.opts.PageSize},
		PersonID: sel.PersonID, OrganizationID: sel.OrganizationID, OpportunityID: sel.OpportunityID}
	var sp spent
	for {
		if !s.intel.take() {
			emit(fetched{spent: sp, noPage: true})
			return errCapReached
		}
		page, err := firstPage(s.api.EntityFiles(ctx, q))
		sp.entityRequests++
		if err != nil {
			emit(fetched{spent: sp, noPage: true})
			return err
		}
		for _, f := range page.Items {
			set.Files = append(set.Files, fileRow(f))
		}
		if page.NextToken == "" {
			break
		}
		q.PageToken = page.NextToken
	}
	emit(fetched{rows: loader.Page{EntityFileSets: []loader.EntityFileSet{set}}, n: len(set.Files), nextToken: encodeKey(k), spent: sp})
	return nil
}
