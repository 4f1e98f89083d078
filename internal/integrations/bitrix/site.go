package bitrix

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// SiteUpdatePath is the back-sync endpoint's file name under BITRIX_API_URL
// (contrib/bitrix/hookflow_order_update.php installed in the site's /api/).
const SiteUpdatePath = "hookflow_order_update.php"

// TokenHeader carries the shared secret both ways: on webhooks the PHP
// handler posts and on SiteClient calls.
const TokenHeader = "X-Webhook-Token"

// SiteClient calls the back-sync endpoint on the shop:
// POST {BITRIX_API_URL}hookflow_order_update.php with X-Webhook-Token.
type SiteClient struct {
	endpoint string
	token    string
	hc       *http.Client
	now      func() time.Time
}

// NewSiteClient validates apiURL (BITRIX_API_URL, e.g.
// "https://cvety.kz/api/"; a missing trailing slash is added) and token, and
// returns a client using hc (http.DefaultClient when nil).
func NewSiteClient(apiURL, token string, hc *http.Client) (*SiteClient, error) {
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("bitrix: BITRIX_API_URL must be an http(s) URL like https://shop.example/api/")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("bitrix: BITRIX_API_URL must have no query or fragment")
	}
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("bitrix: the back-sync token (WEBHOOK_TOKEN) is empty")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &SiteClient{endpoint: u.JoinPath(SiteUpdatePath).String(), token: token, hc: hc, now: time.Now}, nil
}

// OrderUpdate is the body of a back-sync call. At least one of StatusID and
// Comment must be set. The endpoint appends Comment to the order's COMMENTS
// unless COMMENTS already contains it (so a retried call adds it once).
type OrderUpdate struct {
	OrderID  int64  `json:"order_id"`
	StatusID string `json:"status_id,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// siteReply is the endpoint's answer:
// {"success":true,"order":{...}} or {"success":false,"error":"..","code":".."}.
type siteReply struct {
	Success *bool           `json:"success"`
	Order   json.RawMessage `json:"order"`
	Error   string          `json:"error"`
	Code    string          `json:"code"`
}

// UpdateOrder sets the order's status and/or adds a comment on the shop and
// returns the saved order in the site shape (upper-case fields, for
// ordersync.ParseSiteOrderFields). Errors are *APIError; the endpoint's
// "code" (e.g. "order_not_found", "unknown_status") is APIError.Code.
func (c *SiteClient) UpdateOrder(ctx context.Context, u OrderUpdate) (json.RawMessage, error) {
	const op = SiteUpdatePath
	switch {
	case u.OrderID <= 0:
		return nil, InvalidRequest(op, "order id must be positive, got %d", u.OrderID)
	case strings.TrimSpace(u.StatusID) == "" && strings.TrimSpace(u.Comment) == "":
		return nil, InvalidRequest(op, "nothing to update: status_id and comment are both empty")
	}
	body, err := json.Marshal(u)
	if err != nil {
		return nil, InvalidRequest(op, "%v", err)
	}
	resp, raw, err := postJSON(ctx, c.hc, op, c.endpoint, body, http.Header{TokenHeader: {c.token}}, c.token)
	if err != nil {
		return nil, err
	}
	retryAfter := apierr.RetryAfter(resp.Header, c.now())
	var reply siteReply
	jsonErr := json.Unmarshal(raw, &reply)
	ok2xx := resp.StatusCode >= 200 && resp.StatusCode <= 299
	refused := jsonErr == nil && reply.Success != nil && !*reply.Success
	if refused || !ok2xx {
		code, msg := reply.Code, reply.Error
		if jsonErr != nil || reply.Success == nil {
			code, msg = CodeHTTP, snippet(raw, c.token)
		}
		if code == "" {
			code = CodeHTTP
		}
		// success:false with a 2xx is the endpoint refusing: permanent.
		return nil, answerError(op, resp.StatusCode, code, scrubString(msg, c.token),
			!ok2xx && retryable(resp.StatusCode, ""), retryAfter)
	}
	if jsonErr != nil || reply.Success == nil || len(reply.Order) == 0 || reply.Order[0] != '{' {
		msg := "answer has no \"success\" and \"order\""
		if jsonErr != nil {
			msg = "answer is not JSON: " + snippet(raw, c.token)
		}
		return nil, &APIError{Vendor: vendor.Name, Op: op, Status: resp.StatusCode, Code: CodeBadResponse, Message: msg, Retryable: true}
	}
	return reply.Order, nil
}
