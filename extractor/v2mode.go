package extractor

import (
	"errors"
	"fmt"
	"slices"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
)

// The API v2 sources of the field_values and organization_details streams
// (docs/api-v2.md). API v2 returns an entity's field values, and an
// organization's persons, inline, 100 entities a page; v1 needs one request
// per entity. What is due still decides what a pass must read; the path is
// chosen by cost (v2path.go). A probe compares the first v2 pages with v1
// before any v2 row is written (v2probe.go); the listings themselves are in
// v2listing.go. This file holds the setting, the path note and what counts as
// v2 refusing.

// V2Mode says whether the streams may read through API v2 (affinity.api_v2).
// The zero value is V2Off: the library reads v1 unless told otherwise.
type V2Mode int

const (
	// V2Off reads v1 only.
	V2Off V2Mode = iota
	// V2Auto reads through v2 where it costs fewer requests, and falls back to v1 for the
	// pass when v2 refuses or its probe disagrees with v1.
	V2Auto
	// V2On is V2Auto, except that a refusal or a probe difference fails the stream.
	V2On
)

func (m V2Mode) String() string {
	switch m {
	case V2Auto:
		return "auto"
	case V2On:
		return "on"
	}
	return "off"
}

// SourceV2 is Affinity's API v2.
const SourceV2 Source = "v2"

// V2PageSize is the rows of a v2 page: its maximum.
const V2PageSize = loader.V2PageSize

// probeSize is how many entities of the first v2 pages the probe also reads through v1.
const probeSize = loader.ProbeSize

// V2Reads is what a run read through API v2 for one stream, and what its probe spent: with
// the warehouse's sizes, the exact lower bound of the requests the stream sent. It sums the
// stream's PhaseResults.
type V2Reads struct {
	Lists         []int64 // lists whose entries were all read through v2 (field_values)
	Persons       bool    // every person read through v2 (values of entities on no list)
	Companies     bool    // every company read through v2 (values on no list, organization links)
	Pages         int64   // v2 pages read
	ProbeRequests int64   // v1 requests the probe sent
}

// readsOf sums what phases read through v2 and the v1 requests they sent for one entity each.
func readsOf(phases []PhaseResult) (V2Reads, int64) {
	var v V2Reads
	var entities int64
	for _, p := range phases {
		v.Pages += p.V2Pages
		v.ProbeRequests += p.ProbeRequests
		entities += p.EntityRequests
		if !p.ReadWhole {
			continue
		}
		switch p.Phase.Kind {
		case PhaseV2List:
			if !slices.Contains(v.Lists, p.Phase.ID) {
				v.Lists = append(v.Lists, p.Phase.ID)
			}
		case PhaseV2Persons:
			v.Persons = true
		case PhaseV2Companies:
			v.Companies = true
		}
	}
	return v, entities
}

// PathNote is the path a stream's pass takes, and why.
type PathNote struct {
	Path   string // "v1", "v2", or "v1+v2"
	Reason string
	// ProbeDifferences counts probes that found v2 disagreeing with v1; Fallback is set when
	// the pass fell back to v1 (under auto) because v2 refused or disagreed.
	ProbeDifferences int
	Fallback         bool
}

// v2Refusal is v2 refusing a read (403 without export permission, 404 without v2, any other
// answer that is not a rate limit): under auto the stream falls back to v1 for the pass.
// A nextUrl to another host is never a refusal: it fails the stream under every setting.
func v2Refusal(err error) (*affinity.APIError, bool) {
	var ae *affinity.APIError
	var foreign *affinity.ForeignURLError
	var rl *affinity.RateLimitError
	if errors.As(err, &foreign) || errors.As(err, &rl) || !errors.As(err, &ae) {
		return nil, false
	}
	return ae, true
}

func refusalText(ae *affinity.APIError) string {
	s := fmt.Sprintf("HTTP %d", ae.StatusCode)
	if ae.Code != "" {
		s += " " + ae.Code
	}
	return s + " on " + ae.Endpoint
}
