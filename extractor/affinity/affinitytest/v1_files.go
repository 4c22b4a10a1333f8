package affinitytest

import (
	"fmt"
	"net/http"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v1 entity files (metadata only): GET /entity-files, unfiltered or for one entity, and
// GET /entity-files/{id}.

// FilesUnfilteredMode is how the fake answers GET /entity-files without an entity filter (the
// reference cannot tell whether Affinity serves it).
type FilesUnfilteredMode int

// The modes of the unfiltered file listing.
const (
	FilesUnfilteredOK     FilesUnfilteredMode = iota // every file of the workspace (the default)
	FilesUnfilteredRefuse                            // 422: an entity filter is required
)

// String is the mode as ParseFilesUnfilteredMode reads it.
func (m FilesUnfilteredMode) String() string {
	if m == FilesUnfilteredRefuse {
		return "refuse"
	}
	return "ok"
}

// ParseFilesUnfilteredMode reads "ok" or "refuse".
func ParseFilesUnfilteredMode(s string) (FilesUnfilteredMode, error) {
	for _, m := range []FilesUnfilteredMode{FilesUnfilteredOK, FilesUnfilteredRefuse} {
		if s == m.String() {
			return m, nil
		}
	}
	return FilesUnfilteredOK, fmt.Errorf("unfiltered files mode %q: want ok or refuse", s)
}

// WithFilesUnfiltered sets how GET /entity-files without an entity filter answers (default
// FilesUnfilteredOK).
func WithFilesUnfiltered(m FilesUnfilteredMode) Option {
	return func(s *Server) { s.filesUnfiltered = m }
}

// SetFilesUnfiltered changes how the unfiltered file listing answers from the next request on.
func (s *Server) SetFilesUnfiltered(m FilesUnfilteredMode) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.filesUnfiltered = m
}

func renderFile(f *EntityFile) obj {
	return obj{"id": f.ID, "name": f.Name, "size": f.Size, "person_id": f.PersonID,
		"organization_id": f.OrganizationID, "opportunity_id": f.OpportunityID, "uploader_id": f.UploaderID,
		"created_at": formatTime(f.CreatedAt)}
}

// listEntityFiles pages through the files in id order, 500 a page at most, all of them or
// those of one entity (person_id, organization_id or opportunity_id; more than one is 422).
func (s *Server) listEntityFiles(ws *Workspace, _ *index, r *http.Request, _ []int64) (any, *apiError) {
	q := r.URL.Query()
	pg, err := readPage(q, nil)
	if err != nil {
		return nil, err
	}
	var keep func(*EntityFile) bool
	n := 0
	for _, f := range []struct {
		kind loader.EntityKind
		id   func(*EntityFile) *int64
	}{
		{loader.EntityPerson, func(f *EntityFile) *int64 { return f.PersonID }},
		{loader.EntityOrganization, func(f *EntityFile) *int64 { return f.OrganizationID }},
		{loader.EntityOpportunity, func(f *EntityFile) *int64 { return f.OpportunityID }},
	} {
		id, ok, err := intParam(r, f.kind.SelectorParam())
		if err != nil {
			return nil, err
		}
		if ok {
			n++
			keep = func(file *EntityFile) bool { v := f.id(file); return v != nil && *v == id }
		}
	}
	if n > 1 {
		return nil, errorf(http.StatusUnprocessableEntity, "only one of person_id, organization_id, opportunity_id is allowed")
	}
	s.cmu.Lock()
	refuse := s.filesUnfiltered == FilesUnfilteredRefuse
	s.cmu.Unlock()
	if n == 0 && refuse {
		return nil, errorf(http.StatusUnprocessableEntity, "one of person_id, organization_id, opportunity_id is required")
	}
	items := scan(ws.Files, pg, keep)
	out := make([]obj, len(items))
	for i, f := range items {
		out[i] = renderFile(f)
	}
	return obj{"entity_files": out, "next_page_token": pg.next(len(items))}, nil
}

func getEntityFile(_ *Workspace, x *index, _ *http.Request, ids []int64) (any, *apiError) {
	f := x.files[ids[0]]
	if f == nil {
		return nil, errorf(http.StatusNotFound, "Entity file not found")
	}
	return renderFile(f), nil
}
