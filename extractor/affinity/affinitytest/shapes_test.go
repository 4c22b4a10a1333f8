package affinitytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

// recordedDir holds live responses recorded by a third party: the copy of
// shared/affinity-recorded kept with the client's tests (see its README).
const recordedDir = "../testdata/recorded"

// keyPaths collects every object key path of a JSON document, arrays written as "[]".
func keyPaths(v any, prefix string, into map[string]bool) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			p := prefix + "." + k
			into[p] = true
			keyPaths(e, p, into)
		}
	case []any:
		for _, e := range t {
			keyPaths(e, prefix+"[]", into)
		}
	}
}

// optional are documented keys the recorded samples happen to lack (matched as path suffixes).
var optionalKeys = []string{
	"x_extra", "next_page_token", "crunchbase_uuid", "creator_id", "list_id", "enrichment_source",
	"track_changes", "entity_type", "value_type", "entity.id", "person_ids", "opportunity_ids",
	"value.id", "value.text", "value.rank", "value.color",
	"dropdown_options[].id", "dropdown_options[].text", "dropdown_options[].rank", "dropdown_options[].color",
}

func isOptional(path string) bool {
	if strings.Contains(path, ".interactions.") && strings.HasSuffix(path, ".date") {
		return true // an interaction the sample has as null
	}
	for _, k := range optionalKeys {
		if strings.HasSuffix(path, "."+k) {
			return true
		}
	}
	return false
}

func TestShapesMatchRecordedResponses(t *testing.T) {
	t.Parallel()
	dir := recordedDir
	ws := Generate(DefaultConfig())
	f := newFixture(t, ws)
	x := buildIndex(ws)

	pl := firstListOfType(t, ws, loader.EntityPerson)
	personOnList := ws.EntriesOf(pl.ID)[0].EntityID
	var orgWithAll int64
	for _, o := range ws.Organizations {
		if d := o.Interactions; d != nil && d.FirstEmail != nil && d.LastEmail != nil && d.FirstEvent != nil &&
			d.LastEvent != nil && d.NextEvent != nil && d.LastChatMessage != nil && len(o.PersonIDs) > 0 && len(x.entriesByEntity[entityKey{loader.EntityOrganization, o.ID}]) > 0 &&
			len(x.oppsByOrg[o.ID]) > 0 {
			orgWithAll = o.ID
			break
		}
	}
	require.NotZero(t, orgWithAll)
	// a person with both a location and a plain value, like the recorded sample
	var personWithLocation int64
	for _, p := range ws.Persons {
		var loc, other bool
		for _, v := range x.globalValues[entityKey{loader.EntityPerson, p.ID}] {
			ft := x.fields[v.FieldID].ValueType
			loc = loc || (ft == ValueLocation && string(v.Value) != "null")
			other = other || ft == ValueDropdown
		}
		if loc && other {
			personWithLocation = p.ID
			break
		}
	}
	require.NotZero(t, personWithLocation)
	status := ws.Fields[slices.IndexFunc(ws.Fields, func(fl *Field) bool { return fl.Name == "Status" && fl.ListID != nil })]

	cases := map[string]string{
		"whoami.json":                    "/auth/whoami",
		"rate_limit.json":                "/rate-limit",
		"persons_search.json":            "/persons",
		"persons_search_with_dates.json": "/persons?with_interaction_dates=true",
		"persons_get.json":               fmt.Sprintf("/persons/%d", personOnList),
		"persons_get_fields.json":        "/persons/fields",
		"organizations_search.json":      "/organizations",
		"organizations_get.json": fmt.Sprintf("/organizations/%d?with_interaction_dates=true&with_interaction_persons=true&with_opportunities=true",
			orgWithAll),
		"organizations_get_fields.json": "/organizations/fields",
		"lists_all.json":                "/lists",
		"lists_single.json":             fmt.Sprintf("/lists/%d", pl.ID),
		"list_entries_all.json":         fmt.Sprintf("/lists/%d/list-entries", pl.ID),
		"list_entries_get.json":         fmt.Sprintf("/lists/%d/list-entries/%d", pl.ID, ws.EntriesOf(pl.ID)[0].ID),
		"fields_all.json":               "/fields",
		"field_values_get_all.json":     fmt.Sprintf("/field-values?person_id=%d", personWithLocation),
		"field_value_changes_all.json":  fmt.Sprintf("/field-value-changes?field_id=%d", status.ID),
	}
	for file, path := range cases {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		var rec, got any
		require.NoError(t, json.Unmarshal(raw, &rec), file)
		r := f.get(path, http.StatusOK)
		require.NoError(t, json.Unmarshal(r.body, &got), file)

		// envelopes vs bare arrays
		_, recArray := rec.([]any)
		_, gotArray := got.([]any)
		require.Equal(t, recArray, gotArray, "%s: array vs object", file)

		want, have := map[string]bool{}, map[string]bool{}
		keyPaths(rec, "", want)
		keyPaths(got, "", have)
		for p := range want {
			require.True(t, have[p], "%s (GET %s): the fake lacks key %s", file, path, p)
		}
		for p := range have {
			require.True(t, want[p] || isOptional(p), "%s (GET %s): the fake adds key %s", file, path, p)
		}
	}
}
