// Package bitrix talks to Bitrix: the Bitrix24 REST API through an inbound
// webhook (RESTClient), the shop's back-sync endpoint shipped in
// contrib/bitrix (SiteClient), and Bitrix24 outbound event posts
// (ParseOutboundEvent). Clients never retry: they classify failures in
// *APIError (see IsRetryable) and leave retries to Temporal activities.
// Order payloads are returned raw; internal/ordersync normalises them.
package bitrix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// maxResponse bounds the bytes read from any response.
const maxResponse = 8 << 20

// RESTClient calls Bitrix24 REST methods through an inbound webhook:
// POST {base}{method}.json with a JSON body, where base is
// "https://{portal}/rest/{user_id}/{code}/" (BITRIX_REST_URL). The code is
// a secret: it never appears in errors.
type RESTClient struct {
	base   *url.URL
	secret string
	hc     *http.Client
	now    func() time.Time
}

var methodRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$`)

// NewRESTClient validates baseURL ("https://portal/rest/1/<code>/"; the
// trailing slash is optional) and returns a client using hc
// (http.DefaultClient when nil).
func NewRESTClient(baseURL string, hc *http.Client) (*RESTClient, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The URL holds the webhook code: do not echo it.
		return nil, errors.New("bitrix: BITRIX_REST_URL must be an http(s) URL like https://portal.bitrix24.ru/rest/1/<webhook code>/")
	}
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if len(segs) < 2 {
		return nil, fmt.Errorf("bitrix: BITRIX_REST_URL for %s must end in /rest/<user id>/<webhook code>/", u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("bitrix: BITRIX_REST_URL for %s must have no query or fragment", u.Host)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &RESTClient{base: u, secret: segs[len(segs)-1], hc: hc, now: time.Now}, nil
}

// postJSON posts body as JSON to endpoint for op, with the extra header,
// and returns the answer (its body closed) and what it said, maxResponse
// at most. Its errors are *APIError (a bad request, no answer, a broken
// read), with secret scrubbed from them.
func postJSON(ctx context.Context, hc *http.Client, op, endpoint string, body []byte, header http.Header, secret string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, nil, InvalidRequest(op, "%v", scrub(err, secret))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, vendor.Transport(op, redactURLError(err, secret))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, &APIError{Vendor: vendor.Name, Op: op, Status: resp.StatusCode, Code: CodeTransport,
			Message: "reading response", Err: scrub(err, secret), Retryable: apierr.TransportRetryable(err)}
	}
	return resp, raw, nil
}

// restReply is the envelope of every REST answer.
type restReply struct {
	Result           json.RawMessage `json:"result"`
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// Call invokes a REST method with params (marshalled to JSON; nil sends
// {}) and returns the raw "result".
func (c *RESTClient) Call(ctx context.Context, method string, params any) (json.RawMessage, error) {
	if !methodRe.MatchString(method) {
		return nil, InvalidRequest(method, "%q is not a REST method name", method)
	}
	body := []byte("{}")
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return nil, InvalidRequest(method, "params: %v", err)
		}
		body = b
	}
	resp, raw, err := postJSON(ctx, c.hc, method, c.base.JoinPath(method+".json").String(), body, nil, c.secret)
	if err != nil {
		return nil, err
	}
	retryAfter := apierr.RetryAfter(resp.Header, c.now())

	var reply restReply
	jsonErr := json.Unmarshal(raw, &reply)
	if jsonErr == nil && len(reply.Error) > 0 && string(reply.Error) != "null" {
		code := errorCode(reply.Error)
		return nil, answerError(method, resp.StatusCode, code, scrubString(reply.ErrorDescription, c.secret),
			retryable(resp.StatusCode, code), retryAfter)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, vendor.Status(method, resp.StatusCode, snippet(raw, c.secret), retryAfter)
	}
	if jsonErr != nil || len(reply.Result) == 0 {
		msg := "no \"result\" in the answer"
		if jsonErr != nil {
			msg = "answer is not JSON: " + snippet(raw, c.secret)
		}
		// Likely a proxy or maintenance page: worth another try.
		return nil, &APIError{Vendor: vendor.Name, Op: method, Status: resp.StatusCode, Code: CodeBadResponse, Message: msg, Retryable: true}
	}
	return reply.Result, nil
}

// errorCode renders Bitrix's "error" (a string or a number) as text.
func errorCode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

// orderResult extracts result.order of sale.order.get / sale.order.update.
func orderResult(method string, result json.RawMessage) (json.RawMessage, error) {
	var r struct {
		Order json.RawMessage `json:"order"`
	}
	if err := json.Unmarshal(result, &r); err != nil || len(r.Order) == 0 || r.Order[0] != '{' {
		return nil, &APIError{Vendor: vendor.Name, Op: method, Status: http.StatusOK, Code: CodeBadResponse,
			Message: "result has no \"order\" object", Retryable: true}
	}
	return r.Order, nil
}

// GetOrder calls sale.order.get {"id": id} and returns result.order, the
// camelCase order for ordersync.FromREST. A missing order is an APIError
// matching ErrNotFound (permanent).
func (c *RESTClient) GetOrder(ctx context.Context, id int64) (json.RawMessage, error) {
	const method = "sale.order.get"
	if id <= 0 {
		return nil, InvalidRequest(method, "order id must be positive, got %d", id)
	}
	res, err := c.Call(ctx, method, map[string]any{"id": id})
	if err != nil {
		return nil, err
	}
	return orderResult(method, res)
}

// UpdateOrder calls sale.order.update {"id": id, "fields": fields} with
// camelCase fields (e.g. {"statusId": "P"}) and returns result.order.
func (c *RESTClient) UpdateOrder(ctx context.Context, id int64, fields map[string]any) (json.RawMessage, error) {
	const method = "sale.order.update"
	if id <= 0 {
		return nil, InvalidRequest(method, "order id must be positive, got %d", id)
	}
	if len(fields) == 0 {
		return nil, InvalidRequest(method, "no fields to update")
	}
	res, err := c.Call(ctx, method, map[string]any{"id": id, "fields": fields})
	if err != nil {
		return nil, err
	}
	return orderResult(method, res)
}
