package extractor

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/affinity-sync/affinity-sync/extractor/affinity"
	"github.com/affinity-sync/affinity-sync/loader"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

// testCatalog has one field of every value type on organizations, a list
// field of list 7, and two enriched fields: one with a unique twin, one
// ambiguous.
func testCatalog() v2Catalog {
	org := loader.EntityOrganization
	src := "affinity-data"
	none := "none"
	return newV2Catalog([]loader.Field{
		{ID: 1, Name: "Owner", EntityType: &org, ValueType: int(affinity.ValuePerson), AllowsMultiple: true},
		{ID: 2, Name: "Parent", EntityType: &org, ValueType: int(affinity.ValueOrganization)},
		{ID: 3, Name: "Sector", EntityType: &org, ValueType: int(affinity.ValueDropdown), AllowsMultiple: true},
		{ID: 4, Name: "Size", EntityType: &org, ValueType: int(affinity.ValueNumber)},
		{ID: 5, Name: "Founded", EntityType: &org, ValueType: int(affinity.ValueDate)},
		{ID: 6, Name: "HQ", EntityType: &org, ValueType: int(affinity.ValueLocation)},
		{ID: 7, Name: "Notes", EntityType: &org, ValueType: int(affinity.ValueText), EnrichmentSource: &none},
		{ID: 8, Name: "Stage", EntityType: &org, ListID: ptr(int64(7)), ValueType: int(affinity.ValueRankedDropdown),
			Options: []loader.DropdownOption{{ID: 31, Text: "Due Diligence", Rank: ptr(3), Color: ptr(2)}}},
		{ID: 9, Name: "Location", EntityType: &org, ValueType: int(affinity.ValueLocation), EnrichmentSource: &src},
		{ID: 10, Name: "Industry", EntityType: &org, ValueType: int(affinity.ValueFilterableText), EnrichmentSource: &src},
		{ID: 11, Name: "Industry", EntityType: &org, ValueType: int(affinity.ValueFilterableText), EnrichmentSource: ptr("dealroom")},
		{ID: 12, Name: "Score", EntityType: &org, ValueType: 99},
	})
}

func v2f(id, typ, valueType, data string) affinity.V2Field {
	return affinity.V2Field{ID: id, Name: map[string]string{"affinity-data-location": "Location", "affinity-data-industry": "Industry"}[id],
		Type: typ, Value: affinity.V2Value{Type: valueType, Data: json.RawMessage(data)}}
}

func TestMapV2(t *testing.T) {
	cat := testCatalog()
	entry := int64(880001)
	tests := []struct {
		name   string
		field  affinity.V2Field
		values []string // v1-shaped values, in order
		global bool     // the field is in the global scope
		list   bool     // the field is a list field carried on the entry
	}{
		{"person multi → ids", v2f("field-1", "global", "person-multi", `[{"id":70001,"firstName":"Ana"},{"id":70002}]`), []string{"70001", "70002"}, true, false},
		{"company → id", v2f("field-2", "global", "company", `{"id":50001,"name":"N","domain":null}`), []string{"50001"}, true, false},
		{"dropdown multi → texts", v2f("field-3", "global", "dropdown-multi", `[{"dropdownOptionId":1,"text":"AI"},{"dropdownOptionId":2,"text":"Bio"}]`), []string{`"AI"`, `"Bio"`}, true, false},
		{"number as given", v2f("field-4", "global", "number", `2500000.50`), []string{"2500000.50"}, true, false},
		{"datetime as given", v2f("field-5", "global", "datetime", `"2024-04-01T07:00:00.000Z"`), []string{`"2024-04-01T07:00:00.000Z"`}, true, false},
		{"location → snake case", v2f("field-6", "global", "location", `{"streetAddress":null,"city":"Austin","state":"Texas","country":"United States","continent":null}`),
			[]string{`{"street_address":null,"city":"Austin","state":"Texas","country":"United States","continent":null}`}, true, false},
		{"null data → no row, still in scope", v2f("field-7", "global", "text", `null`), nil, true, false},
		{"empty multi is null", v2f("field-3", "global", "dropdown-multi", `null`), nil, true, false},
		{"ranked dropdown takes rank and color from the warehouse", v2f("field-8", "list", "ranked-dropdown", `{"dropdownOptionId":31,"text":"Due Diligence","rank":3,"color":"blue"}`),
			[]string{`{"id":31,"text":"Due Diligence","rank":3,"color":2}`}, false, true},
		{"enriched with one twin", v2f("affinity-data-location", "enriched", "location", `{"city":"Austin"}`),
			[]string{`{"street_address":null,"city":"Austin","state":null,"country":null,"continent":null}`}, true, false},
		{"enriched with two twins stays on v1", v2f("affinity-data-industry", "enriched", "filterable-text", `"Software"`), nil, false, false},
		{"unknown v1 field", v2f("field-404", "global", "text", `"x"`), nil, false, false},
		{"built-in persons is no field value", v2f("persons", "enriched", "person-multi", `[{"id":1}]`), nil, false, false},
		{"relationship intelligence ignored", v2f("last-email", "relationship-intelligence", "interaction", `{"type":"email","id":1}`), nil, false, false},
		{"hidden ignored", v2f("field-7", "hidden", "text", `null`), nil, false, false},
		{"unknown value type kept raw", v2f("field-12", "global", "formula-number", `{"calculatedValue":4}`), []string{`{"calculatedValue":4}`}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := cat.mapV2(loader.EntityOrganization, 50001, &entry, []affinity.V2Field{tt.field})
			require.NoError(t, err)
			var got []string
			for _, v := range r.values.Values {
				got = append(got, string(v.Value))
				require.Equal(t, int64(50001), v.EntityID)
				require.Zero(t, v.ID)
				require.NotNil(t, v.ValueType)
				require.Equal(t, cat.fields[v.FieldID].ValueType, *v.ValueType)
				if tt.list {
					require.Equal(t, &entry, v.ListEntryID)
				} else {
					require.Nil(t, v.ListEntryID)
				}
			}
			require.Equal(t, tt.values, got)
			require.Equal(t, tt.global, len(r.values.GlobalFields) == 1, "global scope %v", r.values.GlobalFields)
			require.Equal(t, tt.list, len(r.listFields) == 1, "list fields %v", r.listFields)
		})
	}
}

