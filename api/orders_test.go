package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/chromedp/chromedp"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/ordersync"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

const (
	bxToken    = "secret-webhook-token-2024"
	bxApp      = "51856fefc120afa4b628cc82d3935cce"
	bxAdmin    = "admin-token-for-tests"
	bxOrderURL = "/api/webhooks/bitrix/order"
)

// startOrders runs hookflow with the order sync configured for tests: fast
// back-sync retries (100 ms doubling up to 1 s) instead of 10 s up to 1 h.
func startOrders(t *testing.T, vars map[string]string) (*app.App, *store.Store) {
	t.Helper()
	dbURL, st := testenv.Database(t)
	base := map[string]string{
		"BITRIX_WEBHOOK_TOKEN":       bxToken,
		"ADMIN_TOKEN":                bxAdmin,
		"BITRIX_BACKSYNC_RETRY_BASE": "100ms",
		"BITRIX_BACKSYNC_RETRY_MAX":  "1s",
		"BITRIX_BACKSYNC_RETRY_FOR":  "2m",
		"BITRIX_TIMEOUT":             "5s",
	}
	for k, v := range vars {
		base[k] = v
	}
	// The tests share one Temporal dev server and workflow ids follow CRM
	// ids (bitrix-backsync-<crm id>): give each database its own range, as
	// they use distinct Bitrix order ids.
	if _, err := st.Pool.Exec(context.Background(), fmt.Sprintf(`ALTER SEQUENCE orders_id_seq RESTART WITH %d`,
		crmIDBase.Add(1000))); err != nil {
		t.Fatal(err)
	}
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), base)
	return testenv.StartApp(t, cfg, app.Roles{API: true, Worker: true}), st
}

var crmIDBase atomic.Int64

var admin = map[string]string{"Authorization": "Bearer " + bxAdmin}

// siteOrder is a site-shaped order (as the PHP handler posts it) at a
// version minutes after bitrixtest.SampleTime.
func siteOrder(id int64, status string, minutes int) map[string]any {
	o := bitrixtest.NewSiteOrder(id, status)
	o["DATE_UPDATE"] = bitrixtest.SampleTime.Add(time.Duration(minutes) * time.Minute).In(bitrixtest.SiteZone).Format(time.RFC3339)
	return o
}

// postSite posts a site event like the PHP handler and returns the answer.
func postSite(t *testing.T, a *app.App, ev bitrixtest.SiteEvent) map[string]any {
	t.Helper()
	var out map[string]any
	path := bitrixtest.SitePath(ev.Event)
	if code := call(t, "POST", a.URL()+path, ev.JSON(), map[string]string{"X-Webhook-Token": bxToken}, &out); code != 200 {
		t.Fatalf("POST %s: %d %v", path, code, out)
	}
	return out
}

// eventRow is an inbound event as the order sync recorded and processed it.
type eventRow struct {
	ID        int64
	Event     string
	EventType string
	Outcome   string
	Error     string
}

// waitEvents waits until source has n events, all processed, and returns
// them in id order.
func waitEvents(t *testing.T, st *store.Store, source string, n int) []eventRow {
	t.Helper()
	var rows []eventRow
	testenv.Eventually(t, 45*time.Second, func() error {
		rows = rows[:0]
		r, err := st.Pool.Query(context.Background(), `SELECT id, event, event_type, coalesce(outcome, ''), coalesce(error, ''), processed
			FROM inbound_events WHERE source = $1 ORDER BY id`, source)
		if err != nil {
			return err
		}
		defer r.Close()
		done := 0
		for r.Next() {
			var e eventRow
			var processed bool
			if err := r.Scan(&e.ID, &e.Event, &e.EventType, &e.Outcome, &e.Error, &processed); err != nil {
				return err
			}
			if processed {
				done++
			}
			rows = append(rows, e)
		}
		if len(rows) != n || done != n {
			return fmt.Errorf("%s: %d events, %d processed; want %d processed", source, len(rows), done, n)
		}
		return nil
	})
	return rows
}

func outcomes(rows []eventRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Outcome
	}
	return out
}

func listOrders(t *testing.T, a *app.App) []store.Order {
	t.Helper()
	var orders []store.Order
	if code := call(t, "GET", a.URL()+"/api/orders", nil, admin, &orders); code != 200 {
		t.Fatalf("GET /api/orders: %d", code)
	}
	return orders
}

func getOrder(t *testing.T, a *app.App, id int64) store.OrderDetail {
	t.Helper()
	var d store.OrderDetail
	if code := call(t, "GET", fmt.Sprintf("%s/api/orders/%d", a.URL(), id), nil, admin, &d); code != 200 {
		t.Fatalf("GET /api/orders/%d: %d", id, code)
	}
	return d
}

func orderByBitrixID(t *testing.T, a *app.App, bitrixID int64) store.Order {
	t.Helper()
	for _, o := range listOrders(t, a) {
		if o.BitrixID == bitrixID {
			return o
		}
	}
	t.Fatalf("no CRM order for Bitrix order %d", bitrixID)
	return store.Order{}
}

