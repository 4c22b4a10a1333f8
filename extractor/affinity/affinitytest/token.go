package affinitytest

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/url"
	"strconv"
	"strings"
)

// MaxPageSize is the default and largest page size of the paged endpoints.
const MaxPageSize = 500

// PageToken is the decoded form of a v1 page token: URL-safe base64 (no padding) of this JSON.
type PageToken struct {
	Params   map[string]string `json:"params"`
	PageSize int               `json:"page_size"`
	Offset   int               `json:"offset"`
}

// EncodePageToken mints a token the way the fake (and, as observed, Affinity) does.
func EncodePageToken(t PageToken) string {
	if t.Params == nil {
		t.Params = map[string]string{}
	}
	b, _ := json.Marshal(t) // strings and ints always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePageToken reads a token minted by EncodePageToken (padding is tolerated).
func DecodePageToken(s string) (PageToken, error) {
	var t PageToken
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, err
	}
	return t, nil
}

// page is the slice of a paged listing a request asks for.
type page struct {
	params map[string]string
	offset int
	size   int
}

// requestParams are the request's query parameters other than page_size and page_token, plus
// path parameters (e.g. list_id), as strings.
func requestParams(q url.Values, path map[string]string) map[string]string {
	p := map[string]string{}
	for k, v := range q {
		if k == "page_size" || k == "page_token" {
			continue
		}
		p[k] = strings.Join(v, ",")
	}
	maps.Copy(p, path)
	return p
}

// readPage parses page_size and page_token; a token must carry the request's other params.
func readPage(q url.Values, path map[string]string) (page, *apiError) {
	return readPageMax(q, path, MaxPageSize)
}

// readPageMax is readPage of an endpoint whose default and largest page size is largest.
func readPageMax(q url.Values, path map[string]string, largest int) (page, *apiError) {
	pg := page{params: requestParams(q, path), size: largest}
	if q.Has("page_size") {
		n, err := strconv.Atoi(q.Get("page_size"))
		if err != nil || n < 1 {
			return pg, errorf(422, "page_size must be a positive integer")
		}
		pg.size = min(n, largest)
	}
	if tok := q.Get("page_token"); tok != "" {
		t, err := DecodePageToken(tok)
		if err != nil || t.Offset < 0 {
			return pg, errorf(422, "Invalid page_token")
		}
		if t.Params == nil {
			t.Params = map[string]string{}
		}
		if !maps.Equal(t.Params, pg.params) {
			return pg, errorf(422, "Invalid page_token variable")
		}
		pg.offset = t.Offset
	}
	return pg, nil
}

// next is the token of the page after one holding n items: present when the page is full
// (so an exactly full last page leads to an empty one), else nil.
func (pg page) next(n int) *string {
	if n < pg.size {
		return nil
	}
	s := EncodePageToken(PageToken{Params: pg.params, PageSize: pg.size, Offset: pg.offset + n})
	return &s
}

// window returns the page's part of s.
func window[T any](s []T, pg page) []T {
	if pg.offset >= len(s) {
		return s[:0:0]
	}
	return s[pg.offset:min(len(s), pg.offset+pg.size)]
}
