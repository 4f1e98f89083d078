package bitrix_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/clienttest"
	"github.com/hookflow/hookflow/internal/ordersync"
)

const siteToken = "secret-webhook-token-2024"

func newSite(t *testing.T) (*bitrixtest.Site, *bitrix.SiteClient) {
	t.Helper()
	fake := bitrixtest.NewSite(t, siteToken)
	// BITRIX_API_URL without the trailing slash works too.
	c, err := bitrix.NewSiteClient(strings.TrimSuffix(fake.URL(), "/"), siteToken, nil)
	require.NoError(t, err)
	return fake, c
}

func TestSiteUpdateOrder(t *testing.T) {
	fake, c := newSite(t)
	fake.PutOrder(bitrixtest.NewSiteOrder(122045, "N"))
	fake.SetClock(func() time.Time { return bitrixtest.SampleTime.Add(2 * time.Hour) })
	ctx := context.Background()

	raw, err := c.UpdateOrder(ctx, bitrix.OrderUpdate{OrderID: 122045, StatusID: "P", Comment: "Статус изменён в CRM"})
	require.NoError(t, err)
	o, err := ordersync.ParseSiteOrderFields(raw)
	require.NoError(t, err)
	assert.Equal(t, "P", o.StatusID)
	assert.Equal(t, "Статус изменён в CRM", o.Comments)
	assert.Equal(t, bitrixtest.SampleTime.Add(2*time.Hour).UTC(), ordersync.Version(o))

	// A retried call adds the comment once.
	raw, err = c.UpdateOrder(ctx, bitrix.OrderUpdate{OrderID: 122045, StatusID: "P", Comment: "Статус изменён в CRM"})
	require.NoError(t, err)
	o, err = ordersync.ParseSiteOrderFields(raw)
	require.NoError(t, err)
	assert.Equal(t, "Статус изменён в CRM", o.Comments)

	calls := fake.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "/api/hookflow_order_update.php", calls[0].Path)
	assert.Equal(t, http.MethodPost, calls[0].Method)
	assert.Equal(t, siteToken, calls[0].Token)
	assert.JSONEq(t, `{"order_id":122045,"status_id":"P","comment":"Статус изменён в CRM"}`, string(calls[0].Body))
	assert.Equal(t, "application/json", calls[0].Header.Get("Content-Type"))
}

func TestSiteUpdateOrderErrors(t *testing.T) {
	fake, c := newSite(t)
	fake.PutOrder(bitrixtest.NewSiteOrder(1, "N"))
	ctx := context.Background()
	wrongToken, err := bitrix.NewSiteClient(fake.URL(), "nope", nil)
	require.NoError(t, err)
	cases := []struct {
		name      string
		setup     func()
		client    *bitrix.SiteClient
		upd       bitrix.OrderUpdate
		status    int
		code      string
		retryable bool
		notFound  bool
	}{
		{"not found", nil, c, bitrix.OrderUpdate{OrderID: 9, StatusID: "P"}, 404, "order_not_found", false, true},
		{"unknown status", nil, c, bitrix.OrderUpdate{OrderID: 1, StatusID: "ZZ"}, 422, "unknown_status", false, false},
		{"wrong token", nil, wrongToken, bitrix.OrderUpdate{OrderID: 1, StatusID: "P"}, 401, "unauthorized", false, false},
		{"injected 503", func() { fake.FailNext(1, 503) }, c, bitrix.OrderUpdate{OrderID: 1, StatusID: "P"}, 503, "injected", true, false},
		{"injected 500", func() { fake.FailNext(1, 500) }, c, bitrix.OrderUpdate{OrderID: 1, StatusID: "P"}, 500, "injected", true, false},
		{"nothing to do", nil, c, bitrix.OrderUpdate{OrderID: 1}, 0, bitrix.CodeInvalidRequest, false, false},
		{"bad id", nil, c, bitrix.OrderUpdate{OrderID: -1, StatusID: "P"}, 0, bitrix.CodeInvalidRequest, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			_, err := tc.client.UpdateOrder(ctx, tc.upd)
			var ae *bitrix.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.retryable, ae.Retryable)
			assert.Equal(t, tc.notFound, errors.Is(err, bitrix.ErrNotFound))
			assert.NotContains(t, err.Error(), siteToken)
		})
	}
}