// TestOrdersInbound: a new order becomes a CRM row with items, a status
// change updates it, out-of-order and repeated versions leave the newest.
func TestOrdersInbound(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	a, st := startOrders(t, nil)

	// New order (OnSaleOrderSaved, IS_NEW).
	got := postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(236, "N", 1)})
	if got["status"] != "accepted" || got["duplicate"] != false || got["workflow_id"] != "bitrix-order-236" {
		t.Fatalf("answer %v", got)
	}
	waitEvents(t, st, store.BitrixSource, 1)
	orders := listOrders(t, a)
	if len(orders) != 1 {
		t.Fatalf("orders %+v", orders)
	}
	o := orders[0]
	if o.BitrixID != 236 || o.Number != "236" || o.Status != "new" || o.BitrixStatus != "N" || o.Total.String() != "17500" ||
		o.DeliveryPrice.String() != "2000" || o.Currency != "KZT" || o.Customer.Name != "Айгерим Сапарова" ||
		o.Customer.Phone != "+77015551234" || o.Customer.Email != "aigerim@example.kz" || o.DeliveryAddress != "Алматы, ул. Абая 150" ||
		o.SyncState != "synced" || o.BitrixUpdatedAt == nil || !o.BitrixUpdatedAt.Equal(bitrixtest.SampleTime.Add(time.Minute)) {
		t.Fatalf("order %+v", o)
	}
	d := getOrder(t, a, o.ID)
	if len(d.Items) != 1 || d.Items[0].Name != "Букет из 25 роз" || d.Items[0].Price.String() != "15500" ||
		d.Items[0].Quantity.String() != "1" || d.Items[0].ProductID != 3921 || d.Items[0].Currency != "KZT" {
		t.Fatalf("items %+v", d.Items)
	}
	if len(d.History) != 1 || d.History[0].Action != "create" || d.History[0].Status != "success" || d.History[0].Direction != "inbound" {
		t.Fatalf("history %+v", d.History)
	}
	if d.Mapping == nil || d.Mapping.CRMID != o.ID || d.Mapping.BitrixID != 236 {
		t.Fatalf("mapping %+v", d.Mapping)
	}

	// Status change: the handler posts order.saved then order.status_changed
	// with the same content; the second is a duplicate.
	paid := siteOrder(236, "P", 2)
	paid["PAYED"] = "Y"
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: paid, OldValues: map[string]any{"STATUS_ID": "N"}})
	dup := postSite(t, a, bitrixtest.SiteEvent{Event: "order.status_changed", Order: paid, OldValues: map[string]any{"STATUS_ID": "N"}})
	if dup["duplicate"] != true {
		t.Fatalf("the status post of the same version must be a duplicate: %v", dup)
	}
	waitEvents(t, st, store.BitrixSource, 2)
	if o := getOrder(t, a, o.ID); o.Status != "paid" || o.BitrixStatus != "P" || !o.Paid || o.History[0].Action != "status" {
		t.Fatalf("after the status change: %+v", o)
	}

	// Out of order: version 4 arrives before version 3.
	v4 := siteOrder(236, "F", 4)
	v4["PRICE"], v4["COMMENTS"] = 18000, "доставлено"
	v3 := siteOrder(236, "S", 3)
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: v4})
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: v3})
	// A re-save of version 4 with nothing changed (version 5): unchanged, but
	// it moves the applied version on, so version 4½ is stale too.
	v5 := siteOrder(236, "F", 5)
	v5["PRICE"], v5["COMMENTS"] = 18000, "доставлено"
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: v5})
	v45 := siteOrder(236, "D", 4)
	v45["DATE_UPDATE"] = bitrixtest.SampleTime.Add(270 * time.Second).Format(time.RFC3339)
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: v45})
	rows := waitEvents(t, st, store.BitrixSource, 6)
	want := []string{"applied", "applied", "applied", "stale", "unchanged", "stale"}
	if got := outcomes(rows); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	if !strings.Contains(rows[3].Error, "older than the applied") {
		t.Fatalf("stale event error %q", rows[3].Error)
	}
	d = getOrder(t, a, o.ID)
	if d.Status != "completed" || d.BitrixStatus != "F" || d.Total.String() != "18000" || d.Comments != "доставлено" {
		t.Fatalf("the newest version must win: %+v", d.Order)
	}
	if d.Mapping.AppliedVersion == nil || !d.Mapping.AppliedVersion.Equal(bitrixtest.SampleTime.Add(5*time.Minute)) {
		t.Fatalf("applied version %v, want version 5", d.Mapping.AppliedVersion)
	}

	// An unknown status code is kept and flagged.
	odd := siteOrder(236, "XW", 6)
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.status_changed", Order: odd})
	waitEvents(t, st, store.BitrixSource, 7)
	if o := getOrder(t, a, o.ID); o.Status != "XW" || !o.StatusUnknown || !strings.Contains(o.History[0].Detail, "unknown Bitrix status") {
		t.Fatalf("unknown status: %+v / %+v", o.Order, o.History[0])
	}

	// Monitoring.
	var status api.SyncStatusResponse
	if code := call(t, "GET", a.URL()+"/api/sync/status", nil, map[string]string{"X-Webhook-Token": bxToken}, &status); code != 200 {
		t.Fatalf("sync status %d", code)
	}
	in := status.Totals["inbound"]
	if !status.SyncEnabled || status.Orders != 1 || in["success"] != 4 || in["skipped"] != 3 || in["error"] != 0 ||
		status.LastSuccess == nil || status.LastSuccess.Action != "status" || status.LastFailure != nil ||
		status.Backlog.Inbound != 0 || len(status.RecentErrors) != 0 {
		t.Fatalf("sync status %+v", status)
	}
}

