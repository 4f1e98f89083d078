package okdesk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Event types hookflow recognises. Others (comment.created, new_comment,
// new_assignee, ...) parse fine with Kind KindOther.
const (
	// EventStatusChanged is the seed's status change event (integer ids,
	// new status in issue.status, old in issue.old_status).
	EventStatusChanged = "issue.status_changed"
	// EventIssueUpdated is the seed's "reserve" event; it counts as a
	// status change only when issue.old_status differs from issue.status.
	EventIssueUpdated = "issue.updated"
	// EventNewTicketStatus is Okdesk's own status change event (string
	// ids, statuses in event.new_status / event.old_status).
	EventNewTicketStatus = "new_ticket_status"
)

// Kind is the normalised meaning of a webhook.
type Kind string

const (
	KindStatusChanged Kind = "status_changed"
	KindOther         Kind = "other"
)

// Author is who caused the event (Okdesk's event.author), zero if absent.
type Author struct {
	ID   int64  `json:"id,omitempty"`
	Type string `json:"type,omitempty"` // "employee" or "contact"
}

// Webhook is an Okdesk webhook normalised from either wire format.
//
// Field sources, first present wins:
//   - NewStatus: event.new_status, issue.status
//   - OldStatus: event.old_status, issue.old_status
//   - ContactID: issue.client.contact.id, issue.contact.id, issue.contact_id
//   - CompanyID: issue.client.company.id, issue.company.id, issue.company_id
//   - AssigneeID: issue.assignee.id, issue.assignee_id. Only the issue's
//     assignee; the employee who made the change is Author (event.author),
//     kept apart because the two differ when a dispatcher closes an issue.
//   - EventID: event.id; OccurredAt: event.created_at, event.occurred_at,
//     event.timestamp, issue.updated_at (raw text, not interpreted).
//
// Ids are integers or numeric strings on the wire; absent, null or ""
// optional ids are 0.
type Webhook struct {
	EventType   string `json:"event_type"`
	Kind        Kind   `json:"kind"`
	IssueID     int64  `json:"issue_id"`
	Title       string `json:"title,omitempty"`
	NewStatus   Status `json:"new_status"`
	OldStatus   Status `json:"old_status"`
	ContactID   int64  `json:"contact_id,omitempty"`
	ContactName string `json:"contact_name,omitempty"`
	CompanyID   int64  `json:"company_id,omitempty"`
	AssigneeID  int64  `json:"assignee_id,omitempty"`
	Author      Author `json:"author"`
	EventID     string `json:"event_id,omitempty"`
	OccurredAt  string `json:"occurred_at,omitempty"`
}

// maxDedupKey bounds DedupKey; longer keys are shortened with a hash.
const maxDedupKey = 160

// DedupKey identifies the event for deduplication of redeliveries:
//
//	<issue id>:<kind>:<new status code>[:id=<event id> | :at=<occurred at>]
//
// where <kind> is "status_changed" for every status change (so the seed's
// issue.status_changed and issue.updated, or Okdesk's new_ticket_status,
// reporting the same change collapse into one key) and the raw event type
// otherwise. The event id, or else the event time, is appended when the
// payload carries one. Neither format documents one, so without them a
// second identical transition (resolved, reopened, resolved again) has the
// same key as the first: the rating workflow must not rely on the key to
// tell those apart. Keys longer than 160 bytes keep a readable prefix and
// end in a SHA-256 of the full key.
func (w Webhook) DedupKey() string {
	kind := string(w.Kind)
	if w.Kind != KindStatusChanged {
		kind = w.EventType
	}
	key := strconv.FormatInt(w.IssueID, 10) + ":" + kind + ":" + w.NewStatus.Code
	switch {
	case w.EventID != "":
		key += ":id=" + w.EventID
	case w.OccurredAt != "":
		key += ":at=" + w.OccurredAt
	}
	if len(key) > maxDedupKey {
		sum := sha256.Sum256([]byte(key))
		key = strings.ToValidUTF8(key[:maxDedupKey-65], "") + "#" + hex.EncodeToString(sum[:])
	}
	return key
}

// FieldError says which field of a webhook is wrong, by its JSON path.
type FieldError struct {
	Field  string // e.g. "issue.id"
	Reason string // e.g. "must be an integer or a numeric string"
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, reason string) *FieldError { return &FieldError{Field: field, Reason: reason} }

// ParseWebhook parses an Okdesk webhook body in either format: the seed's
// ({"event":{"event_type":"issue.status_changed"},"issue":{"id":1380,
// "status":{..},"old_status":{..},"client":{..}}}) or Okdesk's own
// ({"event":{"event_type":"new_ticket_status","author":{..},
// "old_status":{..},"new_status":{..}},"issue":{"id":"153",...}}).
// Errors are *FieldError naming the offending field.
func ParseWebhook(body []byte) (Webhook, error) {
	var w Webhook
	root, err := objectAt(body, "body", true)
	if err != nil {
		return w, err
	}
	event, err := root.object("event", true)
	if err != nil {
		return w, err
	}
	issue, err := root.object("issue", true)
	if err != nil {
		return w, err
	}

	if w.EventType, err = event.str("event_type", true); err != nil {
		return w, err
	}
	if w.IssueID, err = issue.id("id", true); err != nil {
		return w, err
	}
	if w.Title, err = issue.str("title", false); err != nil {
		return w, err
	}

	newStatus, newField, err := firstStatus(event, "new_status", issue, "status")
	if err != nil {
		return w, err
	}
	oldStatus, _, err := firstStatus(event, "old_status", issue, "old_status")
	if err != nil {
		return w, err
	}
	w.NewStatus, w.OldStatus = newStatus, oldStatus

	switch w.EventType {
	case EventStatusChanged, EventNewTicketStatus:
		w.Kind = KindStatusChanged
		if w.NewStatus.Code == "" {
			field := "issue.status"
			switch {
			case newField != "":
				field = newField + ".code"
			case w.EventType == EventNewTicketStatus:
				field = "event.new_status"
			}
			return w, fieldErr(field, "required for a status change")
		}
	case EventIssueUpdated:
		w.Kind = KindOther
		if w.OldStatus.Code != "" && w.NewStatus.Code != "" && w.OldStatus.Code != w.NewStatus.Code {
			w.Kind = KindStatusChanged
		}
	default:
		w.Kind = KindOther
	}

	client, err := issue.object("client", false)
	if err != nil {
		return w, err
	}
	if w.ContactID, w.ContactName, err = firstRef(
		refAt{client, "contact"}, refAt{issue, "contact"}, refAt{issue, "contact_id"}); err != nil {
		return w, err
	}
	if w.CompanyID, _, err = firstRef(
		refAt{client, "company"}, refAt{issue, "company"}, refAt{issue, "company_id"}); err != nil {
		return w, err
	}
	if w.AssigneeID, _, err = firstRef(refAt{issue, "assignee"}, refAt{issue, "assignee_id"}); err != nil {
		return w, err
	}

	author, err := event.object("author", false)
	if err != nil {
		return w, err
	}
	if author != nil {
		if w.Author.ID, err = author.id("id", false); err != nil {
			return w, err
		}
		if w.Author.Type, err = author.str("type", false); err != nil {
			return w, err
		}
	}

	if w.EventID, err = event.scalar("id"); err != nil {
		return w, err
	}
	for _, at := range []struct {
		o   *jsonObject
		key string
	}{{event, "created_at"}, {event, "occurred_at"}, {event, "timestamp"}, {issue, "updated_at"}} {
		v, err := at.o.scalar(at.key)
		if err != nil {
			return w, err
		}
		if v != "" {
			w.OccurredAt = v
			break
		}
	}
	return w, nil
}

// WithoutIssue recognises a webhook about something other than an issue
// (company, contact or equipment events): a JSON object whose
// event.event_type is a string other than a status change and which has no
// issue. The ratings flow has nothing to do with those; ParseWebhook
// refuses them for the missing issue.
func WithoutIssue(body []byte) (eventType string, ok bool) {
	root, err := objectAt(body, "body", true)
	if err != nil {
		return "", false
	}
	if issue := root.raw("issue"); !isNull(issue) {
		return "", false
	}
	event, err := root.object("event", true)
	if err != nil {
		return "", false
	}
	eventType, err = event.str("event_type", true)
	if err != nil || eventType == EventStatusChanged || eventType == EventNewTicketStatus || eventType == EventIssueUpdated {
		return "", false
	}
	return eventType, true
}

// jsonObject is a decoded JSON object that remembers its path for errors.
type jsonObject struct {
	path string
	m    map[string]json.RawMessage
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

func objectAt(raw []byte, path string, required bool) (*jsonObject, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		if required {
			return nil, fieldErr(path, "required")
		}
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, fieldErr(path, "must be a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fieldErr(path, "invalid JSON: "+err.Error())
	}
	return &jsonObject{path: path, m: m}, nil
}

func (o *jsonObject) child(key string) string {
	if o.path == "body" {
		return key
	}
	return o.path + "." + key
}

func (o *jsonObject) raw(key string) json.RawMessage {
	if o == nil {
		return nil
	}
	return bytes.TrimSpace(o.m[key])
}

func (o *jsonObject) object(key string, required bool) (*jsonObject, error) {
	if o == nil {
		return nil, nil
	}
	return objectAt(o.raw(key), o.child(key), required)
}

func (o *jsonObject) str(key string, required bool) (string, error) {
	raw := o.raw(key)
	if isNull(raw) {
		if required {
			return "", fieldErr(o.child(key), "required")
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fieldErr(o.child(key), "must be a string")
	}
	if required && strings.TrimSpace(s) == "" {
		return "", fieldErr(o.child(key), "required")
	}
	return s, nil
}

// scalar returns a string or number as text ("" when absent or null).
func (o *jsonObject) scalar(key string) (string, error) {
	raw := o.raw(key)
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", fieldErr(o.child(key), "must be a string or a number")
}

func (o *jsonObject) id(key string, required bool) (int64, error) {
	field := o.child(key)
	v, present, err := parseID(o.raw(key))
	if err != nil {
		return 0, fieldErr(field, err.Error())
	}
	switch {
	case v < 0 || (v == 0 && present && required):
		return 0, fieldErr(field, "must be positive")
	case !present && required:
		return 0, fieldErr(field, "required")
	}
	return v, nil // 0 (absent) for an optional id
}

// parseID reads an id: a JSON integer or a string of decimal digits
// (optionally signed). present is false for absent, null or "". Fractions,
// exponents, other strings and overflow are errors; the sign is left to
// the caller.
func parseID(raw []byte) (v int64, present bool, err error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return 0, false, nil
	}
	text := string(raw)
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false, fmt.Errorf("must be an integer or a numeric string")
		}
		text = strings.TrimSpace(s)
		if text == "" {
			return 0, false, nil
		}
	}
	for i := 0; i < len(text); i++ {
		if (text[i] < '0' || text[i] > '9') && !(i == 0 && text[i] == '-') {
			return 0, false, fmt.Errorf("must be an integer or a numeric string")
		}
	}
	n, perr := strconv.ParseInt(text, 10, 64)
	if perr != nil {
		if ne, ok := perr.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, false, fmt.Errorf("out of range")
		}
		return 0, false, fmt.Errorf("must be an integer or a numeric string")
	}
	return n, true, nil
}

