package affinitytest

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/affinity-sync/affinity-sync/loader"
)

// API v2 paging: opaque cursors, the limit, pages by id and the {data, pagination} envelope.

// V2Cursor is the decoded form of a v2 cursor: Before false pages forward from after ID, true
// backward from before it. On the wire a cursor is base64 (no padding) of "after:::<id>" or
// "before:::<id>", left-padded with spaces to 16 characters.
type V2Cursor struct {
	Before bool
	ID     int64
}

// EncodeV2Cursor mints a cursor the way the fake does.
func EncodeV2Cursor(c V2Cursor) string {
	dir := "after"
	if c.Before {
		dir = "before"
	}
	return base64.RawStdEncoding.EncodeToString(fmt.Appendf(nil, "%16s", dir+":::"+strconv.FormatInt(c.ID, 10)))
}

// DecodeV2Cursor reads a cursor minted by EncodeV2Cursor (padding and URL-safe base64 are
// tolerated).
func DecodeV2Cursor(s string) (V2Cursor, error) {
	s = strings.TrimRight(s, "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return V2Cursor{}, fmt.Errorf("cursor is not base64")
		}
	}
	dir, n, ok := strings.Cut(strings.TrimLeft(string(b), " "), ":::")
	if !ok || (dir != "after" && dir != "before") {
		return V2Cursor{}, fmt.Errorf("cursor has no after::: or before::: position")
	}
	id, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return V2Cursor{}, fmt.Errorf("cursor position %q is not an integer", n)
	}
	return V2Cursor{Before: dir == "before", ID: id}, nil
}

// v2Page is the page a request asks for.
type v2Page struct {
	limit  int
	cursor *V2Cursor
}

func readV2Page(q url.Values) (v2Page, *apiError) {
	pg := v2Page{limit: loader.V2PageSize}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > loader.V2PageSize {
			return pg, v2Validation("limit", "limit must be an integer from 1 to 100")
		}
		pg.limit = n
	}
	if q.Has("cursor") {
		c, err := DecodeV2Cursor(q.Get("cursor"))
		if err != nil {
			return pg, v2Validation("cursor", "invalid cursor")
		}
		pg.cursor = &c
	}
	return pg, nil
}

// pageByID cuts one page out of all (sorted by id); it reports whether items exist before
// and after the page.
func pageByID[T any](all []T, id func(T) int64, pg v2Page) (items []T, hasPrev, hasNext bool) {
	search := func(n int64) int {
		i, _ := slices.BinarySearchFunc(all, n, func(v T, n int64) int { return cmp.Compare(id(v), n) })
		return i
	}
	start, end := 0, min(len(all), pg.limit)
	if c := pg.cursor; c != nil {
		if c.Before {
			end = search(c.ID)
			start = max(0, end-pg.limit)
		} else {
			start = search(c.ID + 1)
			end = min(len(all), start+pg.limit)
		}
	}
	return all[start:end], start > 0, end < len(all)
}

// envelope wraps a page with absolute prevUrl/nextUrl that keep the request's query params.
func envelope[T any](rq *v2Request, data []obj, items []T, id func(T) int64, hasPrev, hasNext bool) obj {
	link := func(c V2Cursor) string {
		q := rq.r.URL.Query()
		q.Set("cursor", EncodeV2Cursor(c))
		return rq.base + rq.r.URL.Path + "?" + q.Encode()
	}
	var prev, next any
	if hasPrev && len(items) > 0 {
		prev = link(V2Cursor{Before: true, ID: id(items[0])})
	}
	if hasNext && len(items) > 0 {
		next = link(V2Cursor{ID: id(items[len(items)-1])})
	}
	return obj{"data": data, "pagination": obj{"prevUrl": prev, "nextUrl": next}}
}

// readIDs reads the repeatable ids parameter.
func readIDs(q url.Values) (map[int64]bool, *apiError) {
	if !q.Has("ids") {
		return nil, nil
	}
	out := map[int64]bool{}
	for _, s := range q["ids"] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, v2Validation("ids", fmt.Sprintf("ids %q is not an integer", s))
		}
		out[n] = true
	}
	return out, nil
}