func TestOrdersAuthAndBadInput(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	a, st := startOrders(t, map[string]string{"BITRIX_APP_TOKEN": bxApp, "BODY_LIMIT_BYTES": "8192"})
	good := bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(7, "N", 1)}.JSON()
	tok := map[string]string{"X-Webhook-Token": bxToken}
	noID := siteOrder(7, "N", 1)
	delete(noID, "ID")
	badPrice := siteOrder(7, "N", 1)
	badPrice["PRICE"] = "много"
	form := func(token, id string) []byte {
		return []byte(bitrixtest.Event{Name: "ONSALEORDERSAVED", HandlerID: 201, ApplicationToken: token}.Form().Encode() + "&data%5BFIELDS%5D%5BID%5D=" + id)
	}
	ctForm := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	cases := []struct {
		name, method, path string
		body               []byte
		headers            map[string]string
		code               int
		field              string
	}{
		{"no token", "POST", bxOrderURL, good, nil, 401, ""},
		{"wrong token", "POST", bxOrderURL, good, map[string]string{"X-Webhook-Token": "nope"}, 401, ""},
		{"malformed", "POST", bxOrderURL, []byte(`{"event":"order.saved","order":`), tok, 400, "body"},
		{"not an object", "POST", bxOrderURL, []byte(`[1,2]`), tok, 400, "body"},
		// An event of another kind is acknowledged and recorded as ignored (no workflow).
		{"unknown event", "POST", bxOrderURL, []byte(`{"event":"order.deleted","order":{"ID":1,"STATUS_ID":"N","DATE_UPDATE":"2025-01-09T12:00:00+05:00"}}`), tok, 200, ""},
		{"event not a string", "POST", bxOrderURL, []byte(`{"event":5,"order":{"ID":1}}`), tok, 400, "event"},
		{"no order id", "POST", bxOrderURL, bitrixtest.SiteEvent{Event: "order.saved", Order: noID}.JSON(), tok, 400, "order.ID"},
		{"bad price", "POST", "/api/webhooks/bitrix/status", bitrixtest.SiteEvent{Event: "order.status_changed", Order: badPrice}.JSON(), tok, 400, "order.PRICE"},
		{"oversize", "POST", bxOrderURL, []byte(`{"event":"order.saved","pad":"` + strings.Repeat("x", 9000) + `"}`), tok, 413, ""},
		{"good", "POST", bxOrderURL, good, tok, 200, ""},
		{"seed token name is not the header", "POST", bxOrderURL, good, map[string]string{"Authorization": "Bearer " + bxToken}, 401, ""},
		{"b24 wrong token", "POST", "/api/webhooks/bitrix24", form("wrong", "7"), ctForm, 401, ""},
		{"b24 no token", "POST", "/api/webhooks/bitrix24", []byte("event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D=7"), ctForm, 401, ""},
		{"b24 bad id", "POST", "/api/webhooks/bitrix24", form(bxApp, "abc"), ctForm, 400, "data[FIELDS][ID]"},
		{"b24 malformed", "POST", "/api/webhooks/bitrix24", []byte("%zz"), ctForm, 400, "body"},
		{"status without token", "GET", "/api/sync/status", nil, nil, 401, ""},
		{"status wrong token", "GET", "/api/sync/status", nil, map[string]string{"X-Webhook-Token": "x"}, 401, ""},
		{"status with admin", "GET", "/api/sync/status", nil, admin, 200, ""},
		{"orders without admin", "GET", "/api/orders", nil, nil, 401, ""},
		{"orders with webhook token", "GET", "/api/orders", nil, tok, 401, ""},
		{"order bad id", "GET", "/api/orders/abc", nil, admin, 400, "id"},
		{"order missing", "GET", "/api/orders/999", nil, admin, 404, ""},
		{"orders bad limit", "GET", "/api/orders?limit=0", nil, admin, 400, "limit"},
		{"orders offset", "GET", "/api/orders?offset=50", nil, admin, 400, "offset"},
		{"orders bad cursor", "GET", "/api/orders?cursor=nope", nil, admin, 400, "cursor"},
		{"patch without admin", "PATCH", "/api/orders/1", []byte(`{"status":"paid"}`), nil, 401, ""},
		{"patch not json", "PATCH", "/api/orders/1", []byte(`status=paid`), admin, 400, "body"},
		{"patch empty", "PATCH", "/api/orders/1", []byte(`{}`), admin, 400, "body"},
		{"patch unknown field", "PATCH", "/api/orders/1", []byte(`{"status":"paid","price":1}`), admin, 400, "price"},
		{"patch status not a string", "PATCH", "/api/orders/1", []byte(`{"status":5}`), admin, 400, "status"},
		{"patch unknown status", "PATCH", "/api/orders/1", []byte(`{"status":"lost"}`), admin, 422, "status"},
		{"patch long comment", "PATCH", "/api/orders/1", []byte(`{"comment":"` + strings.Repeat("я", 4001) + `"}`), admin, 400, "comment"},
		{"patch missing order", "PATCH", "/api/orders/999", []byte(`{"status":"paid"}`), admin, 404, ""},
		{"page without token", "GET", "/crm/sync", nil, nil, 401, ""},
		{"page wrong token", "GET", "/crm/sync?token=nope", nil, nil, 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, a.URL()+c.path, strings.NewReader(string(c.body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.code, raw)
			}
			if strings.HasPrefix(c.path, "/crm/") || c.code < 400 {
				return
			}
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("error answer is not JSON: %s", raw)
			}
			if msg, _ := body["error"].(string); msg == "" {
				t.Fatalf("error answer without a message: %s", raw)
			}
			if c.field != "" && body["field"] != c.field {
				t.Fatalf("field %v, want %s: %s", body["field"], c.field, raw)
			}
			if strings.Contains(string(raw), bxToken) || strings.Contains(string(raw), bxApp) {
				t.Fatalf("a secret leaked into the answer: %s", raw)
			}
		})
	}
	// Only the authenticated, valid post was recorded, and the event of
	// another kind as ignored.
	rows := waitEvents(t, st, store.BitrixSource, 2)
	if rows[0].Outcome != "ignored" || rows[1].EventType != "order_created" || rows[1].Outcome != "applied" {
		t.Fatalf("recorded %+v", rows)
	}
}

