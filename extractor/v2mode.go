package extractor

import (
	"errors"
	"fmt"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
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
