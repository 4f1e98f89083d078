package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// What a bad-input case expects.
type expect int

const (
	refused       expect = iota // a 4xx JSON error naming the problem; nothing recorded
	ackedIgnored                // 2xx; nothing recorded (Telegram: it resends whatever got no 2xx)
	storedIgnored               // 2xx; recorded processed with outcome ignored; no relay row, no workflow
	accepted                    // 2xx; recorded and processed (not failed)
)

type badCase struct {
	name    string
	method  string // POST when empty
	path    string // with query
	headers map[string]string
	body    []byte
	expect  expect
	status  int    // expected HTTP status
	field   string // refused / ackedIgnored: the field the answer names ("" not checked)
	msg     string // part of the error message
	source  string // storedIgnored / accepted: where the event is recorded
	noRun   string // storedIgnored: a workflow ID that must not exist
	slow    bool   // send the body one byte a second
	plain   bool   // refused by net/http itself: plain-text answer
}

// deep nests v in n arrays.
func deep(n int, v string) string { return strings.Repeat("[", n) + v + strings.Repeat("]", n) }

// hostileEnv is one hookflow with every inbound endpoint configured.
type hostileEnv struct {
	*ratingsEnv
	rest *bitrixtest.REST
}

const (
	hoSPSecret = "sp-hostile-secret"
	hoJobs     = "acme"
)

func startHostile(t *testing.T) *hostileEnv {
	t.Helper()
	t.Cleanup(api.SetJobsResolver(testHosts))
	rest := bitrixtest.NewREST(t, "", "")
	e := startRatings(t, app.Roles{API: true, Worker: true}, withVars(fastTimeouts, map[string]string{
		"SIMPLYPRINT_WEBHOOK_SECRET":      hoSPSecret,
		"BITRIX_WEBHOOK_TOKEN":            bxToken,
		"BITRIX_APP_TOKEN":                bxApp,
		"BITRIX_REST_URL":                 rest.URL(),
		"JOBS_CLIENTS":                    jobsClients,
		"CALLBACK_ALLOW_PRIVATE_NETWORKS": "true",
		"BODY_LIMIT_BYTES":                "65536",
	}))
	return &hostileEnv{ratingsEnv: e, rest: rest}
}

// counts are the rows a request may leave behind (an event's relay row
// goes with it: a trigger adds it).
type counts struct{ events, jobs int }

