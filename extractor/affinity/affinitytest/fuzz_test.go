package affinitytest_test

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// FuzzPageToken checks that every token the fake mints decodes to what was
// encoded, and that decoding garbage (a client or a test could send any
// page_token) never panics.
func FuzzPageToken(f *testing.F) {
	f.Add("person_id", "17", 500, 0, "")
	f.Add("", "", 0, -1, "eyJwYXJhbXMiOnt9LCJwYWdlX3NpemUiOjUwMCwib2Zmc2V0Ijo1MDB9")
	f.Add("term", "Zoë 😀", 1, 1<<31, "eyJwYXJhbXMiOnt9==")
	f.Add("with_interaction_dates", "true", 100, 9000, "not base64 !!")
	f.Add("a", "\x00", 7, 3, "e30")
	f.Add("list_id", "9007199254740993", 250, 250, "W10")
	f.Fuzz(func(t *testing.T, key, value string, size, offset int, garbage string) {
		_, _ = affinitytest.DecodePageToken(garbage) // must not panic; an error is fine

		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			return // JSON replaces invalid UTF-8, so such params cannot round-trip
		}
		in := affinitytest.PageToken{Params: map[string]string{key: value}, PageSize: size, Offset: offset}
		tok := affinitytest.EncodePageToken(in)
		for _, c := range tok {
			require.True(t, c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'),
				"token %q is URL-safe base64 without padding", tok)
		}
		out, err := affinitytest.DecodePageToken(tok)
		require.NoError(t, err)
		require.Equal(t, in, out)
		padded, err := affinitytest.DecodePageToken(tok + "==")
		require.NoError(t, err, "padding is tolerated")
		require.Equal(t, in, padded)
	})
}