func TestOrdersTokensUnsetRefuse(t *testing.T) {
	a, _ := startOrders(t, map[string]string{"BITRIX_WEBHOOK_TOKEN": "", "ADMIN_TOKEN": "", "READ_TOKENS": ""})
	good := bitrixtest.SiteEvent{Event: "order.saved", Order: siteOrder(8, "N", 1)}.JSON()
	for _, c := range []struct{ method, path string }{
		{"POST", bxOrderURL}, {"POST", "/api/webhooks/bitrix24"}, {"GET", "/api/sync/status"}, {"GET", "/api/orders"},
	} {
		var body map[string]any
		if code := call(t, c.method, a.URL()+c.path, good, map[string]string{"X-Webhook-Token": ""}, &body); code != 403 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, code, body)
		}
	}
	// The seed's variable name works as the fallback.
	b, st := startOrders(t, map[string]string{"BITRIX_WEBHOOK_TOKEN": "", "WEBHOOK_TOKEN": "seed-token"})
	if code := call(t, "POST", b.URL()+bxOrderURL, good, map[string]string{"X-Webhook-Token": "seed-token"}, nil); code != 200 {
		t.Fatalf("WEBHOOK_TOKEN fallback: %d", code)
	}
	waitEvents(t, st, store.BitrixSource, 1)
}

func TestOrdersSyncDisabled(t *testing.T) {
	a, st := startOrders(t, map[string]string{"SYNC_ENABLED": "false"})
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(41, "N", 1)})
	rows := waitEvents(t, st, store.BitrixSource, 1)
	if rows[0].Outcome != "ignored" || rows[0].Error != "sync_disabled" {
		t.Fatalf("event %+v", rows[0])
	}
	if orders := listOrders(t, a); len(orders) != 0 {
		t.Fatalf("nothing may be applied: %+v", orders)
	}
	var status api.SyncStatusResponse
	call(t, "GET", a.URL()+"/api/sync/status", nil, map[string]string{"X-Webhook-Token": bxToken}, &status)
	if status.SyncEnabled || status.Totals["inbound"]["skipped"] != 1 {
		t.Fatalf("status %+v", status)
	}
}

// TestOrdersBackSyncSyncDisabled: with SYNC_ENABLED=false a PATCH changes
// the CRM order and records the back sync, which sends nothing.
func TestOrdersBackSyncSyncDisabled(t *testing.T) {
	site := bitrixtest.NewSite(t, bxToken)
	a, st := startOrders(t, map[string]string{"SYNC_ENABLED": "false", "BITRIX_API_URL": site.URL()})
	crmID := seedOrder(t, st, siteOrder(42, "N", 1))
	res := patch(t, a, crmID, `{"status":"paid"}`)
	if res.BackSync == nil || res.Order.Status != "paid" {
		t.Fatalf("patch %+v", res)
	}
	d := waitSyncState(t, a, crmID, "skipped")
	back := waitEvents(t, st, store.BitrixBackSyncSource, 1)
	if back[0].Outcome != "ignored" || back[0].Error != "sync_disabled" || d.Status != "paid" || d.BitrixStatus != "N" {
		t.Fatalf("event %+v, order %+v", back[0], d.Order)
	}
	if n := len(site.Calls()); n != 0 {
		t.Fatalf("%d calls to the shop with sync disabled", n)
	}
}

