package simplyprint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
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

// ParseEvent validates and parses a webhook body. The seed's curl check
// `{"test": true}` is the event "test".
//
// The body is checked once (json.Valid) and then read in place: the
// members of the object, of data and of its job, printer and queue_item
// are slices of body (members), so a webhook costs a few allocations
// instead of one per member. Top-level and data fields match their names as
// encoding/json matches struct fields (case aside), the members of job,
// printer and queue_item exactly, as a map lookup does; the last of repeated
// keys counts (the edge refuses those anyway: inbound.CheckJSON).
func ParseEvent(body []byte) (Event, error) {
	if !json.Valid(body) {
		var v json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil {
			return Event{}, &InputError{"body", "must be a JSON object: " + err.Error()}
		}
		return Event{}, &InputError{"body", "has data after the JSON object"}
	}
	return ParseWellFormedEvent(body)
}

// ParseWellFormedEvent is ParseEvent for a body known to be well-formed
// JSON (inbound.ScanJSON has said so while checking it at the edge): it
// skips ParseEvent's json.Valid. Anything else must go to ParseEvent.
func ParseWellFormedEvent(body []byte) (Event, error) {
	var buf [8]member
	top, ok := members(body, buf[:0])
	if !ok && !isNull(body) { // null reads as an empty object, as before
		return Event{}, &InputError{"body", "must be a JSON object, got " + kindOf(body)}
	}
	var ev Event
	var err error
	if ev.Name, err = optString(field(top, "event"), "event"); err != nil {
		return ev, err
	}
	if ev.Name == "" {
		if isTrue(field(top, "test")) {
			ev.Name = "test"
		} else {
			return ev, &InputError{"event", "is required (a string such as \"job.started\")"}
		}
	}
	if ev.WebhookID, err = optInt(field(top, "webhook_id"), "webhook_id"); err != nil {
		return ev, err
	}
	if ev.Timestamp, err = optInt(field(top, "timestamp"), "timestamp"); err != nil {
		return ev, err
	}
	if ev.Timestamp > maxUnixSeconds || ev.Timestamp < -maxUnixSeconds {
		return ev, &InputError{"timestamp", "is out of range: not a time in unix seconds"}
	}
	ev.Type = MapEventType(ev.Name)
	if data := field(top, "data"); len(data) > 0 && !isNull(data) {
		if data[0] != '{' {
			return ev, &InputError{"data", "must be a JSON object"}
		}
		ev.Data = data
		if err := ev.parseData(); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// kindOf names the kind of the JSON value raw.
func kindOf(raw []byte) string {
	switch raw[skipSpace(raw, 0)] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// object reads data's member name as encoding/json decodes it into a map
// field: every member whose key matches but for case is merged into it in
// order (null empties it), so the last of a repeated key counts. It
// returns the members, nil when there are none, and an error naming the
// member when it is another kind of value.
func object(data []member, name string, buf []member) ([]member, error) {
	var ms []member
	for _, m := range data {
		if !keyIs(m.key, name, true) {
			continue
		}
		if isNull(m.value) {
			ms = nil
			continue
		}
		var ok bool
		if ms, ok = members(m.value, append(buf[:0], ms...)); !ok {
			return nil, &InputError{"data", "cannot be read: data." + name + " must be a JSON object, got " + kindOf(m.value)}
		}
		if ms == nil {
			ms = buf[:0] // an empty object is still one
		}
	}
	return ms, nil
}

func (ev *Event) parseData() error {
	var dataBuf, jobBuf, printerBuf, jobPrinterBuf [16]member
	d, _ := members(ev.Data, dataBuf[:0])
	job, err := object(d, "job", jobBuf[:0])
	if err != nil {
		return err
	}
	printer, err := object(d, "printer", printerBuf[:0])
	if err != nil {
		return err
	}
	queueItem, err := object(d, "queue_item", nil)
	if err != nil {
		return err
	}
	// Ids are checked where they are found, in the order they are looked
	// up: an id hookflow would store must be one (not a fraction, not beyond
	// 64 bits, where it used to be stored as another printer's).
	setPrinter := func(raw json.RawMessage, field string) error {
		if ev.PrinterID != 0 || err != nil {
			return err
		}
		ev.PrinterID, err = idValue(raw, field)
		return err
	}
	if printer != nil {
		if err := setPrinter(get(printer, "id"), "data.printer.id"); err != nil {
			return err
		}
		ev.PrinterName = looseString(get(printer, "name"))
		ev.PrinterState = firstNonEmpty(looseString(get(printer, "state")), looseString(get(printer, "status")))
	}
	if err := setPrinter(field(d, "printer_id"), "data.printer_id"); err != nil {
		return err
	}
	ev.PrinterState = firstNonEmpty(looseString(field(d, "new_state")), looseString(field(d, "state")), ev.PrinterState)
	if job != nil {
		id, err := textID(get(job, "id"), "data.job.id")
		if err != nil {
			return err
		}
		uid, err := textID(get(job, "uid"), "data.job.uid")
		if err != nil {
			return err
		}
		j := &Job{
			ID:    firstNonEmpty(id, uid),
			State: firstNonEmpty(looseString(get(job, "state")), looseString(get(job, "status"))),
			File:  firstNonEmpty(looseString(get(job, "file")), looseString(get(job, "file_name")), looseString(get(job, "filename"))),
		}
		if j.Percentage, err = looseInt32Ptr(get(job, "percentage"), "data.job.percentage"); err != nil {
			return err
		}
		if j.Duration, err = looseInt32Ptr(get(job, "duration"), "data.job.duration"); err != nil {
			return err
		}
		if j.Started, err = looseTime(get(job, "started"), "data.job.started"); err != nil {
			return err
		}
		if j.Ended, err = looseTime(get(job, "ended"), "data.job.ended"); err != nil {
			return err
		}
		ev.Job, ev.JobID = j, j.ID
		if err := setPrinter(get(job, "printer_id"), "data.job.printer_id"); err != nil {
			return err
		}
		if p, ok := members(get(job, "printer"), jobPrinterBuf[:0]); ok {
			if err := setPrinter(get(p, "id"), "data.job.printer.id"); err != nil {
				return err
			}
			if ev.PrinterName == "" {
				ev.PrinterName = looseString(get(p, "name"))
			}
		}
		if ev.PrinterName == "" {
			ev.PrinterName = looseString(get(job, "printer_name"))
		}
	}
	if queueItem != nil {
		id, err := textID(get(queueItem, "id"), "data.queue_item.id")
		if err != nil {
			return err
		}
		ev.QueueItemID = id
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
	case "job_started", "job_resumed", "job_progress":
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
		return 0, intError(field, string(raw), err)
	}
	return n, nil
}

// intError explains why text is not an int64.
func intError(field, text string, err error) *InputError {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return &InputError{field, "is out of range: " + clipNumber(text) + " does not fit a 64-bit integer"}
	}
	return &InputError{field, "must be an integer"}
}

func clipNumber(s string) string {
	if len(s) > 30 {
		return s[:30] + "…"
	}
	return s
}

// idValue reads a numeric id: a JSON integer or a string of digits, within
// int64 and positive; absent, null, "" and 0 are 0 (none). A fraction, an
// exponent, a negative number, other text or an id beyond 64 bits is an
// error naming field.
func idValue(raw json.RawMessage, field string) (int64, error) {
	raw = bytes.Trim(raw, " \t\r\n")
	if len(raw) == 0 || isNull(raw) {
		return 0, nil
	}
	text := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			return 0, &InputError{field, "must be an integer"}
		}
		if text = strings.TrimSpace(text); text == "" {
			return 0, nil
		}
	} else if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, &InputError{field, "must be an integer"}
	}
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			if text[i] == '-' && i == 0 {
				return 0, &InputError{field, "must be a positive integer"}
			}
			return 0, &InputError{field, "must be an integer, got " + strconv.Quote(clipNumber(text))}
		}
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, intError(field, text, err)
	}
	return n, nil
}

