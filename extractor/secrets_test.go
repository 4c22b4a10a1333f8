package extractor_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
)

// outputs collects everything a test's runs produced — log lines, error
// strings (also in %#v form), request reports, run records — so that it can
// be searched for the API key.
type outputs struct {
	key string
	mu  sync.Mutex
	buf strings.Builder
}

func (o *outputs) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *outputs) record(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.WriteString(s)
	o.buf.WriteByte('\n')
}

func (o *outputs) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// keyForms are the spellings in which a key could leak: as is, in a Basic
// header, escaped in a URL.
func keyForms(key string) []string {
	return []string{
		key,
		base64.StdEncoding.EncodeToString([]byte(":" + key)),
		base64.StdEncoding.EncodeToString([]byte(key)),
		url.QueryEscape(key),
	}
}

// requireClean fails when any output holds the key in any form.
func (o *outputs) requireClean(t *testing.T) {
	t.Helper()
	all := o.String()
	require.NotEmpty(t, all, "the runs produced output to search")
	for _, f := range keyForms(o.key) {
		require.NotContains(t, all, f, "the API key leaked")
	}
}

// TestKeyNeverLeaks runs syncs against a server that echoes the key back in
// every way it can — in error bodies (401, 422, 500), in a body that does not
// decode, in a page token — and searches the logs, the errors and the run
// records for it.
func TestKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	const key = "sk-live-Q9x-leakcheck-31337"
	e := newFaultEnv(t, faultWorkspace(91), faultEnvOptions{key: key})
	echo := func(r *http.Request) string {
		return fmt.Sprintf(`{"errors":["bad key %s (header %s) at %s"]}`, key, r.Header.Get("Authorization"), r.URL.String())
	}
	e.mw.set(func(r *http.Request, status int, body []byte) (int, []byte, bool) {
		switch r.URL.Path {
		case "/persons":
			return http.StatusUnauthorized, []byte(echo(r)), true
		case "/organizations":
			return http.StatusUnprocessableEntity, []byte(echo(r)), true
		case "/opportunities":
			return http.StatusInternalServerError, []byte(echo(r)), true
		case "/fields":
			return http.StatusOK, []byte(`{"not": "fields", "key": "` + key + `"`), true
		case "/lists":
			return http.StatusOK, []byte(`[{"id": "` + key + `"}]`), true
		case "/notes":
			return http.StatusBadRequest, []byte(echo(r)), true
		case "/reminders":
			return http.StatusForbidden, []byte(echo(r)), true
		}
		return status, body, false
	})
	res := e.run(t, nil)
	require.Len(t, res.Failed(), len(res.Streams), "every stream fails or does not start: %v", res.Failed())

	e.mw.set(func(r *http.Request, status int, body []byte) (int, []byte, bool) {
		if r.URL.Path == "/persons" && r.URL.Query().Get("page_token") == "" {
			return 200, []byte(`{"persons":[],"next_page_token":"` + key + `"}`), true
		}
		if r.URL.Query().Get("page_token") == key {
			return http.StatusUnprocessableEntity, []byte(echo(r)), true
		}
		return status, body, false
	})
	res = e.run(t, nil, extractor.StreamPersons)
	require.False(t, res.Complete())

	var runs string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT string_agg(r::text, E'\n') FROM affinity.sync_runs r`).Scan(&runs))
	e.out.record(runs)
	var checkpoints string
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT coalesce(string_agg(c::text, E'\n'), '') FROM affinity.sync_checkpoints c`).Scan(&checkpoints))
	e.out.record(checkpoints)
	require.Contains(t, e.out.String(), "401", "the failures were recorded")
	e.out.requireClean(t)
}

// TestHostileSchemaName syncs everything into a schema whose name is an SQL
// injection attempt: the name is only ever used as a quoted identifier.
func TestHostileSchemaName(t *testing.T) {
	t.Parallel()
	const schema = `aff"; DROP TABLE persons; --'x`
	e := newFaultEnv(t, faultWorkspace(92), faultEnvOptions{schema: schema})
	requireComplete(t, e.run(t, nil))
	ws := e.fake.Snapshot()
	require.Equal(t, len(ws.Persons), e.count(t, "persons"))
	require.Equal(t, len(ws.Organizations), e.count(t, "organizations"))
	require.Equal(t, len(ws.ListEntries), e.count(t, "list_entries"))
	require.Equal(t, len(ws.Changes), e.count(t, "field_value_changes"))
	require.Positive(t, e.count(t, "field_values"))

	var schemas []string
	rows, err := e.pool.Query(t.Context(), `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY 1`)
	require.NoError(t, err)
	schemas, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{schema, "public"}, schemas, "every table went into the one quoted schema")
	e.out.requireClean(t)
}
