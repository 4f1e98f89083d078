package simplyprint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is one inbound SimplyPrint webhook, parsed loosely: field names vary
// between vendor samples and the seed, so unknown shapes are kept raw.
type Event struct {
	WebhookID    int64  // 0 for sample payloads and the seed's {"test": true}
	Name         string // the event name as sent (job.done, job.finished, ...)
	Type         string // hookflow's mapped type (job_completed, ...)
	Timestamp    int64  // unix seconds; 0 when absent
	PrinterID    int64
	PrinterName  string
	PrinterState string // for printer.* events, when the payload says
	JobID        string
	Job          *Job
	QueueItemID  string
	Data         json.RawMessage
}

// Job is the part of data.job hookflow keeps in its read model.
type Job struct {
	ID         string
	State      string
	File       string
	Percentage *int
	Started    *time.Time
	Ended      *time.Time
	Duration   *int // seconds
}

// Time is the provider's event time (zero when the payload has none).
func (e Event) Time() time.Time {
	if e.Timestamp == 0 {
		return time.Time{}
	}
	return time.Unix(e.Timestamp, 0).UTC()
}

// InputError is a payload that cannot be accepted; Field names the culprit.
type InputError struct {
	Field, Problem string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Problem }

// webhookEnvelope mirrors the top level; json.RawMessage keeps type checks ours.
type webhookEnvelope struct {
	WebhookID json.RawMessage `json:"webhook_id"`
	Event     json.RawMessage `json:"event"`
	Timestamp json.RawMessage `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Test      json.RawMessage `json:"test"`
}

// ParseEvent validates and parses a webhook body. The seed's curl check
// `{"test": true}` is the event "test".
func ParseEvent(body []byte) (Event, error) {
	var env webhookEnvelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return Event{}, &InputError{"body", "must be a JSON object: " + err.Error()}
	}
	if dec.More() {
		return Event{}, &InputError{"body", "has data after the JSON object"}
	}
	var ev Event
	var err error
	if ev.Name, err = optString(env.Event, "event"); err != nil {
		return ev, err
	}
	if ev.Name == "" {
		if isTrue(env.Test) {
			ev.Name = "test"
		} else {
			return ev, &InputError{"event", "is required (a string such as \"job.started\")"}
		}
	}
	if ev.WebhookID, err = optInt(env.WebhookID, "webhook_id"); err != nil {
		return ev, err
	}
	if ev.Timestamp, err = optInt(env.Timestamp, "timestamp"); err != nil {
		return ev, err
	}
	ev.Type = MapEventType(ev.Name)
	if len(env.Data) > 0 && !isNull(env.Data) {
		if env.Data[0] != '{' {
			return ev, &InputError{"data", "must be a JSON object"}
		}
		ev.Data = env.Data
		if err := ev.parseData(); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

func (ev *Event) parseData() error {
	var d struct {
		Job       map[string]json.RawMessage `json:"job"`
		Printer   map[string]json.RawMessage `json:"printer"`
		PrinterID json.RawMessage            `json:"printer_id"`
		QueueItem map[string]json.RawMessage `json:"queue_item"`
		State     json.RawMessage            `json:"state"`
		NewState  json.RawMessage            `json:"new_state"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return &InputError{"data", "cannot be read: " + err.Error()}
	}
	if d.Printer != nil {
		ev.PrinterID = looseInt(d.Printer["id"])
		ev.PrinterName = looseString(d.Printer["name"])
		ev.PrinterState = firstNonEmpty(looseString(d.Printer["state"]), looseString(d.Printer["status"]))
	}
	if ev.PrinterID == 0 {
		ev.PrinterID = looseInt(d.PrinterID)
	}
	ev.PrinterState = firstNonEmpty(looseString(d.NewState), looseString(d.State), ev.PrinterState)
	if d.Job != nil {
		j := &Job{
			ID:         firstNonEmpty(looseString(d.Job["id"]), looseString(d.Job["uid"])),
			State:      firstNonEmpty(looseString(d.Job["state"]), looseString(d.Job["status"])),
			File:       firstNonEmpty(looseString(d.Job["file"]), looseString(d.Job["file_name"]), looseString(d.Job["filename"])),
			Percentage: looseIntPtr(d.Job["percentage"]),
			Started:    looseTime(d.Job["started"]),
			Ended:      looseTime(d.Job["ended"]),
			Duration:   looseIntPtr(d.Job["duration"]),
		}
		ev.Job, ev.JobID = j, j.ID
		if ev.PrinterID == 0 {
			ev.PrinterID = looseInt(d.Job["printer_id"])
		}
		if p := map[string]json.RawMessage{}; json.Unmarshal(d.Job["printer"], &p) == nil {
			if ev.PrinterID == 0 {
				ev.PrinterID = looseInt(p["id"])
			}
			if ev.PrinterName == "" {
				ev.PrinterName = looseString(p["name"])
			}
		}
		if ev.PrinterName == "" {
			ev.PrinterName = looseString(d.Job["printer_name"])
		}
	}
	if d.QueueItem != nil {
		ev.QueueItemID = looseString(d.QueueItem["id"])
	}
	return nil
}

