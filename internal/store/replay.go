package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// AuditEventsReplay is the audit action of a replay (one event or a filter).
const AuditEventsReplay = "events.replay"

// AuditEventsProcessed is the audit action of POST /api/v1/events/processed
// (a declared source's workflow reporting outcomes).
const AuditEventsProcessed = "events.processed"

// AttrReplay is the attr that counts a declared source's event's replays
// (absent before its first).
const AttrReplay = "replay"

// ReplaySources are the sources whose events can be replayed: every webhook
// source. A job's submission is not (the job and its callback have their
// own retries).
var ReplaySources = []string{SimplyPrintSource, OkdeskSource, TelegramSource, BitrixSource, BitrixBackSyncSource}

// ReplayEvents hands processed events to their flow again, as actor: each is
// made pending (processed false, outcome and error cleared) and queued in
// relay_outbox in the same transaction, with one audit entry (target and
// filter as given, the count replayed). The relay then signals each
// entity's workflow with its events in id order, and the flow applies them
// as it applied them first (a printer's newest event re-applies its state;
// an older one is stale). Events still pending, ignored at the edge, of a
// source that cannot be replayed, or unknown are left out; replayed says
// which were taken; so is an event whose relay_outbox row is still there
// (replayed already, or the relay has signalled its workflow but not yet
// deleted the row: re-queueing it then would be deleted with it). Dedup is
// untouched: the event keeps its dedup key, so a
// provider's redelivery is still a duplicate.
//
// declared names the sources of SOURCES_FILE: their events are replayable
// too, once handed over, whether or not their workflow has reported them
// processed (a run that failed before reporting is what one replays), and
// each replay raises the event's attrs.replay (1 on the first replay), which
// the relay hands over with the event (hookflowsdk.Event.Replay) and a
// start-mode hand-over puts in the run's workflow ID.
func (s *Store) ReplayEvents(ctx context.Context, actor, target string, filter json.RawMessage, ids []int64, declared []string) (replayed []int64, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH r AS (
				UPDATE inbound_events e SET processed = false, processed_at = NULL, outcome = NULL, error = NULL,
					attrs = CASE WHEN e.source = ANY($3)
						THEN jsonb_set(e.attrs, '{`+AttrReplay+`}', to_jsonb(coalesce((e.attrs->>'`+AttrReplay+`')::bigint, 0) + 1))
						ELSE e.attrs END
				WHERE e.id = ANY($1) AND (e.processed OR e.source = ANY($3)) AND e.outcome IS DISTINCT FROM 'ignored'
				  AND (e.source = ANY($2) OR e.source = ANY($3))
				  AND e.workflow_id <> '' AND NOT EXISTS (SELECT 1 FROM relay_outbox o WHERE o.event_id = e.id)
				RETURNING e.id, e.source, e.workflow_id, e.entity_id, e.traceparent, e.received_at)
			INSERT INTO relay_outbox (event_id, source, workflow_id, entity_id, traceparent, received_at)
			SELECT id, source, workflow_id, entity_id, traceparent, received_at FROM r ORDER BY id
			RETURNING event_id`, ids, ReplaySources, declared)
		if err != nil {
			return err
		}
		if replayed, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: AuditEventsReplay, Target: target, Filter: filter,
			Count: int64(len(replayed)), Result: AuditOK, Detail: AuditDetail(map[string]any{"asked": len(ids), "replayed": replayed})})
	})
	return replayed, err
}