func TestMapV2Projections(t *testing.T) {
	cat := testCatalog()
	r, err := cat.mapV2(loader.EntityOrganization, 50001, nil, []affinity.V2Field{
		v2f("field-5", "global", "datetime", `"2024-04-01T07:00:00.000Z"`),
		v2f("field-8", "list", "ranked-dropdown", `{"dropdownOptionId":31,"text":"x","rank":3,"color":"blue"}`),
	})
	require.NoError(t, err)
	require.Len(t, r.values.Values, 1, "a list field outside a list entry is not this read's")
	require.Equal(t, "2024-04-01T07:00:00Z", r.values.Values[0].Projection.Date.UTC().Format("2006-01-02T15:04:05Z07:00"))
}

func TestMapV2RefusesMalformedValues(t *testing.T) {
	cat := testCatalog()
	for _, f := range []affinity.V2Field{
		v2f("field-1", "global", "person-multi", `{"id":1}`),
		v2f("field-2", "global", "company", `{"name":"no id"}`),
		v2f("field-8", "list", "ranked-dropdown", `{"text":"no id"}`),
	} {
		entry := int64(1)
		_, err := cat.mapV2(loader.EntityOrganization, 50001, &entry, []affinity.V2Field{f})
		require.Error(t, err, f.ID)
		require.Contains(t, err.Error(), f.ID)
	}
}

func TestProbeDifference(t *testing.T) {
	cat := testCatalog()
	entry := int64(880001)
	r, err := cat.mapV2(loader.EntityOrganization, 50001, &entry, []affinity.V2Field{
		v2f("field-3", "global", "dropdown-multi", `[{"dropdownOptionId":1,"text":"AI"},{"dropdownOptionId":1,"text":"AI"}]`),
		v2f("field-4", "global", "number", `12.5`),
		v2f("field-5", "global", "datetime", `"2024-04-01T07:00:00.000Z"`),
		v2f("field-8", "list", "ranked-dropdown", `{"dropdownOptionId":31,"text":"Due Diligence","rank":3,"color":"blue"}`),
	})
	require.NoError(t, err)
	v1 := func(field int64, entryID *int64, raw string) loader.FieldValue {
		vt := cat.fields[field].ValueType
		v := affinity.Value{Raw: json.RawMessage(raw)}
		return loader.FieldValue{ID: field * 100, FieldID: field, EntityType: loader.EntityOrganization, EntityID: 50001,
			ListEntryID: entryID, ValueType: &vt, Value: rawValue(v), Projection: projection(v, &vt)}
	}
	other := int64(990000)
	same := []loader.FieldValue{
		v1(3, nil, `"AI"`), v1(3, nil, `"AI"`), v1(4, nil, `12.50`), v1(5, nil, `"2024-04-01T00:00:00-07:00"`),
		v1(8, &entry, `{"id":31,"text":"Due Diligence","rank":3,"color":2}`),
		v1(8, &other, `{"id":32,"text":"Closed","rank":4,"color":1}`), // another entry: not carried
		v1(7, nil, `"free text"`), // a field the v2 read did not carry
		v1(4, nil, `null`),        // v2 cannot send a null value
	}
	require.Empty(t, probeDifference(r, same))
	// A v1 value that is JSON null (v1 sends them; v2 serves data null, which is no row) is
	// no difference, on a global field as on a list field.
	require.Empty(t, probeDifference(r, append(slices.Clone(same), v1(4, nil, `null`), v1(8, &entry, `null`))))

	require.Contains(t, probeDifference(r, same[1:]), "entity 50001 field 3: v2 has \"AI\"")
	require.Equal(t, `entity 50001 field 4: v1 has 13, v2 has no such value`,
		probeDifference(r, append([]loader.FieldValue{v1(4, nil, `13`)}, same...)))
	changed := append([]loader.FieldValue(nil), same...)
	changed[4] = v1(8, &entry, `{"id":30,"text":"Intro","rank":1,"color":2}`)
	require.Equal(t, `entity 50001 field 8: v2 has {"id":31,"text":"Due Diligence","rank":3,"color":2}, v1 has {"id":30,"text":"Intro","rank":1,"color":2}`,
		probeDifference(r, changed))
}
