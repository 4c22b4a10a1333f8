package affinity

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValueProject(t *testing.T) {
	t.Parallel()
	date := time.Date(2024, 9, 1, 7, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		raw       string // "" = absent
		valueType ValueType
		want      Projection
	}{
		{"absent", "", ValueText, Projection{}},
		{"null text", `null`, ValueText, Projection{}},
		{"null ranked", `null`, ValueRankedDropdown, Projection{}},
		{"person", `70010044`, ValuePerson, Projection{EntityID: ptr(int64(70010044))}},
		{"organization above 2^53", `9007199254740993`, ValueOrganization, Projection{EntityID: ptr(int64(9007199254740993))}},
		{"person as string", `"70010044"`, ValuePerson, Projection{}},
		{"person as decimal", `12.5`, ValuePerson, Projection{}},
		{"dropdown", `"Fintech"`, ValueDropdown, Projection{Text: ptr("Fintech")}},
		{"dropdown wrong shape", `{"text":"x"}`, ValueDropdown, Projection{}},
		{"number integer", `2500000`, ValueNumber, Projection{Number: ptr("2500000")}},
		{"number decimal", `12.5`, ValueNumber, Projection{Number: ptr("12.5")}},
		{"number beyond float64 precision", `12345678901234567890.123456789`, ValueNumber, Projection{Number: ptr("12345678901234567890.123456789")}},
		{"number as string", `"12"`, ValueNumber, Projection{}},
		{"date with offset", `"2024-09-01T00:00:00.000-07:00"`, ValueDate, Projection{Date: &date}},
		{"date in utc without millis", `"2024-09-01T07:00:00Z"`, ValueDate, Projection{Date: &date}},
		{"date garbage", `"tomorrow"`, ValueDate, Projection{}},
		{"date number", `1725174000`, ValueDate, Projection{}},
		{"location full", `{"street_address":"1 Main St","city":"Austin","state":"Texas","country":"United States","continent":"North America"}`,
			ValueLocation, Projection{Text: ptr("1 Main St, Austin, Texas, United States, North America")}},
		{"location null and empty parts", `{"street_address":null,"city":"","state":"California","country":"United States","continent":null}`,
			ValueLocation, Projection{Text: ptr("California, United States")}},
		{"location keys out of order", `{"continent":"Europe","city":"Lyon"}`, ValueLocation, Projection{Text: ptr("Lyon, Europe")}},
		{"location all empty", `{"street_address":null,"city":"","state":null,"country":"","continent":null}`, ValueLocation, Projection{}},
		{"location wrong part type", `{"city":5}`, ValueLocation, Projection{}},
		{"location as string", `"Austin"`, ValueLocation, Projection{}},
		{"text", `"Met at demo day; strong team."`, ValueText, Projection{Text: ptr("Met at demo day; strong team.")}},
		{"text with unicode escapes", `"caf\u00e9"`, ValueText, Projection{Text: ptr("café")}},
		{"ranked dropdown", `{"id":880002,"text":"Diligence","rank":1,"color":3}`, ValueRankedDropdown,
			Projection{Text: ptr("Diligence"), OptionID: ptr(int64(880002))}},
		{"ranked dropdown as string", `"Diligence"`, ValueRankedDropdown, Projection{}},
		{"ranked dropdown array", `[1]`, ValueRankedDropdown, Projection{}},
		{"filterable text", `"B2B"`, ValueFilterableText, Projection{Text: ptr("B2B")}},
		{"unknown type", `"whatever"`, 99, Projection{}},
		{"unknown type object", `{"a":1}`, 99, Projection{}},
		{"negative type", `1`, -1, Projection{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v Value
			if tc.raw != "" {
				require.NoError(t, json.Unmarshal([]byte(tc.raw), &v))
			}
			got := v.Project(tc.valueType)
			require.Equal(t, tc.want.Text, got.Text)
			require.Equal(t, tc.want.Number, got.Number)
			require.Equal(t, tc.want.EntityID, got.EntityID)
			require.Equal(t, tc.want.OptionID, got.OptionID)
			if tc.want.Date == nil {
				require.Nil(t, got.Date)
			} else {
				require.NotNil(t, got.Date)
				require.True(t, tc.want.Date.Equal(*got.Date), "got %s", got.Date)
			}
		})
	}
}

func TestValueKeepsRawAndNull(t *testing.T) {
	t.Parallel()
	var fv struct {
		A Value `json:"a"`
		B Value `json:"b"`
		C Value `json:"c"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"a":null,"b":{"id": 9007199254740993}}`), &fv))
	require.True(t, fv.A.IsNull())
	require.Equal(t, "null", string(fv.A.Raw))
	require.False(t, fv.B.IsNull())
	require.Equal(t, `{"id": 9007199254740993}`, string(fv.B.Raw), "kept byte for byte")
	require.True(t, fv.C.IsNull(), "absent")
	out, err := json.Marshal(fv)
	require.NoError(t, err)
	require.Equal(t, `{"a":null,"b":{"id":9007199254740993},"c":null}`, string(out))
}
