package bitrix_test

// These tests run the PHP that users install on their Bitrix site against
// Go test servers, with testdata/shim.php standing in for Bitrix. They need
// php-cli (and its curl extension for the curl transport): without php they
// are skipped locally and fail when CI is set.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/ordersync"
)

const token = "secret-webhook-token-2024"

func phpBinary(t *testing.T) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("php-cli is required in CI: %v", err)
		}
		t.Skip("php-cli not installed (apt-get install php-cli php-curl)")
	}
	return php
}

func requireCurl(t *testing.T, php string) {
	t.Helper()
	if exec.Command(php, "-r", `exit(function_exists("curl_init") ? 0 : 1);`).Run() != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the php curl extension is required in CI (apt-get install php-curl)")
		}
		t.Skip("php curl extension not installed")
	}
}

// received is one request the fake hookflow got.
type received struct {
	Path   string
	Header http.Header
	Body   []byte
}

// hookflow is a fake hookflow API answering statuses in turn (then 200).
type hookflow struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
}

func newHookflow(t *testing.T, statuses ...int) *hookflow {
	h := &hookflow{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, received{r.URL.Path, r.Header.Clone(), body})
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status/100 == 2 {
			_, _ = w.Write([]byte(`{"status":"accepted"}`))
		} else {
			_, _ = w.Write([]byte(`{"error":"temporarily unavailable"}`))
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookflow) requests() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got...)
}