// status reads a status: {"code":..,"name":..} or a bare code string.
// field is the JSON path it came from, "" when absent.
func (o *jsonObject) status(key string) (Status, string, error) {
	raw := o.raw(key)
	if isNull(raw) {
		return Status{}, "", nil
	}
	field := o.child(key)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Status{}, "", fieldErr(field, "must be an object or a string")
		}
		return Status{Code: s}, field, nil
	}
	obj, err := objectAt(raw, field, false)
	if err != nil {
		return Status{}, "", fieldErr(field, "must be an object or a string")
	}
	var st Status
	if st.Code, err = obj.str("code", false); err != nil {
		return Status{}, "", err
	}
	if st.Name, err = obj.str("name", false); err != nil {
		return Status{}, "", err
	}
	if st.Code == "" && st.Name == "" {
		return Status{}, "", nil
	}
	return st, field, nil
}

func firstStatus(a *jsonObject, aKey string, b *jsonObject, bKey string) (Status, string, error) {
	st, field, err := a.status(aKey)
	if err != nil || field != "" {
		return st, field, err
	}
	return b.status(bKey)
}

type refAt struct {
	o   *jsonObject
	key string
}

// firstRef returns the id (and name) of the first present reference: an
// object with "id" or, for keys ending in "_id", a bare id.
func firstRef(refs ...refAt) (int64, string, error) {
	for _, r := range refs {
		if r.o == nil {
			continue
		}
		if strings.HasSuffix(r.key, "_id") {
			id, err := r.o.id(r.key, false)
			if err != nil || id != 0 {
				return id, "", err
			}
			continue
		}
		obj, err := r.o.object(r.key, false)
		if err != nil {
			return 0, "", err
		}
		if obj == nil {
			continue
		}
		id, err := obj.id("id", false)
		if err != nil {
			return 0, "", err
		}
		if id == 0 {
			continue
		}
		name, _ := obj.str("name", false)
		if name == "" {
			first, _ := obj.str("first_name", false)
			last, _ := obj.str("last_name", false)
			name = strings.TrimSpace(first + " " + last)
		}
		return id, name, nil
	}
	return 0, "", nil
}
