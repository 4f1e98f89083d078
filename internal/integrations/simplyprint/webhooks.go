package simplyprint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaxSecretLen is the vendor's limit on a webhook secret (string|max:128).
const MaxSecretLen = 128

// Webhook is a webhook registered at SimplyPrint, decoded loosely: ids may
// arrive as numbers or strings, "enabled" as a bool or 0/1, "events" as an
// array or a comma-separated string.
type Webhook struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Enabled     bool     `json:"enabled"`
	// Secret is the shared secret the vendor sends verbatim with every
	// delivery (empty if none or if the vendor did not return it). It is
	// never marshalled to JSON (so it cannot leak into Temporal histories)
	// and never printed by String or LogValue.
	Secret string `json:"-"`
}

// String describes the webhook without its secret.
func (w Webhook) String() string {
	return fmt.Sprintf("webhook %d %q %s enabled=%t events=%d secret=%s",
		w.ID, w.Name, w.URL, w.Enabled, len(w.Events), redacted(w.Secret))
}

// LogValue logs the webhook without its secret.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("id", w.ID), slog.String("name", w.Name), slog.String("url", w.URL),
		slog.Bool("enabled", w.Enabled), slog.Int("events", len(w.Events)),
		slog.String("secret", redacted(w.Secret)),
	)
}

// UnmarshalJSON overlays the fields present in data onto w, so a partial
// object (e.g. {"id":123} from webhooks/Create) keeps what w already held.
func (w *Webhook) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	if m == nil { // JSON null
		return nil
	}
	for key, raw := range m {
		var err error
		switch key {
		case "id":
			err = decodeInt(raw, &w.ID)
		case "name":
			err = decodeString(raw, &w.Name)
		case "description":
			err = decodeString(raw, &w.Description)
		case "url":
			err = decodeString(raw, &w.URL)
		case "secret":
			err = decodeString(raw, &w.Secret)
		case "enabled":
			err = decodeBool(raw, &w.Enabled)
		case "events":
			err = decodeEvents(raw, &w.Events)
		}
		if err != nil {
			return fmt.Errorf("webhook field %q: %w", key, err)
		}
	}
	return nil
}

// WebhookSpec is what CreateOrUpdateWebhook and EnsureWebhook send.
type WebhookSpec struct {
	// ID selects the webhook CreateOrUpdateWebhook updates; 0 creates one.
	// EnsureWebhook ignores it and finds the webhook by URL.
	ID int64
	// Name is required.
	Name string
	// Description is optional; empty means "leave as is".
	Description string
	// URL is the receiver, an absolute http(s) URL; required.
	URL string
	// Secret is optional (at most MaxSecretLen characters); the vendor sends
	// it verbatim in X-SP-Token (help article) / X-SP-Secret (vendor code).
	// Empty means "leave as is": it is not sent.
	Secret string
	// Enabled is always sent: set it to true to receive events.
	Enabled bool
	// Events are vendor event names; nil or empty means AllEvents.
	Events []string
}

// String describes the spec without its secret.
func (s WebhookSpec) String() string {
	return fmt.Sprintf("webhook spec id=%d %q %s enabled=%t events=%d secret=%s",
		s.ID, s.Name, s.URL, s.Enabled, len(s.Events), redacted(s.Secret))
}

// LogValue logs the spec without its secret, as the webhook it describes.
func (s WebhookSpec) LogValue() slog.Value {
	return Webhook{ID: s.ID, Name: s.Name, URL: s.URL, Enabled: s.Enabled, Events: s.Events, Secret: s.Secret}.LogValue()
}

func redacted(secret string) string {
	if secret == "" {
		return "none"
	}
	return "[redacted]"
}

