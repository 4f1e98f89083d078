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
	// AuditSourcesReload: POST /api/v1/sources/reload (SOURCES_FILE read again).
	AuditSourcesReload = "sources.reload"
	AuditClientPause   = "client.pause"  // POST /api/v1/clients/{client}/pause
	AuditClientResume  = "client.resume" // POST /api/v1/clients/{client}/resume
)

// Pause is a source's or callback client's pause: whether, since when, by
// whom and why (the first pause's, while it lasts).
type Pause struct {
	Paused   bool       `json:"paused"`
	PausedAt *time.Time `json:"paused_at,omitempty"`
	PausedBy string     `json:"paused_by,omitempty"` // the token's name
	Reason   string     `json:"reason,omitempty"`
}

// SourceState is a source's pause state and the events the relay holds for
// it (its relay_outbox rows: while paused, everything it acked since).
type SourceState struct {
	Source string `json:"source"`
	Pause
	Held int64 `json:"held"` // recorded, acked, not yet handed to Temporal
}

// SourceStates lists the given sources, in that order, with their pause
// state and backlog. The outbox holds only events not yet handed over, so
// counting it by source is a scan of a small table (no index on source:
// that would cost every ack an index insert).
func (s *Store) SourceStates(ctx context.Context, sources []string) ([]SourceState, error) {
	rows, err := s.pauseStates(ctx, sourcePauses, sources, `SELECT count(*) FROM relay_outbox o WHERE o.source = n.name`)
	out := make([]SourceState, len(rows))
	for i, r := range rows {
		out[i] = SourceState{Source: r.name, Pause: r.Pause, Held: r.n}
	}
	return out, err
}

// pauseRow is a name's pause state and the count of what waits for it.
type pauseRow struct {
	name string
	Pause
	n int64
}

// pauseStates reads the given names' pause rows from t, in that order,
// with count (a scalar subquery on n.name) for each.
func (s *Store) pauseStates(ctx context.Context, t pauseTable, names []string, count string) ([]pauseRow, error) {
	rows, err := s.Pool.Query(ctx, `
		SELECT n.name, p.paused_at, coalesce(p.paused_by, ''), coalesce(p.reason, ''), (`+count+`)
		FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord)
		LEFT JOIN `+t.table+` p ON p.`+t.key+` = n.name
		ORDER BY n.ord`, names)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (pauseRow, error) {
		var p pauseRow
		err := r.Scan(&p.name, &p.PausedAt, &p.PausedBy, &p.Reason, &p.n)
		p.Paused = p.PausedAt != nil
		return p, err
	})
}

// paused lists the paused names of t, sorted.
func (s *Store) paused(ctx context.Context, t pauseTable) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+t.key+` FROM `+t.table+` ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// PausedClients lists the paused callback clients (for /readyz).
func (s *Store) PausedClients(ctx context.Context) ([]string, error) {
	return s.paused(ctx, clientPauses)
}

// PausedSources lists the paused sources (for /readyz).
func (s *Store) PausedSources(ctx context.Context) ([]string, error) {
	return s.paused(ctx, sourcePauses)
}

// SetSourcePaused pauses (paused true) or resumes a source as actor, and
// writes the audit entry in the same transaction. Both are idempotent:
// pausing a paused source keeps its first pause (when, by whom, why) and
// resuming a running one changes nothing; changed says which, and the
// entry records it (count 0, detail unchanged). The source must be one of
// the known sources: the caller checks.
func (s *Store) SetSourcePaused(ctx context.Context, actor, source string, paused bool, reason string) (changed bool, err error) {
	return s.setPaused(ctx, sourcePauses, actor, source, paused, reason)
}

// SetClientPaused pauses or resumes a callback client as SetSourcePaused
// does a source: while paused, the client's deliveries wait before each
// attempt (CallbackDelivery), with their schedule intact.
func (s *Store) SetClientPaused(ctx context.Context, actor, clientID string, paused bool, reason string) (changed bool, err error) {
	return s.setPaused(ctx, clientPauses, actor, clientID, paused, reason)
}

// pauseTable is where a kind of pause is kept and how it is audited
// (constants of this package, never input).
type pauseTable struct {
	table, key          string
	pauseAct, resumeAct string
}

var (
	sourcePauses = pauseTable{"source_pauses", "source", AuditSourcePause, AuditSourceResume}
	clientPauses = pauseTable{"client_pauses", "client_id", AuditClientPause, AuditClientResume}
)

func (s *Store) setPaused(ctx context.Context, t pauseTable, actor, name string, paused bool, reason string) (changed bool, err error) {
	if actor == "" || name == "" {
		return false, errors.New("pause: no actor or name")
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	action := t.resumeAct
	var tag interface{ RowsAffected() int64 }
	if paused {
		action = t.pauseAct
		tag, err = tx.Exec(ctx, `INSERT INTO `+t.table+` (`+t.key+`, paused_by, reason) VALUES ($1, $2, $3)
			ON CONFLICT (`+t.key+`) DO NOTHING`, name, Text(actor), Text(reason))
	} else {
		tag, err = tx.Exec(ctx, `DELETE FROM `+t.table+` WHERE `+t.key+` = $1`, name)
	}
	if err != nil {
		return false, err
	}
	changed = tag.RowsAffected() == 1
	detail := map[string]any{"changed": changed}
	if paused && reason != "" {
		detail["reason"] = reason
	}
	e := AuditEntry{Actor: actor, Action: action, Target: name, Result: AuditOK, Detail: AuditDetail(detail)}
	if changed {
		e.Count = 1
	}
	if err := RecordAudit(ctx, tx, e); err != nil {
		return false, err
	}
	return changed, tx.Commit(ctx)
}

// ClientState is a callback client's pause state and its deliveries
// waiting for an attempt.
type ClientState struct {
	ClientID string `json:"client_id"`
	Pause
	Pending int64 `json:"pending"` // deliveries not finished yet (waiting, while paused)
}

// ClientStates lists the given clients, in that order, with their pause
// state and pending deliveries (through callback_deliveries_pending).
func (s *Store) ClientStates(ctx context.Context, clients []string) ([]ClientState, error) {
	rows, err := s.pauseStates(ctx, clientPauses, clients,
		`SELECT count(*) FROM callback_deliveries d WHERE d.status = 'pending' AND d.client_id = n.name`)
	out := make([]ClientState, len(rows))
	for i, r := range rows {
		out[i] = ClientState{ClientID: r.name, Pause: r.Pause, Pending: r.n}
	}
	return out, err
}

// ClientPaused tells whether a callback client is paused.
func (s *Store) ClientPaused(ctx context.Context, clientID string) (bool, error) {
	var paused bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM client_pauses WHERE client_id = $1)`, clientID).Scan(&paused)
	return paused, err
}
