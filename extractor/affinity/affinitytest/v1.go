package affinitytest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v1: the route table, and the rendering and query helpers every v1 resource uses. Each
// resource's rendering and handlers live in v1_<resource>.go.

type handlerFunc func(ws *Workspace, x *index, r *http.Request, ids []int64) (any, *apiError)

type route struct {
	template string
	found    bool
	ids      []int64
	handle   handlerFunc
}

// routes maps endpoint templates to handlers.
func routes() map[string]handlerFunc {
	return map[string]handlerFunc{
		"/auth/whoami":                  whoami,
		"/rate-limit":                   nil, // answered by the server from its counters
		"/persons":                      listPersons,
		"/persons/fields":               globalFields(loader.EntityPerson),
		"/persons/{id}":                 getPerson,
		"/organizations":                listOrganizations,
		"/organizations/fields":         globalFields(loader.EntityOrganization),
		"/organizations/{id}":           getOrganization,
		"/opportunities":                listOpportunities,
		"/opportunities/{id}":           getOpportunity,
		"/lists":                        listLists,
		"/lists/{id}":                   getList,
		"/lists/{id}/list-entries":      listEntries,
		"/lists/{id}/list-entries/{id}": getListEntry,
		"/fields":                       listFields,
		"/field-values":                 listFieldValues,
		"/field-value-changes":          listFieldValueChanges,
		"/notes":                        listNotes,
		"/notes/{id}":                   getNote,
		"/interactions":                 listInteractions,
		"/interactions/{id}":            getInteraction,
		"/relationships-strengths":      listStrengths,
		"/entity-files":                 nil, // Server.listEntityFiles (its unfiltered mode), set by NewServer
		"/entity-files/{id}":            getEntityFile,
		"/reminders":                    listReminders,
		"/reminders/{id}":               getReminder,
	}
}

// matchRoute maps a path to its endpoint template; numeric segments become ids.
func matchRoute(table map[string]handlerFunc, path string) route {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var ids []int64
	tmpl := make([]string, len(segs))
	for i, s := range segs {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			ids = append(ids, id)
			tmpl[i] = "{id}"
		} else {
			tmpl[i] = s
		}
	}
	t := "/" + strings.Join(tmpl, "/")
	h, ok := table[t]
	return route{template: t, found: ok, ids: ids, handle: h}
}

type obj = map[string]any

func isoTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func nonNil(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// extra adds an undocumented key to some objects, as live responses do.
func extra(o obj, id int64, mod int64) obj {
	if id%mod == 0 {
		o["x_extra"] = "undocumented attribute"
	}
	return o
}

func whoami(ws *Workspace, _ *index, _ *http.Request, _ []int64) (any, *apiError) {
	return obj{
		"tenant": obj{"id": ws.Tenant.ID, "name": ws.Tenant.Name, "subdomain": ws.Tenant.Subdomain},
		"user": obj{"id": ws.User.ID, "firstName": ws.User.FirstName, "lastName": ws.User.LastName,
			"email": ws.User.Email},
		"grant": obj{"type": "api_key", "scope": "external_api", "createdAt": "2023-01-09T10:00:00.000-05:00"},
	}, nil
}

// scan pages through all items that match keep, in order; O(offset+page) for a match-all.
func scan[T any](all []T, pg page, keep func(T) bool) []T {
	if keep == nil {
		return window(all, pg)
	}
	var out []T
	skipped := 0
	for _, v := range all {
		if !keep(v) {
			continue
		}
		if skipped < pg.offset {
			skipped++
			continue
		}
		out = append(out, v)
		if len(out) == pg.size {
			break
		}
	}
	return out
}

// intParam reads an optional integer query parameter.
func intParam(r *http.Request, name string) (int64, bool, *apiError) {
	q := r.URL.Query()
	if !q.Has(name) {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil {
		return 0, false, errorf(http.StatusUnprocessableEntity, name+" must be an integer")
	}
	return n, true, nil
}
