package affinitytest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGeneratedNotes(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	require.Len(t, ws.Notes, 80)
	require.True(t, slices.IsSortedFunc(ws.Notes, func(a, b *Note) int { return int(a.ID - b.ID) }), "sorted by id")

	types := map[int]int{}
	var replies, mentions, meetings, nullContent, unicode, withOrgs, withOpps int
	for _, n := range ws.Notes {
		types[n.Type]++
		if n.ParentID != nil {
			replies++
			parent := ws.Note(*n.ParentID)
			require.NotNil(t, parent, "note %d replies to a note that exists", n.ID)
			require.Nil(t, parent.ParentID, "replies are to top-level notes")
			require.False(t, n.CreatedAt.Before(parent.CreatedAt), "a reply follows its note")
			require.Empty(t, n.PersonIDs(), "a reply has no persons")
			require.Empty(t, n.OrganizationIDs)
			require.Empty(t, n.OpportunityIDs)
		}
		if len(n.MentionedPersonIDs) > 0 {
			mentions++
			require.Contains(t, *n.Content, "@")
		}
		if len(n.InteractionPersonIDs) > 0 {
			meetings++
			require.NotNil(t, n.InteractionID)
			require.NotNil(t, n.InteractionType)
		}
		if n.Content == nil {
			nullContent++
		} else if strings.ContainsFunc(*n.Content, func(r rune) bool { return r > 0x7f }) {
			unicode++
		}
		if n.Type == NoteHTML && n.Content != nil {
			require.True(t, strings.HasPrefix(*n.Content, "<p>"), "HTML content: %q", *n.Content)
		}
		if len(n.OrganizationIDs) > 0 {
			withOrgs++
		}
		if len(n.OpportunityIDs) > 0 {
			withOpps++
		}
		require.NotNil(t, ws.Person(n.CreatorID))
	}
	require.Positive(t, types[NotePlain])
	require.Positive(t, types[NoteHTML])
	for name, n := range map[string]int{"replies": replies, "mentions": mentions, "interaction persons": meetings,
		"null content": nullContent, "unicode": unicode, "organizations": withOrgs, "opportunities": withOpps} {
		require.Positive(t, n, name)
	}

	// Notes come last: the rest of the workspace does not depend on how many there are.
	cfg := DefaultConfig()
	cfg.Notes = 0
	other := Generate(cfg)
	require.Empty(t, other.Notes)
	require.Equal(t, ws.Persons, other.Persons)
	require.Equal(t, ws.Changes, other.Changes)
	require.Equal(t, ws.Notes, Generate(DefaultConfig()).Notes, "deterministic")
}

// noteIDs returns the ids of served notes.
func noteIDs(t *testing.T, items []map[string]any) []int64 {
	t.Helper()
	out := make([]int64, len(items))
	for i, m := range items {
		out[i] = idOf(t, m)
	}
	return out
}

