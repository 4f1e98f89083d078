// Package hookflowsdk is what a Go worker needs to receive the events of a
// source declared in hookflow's SOURCES_FILE: the payload types the relay
// hands over, and an activity that marks events processed. It imports
// nothing of hookflow, so a user's module can depend on it alone. Workers in
// other languages use the same JSON (docs/sources.md).
//
// In target mode "signal" the relay calls SignalWithStart on the key's
// workflow (ID from target.workflow_id) with the signal target.signal and a
// Batch; the workflow starts with a Start. In mode "start" each event starts
// its own run with an Event as its only argument. An operator's replay
// hands an event over again with Event.Replay set (see Event.IsReplay).
package hookflowsdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Event is one recorded webhook, as a workflow receives it.
type Event struct {
	// ID is hookflow's id of the recorded event (GET /api/v1/events/{id}).
	ID     int64  `json:"id"`
	Source string `json:"source"`
	// Key is the value of the source's key ("" without a key).
	Key string `json:"key,omitempty"`
	// Dedup is the sender's delivery identity (or the SHA-256 of the body).
	Dedup string `json:"dedup"`
	// EventType is the value of the source's event_type ("" without one).
	EventType string `json:"event_type,omitempty"`
	// Headers are the headers the source lists under headers, as sent.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the request body, JSON as received; empty when the body is
	// larger than the source's max_inline_body: then BodyRef is set.
	Body json.RawMessage `json:"body,omitempty"`
	// BodyRef is the API path that returns the whole event, body included
	// (GET, admin token), when Body was left out.
	BodyRef string `json:"body_ref,omitempty"`
	// BodySize is the body's length in bytes.
	BodySize   int       `json:"body_size"`
	ReceivedAt time.Time `json:"received_at"`
	// Replay is 0 when the event is handed over as it was acked, n when an
	// operator replayed it for the n-th time (hookflow events replay, POST
	// /api/v1/events/{id}/replay). A redelivery after a failed hand-over
	// repeats the same ID and Replay; a replay raises Replay. See IsReplay.
	Replay int `json:"replay,omitempty"`
}

// IsReplay tells whether the event is handed over again by an operator's
// replay rather than as it was acked.
//
// A replay is deliberate: someone wants the event processed again. In mode
// start it comes as a new run, workflow ID "<the template's ID>-replay-<n>",
// so it is never refused as a run that exists. In mode signal it comes to
// the key's workflow in a Batch like any event, with its original ID: a
// workflow that skips ids it has applied (to ignore redeliveries) decides
// here what a replay means for it: apply it again (idempotent effects),
// or report it skipped, so the operator sees the replay arrived and what
// became of it (the example in examples/github-issues does this for
// events its state is already past).
func (e Event) IsReplay() bool { return e.Replay > 0 }

// Batch is what one signal carries: events of one key, in the order they
// were acked. A key's events come in several batches over time, never out
// of order.
type Batch struct {
	Source string  `json:"source"`
	Key    string  `json:"key,omitempty"`
	Events []Event `json:"events"`
}

// Start is the argument a signal-mode workflow is started with.
type Start struct {
	Source string `json:"source"`
	Key    string `json:"key,omitempty"`
}

// Outcome is what a workflow records for an event it processed.
type Outcome struct {
	ID      int64  `json:"id"`
	Outcome string `json:"outcome"`         // e.g. applied, skipped, failed
	Error   string `json:"error,omitempty"` // why, for failed
}

// Processed is the body of POST /api/v1/events/processed.
type Processed struct {
	Events []Outcome `json:"events"`
}

// Client calls a hookflow's API. Token is an admin token.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client // nil: http.DefaultClient
}

// MarkProcessed records outcomes of events (each once: an event already
// processed keeps its first outcome, so an activity retry is harmless). It
// is an activity: register it with
// worker.RegisterActivityWithOptions(c.MarkProcessed, activity.RegisterOptions{Name: ActivityMarkProcessed}).
func (c *Client) MarkProcessed(ctx context.Context, p Processed) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/api/v1/events/processed", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
		return fmt.Errorf("hookflow answered %s: %s", res.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// ActivityMarkProcessed is the activity name MarkProcessed is registered as.
const ActivityMarkProcessed = "hookflow.MarkProcessed"