// TestOrdersStatusKeptWhilePushPending: while a status push is being
// retried (the shop is unreachable), a newer Bitrix version updates the
// order but keeps the CRM status.
func TestOrdersStatusKeptWhilePushPending(t *testing.T) {
	addr, err := testenv.FreeHostPort()
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + addr + "/api/"
	a, st := startOrders(t, map[string]string{"BITRIX_API_URL": dead})
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(43, "N", 1)})
	waitEvents(t, st, store.BitrixSource, 1)
	crm := orderByBitrixID(t, a, 43)
	patch(t, a, crm.ID, `{"status":"paid"}`)
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, h := range getOrder(t, a, crm.ID).History {
			if h.Direction == "outbound" && h.Status == "retry" && h.Error != nil && strings.Contains(*h.Error, "transport") {
				return nil
			}
		}
		return fmt.Errorf("no failed attempt logged yet")
	})
	moved := siteOrder(43, "N", 2)
	moved["PROPERTIES"] = map[string]any{"FIO": "Айгерим Сапарова", "ADDRESS": "Алматы, ул. Сатпаева 22"}
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: moved})
	waitEvents(t, st, store.BitrixSource, 2)
	d := getOrder(t, a, crm.ID)
	if d.Status != "paid" || d.BitrixStatus != "N" || d.DeliveryAddress != "Алматы, ул. Сатпаева 22" || d.SyncState != "pending" ||
		!strings.Contains(d.History[0].Detail, "CRM status kept") {
		t.Fatalf("order %+v, last log %+v", d.Order, d.History[0])
	}
}