// normalized fills defaults and validates the spec before anything is sent.
func (s WebhookSpec) normalized(op string) (WebhookSpec, error) {
	s.Name = strings.TrimSpace(s.Name)
	s.URL = strings.TrimSpace(s.URL)
	if len(s.Events) == 0 {
		s.Events = AllEvents
	}
	var problems []string
	if s.Name == "" {
		problems = append(problems, "name is empty")
	}
	if u, err := url.Parse(s.URL); s.URL == "" || err != nil ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("url %q is not an absolute http(s) URL", s.URL))
	}
	if n := len([]rune(s.Secret)); n > MaxSecretLen {
		problems = append(problems, fmt.Sprintf("secret is %d characters, the vendor allows %d", n, MaxSecretLen))
	}
	if s.ID < 0 {
		problems = append(problems, fmt.Sprintf("id %d is negative", s.ID))
	}
	for _, e := range s.Events {
		if strings.TrimSpace(e) == "" {
			problems = append(problems, "an event name is empty")
			break
		}
	}
	if len(problems) > 0 {
		return s, vendor.Invalid(op, "invalid webhook spec: %s", strings.Join(problems, "; "))
	}
	return s, nil
}

// createRequest is the body of webhooks/Create.
type createRequest struct {
	ID          int64    `json:"id,omitempty"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	URL         string   `json:"url"`
	Secret      string   `json:"secret,omitempty"`
	Enabled     bool     `json:"enabled"`
	Events      []string `json:"events"`
}

type idRequest struct {
	ID int64 `json:"id"`
}

type setEnabledRequest struct {
	ID      int64 `json:"id"`
	Enabled bool  `json:"enabled"`
}

// webhookList decodes "data" as an array of webhooks or as an object keyed
// by id.
type webhookList []Webhook

func (l *webhookList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		*l = nil
		return nil
	}
	if len(data) > 0 && data[0] == '{' {
		var m map[string]Webhook
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		out := make(webhookList, 0, len(m))
		for _, w := range m {
			out = append(out, w)
		}
		slices.SortFunc(out, func(a, b Webhook) int { return cmpInt64(a.ID, b.ID) })
		*l = out
		return nil
	}
	var ws []Webhook
	if err := json.Unmarshal(data, &ws); err != nil {
		return err
	}
	*l = ws
	return nil
}

// ListWebhooks returns the company's webhooks (GET webhooks/Get).
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Data webhookList `json:"data"`
	}
	if err := c.call(ctx, http.MethodGet, "webhooks/Get", nil, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}

// CreateOrUpdateWebhook creates a webhook (spec.ID == 0) or replaces the
// settings of webhook spec.ID (POST webhooks/Create). The result is the
// vendor's "webhook" object laid over the spec, so fields the vendor does
// not echo keep the values sent.
func (c *Client) CreateOrUpdateWebhook(ctx context.Context, spec WebhookSpec) (Webhook, error) {
	const op = "webhooks/Create"
	spec, err := spec.normalized(op)
	if err != nil {
		return Webhook{}, err
	}
	req := createRequest(spec)
	out := struct {
		Webhook Webhook `json:"webhook"`
	}{Webhook: Webhook{
		ID: spec.ID, Name: spec.Name, Description: spec.Description, URL: spec.URL,
		Events: slices.Clone(spec.Events), Enabled: spec.Enabled, Secret: spec.Secret,
	}}
	if err := c.call(ctx, http.MethodPost, op, req, &out); err != nil {
		return Webhook{}, err
	}
	if out.Webhook.ID <= 0 {
		// The webhook may exist now; EnsureWebhook would find it by URL.
		return Webhook{}, &APIError{Vendor: vendor.Name, Op: op, Status: http.StatusOK, Code: CodeBadResponse,
			Message: `response has no "webhook.id"`}
	}
	return out.Webhook, nil
}

// DeleteWebhook deletes webhook id (POST webhooks/Delete).
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	const op = "webhooks/Delete"
	if err := checkID(op, id); err != nil {
		return err
	}
	return c.call(ctx, http.MethodPost, op, idRequest{ID: id}, nil)
}

// SetWebhookEnabled enables or disables webhook id (POST webhooks/SetEnabled).
func (c *Client) SetWebhookEnabled(ctx context.Context, id int64, enabled bool) error {
	const op = "webhooks/SetEnabled"
	if err := checkID(op, id); err != nil {
		return err
	}
	return c.call(ctx, http.MethodPost, op, setEnabledRequest{ID: id, Enabled: enabled}, nil)
}

// TriggerTestWebhook asks SimplyPrint to send a "test" event to webhook id
// (POST webhooks/TriggerTestWebhook).
func (c *Client) TriggerTestWebhook(ctx context.Context, id int64) error {
	const op = "webhooks/TriggerTestWebhook"
	if err := checkID(op, id); err != nil {
		return err
	}
	return c.call(ctx, http.MethodPost, op, idRequest{ID: id}, nil)
}

func checkID(op string, id int64) error {
	if id <= 0 {
		return vendor.Invalid(op, "webhook id %d is not positive", id)
	}
	return nil
}

// EnsureWebhook registers spec idempotently. It lists the webhooks and looks
// for one whose URL equals spec.URL (scheme and host case-insensitive,
// default port and trailing "/" ignored). If there is none it creates one
// (created = true). If there is one it updates it in place, keeping its id,
// with spec's name, URL, events, secret and enabled flag; when it already
// matches (and the vendor returned its secret equal to spec.Secret) nothing
// is sent. With several matches the lowest id is updated and the others are
// left alone. spec.ID is ignored.
func (c *Client) EnsureWebhook(ctx context.Context, spec WebhookSpec) (Webhook, bool, error) {
	spec, err := spec.normalized("EnsureWebhook")
	if err != nil {
		return Webhook{}, false, err
	}
	hooks, err := c.ListWebhooks(ctx)
	if err != nil {
		return Webhook{}, false, err
	}
	var found *Webhook
	for i := range hooks {
		h := &hooks[i]
		if sameURL(h.URL, spec.URL) && (found == nil || h.ID < found.ID) {
			found = h
		}
	}
	if found == nil {
		spec.ID = 0
		w, err := c.CreateOrUpdateWebhook(ctx, spec)
		if err != nil {
			return Webhook{}, false, err
		}
		return w, true, nil
	}
	if upToDate(*found, spec) {
		return *found, false, nil
	}
	spec.ID = found.ID
	w, err := c.CreateOrUpdateWebhook(ctx, spec)
	if err != nil {
		return Webhook{}, false, err
	}
	if w.Description == "" {
		w.Description = found.Description
	}
	return w, false, nil
}

// upToDate reports whether w already carries everything spec would send.
func upToDate(w Webhook, spec WebhookSpec) bool {
	if w.Name != spec.Name || w.URL != spec.URL || w.Enabled != spec.Enabled {
		return false
	}
	if spec.Description != "" && w.Description != spec.Description {
		return false
	}
	if spec.Secret != "" && w.Secret != spec.Secret {
		return false
	}
	a, b := slices.Clone(w.Events), slices.Clone(spec.Events)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// sameURL compares receiver URLs the way a human would.
func sameURL(a, b string) bool {
	na, errA := normalizeURL(a)
	nb, errB := normalizeURL(b)
	if errA != nil || errB != nil {
		return strings.TrimSpace(a) == strings.TrimSpace(b)
	}
	return na == nb
}

func normalizeURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/") + "?" + u.RawQuery, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Loose decoders for the vendor's PHP-generated JSON.

func decodeString(raw json.RawMessage, dst *string) error {
	if string(raw) == "null" {
		*dst = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		*dst = s
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("want a string, got %s", truncate(raw))
	}
	*dst = n.String()
	return nil
}

func decodeInt(raw json.RawMessage, dst *int64) error {
	if string(raw) == "null" {
		*dst = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		raw = json.RawMessage(strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer, got %s", truncate(raw))
	}
	*dst = n
	return nil
}

func decodeBool(raw json.RawMessage, dst *bool) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case nil:
		*dst = false
	case bool:
		*dst = t
	case float64:
		*dst = t != 0
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "1", "true", "yes", "on":
			*dst = true
		case "0", "false", "no", "off", "":
			*dst = false
		default:
			return fmt.Errorf("want a boolean, got %q", t)
		}
	default:
		return fmt.Errorf("want a boolean, got %s", truncate(raw))
	}
	return nil
}

func decodeEvents(raw json.RawMessage, dst *[]string) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case nil:
		*dst = nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want event names, got %s", truncate(raw))
			}
			out = append(out, s)
		}
		*dst = out
	case string:
		if s := strings.TrimSpace(t); strings.HasPrefix(s, "[") {
			return decodeEvents(json.RawMessage(s), dst)
		}
		var out []string
		for _, e := range strings.Split(t, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
		*dst = out
	default:
		return fmt.Errorf("want event names, got %s", truncate(raw))
	}
	return nil
}

func truncate(raw []byte) string {
	const max = 80
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}
