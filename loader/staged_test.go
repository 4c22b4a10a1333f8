package loader

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMergeSQL(t *testing.T) {
	t.Parallel()
	s := &Store{schema: "w"}
	tests := []struct {
		name  string
		table stagedTable
		want  string
	}{
		{
			name:  "revive: every column but the key overwritten, live again",
			table: stagedTable{name: "t", key: idKey, cols: []string{"id", "a", "b"}},
			want: `INSERT INTO "w"."t" ("id", "a", "b", deleted_at)
				SELECT DISTINCT ON ("id") "id", "a", "b", NULL::timestamptz FROM stage ORDER BY "id"
				ON CONFLICT ("id") DO UPDATE SET "a" = EXCLUDED."a", "b" = EXCLUDED."b", deleted_at = NULL`,
		},
		{
			name:  "overwrite: no deleted_at",
			table: stagedTable{name: "t", key: []string{"k1", "k2"}, cols: []string{"k1", "k2", "a"}, onConflict: overwriteRow},
			want: `INSERT INTO "w"."t" ("k1", "k2", "a")
				SELECT DISTINCT ON ("k1", "k2") "k1", "k2", "a" FROM stage ORDER BY "k1", "k2"
				ON CONFLICT ("k1", "k2") DO UPDATE SET "a" = EXCLUDED."a"`,
		},
		{
			name:  "overwrite of a key alone: nothing to overwrite",
			table: stagedTable{name: "t", key: []string{"k1", "k2"}, cols: []string{"k1", "k2"}, onConflict: overwriteRow},
			want: `INSERT INTO "w"."t" ("k1", "k2")
				SELECT DISTINCT ON ("k1", "k2") "k1", "k2" FROM stage ORDER BY "k1", "k2"
				ON CONFLICT ("k1", "k2") DO NOTHING`,
		},
		{
			name:  "keep: a stored row is never modified",
			table: stagedTable{name: "t", key: idKey, cols: []string{"id", "a"}, onConflict: keepRow},
			want: `INSERT INTO "w"."t" ("id", "a")
				SELECT DISTINCT ON ("id") "id", "a" FROM stage ORDER BY "id"
				ON CONFLICT ("id") DO NOTHING`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, strings.Fields(tt.want), strings.Fields(s.mergeSQL(tt.table, "stage")))
		})
	}
}