// seedOrder applies a site-shaped order straight through the store (for
// tests whose app must not apply inbound events) and returns its CRM id.
func seedOrder(t *testing.T, st *store.Store, order map[string]any) int64 {
	t.Helper()
	raw, _ := json.Marshal(order)
	o, err := ordersync.ParseSiteOrderFields(raw)
	if err != nil {
		t.Fatal(err)
	}
	var saved store.SavedOrder
	err = pgx.BeginFunc(context.Background(), st.Pool, func(tx pgx.Tx) error {
		saved, err = store.SaveBitrixOrder(context.Background(), tx, ordersync.ToCRM(o, ordersync.DefaultStatusMap()), false, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return saved.CRMID
}

// patch sends PATCH /api/orders/{id}.
func patch(t *testing.T, a *app.App, id int64, body string) api.PatchOrderResponse {
	t.Helper()
	var out api.PatchOrderResponse
	if code := call(t, "PATCH", fmt.Sprintf("%s/api/orders/%d", a.URL(), id), []byte(body), admin, &out); code != 200 {
		t.Fatalf("PATCH %d %s: %d", id, body, code)
	}
	return out
}

func waitSyncState(t *testing.T, a *app.App, id int64, state string) store.OrderDetail {
	t.Helper()
	var d store.OrderDetail
	testenv.Eventually(t, 45*time.Second, func() error {
		d = getOrder(t, a, id)
		if d.SyncState != state {
			return fmt.Errorf("order %d sync state %s, want %s", id, d.SyncState, state)
		}
		return nil
	})
	return d
}

// TestOrdersBackSyncToSite: PATCH changes the CRM order and pushes it to the
// shop's endpoint; 503 twice then 200 gives exactly one update; the webhook
// the shop sends back (the echo) is applied but not synced again; a
// permanent refusal is recorded as failed without retries.
func TestOrdersBackSyncToSite(t *testing.T) {
	site := bitrixtest.NewSite(t, bxToken)
	a, st := startOrders(t, map[string]string{"BITRIX_API_URL": site.URL()})
	site.SetEcho(a.URL(), bxToken, nil)
	site.PutOrder(siteOrder(300, "N", 1))
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(300, "N", 1)})
	waitEvents(t, st, store.BitrixSource, 1)
	crm := orderByBitrixID(t, a, 300)

	site.FailNext(2, http.StatusServiceUnavailable)
	res := patch(t, a, crm.ID, `{"status":"paid","comment":"Оплачено (CRM)"}`)
	if res.BackSync == nil || res.BackSync.WorkflowID != fmt.Sprintf("bitrix-backsync-%d", crm.ID) || res.BackSync.StatusID != "P" {
		t.Fatalf("backsync %+v", res.BackSync)
	}
	if res.Order.Status != "paid" || res.Order.BitrixStatus != "N" || res.Order.SyncState != "pending" || res.Order.Comments != "Оплачено (CRM)" {
		t.Fatalf("the CRM change is immediate: %+v", res.Order)
	}
	d := waitSyncState(t, a, crm.ID, "synced")
	calls := site.Calls()
	var statuses []int
	for _, c := range calls {
		statuses = append(statuses, c.Status)
		if c.Token != bxToken || c.Path != "/api/hookflow_order_update.php" {
			t.Fatalf("call %+v", c)
		}
	}
	if fmt.Sprint(statuses) != "[503 503 200]" {
		t.Fatalf("site calls %v, want 503, 503, 200", statuses)
	}
	var sent map[string]any
	if err := json.Unmarshal(calls[2].Body, &sent); err != nil || sent["status_id"] != "P" || sent["comment"] != "Оплачено (CRM)" || sent["order_id"] != float64(300) {
		t.Fatalf("sent %s (%v)", calls[2].Body, err)
	}
	shop, _ := site.Order(300)
	if shop["STATUS_ID"] != "P" || shop["COMMENTS"] != "Оплачено (CRM)" {
		t.Fatalf("the shop's order %v", shop)
	}
	if errs := site.EchoErrors(); len(errs) != 0 {
		t.Fatalf("echo posts failed: %v", errs)
	}

	// The echo (order.saved + order.status_changed of the same version, the
	// second a duplicate) is applied as an echo, and nothing goes back.
	rows := waitEvents(t, st, store.BitrixSource, 2)
	if rows[1].Outcome != "echo" {
		t.Fatalf("echo event %+v", rows[1])
	}
	back := waitEvents(t, st, store.BitrixBackSyncSource, 1)
	if back[0].Outcome != "synced" {
		t.Fatalf("back-sync event %+v", back[0])
	}
	d = getOrder(t, a, crm.ID)
	if d.Status != "paid" || d.BitrixStatus != "P" || d.SyncState != "synced" || d.Comments != "Оплачено (CRM)" ||
		d.Mapping.PushingEventID != nil || d.Mapping.PushedStatus == nil || *d.Mapping.PushedStatus != "P" {
		t.Fatalf("after the echo: %+v %+v", d.Order, d.Mapping)
	}
	if n := len(site.Calls()); n != 3 {
		t.Fatalf("the echo was synced again: %d calls", n)
	}
	var retries, successes int
	for _, h := range d.History {
		if h.Direction == "outbound" {
			switch h.Status {
			case "retry":
				retries++
				if h.Error == nil || !strings.Contains(*h.Error, "HTTP 503") {
					t.Fatalf("retry entry %+v", h)
				}
			case "success":
				successes++
			}
		}
	}
	if retries != 2 || successes != 1 {
		t.Fatalf("history: %d retries, %d successes: %+v", retries, successes, d.History)
	}

	// The same PATCH again changes nothing and pushes nothing.
	if res := patch(t, a, crm.ID, `{"status":"paid"}`); res.BackSync != nil {
		t.Fatalf("no-op PATCH started a back sync: %+v", res.BackSync)
	}

	// A status the shop does not know: 422 unknown_status, permanent.
	site.SetStatuses("N", "P")
	patch(t, a, crm.ID, `{"status":"shipped"}`)
	d = waitSyncState(t, a, crm.ID, "failed")
	if d.SyncError == nil || !strings.Contains(*d.SyncError, "unknown_status") || d.Status != "shipped" || d.BitrixStatus != "P" {
		t.Fatalf("failed back sync: %+v", d.Order)
	}
	if n := len(site.Calls()); n != 4 {
		t.Fatalf("a permanent refusal must not be retried: %d calls", n)
	}
	back = waitEvents(t, st, store.BitrixBackSyncSource, 2)
	if back[1].Outcome != "failed" {
		t.Fatalf("back-sync event %+v", back[1])
	}
	var status api.SyncStatusResponse
	call(t, "GET", a.URL()+"/api/sync/status", nil, map[string]string{"X-Webhook-Token": bxToken}, &status)
	out := status.Totals["outbound"]
	if out["success"] != 1 || out["retry"] != 2 || out["error"] != 2 || status.LastFailure == nil ||
		status.OrdersBySyncState["failed"] != 1 || len(status.RecentErrors) != 4 || status.Backlog.BackSync != 0 {
		t.Fatalf("sync status %+v", status)
	}
	writeHistoryAs(t, a, "bitrix-order-300", "bitrix-order.json")
	writeHistoryAs(t, a, fmt.Sprintf("bitrix-backsync-%d", crm.ID), "bitrix-backsync.json")
}

// TestOrdersBitrix24 covers Bitrix24: an outbound event (form-encoded, only
// the id) makes the workflow fetch the order with sale.order.get (retried
// after a 503) and apply it; back sync goes through sale.order.update; the
// event Bitrix24 sends after it is recognised as the echo.
func TestOrdersBitrix24(t *testing.T) {
	checkContract(t) // the events, sent as Bitrix24 sends them, and every call() are validated against api/openapi.yaml
	rest := bitrixtest.NewREST(t, "", "")
	rest.PutOrder(bitrixtest.NewOrder(500, "P"))
	a, st := startOrders(t, map[string]string{"BITRIX_APP_TOKEN": bxApp, "BITRIX_REST_URL": rest.URL()})
	ctx := context.Background()
	send := func(name string, id int64, ts time.Time) {
		t.Helper()
		code, err := bitrixtest.SendEvent(ctx, contractClient(t), a.URL()+"/api/webhooks/bitrix24",
			bitrixtest.Event{Name: name, HandlerID: 201, OrderID: id, Action: "save", TS: ts, ApplicationToken: bxApp, MemberID: "m1"})
		if err != nil || code != 200 {
			t.Fatalf("event %s %d: %d %v", name, id, code, err)
		}
	}
	rest.FailNext(1, http.StatusServiceUnavailable)
	ts := time.Unix(1736405807, 0)
	send("ONSALEORDERSAVED", 500, ts)
	send("ONSALEORDERSAVED", 500, ts) // a redelivery: duplicate
	rows := waitEvents(t, st, store.BitrixSource, 1)
	if rows[0].EventType != "b24_order_saved" || rows[0].Outcome != "applied" {
		t.Fatalf("event %+v", rows[0])
	}
	var payload string
	if err := st.Pool.QueryRow(ctx, `SELECT payload::text FROM inbound_events WHERE id = $1`, rows[0].ID).Scan(&payload); err != nil ||
		strings.Contains(payload, bxApp) {
		t.Fatalf("the application token must not be stored: %s (%v)", payload, err)
	}
	o := orderByBitrixID(t, a, 500)
	if o.Status != "paid" || o.BitrixStatus != "P" || o.Total.String() != "17500" || o.DeliveryPrice.String() != "2000" ||
		o.Customer.Email != "aigerim@example.kz" || o.Customer.Name != "Айгерим Сапарова" {
		t.Fatalf("order %+v", o)
	}
	if d := getOrder(t, a, o.ID); len(d.Items) != 1 || d.Items[0].Name != "Букет из 25 роз" {
		t.Fatalf("items %+v", d.Items)
	}
	var gets []int
	for _, c := range rest.Calls() {
		if c.Method == "sale.order.get" {
			gets = append(gets, c.Status)
		}
	}
	if fmt.Sprint(gets) != "[503 200]" {
		t.Fatalf("sale.order.get calls %v, want a retry after the 503", gets)
	}

	// Back sync through REST, then the echo event Bitrix24 sends.
	patch(t, a, o.ID, `{"status":"shipped","comment":"Передан курьеру"}`)
	waitSyncState(t, a, o.ID, "synced")
	var updates []bitrixtest.Call
	for _, c := range rest.Calls() {
		if c.Method == "sale.order.update" {
			updates = append(updates, c)
		}
	}
	if len(updates) != 1 {
		t.Fatalf("%d sale.order.update calls", len(updates))
	}
	var params struct {
		ID     int64             `json:"id"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(updates[0].Params, &params); err != nil || params.ID != 500 ||
		params.Fields["statusId"] != "S" || params.Fields["comments"] != "Передан курьеру" {
		t.Fatalf("sale.order.update %s (%v)", updates[0].Params, err)
	}
	send("ONSALEORDERSAVED", 500, ts.Add(time.Minute))
	send("ONSALEORDERDELETED", 501, ts.Add(time.Minute))
	rows = waitEvents(t, st, store.BitrixSource, 3)
	if rows[1].Outcome != "echo" || rows[2].Outcome != "ignored" {
		t.Fatalf("outcomes %v", outcomes(rows))
	}
	d := getOrder(t, a, o.ID)
	if d.Status != "shipped" || d.BitrixStatus != "S" || d.Comments != "Передан курьеру" {
		t.Fatalf("after the echo: %+v", d.Order)
	}
	var n int
	for _, c := range rest.Calls() {
		if c.Method == "sale.order.update" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the echo was synced again: %d updates", n)
	}

	// An order Bitrix24 does not have: the fetch fails for good, recorded.
	send("ONSALEORDERSAVED", 404, ts)
	rows = waitEvents(t, st, store.BitrixSource, 4)
	if rows[3].Outcome != "failed" || !strings.Contains(rows[3].Error, "order does not exist") {
		t.Fatalf("missing order: %+v", rows[3])
	}
}

// TestOrdersPHPHandler runs contrib/bitrix's handler with php-cli (and the
// Bitrix shim) against the running API: the order lands in the CRM tables,
// then a status change updates it.
func TestOrdersPHPHandler(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("php-cli is required in CI: %v", err)
		}
		t.Skip("php-cli not installed (apt-get install php-cli php-curl)")
	}
	a, st := startOrders(t, nil)
	dir := filepath.Join("..", "contrib", "bitrix", "testdata")
	run := func(fixture, mode string) []string {
		t.Helper()
		docroot := t.TempDir()
		cmd := exec.Command(php, "run_handler.php", fixture, mode)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCUMENT_ROOT="+docroot, "HOOKFLOW_WEBHOOK_URL="+a.URL(), "HOOKFLOW_WEBHOOK_TOKEN="+bxToken)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != `{"results":[1]}` {
			t.Fatalf("php %s %s: %v: %s", fixture, mode, err, out)
		}
		log, err := os.ReadFile(filepath.Join(docroot, "upload", "webhook_log.txt"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(log)), "\n")
	}
	log := run("order_fixture.json", "saved")
	if len(log) != 1 || !strings.Contains(log[0], "HTTP 200") || !strings.HasSuffix(log[0], " ok") || strings.Contains(log[0], bxToken) {
		t.Fatalf("webhook log %q", log)
	}
	waitEvents(t, st, store.BitrixSource, 1)
	o := orderByBitrixID(t, a, 122045)
	d := getOrder(t, a, o.ID)
	if d.Number != "122045" || d.Status != "new" || d.Total.String() != "18500.5" || d.Customer.Name != "Айгерим Сапарова" ||
		d.Customer.Phone != "+7 701 555 12 34" || d.DeliveryAddress != "Алматы, ул. Абая 150, кв. 12" ||
		d.TrackingNumber != "KZ-DLV-7781" || d.CustomerComment != `Позвонить получателю за час, "домофон 12"` ||
		!d.BitrixUpdatedAt.Equal(time.Date(2025, 1, 9, 7, 0, 5, 0, time.UTC)) {
		t.Fatalf("order %+v", d.Order)
	}
	if len(d.Items) != 2 || d.Items[0].Name != "Букет из 25 роз «Нежность»" || d.Items[1].Name != "Открытка" ||
		d.Items[1].Quantity.String() != "2" || d.Items[1].Price.String() != "500" {
		t.Fatalf("items %+v", d.Items)
	}

	// A status change posted by OnSaleStatusOrderChange.
	raw, err := os.ReadFile(filepath.Join(dir, "order_fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx map[string]any
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	fields := fx["fields"].(map[string]any)
	fields["STATUS_ID"], fields["PAYED"], fields["DATE_UPDATE"] = "P", "Y", "09.01.2025 12:30:00"
	fx["is_new"], fx["old_values"] = false, map[string]any{"STATUS_ID": "N"}
	raw, _ = json.Marshal(fx)
	path := filepath.Join(t.TempDir(), "status.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	log = run(path, "status")
	if !strings.Contains(log[0], "order.status_changed order=122045") || !strings.Contains(log[0], "/api/webhooks/bitrix/status -> HTTP 200") {
		t.Fatalf("webhook log %q", log)
	}
	rows := waitEvents(t, st, store.BitrixSource, 2)
	if rows[1].EventType != "status_changed" || rows[1].Outcome != "applied" {
		t.Fatalf("status event %+v", rows[1])
	}
	if d := getOrder(t, a, o.ID); d.Status != "paid" || !d.Paid || d.History[0].Action != "status" {
		t.Fatalf("after the status change: %+v", d.Order)
	}
}

// TestOrdersSyncPage opens /crm/sync in headless Chromium: stats, orders,
// the operation log and errors show; a screenshot is kept as an artifact.
func TestOrdersSyncPage(t *testing.T) {
	rest := bitrixtest.NewREST(t, "", "")
	a, st := startOrders(t, map[string]string{"BITRIX_APP_TOKEN": bxApp, "BITRIX_REST_URL": rest.URL()})
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: siteOrder(610, "N", 1)})
	p := siteOrder(611, "P", 1)
	p["PROPERTIES"] = map[string]any{"FIO": "Данияр Ахметов", "PHONE": "+77017778899"}
	p["PRICE"] = 42000.5
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", IsNew: true, Order: p})
	postSite(t, a, bitrixtest.SiteEvent{Event: "order.saved", Order: siteOrder(610, "N", 0)}) // stale
	if code, err := bitrixtest.SendEvent(context.Background(), nil, a.URL()+"/api/webhooks/bitrix24",
		bitrixtest.Event{Name: "ONSALEORDERSAVED", OrderID: 699, TS: time.Unix(1736405807, 0), ApplicationToken: bxApp}); err != nil || code != 200 {
		t.Fatalf("event: %d %v", code, err)
	}
	waitEvents(t, st, store.BitrixSource, 4)

	// Plain HTTP: the page needs the admin token and uses no CDN.
	resp, err := http.Get(a.URL() + "/crm/sync")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("unauthenticated page: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", a.URL()+"/crm/sync", nil)
	req.Header.Set("Authorization", "Bearer "+bxAdmin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(html), `http-equiv="refresh"`) ||
		strings.Contains(string(html), "https://") || strings.Contains(string(html), "//cdn") {
		t.Fatalf("page: %d\n%s", resp.StatusCode, html)
	}
	// It is a console page: the console's stylesheet, header and navigation.
	for _, want := range []string{`href="/ops/assets/style.css"`, `<a href="/ops/simplyprint">Print farm</a>`,
		`<a href="/crm/sync" aria-current="page">Order sync</a>`, `<a href="/ops/jobs">`, `action="/ops/logout"`} {
		if !strings.Contains(string(html), want) {
			t.Fatalf("the page lacks the console's %s:\n%s", want, html)
		}
	}

	b := testenv.NewBrowser(t)
	b.Open(a.URL() + "/crm/sync?token=" + bxAdmin)
	if loc := b.Location(); loc != a.URL()+"/crm/sync" {
		t.Fatalf("the token must leave the address bar: %s", loc)
	}
	b.WaitVisible("#orders")
	if nav := b.Text("header nav"); !strings.Contains(nav, "Print farm") || !strings.Contains(nav, "Order sync") || !strings.Contains(nav, "Audit log") {
		t.Errorf("the console's navigation shows %q", nav)
	}
	if who := b.Text("#who"); !strings.Contains(who, "admin") {
		t.Errorf("the header names %q", who)
	}
	orders := b.Text("#orders")
	for _, want := range []string{"610", "611", "Айгерим Сапарова", "Данияр Ахметов", "42000.5 KZT", "paid", "new", "synced"} {
		if !strings.Contains(orders, want) {
			t.Errorf("orders table lacks %q:\n%s", want, orders)
		}
	}
	if got := b.Text("#stat-orders"); got != "2" {
		t.Errorf("orders stat %q", got)
	}
	if got := b.Text("#stat-inbound-success"); got != "2" {
		t.Errorf("inbound success stat %q", got)
	}
	logText := b.Text("#log")
	for _, want := range []string{"create", "stale", "fetch", "inbound"} {
		if !strings.Contains(logText, want) {
			t.Errorf("operation log lacks %q:\n%s", want, logText)
		}
	}
	link := testenv.Get(b, "read a Temporal link", chromedp.AttributeValue(chromedp.CSS(`#orders a.run`), "href"))
	if !strings.Contains(link.Value, "/namespaces/default/workflows/bitrix-order-61") {
		t.Errorf("the order row's Temporal UI link is %q", link.Value)
	}
	if errs := b.Text("#errors"); !strings.Contains(errs, "order does not exist") {
		t.Errorf("errors table:\n%s", errs)
	}
	if last := b.Text("#stat-last-failure"); !strings.Contains(last, "fetch") {
		t.Errorf("last failure %q", last)
	}
	b.Screenshot("crm-sync")
}
