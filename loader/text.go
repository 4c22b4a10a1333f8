package loader

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf16"
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

// json makes a raw JSON value storable as jsonb. nil, empty and JSON null become nil (SQL
// NULL). Inside strings, the escapes jsonb rejects — \u0000 and unpaired UTF-16 surrogates —
// become \ufffd; NUL bytes and invalid UTF-8 become U+FFFD as in str. Each replacement is
// counted.
func (c *cleaner) json(raw []byte) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	s := c.str(string(raw))
	if !strings.Contains(s, `\u`) {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' || i+1 >= len(s) {
			out = append(out, s[i])
			i++
			continue
		}
		if s[i+1] != 'u' { // any other escape, \\ included, is kept whole
			out = append(out, s[i], s[i+1])
			i += 2
			continue
		}
		r, ok := hexEscape(s, i)
		switch {
		case !ok: // not valid JSON; leave it for Postgres to report
			out = append(out, s[i:i+2]...)
			i += 2
		case r == 0 || utf16.IsSurrogate(r) && r >= 0xDC00: // NUL, or a low surrogate with no high one
			c.n++
			out = append(out, `\ufffd`...)
			i += 6
		case utf16.IsSurrogate(r):
			if low, ok := hexEscape(s, i+6); ok && low >= 0xDC00 && low <= 0xDFFF {
				out = append(out, s[i:i+12]...)
				i += 12
				continue
			}
			c.n++
			out = append(out, `\ufffd`...)
			i += 6
		default:
			out = append(out, s[i:i+6]...)
			i += 6
		}
	}
	return out
}

// hexEscape reads the \uXXXX escape at s[i:].
func hexEscape(s string, i int) (rune, bool) {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i+2:i+6], 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(v), true
}
