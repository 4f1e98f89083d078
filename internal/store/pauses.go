package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Audit actions of source pauses (issue 12).
const (
	AuditSourcePause  = "source.pause"  // POST /api/v1/sources/{source}/pause (and the console's toggle)
	AuditSourceResume = "source.resume" // POST /api/v1/sources/{source}/resume
)

// SourceState is a source's pause state and the events the relay holds for
// it (its relay_outbox rows: while paused, everything it acked since).
type SourceState struct {
	Source   string     `json:"source"`
	Paused   bool       `json:"paused"`
	PausedAt *time.Time `json:"paused_at,omitempty"`
	PausedBy string     `json:"paused_by,omitempty"` // the token's name
	Reason   string     `json:"reason,omitempty"`
	Held     int64      `json:"held"` // recorded, acked, not yet handed to Temporal
}

// SourceStates lists the given sources, in that order, with their pause
// state and backlog. The outbox holds only events not yet handed over, so
// counting it by source is a scan of a small table (no index on source:
// that would cost every ack an index insert).
func (s *Store) SourceStates(ctx context.Context, sources []string) ([]SourceState, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT s.source, p.paused_at, coalesce(p.paused_by, ''), coalesce(p.reason, ''),
		       coalesce((SELECT n FROM (SELECT source, count(*) AS n FROM relay_outbox GROUP BY source) o WHERE o.source = s.source), 0)
		FROM unnest($1::text[]) WITH ORDINALITY AS s(source, ord)
		LEFT JOIN source_pauses p ON p.source = s.source
		ORDER BY s.ord`, sources)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SourceState, error) {
		var st SourceState
		err := r.Scan(&st.Source, &st.PausedAt, &st.PausedBy, &st.Reason, &st.Held)
		st.Paused = st.PausedAt != nil
		return st, err
	})
}

// PausedSources lists the paused sources (for /readyz).
func (s *Store) PausedSources(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT source FROM source_pauses ORDER BY source`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// SetSourcePaused pauses (paused true) or resumes a source as actor, and
// writes the audit entry in the same transaction. Both are idempotent:
// pausing a paused source keeps its first pause (when, by whom, why) and
// resuming a running one changes nothing; changed says which, and the
// entry records it (count 0, detail unchanged). The source must be one of
// the known sources: the caller checks.
func (s *Store) SetSourcePaused(ctx context.Context, actor, source string, paused bool, reason string) (changed bool, err error) {
	if actor == "" || source == "" {
		return false, errors.New("pause: no actor or source")
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	action := AuditSourceResume
	var tag interface{ RowsAffected() int64 }
	if paused {
		action = AuditSourcePause
		tag, err = tx.Exec(ctx, `INSERT INTO source_pauses (source, paused_by, reason) VALUES ($1, $2, $3)
			ON CONFLICT (source) DO NOTHING`, source, Text(actor), Text(reason))
	} else {
		tag, err = tx.Exec(ctx, `DELETE FROM source_pauses WHERE source = $1`, source)
	}
	if err != nil {
		return false, err
	}
	changed = tag.RowsAffected() == 1
	detail := map[string]any{"changed": changed}
	if paused && reason != "" {
		detail["reason"] = reason
	}
	e := AuditEntry{Actor: actor, Action: action, Target: source, Result: AuditOK, Detail: AuditDetail(detail)}
	if changed {
		e.Count = 1
	}
	if err := RecordAudit(ctx, tx, e); err != nil {
		return false, err
	}
	return changed, tx.Commit(ctx)
}