// runHandler runs testdata/run_handler.php and returns its stdout and the
// lines of the webhook log.
func runHandler(t *testing.T, php, fixture, mode string, env ...string) (string, []string) {
	t.Helper()
	docroot := t.TempDir()
	cmd := exec.Command(php, "run_handler.php", fixture, mode)
	cmd.Dir = "testdata"
	cmd.Env = append(os.Environ(), append([]string{"DOCUMENT_ROOT=" + docroot}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String(), "PHP warnings or notices")
	log, err := os.ReadFile(filepath.Join(docroot, "upload", "webhook_log.txt"))
	require.NoError(t, err, "the handler must log every attempt")
	return strings.TrimSpace(stdout.String()), strings.Split(strings.TrimSpace(string(log)), "\n")
}

func TestHandlerPostsSavedOrder(t *testing.T) {
	php := phpBinary(t)
	for _, transport := range []string{"curl", "stream"} {
		t.Run(transport, func(t *testing.T) {
			if transport == "curl" {
				requireCurl(t, php)
			}
			hf := newHookflow(t)
			out, log := runHandler(t, php, "order_fixture.json", "saved",
				"HOOKFLOW_WEBHOOK_URL="+hf.URL+"/", "HOOKFLOW_WEBHOOK_TOKEN="+token, "HOOKFLOW_WEBHOOK_TRANSPORT="+transport)
			assert.Equal(t, `{"results":[1]}`, out, "the handler answers EventResult::SUCCESS")

			reqs := hf.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, "/api/webhooks/bitrix/order", r.Path)
			assert.Equal(t, token, r.Header.Get("X-Webhook-Token"))
			assert.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
			assert.Equal(t, "hookflow-bitrix/1.0", r.Header.Get("User-Agent"))

			// The raw contract: keys and JSON types.
			var raw map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(r.Body, &raw), string(r.Body))
			assert.ElementsMatch(t, []string{"event", "is_new", "order", "old_values", "sent_at"}, keys(raw))
			var order map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw["order"], &order))
			assert.ElementsMatch(t, []string{"ID", "ACCOUNT_NUMBER", "USER_ID", "STATUS_ID", "DATE_STATUS", "PAYED",
				"CANCELED", "PRICE", "PRICE_DELIVERY", "CURRENCY", "USER_DESCRIPTION", "COMMENTS", "DATE_INSERT",
				"DATE_UPDATE", "TRACKING_NUMBER", "BASKET", "PROPERTIES"}, keys(order))
			assert.Equal(t, `"2025-01-09T12:00:05+05:00"`, string(order["DATE_UPDATE"]), "dates as ISO 8601 with offset")
			assert.Equal(t, `18500.5`, string(order["PRICE"]))
			assert.Equal(t, `"N"`, string(order["PAYED"]))
			assert.True(t, bytes.HasPrefix(order["PROPERTIES"], []byte("{")), "PROPERTIES is an object")
			assert.Contains(t, string(r.Body), "Букет из 25 роз «Нежность»", "UTF-8 unescaped")

			ev, err := ordersync.ParseSiteOrder(r.Body)
			require.NoError(t, err, string(r.Body))
			assert.Equal(t, ordersync.EventOrderSaved, ev.Event)
			assert.True(t, ev.IsNew)
			assert.Equal(t, "", ev.Origin)
			assert.WithinDuration(t, time.Now(), ev.SentAt, time.Minute)
			assert.Equal(t, map[string]string{"DATE_UPDATE": "2025-01-09T11:58:00+05:00", "PRICE": "18000"}, ev.OldValues)
			o := ev.Order
			assert.Equal(t, int64(122045), o.ID)
			assert.Equal(t, int64(5817), o.UserID)
			assert.Equal(t, "N", o.StatusID)
			assert.Equal(t, time.Date(2025, 1, 9, 7, 0, 5, 0, time.UTC), ordersync.Version(o))
			assert.Equal(t, "18500.5", o.Price.String())
			assert.Equal(t, "2000", o.PriceDelivery.String())
			assert.Equal(t, "KZT", o.Currency)
			assert.Equal(t, `Позвонить получателю за час, "домофон 12"`, o.UserDescription)
			assert.Equal(t, "KZ-DLV-7781", o.TrackingNumber, "from the first non-system shipment")
			require.Len(t, o.Basket, 2)
			assert.Equal(t, ordersync.BasketItem{ID: 310552, ProductID: 118, Name: "Открытка",
				Price: o.Basket[1].Price, Currency: "KZT", Quantity: o.Basket[1].Quantity}, o.Basket[1])
			assert.Equal(t, "500", o.Basket[1].Price.String())
			assert.Equal(t, "2", o.Basket[1].Quantity.String())
			assert.Equal(t, map[string]string{
				"FIO": "Айгерим Сапарова", "EMAIL": "aigerim@example.kz", "PHONE": "+7 701 555 12 34",
				"ADDRESS": "Алматы, ул. Абая 150, кв. 12", "ORDER_PROP_9": "утро, вечер",
			}, o.Properties)
			c := ordersync.ToCRM(o, ordersync.DefaultStatusMap())
			assert.Equal(t, "new", c.Status)
			assert.Equal(t, "Айгерим Сапарова", c.CustomerName)

			require.Len(t, log, 1)
			assert.Regexp(t, `^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] order\.saved order=122045 attempt=1/2 POST `+
				regexp.QuoteMeta(hf.URL)+`/api/webhooks/bitrix/order -> HTTP 200 in \d+\.\d{3}s ok$`, log[0])
			assert.NotContains(t, log[0], token)
		})
	}
}

func TestHandlerPostsStatusChange(t *testing.T) {
	php := phpBinary(t)
	fixture := writeFixture(t, func(f map[string]any) {
		f["is_new"] = false
		f["fields"].(map[string]any)["STATUS_ID"] = "PD"
		f["old_values"] = map[string]any{"STATUS_ID": "N"}
		f["properties"] = []any{}
	})
	hf := newHookflow(t)
	_, log := runHandler(t, php, fixture, "status", "HOOKFLOW_WEBHOOK_URL="+hf.URL, "HOOKFLOW_WEBHOOK_TOKEN="+token)
	reqs := hf.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/api/webhooks/bitrix/status", reqs[0].Path)
	assert.Equal(t, token, reqs[0].Header.Get("X-Webhook-Token"))
	assert.Contains(t, string(reqs[0].Body), `"PROPERTIES":{}`, "empty properties stay an object")
	ev, err := ordersync.ParseSiteOrder(reqs[0].Body)
	require.NoError(t, err)
	assert.Equal(t, ordersync.EventStatusChanged, ev.Event)
	assert.False(t, ev.IsNew)
	assert.Equal(t, "PD", ev.Order.StatusID)
	assert.Equal(t, map[string]string{"STATUS_ID": "N"}, ev.OldValues)
	require.Len(t, log, 1)
	assert.Contains(t, log[0], "order.status_changed order=122045 attempt=1/2 POST "+hf.URL+"/api/webhooks/bitrix/status -> HTTP 200")
}

