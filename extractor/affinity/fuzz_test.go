package affinity_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
)

// valueTypes are the documented value types plus codes the API never
// documented, which must project to nothing rather than fail.
var valueTypes = []affinity.ValueType{-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1 << 20}

// FuzzValueProject feeds arbitrary bytes as a field value's raw JSON to
// Project for every value type: it must never panic, and a projection it
// returns must fit the type (the typed projections of docs/warehouse.md).
func FuzzValueProject(f *testing.F) {
	for _, seed := range []string{
		`null`, `""`, `"text"`, `42`, `-1.25e3`, `9007199254740993`, `18446744073709551616`,
		`"2024-05-01T10:00:00.000-07:00"`, `"not a date"`, `true`, `[]`, `[1,2]`, `{}`,
		`{"id":7,"text":"Won","rank":3,"color":1}`, `{"id":"7","text":5}`,
		`{"street_address":"1 Main","city":"Oslo","state":null,"country":"","continent":"Europe"}`,
		`{"city":{"nested":true}}`, `"\u0000nul"`, "\"\xff\xfe\"", `{`, `"unterminated`, ``, `   `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v := affinity.Value{Raw: raw}
		for _, vt := range valueTypes {
			p := v.Project(vt)
			if v.IsNull() {
				require.Equal(t, affinity.Projection{}, p, "a null value projects to nothing (type %d)", vt)
				continue
			}
			switch vt {
			case affinity.ValuePerson, affinity.ValueOrganization:
				require.True(t, p.Text == nil && p.Number == nil && p.Date == nil && p.OptionID == nil, "type %d: %+v", vt, p)
			case affinity.ValueNumber:
				require.True(t, p.Text == nil && p.Date == nil && p.EntityID == nil && p.OptionID == nil, "type %d: %+v", vt, p)
				if p.Number != nil {
					var n json.Number
					require.NoError(t, json.Unmarshal([]byte(*p.Number), &n), "a number projection is a JSON number: %q", *p.Number)
				}
			case affinity.ValueDate:
				require.True(t, p.Text == nil && p.Number == nil && p.EntityID == nil && p.OptionID == nil, "type %d: %+v", vt, p)
			case affinity.ValueDropdown, affinity.ValueText, affinity.ValueFilterableText, affinity.ValueLocation:
				require.True(t, p.Number == nil && p.Date == nil && p.EntityID == nil && p.OptionID == nil, "type %d: %+v", vt, p)
			case affinity.ValueRankedDropdown:
				require.True(t, p.Number == nil && p.Date == nil && p.EntityID == nil, "type %d: %+v", vt, p)
			default:
				require.Equal(t, affinity.Projection{}, p, "an unknown type %d projects to nothing", vt)
			}
		}
	})
}

// FuzzPageEnvelope serves arbitrary bytes as the body of a persons page: the
// client must never panic, and either yields a page or an error that names
// the listing.
func FuzzPageEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"persons":[],"next_page_token":null}`,
		`{"persons":[{"id":1,"type":0,"first_name":"A","last_name":null,"primary_email":null,"emails":[]}],"next_page_token":"abc"}`,
		`{"persons":[{"id":9223372036854775807,"emails":null}],"next_page_token":""}`,
		`{"persons":[{"id":"1"}]}`, `{"persons":{}}`, `{"persons":[{"id":1.5}]}`, `[]`, `null`, `{}`,
		`{"persons":[{"id":1,"interaction_dates":{"first_email_date":"yesterday"}}]}`,
		`{"persons":[{"id":1,"first_name":"\u0000"}],"unknown":{"deep":[1,2,3]}}`,
		`{"persons":[`, ``, "\xff\xfe", `{"persons":[],"next_page_token":5}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		noWait := affinity.WithSleep(func(ctx context.Context, _ time.Duration) error { return ctx.Err() })
		c, err := affinity.NewClient(srv.URL, "fuzz-key", affinity.WithPerMinute(0), affinity.WithRetry(1, time.Millisecond, time.Millisecond), noWait)
		require.NoError(t, err)
		pages := 0
		for page, err := range c.Persons(t.Context(), affinity.PersonQuery{}) {
			if err != nil {
				// A body that does not decode is a *DecodeError; a token that
				// repeats is refused too. Either way the error names the listing.
				var de *affinity.DecodeError
				if errors.As(err, &de) {
					require.Equal(t, "/persons", de.Endpoint)
				}
				require.Contains(t, err.Error(), "/persons")
				break
			}
			pages++
			for _, p := range page.Items {
				_ = p.ID
			}
			if pages > 1 {
				break // the same body again: the token loops, which is the server's business
			}
		}
	})
}