// MapEventType maps both vocabularies (the seed's and the vendor's) to
// hookflow's event types. Anything else is "unknown" (and still stored).
func MapEventType(name string) string {
	prefix, rest, _ := strings.Cut(name, ".")
	switch prefix {
	case "test":
		if rest == "" {
			return "test"
		}
	case "job":
		switch rest {
		case "done", "finished", "completed":
			return "job_completed"
		case "started", "paused", "resumed", "failed", "cancelled", "progress", "bed_cleared", "objects_skipped":
			return "job_" + rest
		}
	case "printer":
		if rest != "" {
			return "printer_" + strings.ReplaceAll(rest, ".", "_")
		}
	case "queue":
		if rest != "" {
			return "queue_changed"
		}
	}
	return "unknown"
}

// DedupKey is the provider's identity of the event: webhook id, event name,
// timestamp and entity, plus a digest of data so that two different events of
// the same second stay apart while a resend of the same event collapses.
// Bodies without an identity (the seed's {"test": true}) use a digest of the
// whole body.
func DedupKey(ev Event, body []byte) string {
	if ev.Timestamp == 0 && ev.WebhookID == 0 {
		sum := sha256.Sum256(body)
		return "body:" + hex.EncodeToString(sum[:16])
	}
	entity := ev.JobID
	if entity == "" && ev.QueueItemID != "" {
		entity = "q" + ev.QueueItemID
	}
	if entity == "" && ev.PrinterID != 0 {
		entity = "p" + strconv.FormatInt(ev.PrinterID, 10)
	}
	sum := sha256.Sum256(ev.Data)
	return fmt.Sprintf("%d:%s:%d:%s:%s", ev.WebhookID, ev.Name, ev.Timestamp, entity, hex.EncodeToString(sum[:8]))
}

// Effect is what an event changes in the printer and job read models.
type Effect struct {
	PrinterState string // "" leaves it
	SetJob       bool   // the printer's current job becomes Job.ID
	ClearJob     bool   // the printer has no current job any more
	JobState     string // state of the job row ("" leaves it)
}

// Effect derives the read-model change of an event.
func (e Event) Effect() Effect {
	switch e.Type {
	case "job_started", "job_resumed":
		return Effect{PrinterState: "printing", SetJob: true, JobState: "printing"}
	case "job_progress":
		return Effect{PrinterState: "printing", SetJob: true, JobState: "printing"}
	case "job_paused":
		return Effect{PrinterState: "paused", SetJob: true, JobState: "paused"}
	case "job_completed":
		return Effect{PrinterState: "idle", ClearJob: true, JobState: "completed"}
	case "job_failed":
		return Effect{PrinterState: "idle", ClearJob: true, JobState: "failed"}
	case "job_cancelled":
		return Effect{PrinterState: "idle", ClearJob: true, JobState: "cancelled"}
	case "printer_online":
		return Effect{PrinterState: "online"}
	case "printer_offline":
		return Effect{PrinterState: "offline"}
	case "printer_state_changed":
		return Effect{PrinterState: e.PrinterState}
	}
	return Effect{}
}

func optString(raw json.RawMessage, field string) (string, error) {
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &InputError{field, "must be a string"}
	}
	return s, nil
}

func optInt(raw json.RawMessage, field string) (int64, error) {
	if len(raw) == 0 || isNull(raw) {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, &InputError{field, "must be an integer"}
	}
	return n, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func isTrue(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "true" }

// looseString reads a string or a number as text ("" for anything else).
// raw is one value the decoder has already checked, so its first byte says
// what it is: plain strings and numbers are read without reflection (this
// runs for every field of every webhook, twice); strings with escapes or
// non-ASCII bytes take encoding/json's path.
func looseString(raw json.RawMessage) string {
	raw = bytes.Trim(raw, " \t\r\n") // JSON's white space, no other
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		if len(raw) >= 2 && raw[len(raw)-1] == '"' && plainASCII(raw[1:len(raw)-1]) {
			return string(raw[1 : len(raw)-1])
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case c == '-' || c >= '0' && c <= '9':
		if json.Valid(raw) { // a number literal, which is its own json.Number text
			return string(raw)
		}
	}
	return ""
}

// plainASCII: no escapes, quotes, control or non-ASCII bytes, so the JSON
// string's bytes are its value.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

func looseInt(raw json.RawMessage) int64 { return atoiLoose(looseString(raw)) }

func atoiLoose(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int64(f)
	}
	return 0
}

func looseIntPtr(raw json.RawMessage) *int {
	s := looseString(raw)
	if s == "" {
		return nil
	}
	n := int(atoiLoose(s))
	return &n
}

// looseTime reads unix seconds (number or numeric string) or RFC 3339.
func looseTime(raw json.RawMessage) *time.Time {
	s := looseString(raw)
	if s == "" {
		return nil
	}
	if n := atoiLoose(s); n > 0 {
		t := time.Unix(n, 0).UTC()
		return &t
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return &t
		}
	}
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
