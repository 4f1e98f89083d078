package okdesktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
)

// Format selects a webhook wire format.
type Format int

const (
	// FormatSeed is the seed document's format: event.event_type
	// "issue.status_changed", integer ids, new status in issue.status and
	// old in issue.old_status.
	FormatSeed Format = iota
	// FormatVendor is Okdesk's own: event_type "new_ticket_status",
	// event.author, event.old_status/new_status, string ids.
	FormatVendor
)

func (f Format) String() string {
	if f == FormatVendor {
		return "vendor"
	}
	return "seed"
}

// Snapshot is the issue data a status change payload carries.
type Snapshot struct {
	Issue   Issue
	Contact *Contact // nil: only Issue.ContactID is sent
	Old     okdesk.Status
	New     okdesk.Status
	Author  okdesk.Author // vendor format only; zero means employee 1
}

// StatusChangePayload renders a status change webhook body in format f.
func StatusChangePayload(f Format, snap Snapshot) ([]byte, error) {
	st := func(s okdesk.Status) map[string]any { return map[string]any{"code": s.Code, "name": s.Name} }
	is := snap.Issue
	if f == FormatVendor {
		id := func(v int64) string { return strconv.FormatInt(v, 10) }
		author := snap.Author
		if author.ID == 0 {
			author = okdesk.Author{ID: 1, Type: okdesk.AuthorEmployee}
		}
		client := map[string]any{}
		if is.CompanyID != 0 {
			client["company"] = map[string]any{"id": id(is.CompanyID)}
		}
		if is.ContactID != 0 {
			contact := map[string]any{"id": id(is.ContactID)}
			if c := snap.Contact; c != nil {
				contact["first_name"], contact["last_name"] = c.FirstName, c.LastName
			}
			client["contact"] = contact
		}
		issue := map[string]any{"id": id(is.ID), "title": is.Title, "status": st(snap.New), "client": client}
		if is.AssigneeID != 0 {
			issue["assignee"] = map[string]any{"id": id(is.AssigneeID), "name": is.AssigneeName}
		}
		return json.Marshal(map[string]any{
			"event": map[string]any{
				"event_type": okdesk.EventNewTicketStatus,
				"author":     map[string]any{"id": id(author.ID), "type": author.Type},
				"old_status": st(snap.Old),
				"new_status": st(snap.New),
			},
			"issue": issue,
		})
	}
	client := map[string]any{}
	if is.ContactID != 0 {
		client["contact"] = map[string]any{"id": is.ContactID}
	}
	if is.CompanyID != 0 {
		client["company"] = map[string]any{"id": is.CompanyID}
	}
	return json.Marshal(map[string]any{
		"event": map[string]any{"event_type": okdesk.EventStatusChanged},
		"issue": map[string]any{
			"id": is.ID, "title": is.Title,
			"status": st(snap.New), "old_status": st(snap.Old),
			"client": client,
		},
	})
}

// SendOption adjusts SendStatusChange / PostWebhook.
type SendOption func(*sendConfig)

type sendConfig struct {
	hc     *http.Client
	header http.Header
	author okdesk.Author
}

// WithHeader adds a request header (e.g. a webhook secret).
func WithHeader(key, value string) SendOption {
	return func(c *sendConfig) { c.header.Add(key, value) }
}

// WithHTTPClient sends through hc instead of http.DefaultClient.
func WithHTTPClient(hc *http.Client) SendOption {
	return func(c *sendConfig) { c.hc = hc }
}

// WithAuthor sets event.author of a vendor payload.
func WithAuthor(id int64, typ string) SendOption {
	return func(c *sendConfig) { c.author = okdesk.Author{ID: id, Type: typ} }
}

// Response is the receiver's answer to a webhook.
type Response struct {
	Status int
	Body   []byte
	// Payload is what was sent.
	Payload []byte
}

// SendStatusChange moves stored issue issueID to newStatus (as an Okdesk
// employee would) and POSTs the status change webhook in format f to
// webhookURL (which may carry ?token=...). The stored contact, company and
// assignee go into the payload. A non-2xx answer is not an error: check
// Response.Status.
func (s *Server) SendStatusChange(ctx context.Context, webhookURL string, f Format, issueID int64, newStatus okdesk.Status, opts ...SendOption) (*Response, error) {
	cfg := newSendConfig(opts)
	s.mu.Lock()
	is, ok := s.issues[issueID]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("okdesktest: no issue %d", issueID)
	}
	snap := Snapshot{Issue: *is, Old: is.Status, New: newStatus, Author: cfg.author}
	if c, ok := s.contacts[is.ContactID]; ok {
		cp := *c
		snap.Contact = &cp
	}
	is.Status = newStatus
	snap.Issue.Status = newStatus
	s.mu.Unlock()

	payload, err := StatusChangePayload(f, snap)
	if err != nil {
		return nil, err
	}
	return post(ctx, webhookURL, payload, cfg)
}

// PostWebhook POSTs any payload to webhookURL as Okdesk would (JSON).
func PostWebhook(ctx context.Context, webhookURL string, payload []byte, opts ...SendOption) (*Response, error) {
	return post(ctx, webhookURL, payload, newSendConfig(opts))
}

func newSendConfig(opts []SendOption) *sendConfig {
	cfg := &sendConfig{hc: http.DefaultClient, header: http.Header{}}
	for _, o := range opts {
		o(cfg)
	}
	return cfg
}

func post(ctx context.Context, webhookURL string, payload []byte, cfg *sendConfig) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	for k, v := range cfg.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cfg.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &Response{Status: resp.StatusCode, Body: body, Payload: payload}, nil
}
