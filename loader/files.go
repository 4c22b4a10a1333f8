package loader

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EntityFile is one row of entity_files: a file's metadata, never its bytes.
type EntityFile struct {
	ID                                      int64
	Name                                    string
	Size                                    int64
	PersonID, OrganizationID, OpportunityID *int64
	UploaderID                              int64
	CreatedAt                               time.Time
}

// EntityFileSet is one entity's complete file set (the per-entity fallback read): its files
// are upserted, its live files not in the set are soft-deleted, and sync_file_fetches records
// FetchedAt for the entity — all in the page's transaction.
type EntityFileSet struct {
	Entity    EntityKey
	Files     []EntityFile
	FetchedAt time.Time
}

// entityFilesTable is how a page's files are staged and upserted (live again).
var entityFilesTable = stagedTable{name: "entity_files", key: idKey, cols: []string{"id", "name", "size",
	"person_id", "organization_id", "opportunity_id", "uploader_id", "created_at", "synced_at"}}

// fileRows are a page's files (those of EntityFiles and of every set, one per id, the last
// given winning) and the sets they replace.
type fileRows struct {
	rows [][]any
	// The sets, element by element: each entity's kind and id, when it was read, and the
	// files it holds (setOf[i] is the set index of keepIDs[i]).
	setTypes   []int16
	setIDs     []int64
	setFetched []time.Time
	keepSets   []int32
	keepIDs    []int64
}

func fileRowsOf(c *cleaner, files []EntityFile, sets []EntityFileSet, seenAt time.Time) fileRows {
	var out fileRows
	all := files
	sets = lastByKey(sets, func(s EntityFileSet) EntityKey { return s.Entity })
	for i, s := range sets {
		all = append(all[:len(all):len(all)], s.Files...)
		out.setTypes = append(out.setTypes, int16(clampSmallint(int(s.Entity.Type))))
		out.setIDs = append(out.setIDs, s.Entity.ID)
		out.setFetched = append(out.setFetched, s.FetchedAt)
		for _, f := range s.Files {
			out.keepSets = append(out.keepSets, int32(i))
			out.keepIDs = append(out.keepIDs, f.ID)
		}
	}
	for _, f := range lastByID(all, func(f EntityFile) int64 { return f.ID }) {
		out.rows = append(out.rows, []any{f.ID, c.str(f.Name), f.Size, f.PersonID, f.OrganizationID, f.OpportunityID,
			f.UploaderID, f.CreatedAt, seenAt})
	}
	return out
}

// commitFiles upserts the page's files, then replaces each set: the live files of the set's
// entity not in it are soft-deleted and the read is recorded in sync_file_fetches. It returns
// the rows written and soft-deleted.
func (s *Store) commitFiles(ctx context.Context, tx pgx.Tx, f fileRows) (int64, error) {
	written, err := s.writeStaged(ctx, tx, entityFilesTable, f.rows)
	if err != nil {
		return 0, fmt.Errorf("upsert entity files page: %w", err)
	}
	if len(f.setIDs) == 0 {
		return written, nil
	}
	tag, err := tx.Exec(ctx, `UPDATE `+s.table("entity_files")+` f SET deleted_at = now()
		FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS e(entity_type, entity_id, n)
		WHERE f.deleted_at IS NULL
		  AND ((e.entity_type = `+sqlCode(EntityPerson)+` AND f.person_id = e.entity_id)
		    OR (e.entity_type = `+sqlCode(EntityOrganization)+` AND f.organization_id = e.entity_id)
		    OR (e.entity_type = `+sqlCode(EntityOpportunity)+` AND f.opportunity_id = e.entity_id))
		  AND NOT EXISTS (SELECT 1 FROM unnest($3::int[], $4::bigint[]) AS k(set_index, id)
		                  WHERE k.set_index = e.n - 1 AND k.id = f.id)`,
		f.setTypes, f.setIDs, f.keepSets, f.keepIDs)
	if err != nil {
		return 0, fmt.Errorf("replace entity file sets: %w", err)
	}
	written += tag.RowsAffected()
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_file_fetches")+` (entity_type, entity_id, fetched_at)
		SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::timestamptz[])
		ON CONFLICT (entity_type, entity_id) DO UPDATE SET fetched_at = EXCLUDED.fetched_at`,
		f.setTypes, f.setIDs, f.setFetched); err != nil {
		return 0, fmt.Errorf("record entity file reads: %w", err)
	}
	return written, nil
}
