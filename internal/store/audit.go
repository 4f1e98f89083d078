package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Audit actions: one name per kind of admin action (audit_log.action).
// Later actions (events.replay, deliveries.retry, source.pause) add theirs.
const (
	AuditDeliveryRetry     = "delivery.retry"         // POST /api/v1/webhook-deliveries/{id}/retry (and the console's button)
	AuditDeliveryRetryBulk = "delivery.retry_bulk"    // POST /api/v1/webhook-deliveries/retry: the filter and how many
	AuditOrderUpdate       = "order.update"           // PATCH /api/orders/{id}
	AuditContactLink       = "okdesk.contact.link"    // POST /api/v1/okdesk/contacts/{id}/link
	AuditTestEvent         = "simplyprint.test_event" // POST /ops/simplyprint/test-event
	AuditDemoAction        = "demo.action"            // POST /ops/demo/act: a fake's user acting (demo mode only)
)

// Audit results besides an HTTP-derived one.
const (
	AuditOK       = "ok"
	AuditNotFound = "not_found"
	AuditConflict = "conflict" // refused: the action does not apply now (a pending delivery)
	AuditError    = "error"    // it could not be carried out; nothing changed
)

// AuditEntry is one row of audit_log.
type AuditEntry struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`  // the token's name, never the token
	Action string          `json:"action"` // AuditDeliveryRetry ...
	Target string          `json:"target"` // what it acted on
	Filter json.RawMessage `json:"filter"` // a bulk action's filter; null for one target
	Count  int64           `json:"count"`  // how many things it touched
	Result string          `json:"result"` // AuditOK, or why not
	Detail json.RawMessage `json:"detail"` // anything else worth keeping; null when none
}

// RecordAudit writes e through db, a pool or the action's own transaction
// (Execer); its ID and At are set by the database.
func RecordAudit(ctx context.Context, db Execer, e AuditEntry) error {
	if e.Actor == "" || e.Action == "" || e.Result == "" {
		return fmt.Errorf("audit entry without actor, action or result: %+v", e)
	}
	_, err := db.Exec(ctx, `INSERT INTO audit_log (actor, action, target, filter, count, result, detail)
		VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7::jsonb)`,
		Text(e.Actor), e.Action, Text(e.Target), jsonArg(e.Filter), e.Count, e.Result, jsonArg(e.Detail))
	return err
}

// RecordAudit writes e through the pool (an action outside a transaction,
// or one whose transaction rolled back).
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	return RecordAudit(ctx, s.Pool, e)
}

func jsonArg(b json.RawMessage) *string {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	v := string(b)
	return &v
}

// AuditDetail marshals v for AuditEntry.Detail or Filter (nil on failure:
// the entry is kept without it).
func AuditDetail(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// AuditCursor is an entry's position in ListAudit's order (at DESC, id DESC).
type AuditCursor struct {
	At time.Time
	ID int64
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	Action string
	Actor  string
	Before *AuditCursor // the next page starts after it
	Limit  int
}

// ListAuditQuery is ListAudit's statement: each filter seeks its own index
// (audit_log_by_action, audit_log_by_actor, audit_log_newest).
func ListAuditQuery(f AuditFilter) (string, []any) {
	q, args := `SELECT id, at, actor, action, target, filter, count, result, detail FROM audit_log WHERE true`, []any{f.Limit}
	if f.Action != "" {
		args = append(args, f.Action)
		q += fmt.Sprintf(` AND action = $%d`, len(args))
	}
	if f.Actor != "" {
		args = append(args, f.Actor)
		q += fmt.Sprintf(` AND actor = $%d`, len(args))
	}
	if f.Before != nil {
		args = append(args, f.Before.At, f.Before.ID)
		q += fmt.Sprintf(` AND (at, id) < ($%d, $%d)`, len(args)-1, len(args))
	}
	return q + ` ORDER BY at DESC, id DESC LIMIT $1`, args
}

// ListAudit lists audit entries newest first, keyset-paged.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q, args := ListAuditQuery(f)
	rows, err := s.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var filter, detail []byte
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &filter, &e.Count, &e.Result, &detail)
		if filter != nil {
			e.Filter = filter
		}
		if detail != nil {
			e.Detail = detail
		}
		return e, err
	})
}
