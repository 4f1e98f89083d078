// Package simplyprint is a client for SimplyPrint's webhooks REST API
// (https://apidocs.simplyprint.io): list, create/update, delete, enable and
// test webhooks, and idempotent registration of hookflow's receiver.
//
// The client never retries: every failure is an *APIError that says whether
// a retry may help, so Temporal activities own the retry policy.
package simplyprint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// CompanyIDPlaceholder is replaced by the company id in a base URL template.
const CompanyIDPlaceholder = "{companyId}"

// DefaultBaseURL is SimplyPrint's documented API base. The vendor's own
// plugins use "https://simplyprint.io/api/{companyId}/", which works too.
const DefaultBaseURL = "https://api.simplyprint.io/" + CompanyIDPlaceholder + "/"

// maxResponseBytes bounds how much of a response body is read.
const maxResponseBytes = 4 << 20

// Client calls the SimplyPrint API for one company. It is safe for
// concurrent use.
type Client struct {
	base    string // absolute, ends with "/", company id included
	baseErr error  // set when the base URL could not be resolved
	apiKey  string
	hc      *http.Client
	now     func() time.Time
}

// New returns a client for companyID authenticated by apiKey (sent in the
// X-API-KEY header). hc may carry an otelhttp transport; nil means a client
// with a 30 s timeout.
//
// Base URL rule, applied once here:
//   - "" means DefaultBaseURL.
//   - If baseURL contains "{companyId}", each occurrence is replaced by the
//     path-escaped companyID ("https://simplyprint.io/api/{companyId}/").
//   - Otherwise companyID is appended as the last path segment, unless the
//     path already ends with it: "https://simplyprint.io/api" and
//     "https://simplyprint.io/api/27286/" both resolve to
//     "https://simplyprint.io/api/27286/". With an empty companyID such a
//     base is used as given.
//
// A trailing "/" is added and endpoint paths ("webhooks/Get") are appended
// to the result. An unusable base URL (not absolute http(s), has a query,
// template with an empty companyID) is reported by every call as a
// permanent APIError with Code CodeInvalidRequest.
func New(baseURL, companyID, apiKey string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base, err := ResolveBaseURL(baseURL, companyID)
	return &Client{base: base, baseErr: err, apiKey: apiKey, hc: hc, now: time.Now}
}

// ResolveBaseURL applies New's base URL rule and returns the company-scoped
// base (ending in "/").
func ResolveBaseURL(baseURL, companyID string) (string, error) {
	if strings.TrimSpace(baseURL) == "" {
		baseURL = DefaultBaseURL
	}
	baseURL = strings.TrimSpace(baseURL)
	id := strings.TrimSpace(companyID)
	templated := strings.Contains(baseURL, CompanyIDPlaceholder)
	if templated {
		if id == "" {
			return "", errors.New("base URL template " + CompanyIDPlaceholder + " needs a company id, got none")
		}
		baseURL = strings.ReplaceAll(baseURL, CompanyIDPlaceholder, url.PathEscape(id))
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", errors.New("base URL does not parse as a URL")
	}
	shown := u.Redacted() // never echo credentials
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("base URL %q: want an absolute http(s) URL", shown)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("base URL %q: must not have user info, a query or a fragment", shown)
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if !templated && id != "" && !strings.HasSuffix(p, "/"+url.PathEscape(id)) {
		p += "/" + url.PathEscape(id)
	}
	return u.Scheme + "://" + u.Host + p + "/", nil
}

// BaseURL returns the resolved company-scoped base, or "" when it is invalid.
func (c *Client) BaseURL() string { return c.base }

// envelope is the wrapper of every SimplyPrint response.
type envelope struct {
	Status  *bool           `json:"status"`
	Message json.RawMessage `json:"message"`
}

// call sends one request and decodes a successful envelope into out (which
// sees the whole body, so endpoint fields such as "data" or "webhook" sit at
// its top level).
func (c *Client) call(ctx context.Context, method, op string, body, out any) error {
	if c.baseErr != nil {
		return vendor.Invalid(op, "%s", c.baseErr)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &APIError{Vendor: vendor.Name, Op: op, Code: CodeInvalidRequest, Message: "encode request", Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+op, rd)
	if err != nil {
		return &APIError{Vendor: vendor.Name, Op: op, Code: CodeInvalidRequest, Message: "build request", Err: err}
	}
	req.Header.Set("X-API-KEY", c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hookflow")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return vendor.Transport(op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return vendor.Transport(op, fmt.Errorf("read response: %w", err))
	}

	var env envelope
	envErr := json.Unmarshal(raw, &env)
	retryAfter := apierr.RetryAfter(resp.Header, c.now())

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := http.StatusText(resp.StatusCode)
		if envErr == nil {
			if m := messageText(env.Message); m != "" {
				msg = m
			}
		}
		return vendor.Status(op, resp.StatusCode, msg, retryAfter)
	}
	if envErr != nil || env.Status == nil {
		if envErr == nil {
			envErr = errors.New(`no "status" field`)
		}
		return &APIError{
			Vendor: vendor.Name,
			Op:     op, Status: resp.StatusCode, Code: CodeBadResponse,
			Message: "response is not a SimplyPrint envelope", Err: envErr, Retryable: true,
		}
	}
	if !*env.Status {
		msg := messageText(env.Message)
		if msg == "" {
			msg = "no message"
		}
		return &APIError{
			Vendor: vendor.Name,
			Op:     op, Status: resp.StatusCode, Code: CodeStatusFalse, Message: msg,
			RetryAfter: retryAfter,
		}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return &APIError{
				Vendor: vendor.Name,
				Op:     op, Status: resp.StatusCode, Code: CodeBadResponse,
				Message: "decode response", Err: err, Retryable: true,
			}
		}
	}
	return nil
}

// messageText renders the envelope's "message", which is usually a string
// but may be null or structured.
func messageText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return ""
	}
	const max = 500
	if b.Len() > max {
		return b.String()[:max] + "..."
	}
	return b.String()
}
