package okdesktest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/samples"
)

// Format selects a webhook wire format.
type Format = samples.OkdeskFormat

const (
	// FormatSeed is the seed document's format: event.event_type
	// "issue.status_changed", integer ids, new status in issue.status and
	// old in issue.old_status.
	FormatSeed = samples.OkdeskFormatSeed
	// FormatVendor is Okdesk's own: event_type "new_ticket_status",
	// event.author, event.old_status/new_status, string ids.
	FormatVendor = samples.OkdeskFormatVendor
)

// Snapshot is the issue data a status change payload carries.
type Snapshot struct {
	Issue   Issue
	Contact *Contact // nil: only Issue.ContactID is sent
	Old     okdesk.Status
	New     okdesk.Status
	Author  okdesk.Author // vendor format only; zero means employee 1
}

// StatusChangePayload renders a status change webhook body in format f
// (built by internal/samples, the one source of Okdesk sample bodies).
func StatusChangePayload(f Format, snap Snapshot) ([]byte, error) {
	is := snap.Issue
	ch := samples.OkdeskStatusChange{
		Issue: samples.OkdeskIssue{ID: is.ID, Title: is.Title, ContactID: is.ContactID, CompanyID: is.CompanyID,
			AssigneeID: is.AssigneeID, AssigneeName: is.AssigneeName},
		Old: snap.Old, New: snap.New, Author: snap.Author,
	}
	if c := snap.Contact; c != nil {
		ch.Contact = &samples.OkdeskContactName{FirstName: c.FirstName, LastName: c.LastName}
	}
	return samples.OkdeskStatusChangePayload(f, ch), nil
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
