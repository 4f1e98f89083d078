package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/sources"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
	"github.com/hookflow/hookflow/workflows"
)

// What the API records in an event's attrs for a declared source, for the
// hand-over (and the events API).
const (
	AttrDedup   = "dedup"
	AttrKey     = "key"
	AttrHeaders = "headers"
)

// maxSignalBytes bounds the events one signal carries (Temporal refuses
// payloads over 2 MB and warns from 256 KB): a larger group goes as several
// signals, in order.
const maxSignalBytes = 512 << 10

// handOver gives a group of a declared source's events (one workflow ID, in
// id order) to the user's workflow: a SignalWithStart per batch in mode
// signal, a run per event in mode start.
func (r *Relay) handOver(ctx context.Context, g *group, src *sources.Source) error {
	rows, err := r.store.EventsByID(ctx, g.ids)
	if err != nil {
		return err
	}
	events := make([]hookflowsdk.Event, 0, len(rows))
	for _, row := range rows {
		events = append(events, SDKEvent(row, src.MaxInlineBody))
	}
	opts := client.StartWorkflowOptions{
		ID:        g.workflowID,
		TaskQueue: src.Target.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchSource.ValueSet(g.source),
			workflows.SearchEntity.ValueSet(g.entityID),
		),
	}
	call := func(f func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return f(cctx)
	}
	if src.Target.Mode == sources.ModeStart {
		// One event per workflow ID: a run that exists already (a hand-over
		// retried after its start went through) is not started again.
		opts.WorkflowIDReusePolicy = enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
		opts.WorkflowIDConflictPolicy = enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL
		opts.WorkflowExecutionErrorWhenAlreadyStarted = true
		for _, ev := range events {
			opts.ID = StartModeID(g.workflowID, ev.Replay)
			err := call(func(ctx context.Context) error {
				_, err := r.temporal.ExecuteWorkflow(ctx, opts, src.Target.Workflow, ev)
				return err
			})
			var started *serviceerror.WorkflowExecutionAlreadyStarted
			if err != nil && !errors.As(err, &started) {
				return fmt.Errorf("start %s for event %d: %w", opts.ID, ev.ID, err)
			}
		}
		return nil
	}
	start := hookflowsdk.Start{Source: g.source, Key: g.entityID}
	for _, part := range splitBatches(events, maxSignalBytes) {
		batch := hookflowsdk.Batch{Source: g.source, Key: g.entityID, Events: part}
		if err := call(func(ctx context.Context) error {
			_, err := r.temporal.SignalWithStartWorkflow(ctx, g.workflowID, src.Target.Signal, batch, opts, src.Target.Workflow, start)
			return err
		}); err != nil {
			// The batches before this one went through and the whole group
			// is retried: a workflow may see their events twice (each
			// event's id tells it), never out of order.
			return err
		}
	}
	return nil
}

// StartModeID is the workflow ID of a start-mode run: the event's own ID
// (from target.workflow_id) as acked, "<id>-replay-<n>" for its n-th replay.
// Each replay has an ID of its own, fixed when the replay is queued, so a
// replay is a new run even while the first is still running or its ID is
// kept in Temporal's retention, and a hand-over retried after its start went
// through is refused as already started: one run per replay request.
// (Reusing the first ID with an allow-duplicate policy would do neither: it
// fails while the first run is open, and a retried hand-over of a quick run
// that closed meanwhile would start it twice.)
func StartModeID(workflowID string, replay int) string {
	if replay <= 0 {
		return workflowID
	}
	return fmt.Sprintf("%s-replay-%d", workflowID, replay)
}

// splitBatches cuts events, in order, into runs of at most maxBytes each
// (by eventSize); an event larger than that alone is a run of its own.
func splitBatches(events []hookflowsdk.Event, maxBytes int) [][]hookflowsdk.Event {
	var out [][]hookflowsdk.Event
	for len(events) > 0 {
		n, size := 0, 0
		for n < len(events) && (n == 0 || size+eventSize(events[n]) <= maxBytes) {
			size += eventSize(events[n])
			n++
		}
		out = append(out, events[:n])
		events = events[n:]
	}
	return out
}

func eventSize(ev hookflowsdk.Event) int {
	n := 256 + len(ev.Body) + len(ev.Dedup) + len(ev.Key) + len(ev.EventType)
	for k, v := range ev.Headers {
		n += len(k) + len(v) + 8
	}
	return n
}

// SDKEvent is a recorded event of a declared source as its workflow
// receives it: the body inline up to maxInline bytes, else a reference.
func SDKEvent(row store.InboundEvent, maxInline int) hookflowsdk.Event {
	ev := hookflowsdk.Event{ID: row.ID, Source: row.Source, Key: row.EntityID, EventType: row.EventType,
		BodySize: len(row.Payload), ReceivedAt: row.ReceivedAt}
	if ev.EventType == DeclaredNoType {
		ev.EventType = ""
	}
	ev.Dedup, _ = row.Attrs[AttrDedup].(string)
	if hs, ok := row.Attrs[AttrHeaders].(map[string]any); ok {
		ev.Headers = make(map[string]string, len(hs))
		for k, v := range hs {
			if s, ok := v.(string); ok {
				ev.Headers[k] = s
			}
		}
	}
	switch n := row.Attrs[store.AttrReplay].(type) { // jsonb: a float64 after decoding
	case float64:
		ev.Replay = int(n)
	case json.Number:
		i, _ := n.Int64()
		ev.Replay = int(i)
	}
	if len(row.Payload) <= maxInline {
		ev.Body = row.Payload
	} else {
		ev.BodyRef = fmt.Sprintf("/api/v1/events/%d", row.ID)
	}
	return ev
}

// DeclaredNoType is the event type recorded for a source that declares no
// event_type.
const DeclaredNoType = "webhook"