func wsNoteIDs(ns []*Note) []int64 {
	out := make([]int64, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func TestNotesPaging(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Notes = 1100
	ws := Generate(cfg)
	f := newFixture(t, ws)
	want := wsNoteIDs(f.srv.Snapshot().Notes)

	// Default page size is 500: 500, 500, 100, then the end.
	items, next := f.page("/notes", "notes")
	require.Len(t, items, 500)
	require.NotNil(t, next)
	tok, err := DecodePageToken(*next)
	require.NoError(t, err)
	require.Equal(t, PageToken{Params: map[string]string{}, PageSize: 500, Offset: 500}, tok)
	require.Equal(t, want, noteIDs(t, f.all("/notes", "notes", nil)))

	// page_size above 500 is clamped; small pages walk to the end in order.
	items, _ = f.page("/notes?page_size=5000", "notes")
	require.Len(t, items, 500)
	require.Equal(t, want, noteIDs(t, f.all("/notes", "notes", url.Values{"page_size": {"7"}})))

	// A page_token whose params differ from the request's is refused.
	_, next = f.page("/notes?page_size=3&creator_id="+strconv.FormatInt(ws.User.ID, 10), "notes")
	require.NotNil(t, next)
	r := f.get("/notes?page_size=3&page_token="+url.QueryEscape(*next), http.StatusUnprocessableEntity)
	require.Contains(t, string(r.body), "Invalid page_token variable")
	f.get("/notes?page_token=not-a-token", http.StatusUnprocessableEntity)
	f.get("/notes?page_size=0", http.StatusUnprocessableEntity)
}

func TestNotesExactlyFullLastPage(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Notes = 10
	f := newFixture(t, Generate(cfg))
	items, next := f.page("/notes?page_size=5", "notes")
	require.Len(t, items, 5)
	items, next = f.page("/notes?page_size=5&page_token="+url.QueryEscape(*next), "notes")
	require.Len(t, items, 5)
	require.NotNil(t, next, "a full page always has a next token")
	items, next = f.page("/notes?page_size=5&page_token="+url.QueryEscape(*next), "notes")
	require.Empty(t, items)
	require.Nil(t, next)
}

func TestNoteShape(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	var meeting *Note
	for _, n := range ws.Notes {
		if len(n.InteractionPersonIDs) > 0 && len(n.AssociatedPersonIDs) > 0 {
			meeting = n
			break
		}
	}
	require.NotNil(t, meeting)

	var got map[string]json.RawMessage
	f.getJSON("/notes/"+strconv.FormatInt(meeting.ID, 10), &got)
	for _, key := range []string{"id", "creator_id", "person_ids", "associated_person_ids", "interaction_person_ids",
		"interaction_id", "interaction_type", "is_meeting", "mentioned_person_ids", "organization_ids", "opportunity_ids",
		"parent_id", "content", "type", "created_at", "updated_at"} {
		require.Contains(t, got, key)
	}
	var personIDs, associated, interaction []int64
	require.NoError(t, json.Unmarshal(got["person_ids"], &personIDs))
	require.NoError(t, json.Unmarshal(got["associated_person_ids"], &associated))
	require.NoError(t, json.Unmarshal(got["interaction_person_ids"], &interaction))
	union := slices.Concat(associated, interaction)
	slices.Sort(union)
	require.Equal(t, slices.Compact(union), personIDs, "person_ids is the union")
	require.Equal(t, "null", string(got["parent_id"]))
	var created string
	require.NoError(t, json.Unmarshal(got["created_at"], &created))
	_, err := time.Parse(time.RFC3339Nano, created)
	require.NoError(t, err)
	require.Regexp(t, `\.\d{3}(Z|[+-]\d{2}:\d{2})$`, created, "milliseconds and an offset")

	// A note with null content serves "content": null; a reply serves its parent id.
	for _, n := range ws.Notes {
		if n.Content == nil {
			f.getJSON("/notes/"+strconv.FormatInt(n.ID, 10), &got)
			require.Equal(t, "null", string(got["content"]))
			break
		}
	}
	for _, n := range ws.Notes {
		if n.ParentID != nil {
			f.getJSON("/notes/"+strconv.FormatInt(n.ID, 10), &got)
			require.Equal(t, strconv.FormatInt(*n.ParentID, 10), string(got["parent_id"]))
			require.Equal(t, "[]", string(got["organization_ids"]))
			break
		}
	}
	f.get("/notes/1", http.StatusNotFound)
}

func TestNotesFilters(t *testing.T) {
	t.Parallel()
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	var org, person, creator int64
	for _, n := range ws.Notes {
		if len(n.OrganizationIDs) > 0 && org == 0 {
			org = n.OrganizationIDs[0]
		}
		if len(n.InteractionPersonIDs) > 0 && person == 0 {
			person = n.InteractionPersonIDs[0]
		}
	}
	creator = ws.Notes[0].CreatorID
	filter := func(keep func(n *Note) bool) []int64 {
		out := []int64{}
		for _, n := range ws.Notes {
			if keep(n) {
				out = append(out, n.ID)
			}
		}
		return out
	}
	tests := []struct {
		param string
		id    int64
		keep  func(n *Note) bool
	}{
		{"organization_id", org, func(n *Note) bool { return slices.Contains(n.OrganizationIDs, org) }},
		{"person_id", person, func(n *Note) bool { return slices.Contains(n.PersonIDs(), person) }},
		{"creator_id", creator, func(n *Note) bool { return n.CreatorID == creator }},
	}
	for _, tt := range tests {
		want := filter(tt.keep)
		require.NotEmpty(t, want, tt.param)
		got := noteIDs(t, f.all("/notes", "notes", url.Values{tt.param: {strconv.FormatInt(tt.id, 10)}, "page_size": {"2"}}))
		require.Equal(t, want, got, tt.param)
	}
	f.get("/notes?person_id=1&organization_id=2", http.StatusUnprocessableEntity)
	f.get("/notes?creator_id=x", http.StatusUnprocessableEntity)
}

func TestNoteMutations(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws, WithClock(c.now))
	var parent *Note
	for _, n := range f.srv.Snapshot().Notes {
		if n.ParentID != nil {
			parent = f.srv.Snapshot().Note(*n.ParentID)
			break
		}
	}
	require.NotNil(t, parent)

	prevLast := ws.Notes[len(ws.Notes)-1].ID
	var added *Note
	f.srv.Mutate(func(w *Workspace) {
		added = w.AddNote(Note{CreatorID: w.User.ID, Content: str("<p>new</p>"), Type: NoteHTML,
			OrganizationIDs: []int64{3, 1, 3}})
	})
	require.Greater(t, added.ID, prevLast, "a new id after the others")
	require.Equal(t, []int64{1, 3}, added.OrganizationIDs)
	require.Equal(t, []int64{}, added.AssociatedPersonIDs)
	require.True(t, c.now().Equal(added.CreatedAt))
	all := noteIDs(t, f.all("/notes", "notes", url.Values{"page_size": {"30"}}))
	require.Equal(t, added.ID, all[len(all)-1])
	require.Len(t, all, 81)

	c.advance(time.Hour)
	f.srv.Mutate(func(w *Workspace) {
		require.Nil(t, w.UpdateNote(1, func(*Note) { t.Fatal("no note 1") }))
		w.UpdateNote(added.ID, func(n *Note) { n.Content = nil; n.OpportunityIDs = []int64{7} })
	})
	var got map[string]json.RawMessage
	f.getJSON("/notes/"+strconv.FormatInt(added.ID, 10), &got)
	require.Equal(t, "null", string(got["content"]))
	require.Equal(t, "[7]", string(got["opportunity_ids"]))
	require.Equal(t, `"2026-11-02T10:00:00.000Z"`, string(got["updated_at"]))

	// Deleting a note deletes its replies.
	var replies []int64
	for _, n := range f.srv.Snapshot().Notes {
		if n.ParentID != nil && *n.ParentID == parent.ID {
			replies = append(replies, n.ID)
		}
	}
	require.NotEmpty(t, replies)
	f.srv.Mutate(func(w *Workspace) { w.DeleteNote(parent.ID) })
	f.get("/notes/"+strconv.FormatInt(parent.ID, 10), http.StatusNotFound)
	for _, id := range replies {
		f.get("/notes/"+strconv.FormatInt(id, 10), http.StatusNotFound)
	}
	require.Len(t, f.all("/notes", "notes", nil), 81-1-len(replies))
}
