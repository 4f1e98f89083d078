package bitrixtest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event is a Bitrix24 outbound event as the portal posts it.
type Event struct {
	Name             string    // e.g. "ONSALEORDERSAVED"
	HandlerID        int       // event_handler_id
	OrderID          int64     // data[FIELDS][ID]
	Action           string    // data[FIELDS][ACTION], "" to omit
	TS               time.Time // ts; zero -> now
	Domain           string    // auth[domain]; "" -> "hookflow-test.bitrix24.ru"
	MemberID         string    // auth[member_id]
	ApplicationToken string    // auth[application_token]
}

// Form renders the event in the portal's wire format: form fields with
// PHP-style keys, every value a string.
func (e Event) Form() url.Values {
	ts := e.TS
	if ts.IsZero() {
		ts = time.Now()
	}
	domain := e.Domain
	if domain == "" {
		domain = "hookflow-test.bitrix24.ru"
	}
	v := url.Values{}
	v.Set("event", e.Name)
	v.Set("event_handler_id", strconv.Itoa(e.HandlerID))
	v.Set("data[FIELDS][ID]", strconv.FormatInt(e.OrderID, 10))
	if e.Action != "" {
		v.Set("data[FIELDS][ACTION]", e.Action)
	}
	v.Set("ts", strconv.FormatInt(ts.Unix(), 10))
	v.Set("auth[domain]", domain)
	v.Set("auth[client_endpoint]", "https://"+domain+"/rest/")
	v.Set("auth[server_endpoint]", "https://oauth.bitrix.info/rest/")
	v.Set("auth[member_id]", e.MemberID)
	v.Set("auth[application_token]", e.ApplicationToken)
	v.Set("auth[scope]", "sale")
	v.Set("auth[status]", "L")
	return v
}

// SendEvent posts e to target as application/x-www-form-urlencoded, like
// the portal, and returns the response status. hc nil uses
// http.DefaultClient.
func SendEvent(ctx context.Context, hc *http.Client, target string, e Event) (int, error) {
	return post(ctx, hc, target, e.Form().Encode(), "application/x-www-form-urlencoded", "Bitrix24 Webhook Engine", nil)
}

// post posts body to target through hc (nil: http.DefaultClient) with its
// Content-Type, User-Agent and the extra header, reads the answer (1 MiB
// at most) and returns its status.
func post(ctx context.Context, hc *http.Client, target, body, contentType, userAgent string, header http.Header) (int, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}
