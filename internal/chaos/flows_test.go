package chaos

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/jobs"
)

// The offered load. SimplyPrint carries the volume (many printers, as a print
// farm does); the other flows are conversations whose every step is checked.
// Each conversation costs Temporal several workflow tasks (a new workflow,
// a child, activity completions), and a hookflow worker takes them on the
// SDK's default two pollers: these rates are what one worker (as during the
// faults) keeps up with on the 2-core reference machine.
// HOOKFLOW_CHAOS_SCALE multiplies every rate (see loadScale).
const (
	spRate, spPrinters = 40.0, 40
	orderRate          = 0.2   // new Bitrix24 orders per second, each with two CRM changes
	issueRate          = 0.25  // Okdesk issues resolved per second, each rated in Telegram
	jobRate            = 0.15  // job submissions per second, two lots each
	ratingChats        = 10    // Telegram chats linked to Okdesk contacts before the load
	maxPerFlow         = 1e5   // a bound on every flow, far above what the run sends
	spEpoch            = 1.7e9 // SimplyPrint timestamps: one second per event, unique
)

var (
	resolved = okdesk.Status{Code: "resolved", Name: "Решена"}
	opened   = okdesk.Status{Code: "opened", Name: "Открыта"}
	jsonType = http.Header{"Content-Type": {"application/json"}}
)

// loadScale reads HOOKFLOW_CHAOS_SCALE, the factor the rates are multiplied
// by (default 1): a bigger machine, or workers with more pollers, carry more.
func loadScale() (float64, error) {
	v := os.Getenv("HOOKFLOW_CHAOS_SCALE")
	if v == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("HOOKFLOW_CHAOS_SCALE=%q: want a positive number", v)
	}
	return f, nil
}

func withHeader(h http.Header, k, v string) http.Header {
	out := h.Clone()
	out.Set(k, v)
	return out
}

// simplyPrint sends job progress events over many printers. Each event's
// timestamp is its identity: SimplyPrint's dedup key includes it.
func (r *run) simplyPrint(load context.Context, wg *sync.WaitGroup) {
	header := withHeader(jsonType, "X-SP-Token", spSecret)
	paced(load, wg, r.scale*spRate, 16, maxPerFlow, func(i int) {
		printer := int64(1 + i%spPrinters)
		body := simplyprinttest.Payload("job.progress", 4242, spEpoch+int64(i), simplyprinttest.JobData(simplyprinttest.Job{
			ID: 1000 + printer, Printer: simplyprinttest.Printer{ID: printer, Name: fmt.Sprintf("printer %d", printer)},
			State: "printing", File: "part.gcode", Percentage: i % 100}))
		ans, err := r.send.send(r.ctx, r.sp, request{http.MethodPost, "/api/v1/simpleprint/webhook/", header, body})
		if err != nil {
			r.sp.fail(err)
			return
		}
		r.sp.acknowledged(strconv.Itoa(i), idOf(ans))
	})
}

// orders runs one conversation per new Bitrix24 order: the portal's
// ONSALEORDERSAVED (twice, a later save of the same content), then, once the
// order is in the CRM, a CRM user changes its status twice (PATCH), each
// change waiting for the previous one to reach Bitrix, so each must give
// exactly one sale.order.update.
func (r *run) orders(load context.Context, wg *sync.WaitGroup) {
	paced(load, wg, r.scale*orderRate, 1, maxPerFlow, func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.order(int64(50000 + i))
		}()
	})
}