// textID reads an id kept as text: a string as sent, or a JSON integer
// within int64 (a fraction or a number beyond 64 bits is an error naming
// field). Other JSON values are "" (loose, as vendor samples vary).
func textID(raw json.RawMessage, field string) (string, error) {
	raw = bytes.Trim(raw, " \t\r\n")
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		if _, err := strconv.ParseInt(string(raw), 10, 64); err != nil {
			return "", intError(field, string(raw), err)
		}
	}
	return looseString(raw), nil
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

func atoiLoose(s string) int64 {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= math.MinInt64 && f <= math.MaxInt64 {
		return int64(f)
	}
	return 0
}

// looseInt32Ptr reads a number or numeric text (a fraction is truncated);
// other values are nil. A number beyond 32 bits (the read model's integer
// columns) is an error naming field.
func looseInt32Ptr(raw json.RawMessage, field string) (*int, error) {
	s := looseString(raw)
	if s == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, nil // not a number: loose
	}
	if f < math.MinInt32 || f > math.MaxInt32 {
		return nil, &InputError{field, "is out of range: " + clipNumber(s) + " does not fit a 32-bit integer"}
	}
	n := int(atoiLoose(s))
	return &n, nil
}

// maxUnixSeconds is 9999-12-31T23:59:59Z, the last second Postgres and
// RFC 3339 share.
const maxUnixSeconds = 253402300799

// looseTime reads unix seconds (number or numeric string) or RFC 3339;
// other text is nil. Seconds beyond year 9999 are an error naming field.
func looseTime(raw json.RawMessage, field string) (*time.Time, error) {
	s := looseString(raw)
	if s == "" {
		return nil, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f > maxUnixSeconds || f < -maxUnixSeconds {
			return nil, &InputError{field, "is out of range: " + clipNumber(s) + " is not a time in unix seconds"}
		}
	}
	if n := atoiLoose(s); n > 0 {
		t := time.Unix(n, 0).UTC()
		return &t, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return &t, nil
		}
	}
	return nil, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
