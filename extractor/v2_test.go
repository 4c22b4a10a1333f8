package extractor_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/extractor"
	"github.com/affinity-sync/affinity-sync/extractor/affinity/affinitytest"
)

// warehouseDump reads every table and view of the warehouse contract as sorted JSON rows,
// leaving out what two syncs of one workspace may rightly differ in: the times a row was
// synced or soft-deleted (deleted_at is compared as live or not), field_values' row_id, and
// the Affinity id and times of field values (checked apart, see requireSameValueIDs). Values
// that are JSON null are left out: API v2 cannot express them (v1 sends such values, for
// Crunchbase fields for one), so only a v1 read stores them. A date's value string may
// differ in form (value_date must agree).
func (h *harness) warehouseDump(t *testing.T) map[string][]string {
	t.Helper()
	// A date's value string may keep either API's form: its value_date must agree.
	dateForm := `(CASE WHEN t.value_type = 4 THEN 'value' ELSE '' END) `
	drop := `- 'synced_at' - 'deleted_at' - 'interaction_dates_synced_at' || jsonb_build_object('live', t.deleted_at IS NULL)`
	queries := map[string]string{
		"field_values":      `SELECT to_jsonb(t) - 'row_id' - 'id' - 'created_at' - 'updated_at' - ` + dateForm + drop + ` FROM %s.field_values t WHERE value IS NOT NULL`,
		"list_entry_values": `SELECT to_jsonb(t) - 'field_value_id' - ` + dateForm + ` FROM %s.list_entry_values t WHERE value IS NOT NULL`,
		"stage_durations":   `SELECT to_jsonb(t) - 'duration' FROM %s.stage_durations t`,
		"field_history":     `SELECT to_jsonb(t) FROM %s.field_history t`,
		"as_of":             `SELECT to_jsonb(t) FROM %s.field_values_as_of(now()) t`,
	}
	for _, table := range []string{"persons", "organizations", "opportunities", "lists", "list_entries", "fields", "dropdown_options", "notes"} {
		queries[table] = `SELECT to_jsonb(t) ` + drop + ` FROM %s.` + table + ` t`
	}
	for _, table := range []string{"field_value_changes"} {
		queries[table] = `SELECT to_jsonb(t) - 'synced_at' FROM %s.` + table + ` t`
	}
	for _, table := range []string{"opportunity_persons", "opportunity_organizations", "organization_persons", "note_persons", "note_organizations", "note_opportunities"} {
		queries[table] = `SELECT to_jsonb(t) FROM %s.` + table + ` t`
	}
	out := map[string][]string{}
	for name, q := range queries {
		rows, err := h.pool.Query(t.Context(), fmt.Sprintf(q, pgx.Identifier{h.schema}.Sanitize()))
		require.NoError(t, err, name)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err, name)
		slices.Sort(got)
		out[name] = got
	}
	return out
}

// requireSameValueIDs checks that every field value the v2 warehouse holds with an Affinity
// id has the id and times the v1 warehouse holds for it.
func requireSameValueIDs(t *testing.T, v1, v2 *harness) {
	t.Helper()
	q := `SELECT id::text || ' ' || coalesce(created_at::text, '-') || ' ' || coalesce(updated_at::text, '-') FROM %s.field_values WHERE id IS NOT NULL AND deleted_at IS NULL`
	read := func(h *harness) []string {
		rows, err := h.pool.Query(t.Context(), fmt.Sprintf(q, pgx.Identifier{h.schema}.Sanitize()))
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return got
	}
	all := read(v1)
	for _, row := range read(v2) {
		require.Contains(t, all, row, "a value the v2 sync read through v1 keeps v1's id and times")
	}
}

func requireSameWarehouse(t *testing.T, v1, v2 *harness) {
	t.Helper()
	a, b := v1.warehouseDump(t), v2.warehouseDump(t)
	for name := range a {
		require.NotEmpty(t, a[name], "%s: the workspace should fill it", name)
		require.Equal(t, a[name], b[name], "%s differs between the v1 and the v2 sync", name)
	}
	requireSameValueIDs(t, v1, v2)
}

// v2Requests counts the requests the fake answered on the v2 paths of field_values and
// organization_details (the change feed is counted apart).
func v2Requests(fake *affinitytest.Server) int {
	var n int
	for endpoint, c := range fake.Requests() {
		if strings.Contains(endpoint, "/v2/") && endpoint != "GET /v2/field-value-changes" {
			n += c
		}
	}
	return n
}

// TestV2SyncEqualsV1Sync syncs one workspace twice, once through v1 only and once with
// api_v2 auto, and requires the same rows in every table and view; then the same after the
// fake's mutations and a second pass.
func TestV2SyncEqualsV1Sync(t *testing.T) {
	t.Parallel()
	cfg := affinitytest.DefaultConfig()
	cfg.Seed = 21
	v1, v2 := newHarness(t, cfg), newHarness(t, cfg)
	v2.opts.APIV2 = extractor.V2Auto
	ctx := t.Context()

	requireComplete(t, v1.syncer(nil).Run(ctx, nil))
	res := v2.syncer(nil).Run(ctx, nil)
	requireComplete(t, res)
	require.Positive(t, v2Requests(v2.fake), "the v2 sync reads through v2")
	require.Zero(t, v2Requests(v1.fake))
	for _, s := range res.Streams {
		if s.Stream == extractor.StreamFieldValues || s.Stream == extractor.StreamOrganizationDetails {
			require.NotNil(t, s.Path, s.Stream)
			require.Equal(t, "v1+v2", s.Path.Path, "%s: %s", s.Stream, s.Path.Reason)
		}
	}
	requireSameWarehouse(t, v1, v2)

	mutate := func(w *affinitytest.Workspace) {
		var text *affinitytest.Field
		for _, f := range w.Fields {
			if f.ListID == nil && f.ValueType == affinitytest.ValueText && f.EnrichmentSource == "none" && text == nil {
				text = f
			}
		}
		require.NotNil(t, text)
		n := 0
		for _, v := range w.FieldValues {
			if v.FieldID == text.ID && n < 5 {
				v.Value = []byte(fmt.Sprintf(`"changed %d"`, n))
				n++
			}
		}
		require.Positive(t, n)
	}
	v1.fake.Mutate(mutate)
	v2.fake.Mutate(mutate)
	requireComplete(t, v1.syncer(nil).Run(ctx, nil))
	requireComplete(t, v2.syncer(nil).Run(ctx, nil))
	requireSameWarehouse(t, v1, v2)
}