func (r *run) order(id int64) {
	r.rest.PutOrder(bitrixtest.NewOrder(id, "N"))
	for n := range int64(2) {
		ev := bitrixtest.Event{Name: "ONSALEORDERSAVED", HandlerID: 201, OrderID: id, Action: "save",
			TS: time.Unix(1736400000+id*10+n, 0), ApplicationToken: bitrixAppToken, MemberID: "chaos"}
		header := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		ans, err := r.send.send(r.ctx, r.bx, request{http.MethodPost, "/api/webhooks/bitrix24", header, []byte(ev.Form().Encode())})
		if err != nil {
			r.bx.fail(err)
			return
		}
		r.bx.acknowledged(fmt.Sprintf("saved:%d:%d", id, n), idOf(ans))
	}
	var crmID int64
	if err := r.poll(func(ctx context.Context) bool {
		err := r.db.QueryRow(ctx, `SELECT id FROM orders WHERE bitrix_id = $1`, id).Scan(&crmID)
		return err == nil
	}); err != nil {
		r.back.fail(fmt.Errorf("order %d never reached the CRM: %w", id, err))
		return
	}
	header := withHeader(jsonType, "Authorization", "Bearer "+adminToken)
	for _, status := range []string{"paid", "shipped"} {
		path := fmt.Sprintf("/api/orders/%d", crmID)
		ans, err := r.send.send(r.ctx, r.back, request{http.MethodPatch, path, header, []byte(`{"status":"` + status + `"}`)})
		if err != nil {
			r.back.fail(err)
			return
		}
		var res struct {
			BackSync *struct {
				EventID json.Number `json:"event_id"`
			} `json:"backsync"`
		}
		_ = json.Unmarshal(ans, &res)
		eventID := ""
		if res.BackSync != nil {
			eventID = res.BackSync.EventID.String()
		}
		r.back.acknowledged(fmt.Sprintf("%d:%s", id, status), eventID)
		if err := r.poll(func(ctx context.Context) bool {
			var state string
			err := r.db.QueryRow(ctx, `SELECT sync_state FROM orders WHERE id = $1`, crmID).Scan(&state)
			return err == nil && state == "synced"
		}); err != nil {
			r.back.fail(fmt.Errorf("order %d: the change to %s never synced: %w", id, status, err))
			return
		}
	}
}

// linkChats ties ratingChats Telegram chats to Okdesk contacts the way a
// customer does: an admin makes a deep link, the customer opens it (/start
// <token> reaches the bot's webhook).
func (r *run) linkChats() error {
	admin := http.Header{"Authorization": {"Bearer " + adminToken}}
	for k := range int64(ratingChats) {
		contact, chat := 100+k, 7_000_000+k
		r.okd.AddContact(okdesktest.Contact{ID: contact, FirstName: "Клиент", LastName: strconv.FormatInt(k, 10)})
		ans, err := r.send.send(r.ctx, r.tgFlow, request{http.MethodPost, fmt.Sprintf("/api/v1/okdesk/contacts/%d/link", contact), admin, nil})
		if err != nil {
			return err
		}
		var link struct {
			DeepLink string `json:"deep_link"`
		}
		if err := json.Unmarshal(ans, &link); err != nil {
			return fmt.Errorf("link answer: %w", err)
		}
		_, token, ok := strings.Cut(link.DeepLink, "?start=")
		if !ok {
			return fmt.Errorf("deep link without a start token")
		}
		r.chats = append(r.chats, chat)
		r.contacts = append(r.contacts, contact)
		if err := r.telegramUpdate(telegramtest.MessageUpdate(r.nextUpdate.Add(1), chat, "/start "+token)); err != nil {
			return err
		}
	}
	return r.poll(func(ctx context.Context) bool {
		var n int
		err := r.db.QueryRow(ctx, `SELECT count(*) FROM telegram_chats WHERE contact_id IS NOT NULL`).Scan(&n)
		return err == nil && n == ratingChats
	})
}

// telegramUpdate pushes one update to the bot's webhook (as Telegram does,
// with the secret token; its identity is the update_id).
func (r *run) telegramUpdate(update json.RawMessage) error {
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	if err := json.Unmarshal(update, &u); err != nil {
		return err
	}
	header := withHeader(jsonType, telegramtest.SecretTokenHeader, telegramSecret)
	ans, err := r.send.send(r.ctx, r.tgFlow, request{http.MethodPost, "/telegram-webhook", header, update})
	if err != nil {
		return err
	}
	r.tgFlow.acknowledged(strconv.FormatInt(u.UpdateID, 10), idOf(ans))
	return nil
}

// issues resolves Okdesk issues of the linked contacts; Okdesk's webhook
// (the seed's format, the secret in a header) is what hookflow receives.
func (r *run) issues(load context.Context, wg *sync.WaitGroup) {
	header := withHeader(jsonType, "X-Webhook-Secret", okdeskWebhookSecret)
	paced(load, wg, r.scale*issueRate, 4, maxPerFlow, func(i int) {
		is := okdesktest.Issue{ID: int64(20000 + i), Title: fmt.Sprintf("Заявка хаоса %d", i), Status: resolved,
			ContactID: r.contacts[i%len(r.contacts)], CompanyID: 1, AssigneeID: 7, AssigneeName: "Ольга"}
		r.okd.AddIssue(is)
		body, err := okdesktest.StatusChangePayload(okdesktest.FormatSeed, okdesktest.Snapshot{Issue: is, Old: opened, New: resolved})
		if err != nil {
			r.ok.fail(err)
			return
		}
		ans, err := r.send.send(r.ctx, r.ok, request{http.MethodPost, "/okdesk-webhook", header, body})
		if err != nil {
			r.ok.fail(err)
			return
		}
		r.ok.acknowledged(strconv.FormatInt(is.ID, 10), idOf(ans))
		r.mu.Lock()
		r.resolved = append(r.resolved, is.ID)
		r.mu.Unlock()
	})
}