func TestSiteClassification(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		code      string
		retryable bool
	}{
		{"success false on 200", 200, `{"success":false,"error":"save failed: order is locked","code":"save_failed"}`, "save_failed", false},
		{"html 502", 502, `<html>Bad gateway</html>`, bitrix.CodeHTTP, true},
		{"html 200", 200, `<html>ok</html>`, bitrix.CodeBadResponse, true},
		{"no order", 200, `{"success":true}`, bitrix.CodeBadResponse, true},
		{"php fatal 500", 500, `Fatal error: Uncaught Exception`, bitrix.CodeHTTP, true},
		{"429", 429, `{"success":false,"error":"slow down","code":"rate_limited"}`, "rate_limited", true},
		{"400", 400, `{"success":false,"error":"order_id must be a positive integer","code":"bad_request"}`, "bad_request", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := clienttest.Answering(t, tc.status, nil, tc.body)
			c, err := bitrix.NewSiteClient(srv.URL+"/api/", siteToken, nil)
			require.NoError(t, err)
			_, err = c.UpdateOrder(context.Background(), bitrix.OrderUpdate{OrderID: 1, StatusID: "P"})
			var ae *bitrix.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.retryable, ae.Retryable)
		})
	}
}

func TestNewSiteClientValidation(t *testing.T) {
	for _, tc := range []struct{ url, token string }{
		{"cvety.kz/api/", "t"}, {"https://cvety.kz/api/", " "}, {"https://cvety.kz/api/?a=b", "t"}, {"", "t"},
	} {
		_, err := bitrix.NewSiteClient(tc.url, tc.token, nil)
		assert.Error(t, err, tc.url)
	}
}

// TestSiteEcho: the fake posts the handler's JSON back to hookflow, and
// that JSON parses with ordersync.
func TestSiteEcho(t *testing.T) {
	type got struct {
		path, token string
		body        []byte
	}
	var mu sync.Mutex
	var posts []got
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, got{r.URL.Path, r.Header.Get("X-Webhook-Token"), b})
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()
	fake, c := newSite(t)
	fake.PutOrder(bitrixtest.NewSiteOrder(5, "N"))
	fake.SetEcho(hook.URL, "hook-token", nil)
	_, err := c.UpdateOrder(context.Background(), bitrix.OrderUpdate{OrderID: 5, StatusID: "F"})
	require.NoError(t, err)
	assert.Empty(t, fake.EchoErrors())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, posts, 2)
	assert.Equal(t, "/api/webhooks/bitrix/order", posts[0].path)
	assert.Equal(t, "/api/webhooks/bitrix/status", posts[1].path)
	for _, p := range posts {
		assert.Equal(t, "hook-token", p.token)
		ev, err := ordersync.ParseSiteOrder(p.body)
		require.NoError(t, err, string(p.body))
		assert.Equal(t, ordersync.OriginBackSync, ev.Origin)
		assert.Equal(t, "F", ev.Order.StatusID)
		assert.Equal(t, "N", ev.OldValues["STATUS_ID"])
	}
	// A no-op update is not echoed and reports changed=false.
	raw, err := c.UpdateOrder(context.Background(), bitrix.OrderUpdate{OrderID: 5, StatusID: "F"})
	require.NoError(t, err)
	assert.Len(t, posts, 2)
	var o map[string]any
	require.NoError(t, json.Unmarshal(raw, &o))
	assert.Equal(t, "F", o["STATUS_ID"])
}
