package loader

import (
	"strings"
	"unicode/utf8"
)

// cleaner makes strings storable in Postgres text: NUL characters and invalid UTF-8 bytes
// become U+FFFD, and n counts every replacement.
type cleaner struct{ n int64 }

func (c *cleaner) str(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == 0:
			c.n++
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func (c *cleaner) ptr(s *string) *string {
	if s == nil {
		return nil
	}
	v := c.str(*s)
	return &v
}

// strs cleans every element; nil becomes an empty array (the columns are NOT NULL).
func (c *cleaner) strs(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = c.str(s)
	}
	return out
}
