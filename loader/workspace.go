package loader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Workspace is the Affinity workspace (tenant) a schema holds, as /auth/whoami reports it.
type Workspace struct {
	TenantID        int64
	Name, Subdomain string
	FirstSeen       time.Time // when the first sync recorded it; zero for a workspace not stored
}

func (w Workspace) String() string { return fmt.Sprintf("%q (tenant %d)", w.Name, w.TenantID) }

// WorkspaceMismatchError reports a key of another workspace than the one the schema holds:
// nothing was written.
type WorkspaceMismatchError struct {
	Have Workspace // recorded in the schema
	Got  Workspace // the API key's
}

func (e *WorkspaceMismatchError) Error() string {
	return fmt.Sprintf("workspace mismatch: this schema holds workspace %s, but the API key belongs to workspace %s; nothing written (use another schema for that workspace)",
		e.Have, e.Got)
}

// CheckWorkspace guards the schema against a key of another workspace. On first use it
// records the workspace and returns nil, nil. When the schema holds the same tenant it
// returns the stored workspace (as it was before the call; a renamed tenant's name and
// subdomain are updated) and a nil error. When it holds another tenant it returns the stored
// workspace and a *WorkspaceMismatchError, and writes nothing.
func (s *Store) CheckWorkspace(ctx context.Context, tenantID int64, name, subdomain string) (existing *Workspace, err error) {
	var c cleaner
	got := Workspace{TenantID: tenantID, Name: c.str(name), Subdomain: c.str(subdomain)}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var have Workspace
		err := tx.QueryRow(ctx, `SELECT tenant_id, name, subdomain, first_seen FROM `+s.table("sync_workspace")).
			Scan(&have.TenantID, &have.Name, &have.Subdomain, &have.FirstSeen)
		if errors.Is(err, pgx.ErrNoRows) {
			// ON CONFLICT DO NOTHING: a concurrent first sync may record its workspace first;
			// then this one reads and compares it.
			tag, err := tx.Exec(ctx, `INSERT INTO `+s.table("sync_workspace")+` (tenant_id, name, subdomain, first_seen)
				VALUES ($1, $2, $3, now()) ON CONFLICT DO NOTHING`, got.TenantID, got.Name, got.Subdomain)
			if err != nil {
				return fmt.Errorf("record workspace: %w", err)
			}
			if tag.RowsAffected() == 1 {
				return nil
			}
			err = tx.QueryRow(ctx, `SELECT tenant_id, name, subdomain, first_seen FROM `+s.table("sync_workspace")).
				Scan(&have.TenantID, &have.Name, &have.Subdomain, &have.FirstSeen)
			if err != nil {
				return fmt.Errorf("read workspace: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("read workspace: %w", err)
		}
		existing = &have
		if have.TenantID != got.TenantID {
			return &WorkspaceMismatchError{Have: have, Got: got}
		}
		if have.Name != got.Name || have.Subdomain != got.Subdomain {
			if _, err := tx.Exec(ctx, `UPDATE `+s.table("sync_workspace")+` SET name = $2, subdomain = $3
				WHERE tenant_id = $1`, got.TenantID, got.Name, got.Subdomain); err != nil {
				return fmt.Errorf("update workspace name: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return existing, fmt.Errorf("check workspace: %w", err)
	}
	return existing, nil
}

// RecordedWorkspace returns the workspace the schema holds, nil before the first check.
func (s *Store) RecordedWorkspace(ctx context.Context) (*Workspace, error) {
	var have Workspace
	err := s.pool.QueryRow(ctx, `SELECT tenant_id, name, subdomain, first_seen FROM `+s.table("sync_workspace")).
		Scan(&have.TenantID, &have.Name, &have.Subdomain, &have.FirstSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read workspace: %w", err)
	}
	return &have, nil
}
