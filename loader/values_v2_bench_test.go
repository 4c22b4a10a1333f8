package loader_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/affinity-sync/affinity-sync/loader"
)

// BenchmarkScopedValues commits API v2 pages — 100 list entries, 10 values each (8 global, 2
// on the entry) — into a field_values table that already holds 20,000 entities' values read
// through v1. Each page keeps 8 values of an entity, changes 1 and adds 1. Run it with
//
//	go test ./loader/ -run '^$' -bench BenchmarkScopedValues -benchtime 20x
//
// Metric: ms/page (CommitPage, one page per transaction).
func BenchmarkScopedValues(b *testing.B) {
	const (
		entities = 20_000
		perPage  = 100
	)
	e := newBenchEnv(b)
	ctx := b.Context()
	seen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fields := []loader.Field{{ID: 1, Name: "entry", ListID: ptr[int64](1), EntityType: ptr(loader.EntityPerson), ValueType: 6, AllowsMultiple: true}}
	for f := int64(2); f <= 9; f++ {
		fields = append(fields, loader.Field{ID: f, Name: fmt.Sprint("g", f), EntityType: ptr(loader.EntityPerson), ValueType: 6})
	}
	value := func(id, entity, field int64, entry *int64, s string) loader.FieldValue {
		return loader.FieldValue{ID: id, FieldID: field, EntityType: 0, EntityID: entity, ListEntryID: entry,
			Value: []byte(`"` + s + `"`), Projection: loader.Projection{Text: &s}}
	}
	page := loader.Page{Checkpoint: loader.Checkpoint{Stream: "field_values", PassStartedAt: seen}, SeenAt: seen, Fields: fields}
	for entity := int64(1); entity <= entities; entity++ {
		entry := ptr(entity + 1_000_000)
		set := loader.EntityValues{EntityType: 0, EntityID: entity}
		for f := int64(2); f <= 9; f++ {
			set.Values = append(set.Values, value(entity*100+f, entity, f, nil, fmt.Sprint("v", entity, f)))
		}
		set.Values = append(set.Values, value(entity*100, entity, 1, entry, "a"), value(entity*100+1, entity, 1, entry, "b"))
		page.EntityValues = append(page.EntityValues, set)
		if len(page.EntityValues) == 1000 {
			_, err := e.store.CommitPage(ctx, page)
			require.NoError(b, err)
			page.EntityValues, page.Fields = nil, nil
		}
	}
	_, err := e.pool.Exec(ctx, `VACUUM ANALYZE `+e.table("field_values"))
	require.NoError(b, err)

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		p := loader.Page{Checkpoint: loader.Checkpoint{Stream: "field_values", PassStartedAt: seen}, SeenAt: seen.Add(time.Duration(i+1) * time.Hour)}
		for k := 0; k < perPage; k++ {
			entity := int64((i*perPage+k)%entities) + 1
			entry := ptr(entity + 1_000_000)
			sv := loader.ScopedValues{EntityType: 0, EntityID: entity, GlobalFields: []int64{2, 3, 4, 5, 6, 7, 8, 9}, ListEntryID: entry}
			for f := int64(2); f <= 9; f++ {
				s := fmt.Sprint("v", entity, f)
				if f == 9 {
					s = fmt.Sprint("changed", i)
				}
				sv.Values = append(sv.Values, value(0, entity, f, nil, s))
			}
			sv.Values = append(sv.Values, value(0, entity, 1, entry, "a"), value(0, entity, 1, entry, fmt.Sprint("new", i)))
			p.ScopedValues = append(p.ScopedValues, sv)
		}
		_, err := e.store.CommitPage(ctx, p)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/page")
}