func TestHandlerRetriesAndFailures(t *testing.T) {
	php := phpBinary(t)
	t.Run("503 then 200", func(t *testing.T) {
		hf := newHookflow(t, 503)
		out, log := runHandler(t, php, "order_fixture.json", "saved", "HOOKFLOW_WEBHOOK_URL="+hf.URL, "HOOKFLOW_WEBHOOK_TOKEN="+token)
		assert.Equal(t, `{"results":[1]}`, out)
		reqs := hf.requests()
		require.Len(t, reqs, 2)
		assert.Equal(t, reqs[0].Body, reqs[1].Body, "the retry sends the same JSON")
		require.Len(t, log, 2)
		assert.Contains(t, log[0], "attempt=1/2 POST "+hf.URL+"/api/webhooks/bitrix/order -> HTTP 503")
		assert.Contains(t, log[0], `error: {"error":"temporarily unavailable"}`)
		assert.Contains(t, log[1], "attempt=2/2")
		assert.True(t, strings.HasSuffix(log[1], " ok"), log[1])
	})
	t.Run("400 is not retried", func(t *testing.T) {
		hf := newHookflow(t, 400)
		_, log := runHandler(t, php, "order_fixture.json", "saved", "HOOKFLOW_WEBHOOK_URL="+hf.URL, "HOOKFLOW_WEBHOOK_TOKEN="+token)
		assert.Len(t, hf.requests(), 1)
		require.Len(t, log, 1)
		assert.Contains(t, log[0], "-> HTTP 400")
	})
	t.Run("hookflow down does not break the save", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		out, log := runHandler(t, php, "order_fixture.json", "saved", "HOOKFLOW_WEBHOOK_URL=http://"+addr, "HOOKFLOW_WEBHOOK_TOKEN="+token)
		assert.Equal(t, `{"results":[1]}`, out)
		require.Len(t, log, 2)
		for _, l := range log {
			assert.Contains(t, l, "-> HTTP 0 ")
			assert.Contains(t, l, "error: ")
			assert.NotContains(t, l, token)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		hf := newHookflow(t)
		out, log := runHandler(t, php, "order_fixture.json", "saved", "HOOKFLOW_WEBHOOK_URL="+hf.URL, "HOOKFLOW_WEBHOOK_TOKEN=")
		assert.Equal(t, `{"results":[1]}`, out)
		assert.Empty(t, hf.requests())
		require.Len(t, log, 1)
		assert.Contains(t, log[0], "skipped: HOOKFLOW_WEBHOOK_URL or HOOKFLOW_WEBHOOK_TOKEN is not set")
	})
}