func (e *hostileEnv) counts(t *testing.T) counts {
	t.Helper()
	var c counts
	err := e.st.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM inbound_events), (SELECT count(*) FROM jobs)`).Scan(&c.events, &c.jobs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// send does one request exactly as described: no header added but
// Content-Length (a "Content-Type" of "" sends none).
func send(t *testing.T, base string, c badCase) (int, []byte, http.Header) {
	t.Helper()
	method := c.method
	if method == "" {
		method = "POST"
	}
	req, err := http.NewRequest(method, base+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	checkExchange(t, req, c.body, resp, raw)
	return resp.StatusCode, raw, resp.Header
}

// sendSlowly sends the head, then the body one byte a second, and returns
// the answer's status (0 when the server closed the connection instead).
func sendSlowly(t *testing.T, addr string, c badCase) int {
	t.Helper()
	var hdrs []string
	for k, v := range c.headers {
		if k != "Content-Type" && v != "" {
			hdrs = append(hdrs, k+": "+v)
		}
	}
	conn := rawRequest(t, addr, c.path, len(c.body), string(c.body[:1]), hdrs...)
	got := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			got <- 0
			return
		}
		got <- resp.StatusCode
	}()
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case code := <-got:
			if took := time.Since(start); took > 30*time.Second {
				t.Fatalf("%s: cut off only after %s", c.name, took)
			}
			return code
		case <-time.After(time.Second):
			if i < len(c.body) {
				_, _ = conn.Write(c.body[i : i+1])
			}
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s: still connected after %s", c.name, time.Since(start))
		}
	}
}

// TestBadInputMatrix sends every inbound endpoint bodies that can never be
// accepted as they are, and kinds of events no flow handles. Each gets a
// 4xx JSON error naming the problem, or the acknowledgement its sender
// needs (never a 5xx); nothing is half-recorded; whatever was acknowledged
// is processed, none of it failing; and the server serves normal requests
// afterwards.
func TestBadInputMatrix(t *testing.T) {
	checkContract(t) // every refusal is an answer api/openapi.yaml lists
	e := startHostile(t)
	issue, chat := e.id(1), e.id(2)
	contactID, order, b24Order := e.id(3), e.id(4), e.id(6)
	okHook := e.cfg.Ratings.Path() + "?token=" + rtHookSecret
	sp := map[string]string{"X-SP-Token": hoSPSecret}
	tg := map[string]string{telegram.SecretTokenHeader: rtBotSecret}
	bx := map[string]string{"X-Webhook-Token": bxToken}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	admin := map[string]string{"Authorization": "Bearer " + rtAdmin}
	with := func(a map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range a {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	b24 := func(fields string) []byte {
		return []byte(fields + "&auth%5Bapplication_token%5D=" + bxApp + "&auth%5Bdomain%5D=x.bitrix24.ru")
	}
	spJob := func(data string) []byte {
		return []byte(`{"webhook_id":9,"event":"job.started","timestamp":1705320000,"data":` + data + `}`)
	}
	okdeskBody := func(issueJSON string) []byte {
		return []byte(`{"event":{"event_type":"new_comment"},"issue":` + issueJSON + `}`)
	}
	tgMsg := func(text string) []byte {
		return []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":1,"date":1705320000,"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"A"},"text":%s}}`,
			e.id(50), chat, chat, text))
	}
	siteOrder := func(id string, extra string) []byte {
		return []byte(`{"event":"order.saved","is_new":true,"order":{"ID":` + id + `,"STATUS_ID":"N","DATE_UPDATE":"2025-01-09T12:00:05+05:00","PRICE":"100"` + extra + `},"old_values":{}}`)
	}
	jobLots := func(lots string) []byte {
		return []byte(fmt.Sprintf(`{"signature":%q,"version":"1.0.0","languages":["en"],"lots":%s}`, hmacHex(acmeSecret, []byte(lots)), lots))
	}
	const spP, tgP, bxP, b24P, jobP = spPath, config.TelegramWebhookPath, bxOrderURL, "/api/webhooks/bitrix24", jobsPath
	patchP := fmt.Sprintf("/api/orders/%d", e.id(99))

	cases := []badCase{
		// SimplyPrint
		{name: "sp invalid UTF-8", path: spP, headers: sp, body: spJob("{\"job\":{\"id\":1,\"file\":\"\xff\xfe.gcode\"}}"), status: 400, field: "body", msg: "UTF-8"},
		{name: "sp NUL byte", path: spP, headers: sp, body: spJob("{\"job\":{\"id\":1}}\x00"), status: 400, field: "body", msg: "NUL byte"},
		{name: "sp \\u0000 in a string", path: spP, headers: sp, body: spJob(`{"job":{"id":1,"file":"a\u0000.gcode"}}`), status: 400, field: "data.job.file", msg: `\u0000`},
		{name: "sp nested 10,000 deep", path: spP, headers: sp, body: spJob(`{"job":{"id":1,"x":` + deep(10000, "1") + `}}`), status: 400, msg: "nested deeper than 64"},
		{name: "sp duplicate key", path: spP, headers: sp, body: []byte(`{"event":"job.started","event":"job.done","webhook_id":1}`), status: 400, field: "event", msg: "more than once"},
		{name: "sp printer id beyond int64", path: spP, headers: sp, body: []byte(`{"event":"printer.online","webhook_id":1,"data":{"printer":{"id":9223372036854775808}}}`), status: 400, field: "data.printer.id", msg: "64-bit"},
		{name: "sp printer id a float", path: spP, headers: sp, body: []byte(`{"event":"printer.online","webhook_id":1,"data":{"printer":{"id":7.5}}}`), status: 400, field: "data.printer.id", msg: "integer"},
		{name: "sp job printer_id in exponent form", path: spP, headers: sp, body: spJob(`{"job":{"id":1,"printer_id":1e3}}`), status: 400, field: "data.job.printer_id", msg: "integer"},
		{name: "sp webhook_id beyond int64", path: spP, headers: sp, body: []byte(`{"event":"test","webhook_id":99999999999999999999}`), status: 400, field: "webhook_id", msg: "64-bit"},
		{name: "sp empty body", path: spP, headers: sp, body: nil, status: 400, field: "body", msg: "empty"},
		{name: "sp form content type", path: spP, headers: with(sp, "Content-Type", "application/x-www-form-urlencoded"), body: []byte(`event=job.started`), status: 415, field: "Content-Type", msg: "application/json"},
		{name: "sp charset latin-1", path: spP, headers: with(sp, "Content-Type", "application/json; charset=iso-8859-1"), body: []byte(`{"test":true}`), status: 415, field: "Content-Type", msg: "UTF-8"},
		{name: "sp gzip body", path: spP, headers: with(sp, "Content-Encoding", "gzip"), body: []byte("\x1f\x8b\x08\x00"), status: 415, field: "Content-Encoding", msg: "uncompressed"},
		{name: "sp not an object", path: spP, headers: sp, body: []byte(`[{"event":"test"}]`), status: 400, field: "body"},
		{name: "sp oversize body", path: spP, headers: sp, body: []byte(`{"event":"test","pad":"` + strings.Repeat("x", 70000) + `"}`), status: 413, msg: "limit"},
		{name: "sp oversize headers", path: spP, headers: with(sp, "X-Pad", strings.Repeat("h", 100<<10)), body: []byte(`{"test":true}`), status: 431, msg: "HTTP_MAX_HEADER_BYTES"},
		{name: "sp headers past twice the limit (net/http)", path: spP, headers: with(sp, "X-Pad", strings.Repeat("h", 140<<10)), body: []byte(`{"test":true}`), status: 431, plain: true},
		{name: "sp slow body", path: spP, headers: sp, body: spJob(`{"job":{"id":1,"printer_id":1}}`), slow: true},
		{name: "sp no content type (JSON body)", path: spP, headers: with(sp, "Content-Type", ""), body: []byte(`{"webhook_id":11,"event":"test","timestamp":1705320001}`), expect: accepted, status: 200, source: store.SimplyPrintSource},
		{name: "sp event of an unknown kind (kept, as every SimplyPrint event)", path: spP, headers: sp, body: []byte(`{"webhook_id":12,"event":"widget.exploded","timestamp":1705320002}`), expect: accepted, status: 200, source: store.SimplyPrintSource},

		// Okdesk
		{name: "okdesk invalid UTF-8", path: okHook, body: okdeskBody(fmt.Sprintf("{\"id\":%d,\"title\":\"\xc3\x28\"}", issue)), status: 400, field: "body", msg: "UTF-8"},
		{name: "okdesk \\u0000 in a field stored later", path: okHook, body: okdeskBody(fmt.Sprintf(`{"id":%d,"title":"Printer\u0000 jam"}`, issue)), status: 400, field: "issue.title", msg: `\u0000`},
		{name: "okdesk \\u0000 in the status code", path: okHook, body: []byte(fmt.Sprintf(`{"event":{"event_type":"new_ticket_status","new_status":{"code":"clo\u0000sed"}},"issue":{"id":%d}}`, issue)), status: 400, field: "event.new_status.code", msg: "NUL"},
		{name: "okdesk duplicate key", path: okHook, body: okdeskBody(fmt.Sprintf(`{"id":%d,"title":"a","id":%d}`, issue, issue+1)), status: 400, field: "issue.id", msg: "more than once"},
		{name: "okdesk issue id beyond int64", path: okHook, body: okdeskBody(`{"id":"9223372036854775808"}`), status: 400, field: "issue.id", msg: "out of range"},
		{name: "okdesk issue id a float", path: okHook, body: okdeskBody(`{"id":153.5}`), status: 400, field: "issue.id", msg: "integer"},
		{name: "okdesk nested 10,000 deep", path: okHook, body: okdeskBody(fmt.Sprintf(`{"id":%d,"custom":%s}`, issue, deep(10000, `"x"`))), status: 400, msg: "nested deeper"},
		{name: "okdesk empty body", path: okHook, body: []byte("  "), status: 400, field: "body", msg: "empty"},
		{name: "okdesk XML content type", path: okHook, headers: map[string]string{"Content-Type": "text/xml"}, body: []byte(`<event/>`), status: 415, field: "Content-Type"},
		{name: "okdesk event about no issue", path: okHook, body: []byte(`{"event":{"event_type":"new_company","author":{"id":"1","type":"employee"}},"company":{"id":"15","name":"Acme"}}`), expect: storedIgnored, status: 200, source: store.OkdeskSource},

		// Telegram: authenticated updates that can never be accepted are acknowledged
		{name: "telegram invalid UTF-8", path: tgP, headers: tg, body: tgMsg("\"\xff\""), expect: ackedIgnored, status: 200, field: "body", msg: "UTF-8"},
		{name: "telegram \\u0000 in a message", path: tgP, headers: tg, body: tgMsg(`"hi\u0000"`), expect: ackedIgnored, status: 200, field: "message.text", msg: "NUL"},
		{name: "telegram update_id beyond int64", path: tgP, headers: tg, body: []byte(`{"update_id":9223372036854775808,"message":{"message_id":1}}`), expect: ackedIgnored, status: 200, field: "update_id"},
		{name: "telegram update_id a float", path: tgP, headers: tg, body: []byte(`{"update_id":1.5}`), expect: ackedIgnored, status: 200, field: "update_id"},
		{name: "telegram chat id beyond int64", path: tgP, headers: tg, body: []byte(`{"update_id":7,"message":{"message_id":1,"date":1,"chat":{"id":99999999999999999999,"type":"private"},"text":"x"}}`), expect: ackedIgnored, status: 200},
		{name: "telegram duplicate key", path: tgP, headers: tg, body: []byte(`{"update_id":8,"update_id":9}`), expect: ackedIgnored, status: 200, field: "update_id", msg: "more than once"},
		{name: "telegram nested 10,000 deep", path: tgP, headers: tg, body: []byte(`{"update_id":10,"x":` + deep(10000, "0") + `}`), expect: ackedIgnored, status: 200, msg: "nested deeper"},
		{name: "telegram empty body", path: tgP, headers: tg, body: nil, expect: ackedIgnored, status: 200, field: "body", msg: "empty"},
		{name: "telegram form content type", path: tgP, headers: with(tg, "Content-Type", "application/x-www-form-urlencoded"), body: []byte(`update_id=1`), expect: ackedIgnored, status: 200, field: "Content-Type"},
		{name: "telegram slow body (not acknowledged: Telegram's resend may arrive whole)", path: tgP, headers: tg, body: tgMsg(`"slow"`), slow: true},
		{name: "telegram wrong secret (auth first)", path: tgP, headers: map[string]string{telegram.SecretTokenHeader: "nope"}, body: tgMsg(`"hi\u0000"`), status: 401},
		{name: "telegram edited message (kind not handled)", path: tgP, headers: tg, body: []byte(fmt.Sprintf(`{"update_id":%d,"edited_message":{"message_id":1,"date":1,"chat":{"id":%d,"type":"private"},"text":"x"}}`, e.id(51), e.id(52))),
			expect: storedIgnored, status: 200, source: store.TelegramSource, noRun: fmt.Sprintf("telegram-chat-%d", e.id(52))},
		{name: "telegram sticker (no text)", path: tgP, headers: tg, body: []byte(fmt.Sprintf(`{"update_id":%d,"message":{"message_id":2,"date":1,"chat":{"id":%d,"type":"private"},"sticker":{"file_id":"x"}}}`, e.id(53), e.id(54))),
			expect: storedIgnored, status: 200, source: store.TelegramSource, noRun: fmt.Sprintf("telegram-chat-%d", e.id(54))},

		// Bitrix site webhooks (JSON, the PHP handler)
		{name: "bitrix site invalid UTF-8", path: bxP, headers: bx, body: siteOrder(fmt.Sprint(order), ",\"COMMENTS\":\"\xff\""), status: 400, field: "body", msg: "UTF-8"},
		{name: "bitrix site \\u0000 in a field", path: bxP, headers: bx, body: siteOrder(fmt.Sprint(order), `,"COMMENTS":"call\u0000me"`), status: 400, field: "order.COMMENTS", msg: "NUL"},
		{name: "bitrix site duplicate key", path: bxP, headers: bx, body: siteOrder(fmt.Sprint(order), `,"ID":1`), status: 400, field: "order.ID", msg: "more than once"},
		{name: "bitrix site order id beyond int64", path: bxP, headers: bx, body: siteOrder("9223372036854775808", ""), status: 400, field: "order.ID"},
		{name: "bitrix site order id a float", path: bxP, headers: bx, body: siteOrder("236.5", ""), status: 400, field: "order.ID"},
		{name: "bitrix site nested 10,000 deep", path: bxP, headers: bx, body: siteOrder(fmt.Sprint(order), `,"PROPS":`+deep(10000, "1")), status: 400, msg: "nested deeper"},
		{name: "bitrix site empty body", path: bxP, headers: bx, body: nil, status: 400, field: "body"},
		{name: "bitrix site form content type", path: bxP, headers: with(bx, "Content-Type", "application/x-www-form-urlencoded"), body: []byte(`event=order.saved`), status: 415, field: "Content-Type"},
		{name: "bitrix site event of another kind", path: bxP, headers: bx, body: []byte(`{"event":"order.deleted","order":{"ID":5}}`), expect: storedIgnored, status: 200, source: store.BitrixSource, noRun: "bitrix-order-5"},

		// Bitrix24 outbound events (form)
		{name: "bitrix24 ONCRMCONTACTADD", path: b24P, headers: form, body: b24(fmt.Sprintf("event=ONCRMCONTACTADD&event_handler_id=3&data%%5BFIELDS%%5D%%5BID%%5D=%d&ts=1736405807", contactID)),
			expect: storedIgnored, status: 200, source: store.BitrixSource, noRun: fmt.Sprintf("bitrix-order-%d", contactID)},
		{name: "bitrix24 ONSALEORDERDELETED", path: b24P, headers: form, body: b24(fmt.Sprintf("event=ONSALEORDERDELETED&data%%5BFIELDS%%5D%%5BID%%5D=%d&ts=1736405808", e.id(5))),
			expect: storedIgnored, status: 200, source: store.BitrixSource, noRun: fmt.Sprintf("bitrix-order-%d", e.id(5))},
		{name: "bitrix24 id given twice", path: b24P, headers: form, body: b24("event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D=1&data%5BFIELDS%5D%5BID%5D=2"), status: 400, field: "data[FIELDS][ID]", msg: "2 times"},
		{name: "bitrix24 event as an array", path: b24P, headers: form, body: b24("event%5B%5D=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D=1"), status: 400, field: "event", msg: "single value"},
		{name: "bitrix24 id as an array", path: b24P, headers: form, body: b24("event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D%5B%5D=1"), status: 400, field: "data[FIELDS][ID]", msg: "single value"},
		{name: "bitrix24 id a float", path: b24P, headers: form, body: b24("event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D=1.5"), status: 400, field: "data[FIELDS][ID]", msg: "positive integer"},
		{name: "bitrix24 id beyond int64", path: b24P, headers: form, body: b24("event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BID%5D=9223372036854775808"), status: 400, field: "data[FIELDS][ID]"},
		{name: "bitrix24 invalid UTF-8", path: b24P, headers: form, body: b24("event=ONSALEORDERSAVED&data%5BFIELDS%5D%5BACTION%5D=%FF&data%5BFIELDS%5D%5BID%5D=1"), status: 400, field: "data[FIELDS][ACTION]", msg: "UTF-8"},
		{name: "bitrix24 NUL", path: b24P, headers: form, body: b24("event=ONSALE%00ORDERSAVED&data%5BFIELDS%5D%5BID%5D=1"), status: 400, field: "event", msg: "NUL"},
		{name: "bitrix24 JSON content type", path: b24P, body: []byte(`{"event":"ONSALEORDERSAVED"}`), status: 415, field: "Content-Type", msg: "x-www-form-urlencoded"},
		{name: "bitrix24 multipart", path: b24P, headers: map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, body: []byte("--x--"), status: 415, field: "Content-Type"},
		{name: "bitrix24 empty body", path: b24P, headers: form, body: nil, status: 400, field: "body", msg: "empty"},

		// Job submissions
		{name: "jobs invalid UTF-8", path: jobP, body: jobLots("[{\"lot_id\":\"a\xff\",\"images\":[]}]"), status: 400, field: "body", msg: "UTF-8"},
		{name: "jobs \\u0000 in a lot id", path: jobP, body: jobLots(`[{"lot_id":"a\u0000","images":["https://img.example/1.jpg"]}]`), status: 400, field: "lots[0].lot_id", msg: "NUL"},
		{name: "jobs duplicate key", path: jobP, body: []byte(`{"signature":"x","lots":[],"lots":[{"lot_id":"b"}]}`), status: 400, field: "lots", msg: "more than once"},
		{name: "jobs nested 10,000 deep", path: jobP, body: jobLots(`[{"lot_id":"a","images":` + deep(10000, `"x"`) + `}]`), status: 400, msg: "nested deeper"},
		{name: "jobs empty body", path: jobP, body: nil, status: 400, field: "body", msg: "empty"},
		{name: "jobs form content type", path: jobP, headers: form, body: []byte(`lots=1`), status: 415, field: "Content-Type"},
		{name: "jobs lots not an array", path: jobP, body: []byte(`{"signature":"x","lots":{"lot_id":"a"}}`), status: 400, field: "lots"},
		{name: "jobs gzip body", path: jobP, headers: map[string]string{"Content-Encoding": "gzip"}, body: []byte("\x1f\x8b"), status: 415, field: "Content-Encoding"},

		// CRM order changes (PATCH, admin)
		{name: "crm patch \\u0000 in a comment", method: "PATCH", path: patchP, headers: admin, body: []byte(`{"comment":"ok\u0000"}`), status: 400, field: "comment", msg: "NUL"},
		{name: "crm patch invalid UTF-8", method: "PATCH", path: patchP, headers: admin, body: []byte("{\"comment\":\"\xff\"}"), status: 400, field: "body", msg: "UTF-8"},
		{name: "crm patch duplicate key", method: "PATCH", path: patchP, headers: admin, body: []byte(`{"status":"paid","status":"new"}`), status: 400, field: "status", msg: "more than once"},
		{name: "crm patch form content type", method: "PATCH", path: patchP, headers: with(admin, "Content-Type", "application/x-www-form-urlencoded"), body: []byte(`status=paid`), status: 415, field: "Content-Type"},
	}
	if len(cases) < 40 {
		t.Fatalf("the matrix has %d cases", len(cases))
	}
	ctx := context.Background()
	for _, c := range cases {
		before := e.counts(t)
		var code int
		var raw []byte
		if c.slow {
			code = sendSlowly(t, e.app.Addr(), c)
			if code != 0 && code != 408 {
				t.Errorf("%s: %d, want 408 or a closed connection", c.name, code)
			}
		} else {
			code, raw, _ = send(t, e.app.URL(), c)
			if code != c.status {
				t.Errorf("%s: status %d, want %d: %s", c.name, code, c.status, clip(raw))
				continue
			}
		}
		if code >= 500 {
			t.Errorf("%s: a 5xx for a body that will never be valid", c.name)
		}
		after := e.counts(t)
		var body map[string]any
		if !c.slow && !c.plain {
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Errorf("%s: the answer is not JSON: %s", c.name, clip(raw))
				continue
			}
		}
		msg, _ := body["error"].(string)
		switch c.expect {
		case refused:
			if !c.slow && !c.plain && msg == "" {
				t.Errorf("%s: no error message: %s", c.name, clip(raw))
			}
			if after != before {
				t.Errorf("%s: refused but recorded something: %+v -> %+v", c.name, before, after)
			}
		case ackedIgnored:
			if body["ok"] != true || body["ignored"] != true || msg == "" {
				t.Errorf("%s: answer %s, want ok, ignored and the reason", c.name, clip(raw))
			}
			if after != before {
				t.Errorf("%s: ignored but recorded something: %+v -> %+v", c.name, before, after)
			}
		case storedIgnored:
			if after.events != before.events+1 {
				t.Errorf("%s: %+v -> %+v, want one event", c.name, before, after)
			}
			if body["status"] != "ignored" && body["ignored"] != true {
				t.Errorf("%s: answer %s does not say ignored", c.name, clip(raw))
			}
			var outcome, reason, source, workflow string
			var queued bool
			if err := e.st.Pool.QueryRow(ctx, `SELECT coalesce(outcome, ''), coalesce(error, ''), source, workflow_id,
				EXISTS (SELECT 1 FROM relay_outbox WHERE event_id = e.id)
				FROM inbound_events e WHERE processed ORDER BY id DESC LIMIT 1`).Scan(&outcome, &reason, &source, &workflow, &queued); err != nil ||
				outcome != "ignored" || reason == "" || source != c.source || workflow != "" || queued {
				t.Errorf("%s: recorded %q (%q) in %s, workflow %q, queued for the relay %v (%v)", c.name, outcome, reason, source, workflow, queued, err)
			}
		case accepted:
			if after.events != before.events+1 {
				t.Errorf("%s: %+v -> %+v, want one event", c.name, before, after)
			}
		}
		if c.field != "" && body["field"] != c.field {
			t.Errorf("%s: names field %v, want %s (%s)", c.name, body["field"], c.field, clip(raw))
		}
		if c.msg != "" && !c.plain && !strings.Contains(msg, c.msg) {
			t.Errorf("%s: error %q does not say %q", c.name, msg, c.msg)
		}
	}

	// Normal requests on every endpoint still succeed.
	e.rest.PutOrder(bitrixtest.NewOrder(b24Order, "N"))
	for _, c := range []badCase{
		{name: "simplyprint", path: spP, headers: sp, body: spEvent(e.id(60))},
		{name: "okdesk", path: okHook, body: okdeskBody(fmt.Sprintf(`{"id":%d,"title":"Printer jam"}`, issue))},
		{name: "telegram", path: tgP, headers: tg, body: tgMsg(`"hello"`)},
		{name: "bitrix site", path: bxP, headers: bx, body: siteOrder(fmt.Sprint(order), `,"COMMENTS":"call me"`)},
		{name: "bitrix24", path: b24P, headers: form, body: b24(fmt.Sprintf("event=ONSALEORDERSAVED&data%%5BFIELDS%%5D%%5BID%%5D=%d&ts=1736405809", b24Order))},
		{name: "jobs", path: jobP, body: jobLots(`[{"lot_id":"a","images":["https://img.example/1.jpg"]}]`)},
	} {
		if code, raw, _ := send(t, e.app.URL(), c); code != 200 && code != 202 {
			t.Errorf("normal %s request after the matrix: %d %s", c.name, code, clip(raw))
		}
	}
	// Whatever was acknowledged is processed, and nothing failed.
	testenv.Eventually(t, 60*time.Second, func() error {
		var pending, outbox int
		if err := e.st.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM inbound_events WHERE NOT processed), (SELECT count(*) FROM relay_outbox)`).Scan(&pending, &outbox); err != nil {
			return err
		}
		if pending != 0 || outbox != 0 {
			return fmt.Errorf("%d events not processed, %d not handed over", pending, outbox)
		}
		return nil
	})
	rows, err := e.st.Pool.Query(ctx, `SELECT source || ' ' || event || ': ' || coalesce(error, '') FROM inbound_events WHERE outcome = 'failed'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		t.Errorf("acknowledged event failed processing: %s", s)
	}
	rows.Close()
	// The CRM order from the site webhook can be changed.
	var crmID int64
	if err := e.st.Pool.QueryRow(ctx, `SELECT id FROM orders WHERE bitrix_id = $1`, order).Scan(&crmID); err != nil {
		t.Fatalf("the normal site webhook made no order: %v", err)
	}
	if code, raw, _ := send(t, e.app.URL(), badCase{method: "PATCH", path: fmt.Sprintf("/api/orders/%d", crmID), headers: admin, body: []byte(`{"comment":"ok"}`)}); code != 200 {
		t.Errorf("PATCH after the matrix: %d %s", code, clip(raw))
	}
	// No workflow was started for what was ignored.
	for _, c := range cases {
		if c.noRun == "" {
			continue
		}
		_, err := e.app.Temporal.DescribeWorkflowExecution(ctx, c.noRun, "")
		var notFound *serviceerror.NotFound
		if !errors.As(err, &notFound) {
			t.Errorf("%s: workflow %s exists (%v)", c.name, c.noRun, err)
		}
	}
}