// presser is the customers: it watches the chats for the bot's rating
// requests and presses a star button once per request, until done ends.
func (r *run) presser(done <-chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		pressed := map[int64]bool{}
		for {
			select {
			case <-done:
				return
			case <-time.After(300 * time.Millisecond):
			}
			for _, chat := range r.chats {
				for _, m := range r.tg.Messages(chat) {
					issue, ok := ratingIssue(m.ReplyMarkup)
					if !ok || pressed[issue] {
						continue
					}
					pressed[issue] = true
					r.presses.Add(1)
					update := telegramtest.CallbackUpdate(r.nextUpdate.Add(1), chat, m.ID, fmt.Sprintf("rate:%d:%d", issue, 1+issue%5))
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := r.telegramUpdate(update); err != nil {
							r.tgFlow.fail(err)
						}
					}()
				}
			}
		}
	}()
}

// ratingIssue is the issue a message's star buttons rate (callback data
// rate:<issue>:<score>).
func ratingIssue(markup json.RawMessage) (int64, bool) {
	if len(markup) == 0 {
		return 0, false
	}
	var rm telegramtest.ReplyMarkup
	if json.Unmarshal(markup, &rm) != nil || len(rm.InlineKeyboard) == 0 || len(rm.InlineKeyboard[0]) == 0 {
		return 0, false
	}
	parts := strings.Split(rm.InlineKeyboard[0][0].CallbackData, ":")
	if len(parts) != 3 || parts[0] != "rate" {
		return 0, false
	}
	issue, err := strconv.ParseInt(parts[1], 10, 64)
	return issue, err == nil
}

// jobs submits description jobs with a callback to the receiver. The
// Idempotency-Key is what makes a resent submission the same job.
func (r *run) jobs(load context.Context, wg *sync.WaitGroup) {
	paced(load, wg, r.scale*jobRate, 4, maxPerFlow, func(i int) {
		var lots []jobs.Lot
		for _, name := range []string{"a", "b"} {
			id := fmt.Sprintf("job%d-%s", i, name)
			// Loopback image URLs: allowed by CALLBACK_ALLOW_PRIVATE_NETWORKS
			// and never fetched (the generator gets the URLs).
			lots = append(lots, jobs.Lot{LotID: id, Images: []string{"http://127.0.0.1:9/" + id + ".jpg"}})
		}
		key := fmt.Sprintf("chaos-job-%d", i)
		header := withHeader(jsonType, "Idempotency-Key", key)
		ans, err := r.send.send(r.ctx, r.job, request{http.MethodPost, "/api/v1/generate-descriptions", header, jobBody(r.rcv.URL(), lots)})
		if err != nil {
			r.job.fail(err)
			return
		}
		var acc struct {
			JobID string `json:"job_id"`
		}
		if err := json.Unmarshal(ans, &acc); err != nil || acc.JobID == "" {
			r.job.fail(fmt.Errorf("job %s: answer without job_id: %s", key, ans))
			return
		}
		r.job.acknowledged(key, acc.JobID)
	})
}

// jobBody is a submission as the seed's clients sign it: "signature" is
// the HMAC-SHA256 of the lots value exactly as it appears in the body.
func jobBody(webhookURL string, lots []jobs.Lot) []byte {
	rawLots, _ := json.Marshal(lots)
	m := hmac.New(sha256.New, []byte(jobsSecret))
	m.Write(rawLots)
	hook, _ := json.Marshal(webhookURL)
	return []byte(fmt.Sprintf(`{"signature": %q, "version": "1.0.0", "languages": ["en"], "webhook_url": %s, "lots": %s}`,
		hex.EncodeToString(m.Sum(nil)), hook, rawLots))
}

// poll calls cond every half second until it holds or the run stops
// waiting (r.waits). A failed query (Postgres restarting) counts as false.
func (r *run) poll(cond func(ctx context.Context) bool) error {
	for {
		ctx, cancel := context.WithTimeout(r.waits, 5*time.Second)
		ok := cond(ctx)
		cancel()
		if ok {
			return nil
		}
		select {
		case <-r.waits.Done():
			return r.waits.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