// TestBackSyncEndpoint serves hookflow_order_update.php with PHP's built-in
// server and drives it with bitrix.SiteClient; saving fires the installed
// handler, whose echo reaches the fake hookflow.
func TestBackSyncEndpoint(t *testing.T) {
	php := phpBinary(t)
	requireCurl(t, php)
	hf := newHookflow(t)
	storePath, writeStore := backSyncStore(t)
	logPath := filepath.Join(t.TempDir(), "webhook_log.txt")

	base := startPHPServer(t, php, "HOOKFLOW_SHIM_STORE="+storePath, "HOOKFLOW_WEBHOOK_LOG="+logPath,
		"HOOKFLOW_WEBHOOK_URL="+hf.URL, "HOOKFLOW_WEBHOOK_TOKEN="+token)
	site, err := bitrix.NewSiteClient(base+"/api/", token, &http.Client{Timeout: 10 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()

	raw, err := site.UpdateOrder(ctx, bitrix.OrderUpdate{OrderID: 122045, StatusID: "PD", Comment: "Оплачено (CRM)"})
	require.NoError(t, err)
	o, err := ordersync.ParseSiteOrderFields(raw)
	require.NoError(t, err, string(raw))
	assert.Equal(t, "PD", o.StatusID)
	assert.Equal(t, "Оплачено (CRM)", o.Comments)
	assert.WithinDuration(t, time.Now(), ordersync.Version(o), time.Minute, "the save bumped DATE_UPDATE")

	// Saving fired OnSaleOrderSaved and OnSaleStatusOrderChange, marked as
	// hookflow's own change.
	reqs := hf.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/api/webhooks/bitrix/order", reqs[0].Path)
	assert.Equal(t, "/api/webhooks/bitrix/status", reqs[1].Path)
	for _, r := range reqs {
		ev, err := ordersync.ParseSiteOrder(r.Body)
		require.NoError(t, err, string(r.Body))
		assert.Equal(t, ordersync.OriginBackSync, ev.Origin)
		assert.Equal(t, "PD", ev.Order.StatusID)
		assert.Equal(t, "N", ev.OldValues["STATUS_ID"])
	}
	log, err := os.ReadFile(logPath)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], "order.saved order=122045 attempt=1/1")
	assert.Contains(t, lines[1], "order.status_changed order=122045 attempt=1/1")

	// The same call again changes nothing: the comment is not doubled, no echo.
	raw, err = site.UpdateOrder(ctx, bitrix.OrderUpdate{OrderID: 122045, StatusID: "PD", Comment: "Оплачено (CRM)"})
	require.NoError(t, err)
	o, err = ordersync.ParseSiteOrderFields(raw)
	require.NoError(t, err)
	assert.Equal(t, "Оплачено (CRM)", o.Comments)
	assert.Len(t, hf.requests(), 2)

	wrongToken, err := bitrix.NewSiteClient(base+"/api/", "wrong", nil)
	require.NoError(t, err)
	cases := []struct {
		name      string
		client    *bitrix.SiteClient
		upd       bitrix.OrderUpdate
		failSave  string
		status    int
		code      string
		notFound  bool
		retryable bool
	}{
		{"wrong token", wrongToken, bitrix.OrderUpdate{OrderID: 122045, StatusID: "P"}, "", 401, "unauthorized", false, false},
		{"missing order", site, bitrix.OrderUpdate{OrderID: 404, StatusID: "P"}, "", 404, "order_not_found", true, false},
		{"unknown status", site, bitrix.OrderUpdate{OrderID: 122045, StatusID: "XX"}, "", 422, "unknown_status", false, false},
		{"save fails", site, bitrix.OrderUpdate{OrderID: 122045, StatusID: "F"}, "order is locked by admin", 422, "save_failed", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeStore(tc.failSave)
			_, err := tc.client.UpdateOrder(ctx, tc.upd)
			var ae *bitrix.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.Status, err.Error())
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.notFound, errors.Is(err, bitrix.ErrNotFound))
			assert.Equal(t, tc.retryable, ae.Retryable)
			if tc.failSave != "" {
				assert.Contains(t, ae.Message, tc.failSave)
			}
		})
	}

	for _, tc := range []struct {
		method, body, want string
		status             int
	}{
		{http.MethodGet, "", `"code":"method_not_allowed"`, 405},
		{http.MethodPost, `not json`, `"error":"body is not a JSON object"`, 400},
		{http.MethodPost, `{"order_id":"abc","status_id":"P"}`, `"error":"order_id must be a positive integer"`, 400},
		{http.MethodPost, `{"order_id":1,"status_id":["P"]}`, `"error":"status_id must be a string"`, 400},
		{http.MethodPost, `{"order_id":1,"status_id":"P; DROP"}`, `"code":"bad_request"`, 400},
		{http.MethodPost, `{"order_id":1}`, `"error":"nothing to update: give status_id and/or comment"`, 400},
	} {
		req, err := http.NewRequest(tc.method, base+"/api/hookflow_order_update.php", strings.NewReader(tc.body))
		require.NoError(t, err)
		req.Header.Set("X-Webhook-Token", token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tc.status, resp.StatusCode, tc.body)
		assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Contains(t, string(body), `"success":false`)
		assert.Contains(t, string(body), tc.want)
	}
}