// TestPoisonEventIsDeadLettered: an event that passed the edge but whose
// data Postgres refuses when it is applied (here recorded directly, as an
// older release could have) ends as failed with the reason, once; the
// issue's workflow goes on and applies the next webhook.
func TestPoisonEventIsDeadLettered(t *testing.T) {
	e := startRatings(t, app.Roles{API: true, Worker: true}, nil)
	ctx := context.Background()
	issue := e.id(7)
	res, err := e.st.RecordEvents(ctx, []*store.InboundEvent{{
		Source: store.OkdeskSource, DedupKey: "poison", WorkflowID: activities.OkdeskIssueWorkflowID(issue), EntityID: fmt.Sprint(issue),
		Event: "new_comment", EventType: store.OkdeskEventOther, Attrs: map[string]any{"issue_id": issue},
		Payload: []byte(fmt.Sprintf(`{"event":{"event_type":"new_comment"},"issue":{"id":"%d","title":"Printer\u0000 jam"}}`, issue)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.app.Relay.Poke()
	var outcome, reason string
	testenv.Eventually(t, 30*time.Second, func() error {
		return e.st.Pool.QueryRow(ctx, `SELECT outcome, error FROM inbound_events WHERE id = $1 AND processed`, res[0].ID).Scan(&outcome, &reason)
	})
	if outcome != "failed" || !strings.Contains(reason, "SQLSTATE 22") {
		t.Fatalf("poison event: %s (%s)", outcome, reason)
	}
	var good map[string]any
	body := []byte(fmt.Sprintf(`{"event":{"event_type":"new_comment"},"issue":{"id":"%d","title":"Printer jam"}}`, issue))
	if code := call(t, "POST", e.hook, body, nil, &good); code != 200 {
		t.Fatalf("next webhook: %d %v", code, good)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		var o string
		if err := e.st.Pool.QueryRow(ctx, `SELECT coalesce(outcome, '') FROM inbound_events WHERE id = $1 AND processed`, int64(good["id"].(float64))).Scan(&o); err != nil {
			return err
		}
		if o != "recorded" {
			return fmt.Errorf("next webhook's outcome %q", o)
		}
		return nil
	})
	var title string
	if err := e.st.Pool.QueryRow(ctx, `SELECT title FROM okdesk_issues WHERE issue_id = $1`, issue).Scan(&title); err != nil || title != "Printer jam" {
		t.Fatalf("issue title %q (%v)", title, err)
	}
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
