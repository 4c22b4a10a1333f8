package loader

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCleanJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		raw   string
		want  *string // nil = SQL NULL
		fixed int64
	}{
		{name: "nil", raw: "", want: nil},
		{name: "JSON null", raw: " null\n", want: nil},
		{name: "number kept as sent", raw: "2.50", want: ptr("2.50")},
		{name: "object kept as sent", raw: `{"b": 1, "a": [true, null]}`, want: ptr(`{"b": 1, "a": [true, null]}`)},
		{name: "NUL escape", raw: `"a\u0000b"`, want: ptr(`"a\ufffdb"`), fixed: 1},
		{name: "escaped backslash before u0000 is text", raw: `"a\\u0000b"`, want: ptr(`"a\\u0000b"`)},
		{name: "backslash pair then NUL escape", raw: `"\\\u0000"`, want: ptr(`"\\\ufffd"`), fixed: 1},
		{name: "other escapes kept", raw: `"\n\"\u00e9\u20AC"`, want: ptr(`"\n\"\u00e9\u20AC"`)},
		{name: "surrogate pair kept", raw: `"\ud83d\ude00"`, want: ptr(`"\ud83d\ude00"`)},
		{name: "lone high surrogate", raw: `"\ud83dx"`, want: ptr(`"\ufffdx"`), fixed: 1},
		{name: "high surrogate then non-low escape", raw: `"\ud83d\u0041"`, want: ptr(`"\ufffd\u0041"`), fixed: 1},
		{name: "lone low surrogate", raw: `["\ude00"]`, want: ptr(`["\ufffd"]`), fixed: 1},
		{name: "NUL escapes in keys too", raw: `{"\u0000": "\u0000"}`, want: ptr(`{"\ufffd": "\ufffd"}`), fixed: 2},
		{name: "invalid UTF-8 and raw NUL", raw: "\"a\xffb\x00\"", want: ptr("\"a\uFFFDb\uFFFD\""), fixed: 2},
		{name: "truncated escape left alone", raw: `"\u00`, want: ptr(`"\u00`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c cleaner
			got := c.json([]byte(tt.raw))
			if tt.want == nil {
				require.Nil(t, got)
			} else {
				require.Equal(t, *tt.want, string(got))
			}
			require.Equal(t, tt.fixed, c.n)
		})
	}
}

func ptr[T any](v T) *T { return &v }