// backSyncStore writes the shim's order store (the fixture order, statuses
// N P F PD) for the back-sync endpoint and returns its path and a function
// that rewrites it with the save failing with failSave ("" succeeds).
func backSyncStore(t *testing.T) (path string, write func(failSave string)) {
	t.Helper()
	var fixture map[string]any
	b, err := os.ReadFile("testdata/order_fixture.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &fixture))
	delete(fixture, "is_new")
	delete(fixture, "old_values")
	path = filepath.Join(t.TempDir(), "store.json")
	write = func(failSave string) {
		data, err := json.Marshal(map[string]any{"statuses": []string{"N", "P", "F", "PD"}, "fail_save": failSave, "orders": []any{fixture}})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, data, 0o600))
	}
	write("")
	return path, write
}

// TestBackSyncTokenRotation: during a rotation of the shared token the
// back-sync endpoint accepts HOOKFLOW_BACKSYNC_TOKEN and
// HOOKFLOW_BACKSYNC_TOKEN_PREVIOUS (while the site still sends the old
// HOOKFLOW_WEBHOOK_TOKEN), and once the previous one is removed only the new.
func TestBackSyncTokenRotation(t *testing.T) {
	php := phpBinary(t)
	requireCurl(t, php)
	hf := newHookflow(t)
	const oldToken, newToken = token, "rotated-webhook-token-2025"
	update := func(base, tok string, statusID string) error {
		t.Helper()
		site, err := bitrix.NewSiteClient(base+"/api/", tok, &http.Client{Timeout: 10 * time.Second})
		require.NoError(t, err)
		_, err = site.UpdateOrder(context.Background(), bitrix.OrderUpdate{OrderID: 122045, StatusID: statusID})
		return err
	}
	unauthorized := func(t *testing.T, err error) {
		t.Helper()
		var ae *bitrix.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 401, ae.Status, err.Error())
		assert.Equal(t, "unauthorized", ae.Code)
	}

	storePath, _ := backSyncStore(t)
	during := startPHPServer(t, php, "HOOKFLOW_SHIM_STORE="+storePath, "HOOKFLOW_WEBHOOK_LOG=",
		"HOOKFLOW_WEBHOOK_URL="+hf.URL, "HOOKFLOW_WEBHOOK_TOKEN="+oldToken,
		"HOOKFLOW_BACKSYNC_TOKEN="+newToken, "HOOKFLOW_BACKSYNC_TOKEN_PREVIOUS="+oldToken)
	require.NoError(t, update(during, newToken, "P"), "the new token")
	require.NoError(t, update(during, oldToken, "F"), "the previous token")
	unauthorized(t, update(during, "wrong", "N"))

	storePath, _ = backSyncStore(t)
	after := startPHPServer(t, php, "HOOKFLOW_SHIM_STORE="+storePath, "HOOKFLOW_WEBHOOK_LOG=",
		"HOOKFLOW_WEBHOOK_URL="+hf.URL, "HOOKFLOW_WEBHOOK_TOKEN="+newToken)
	require.NoError(t, update(after, newToken, "P"))
	unauthorized(t, update(after, oldToken, "F"))
}

// startPHPServer runs `php -S` on a free port with testdata/router.php and
// returns its base URL.
func startPHPServer(t *testing.T, php string, env ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cmd := exec.Command(php, "-S", addr, "-t", "docroot", "router.php")
	cmd.Dir = "testdata"
	cmd.Env = append(os.Environ(), env...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("php -S output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("php -S did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr
}

// writeFixture writes a modified copy of testdata/order_fixture.json and
// returns its absolute path.
func writeFixture(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	b, err := os.ReadFile("testdata/order_fixture.json")
	require.NoError(t, err)
	var f map[string]any
	require.NoError(t, json.Unmarshal(b, &f))
	edit(f)
	out, err := json.Marshal(f)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "fixture.json")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
