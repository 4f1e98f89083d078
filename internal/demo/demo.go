// Package demo is hookflow's demo mode (`hookflow dev --demo`, `make
// demo`): the fakes the integration tests use (SimplyPrint, Okdesk,
// Telegram, Bitrix24 REST, the OpenAI-compatible generator) and a callback
// receiver, started in-process on loopback ports and wired in through the
// ordinary configuration (Env), so that every flow runs end to end without
// an account anywhere. Nothing in production code knows about it: hookflow
// talks to the fakes over HTTP exactly as it talks to the vendors, and the
// fakes reach hookflow's webhooks exactly as the vendors do.
//
// The ops console shows the fakes' state on /ops/demo (State) and lets the
// visitor act as the vendors' users would (Press a rating button, resolve
// an Okdesk issue, save a Bitrix24 order, submit a description job, fire a
// SimplyPrint event).
package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/internal/callback/callbacktest"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/bitrix/bitrixtest"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/jobs"
)

// The demo's credentials. They guard nothing but the fakes on this
// machine's loopback interface, and are set only in demo mode.
const (
	okdeskAPIToken     = "demo-okdesk-api-token"
	okdeskHookSecret   = "demo-okdesk-webhook-secret"
	okdeskAuthorID     = 1
	botToken           = "700000001:DEMO-bot-token"
	botUsername        = "hookflow_demo_bot"
	botSecret          = "demo-telegram-secret"
	bitrixAppToken     = "demo-bitrix-app-token"
	bitrixWebhookToken = "demo-bitrix-webhook-token"
	generatorKey       = "demo-generator-key"
	generatorModel     = "demo-model"
	spSecret           = "demo-simplyprint-secret"
	spAPIKey           = "demo-simplyprint-api-key"

	// JobsClient and JobsSecret are the demo's description-job client.
	JobsClient = "demo"
	JobsSecret = "demo-jobs-client-secret"
)

// The demo's people and things.
const (
	// ChatID is the Telegram chat of the demo's customer, linked to
	// ContactID by sharing the phone number with the bot.
	ChatID    int64 = 424242
	ContactID int64 = 21
	phone           = "+7 916 123-45-67"
	firstName       = "Иван"
	// PrinterID is the demo print farm's printer, the one FireSimplyPrint reports on.
	PrinterID  int64 = 3
	firstOrder int64 = 236
)

// resolved is the Okdesk status that asks the customer for a rating.
var resolved = okdesk.Status{Code: "resolved", Name: "Решена"}

// Fakes is the running demo: the fakes and the receiver.
type Fakes struct {
	Telegram    *telegramtest.Server
	Okdesk      *okdesktest.Server
	Bitrix      *bitrixtest.REST
	Generator   *generatortest.Server
	Receiver    *callbacktest.Receiver
	SimplyPrint *simplyprinttest.Server

	hc *http.Client

	mu          sync.Mutex
	hookflowURL string // set by Connect
	okdeskPath  string // WEBHOOK_PATH, set by Connect
	jobs        []SubmittedJob
	nextJob     int
	nextSPJob   int64
}

// SubmittedJob is a description job the demo submitted.
type SubmittedJob struct {
	JobID  string
	Lots   int
	Status int    // HTTP status of the submission
	Answer string // its body
	At     time.Time
}

// Start starts the fakes and the receiver on loopback ports and stocks
// them: an Okdesk contact with open issues, Bitrix24 orders.
func Start() *Fakes {
	f := &Fakes{
		Telegram:    telegramtest.New(botToken),
		Okdesk:      okdesktest.New(okdeskAPIToken),
		Bitrix:      bitrixtest.NewREST(nil, "", ""),
		Generator:   generatortest.New(generatorKey, generatorModel),
		Receiver:    callbacktest.New(JobsSecret),
		SimplyPrint: simplyprinttest.NewServer(nil, simplyprinttest.WithAPIKey(spAPIKey), simplyprinttest.WithSecretHeaders(simplyprinttest.HeaderToken)),
		hc:          &http.Client{Timeout: 30 * time.Second},
		nextSPJob:   1000,
	}
	f.Okdesk.AddContact(okdesktest.Contact{ID: ContactID, FirstName: firstName, LastName: "Петров", Phone: phone})
	for i, title := range []string{"Принтер не печатает", "Нет доступа к почте", "Сломался сканер"} {
		f.Okdesk.AddIssue(okdesktest.Issue{ID: 153 + int64(i), Title: title, ContactID: ContactID, CompanyID: 15,
			AssigneeID: 7, AssigneeName: "Ольга"})
	}
	for i, st := range []string{"N", "P"} {
		f.Bitrix.PutOrder(bitrixtest.NewOrder(firstOrder+int64(i), st))
	}
	return f
}

// Close stops the fakes and the receiver.
func (f *Fakes) Close() {
	f.Telegram.Close()
	f.Okdesk.Close()
	f.Bitrix.Close()
	f.Generator.Close()
	f.Receiver.Close()
	f.SimplyPrint.Close()
}

// Env is the configuration that points hookflow at the fakes: the same
// variables a user sets for the real vendors (README, Configuration).
func (f *Fakes) Env() map[string]string {
	return map[string]string{
		"OKDESK_API_URL":           f.Okdesk.APIURL(),
		"OKDESK_API_TOKEN":         okdeskAPIToken,
		"OKDESK_COMMENT_AUTHOR_ID": strconv.Itoa(okdeskAuthorID),
		"OKDESK_WEBHOOK_SECRET":    okdeskHookSecret,
		"TELEGRAM_BOT_TOKEN":       botToken,
		"TELEGRAM_API_URL":         f.Telegram.URL(),
		"TELEGRAM_WEBHOOK_SECRET":  botSecret,
		"TELEGRAM_BOT_USERNAME":    botUsername,
		"BITRIX_REST_URL":          f.Bitrix.URL(),
		"BITRIX_APP_TOKEN":         bitrixAppToken,
		"BITRIX_WEBHOOK_TOKEN":     bitrixWebhookToken,
		"GENERATOR_URL":            f.Generator.URL(),
		"GENERATOR_API_KEY":        generatorKey,
		"GENERATOR_MODEL":          generatorModel,
		"JOBS_CLIENTS":             JobsClient + ":" + JobsSecret,
		// The receiver and the image URLs are on loopback.
		"CALLBACK_ALLOW_PRIVATE_NETWORKS": "true",
		"SIMPLYPRINT_WEBHOOK_SECRET":      spSecret,
		"SIMPLYPRINT_API_URL":             f.SimplyPrint.BaseURLTemplate(),
		"SIMPLYPRINT_COMPANY_ID":          f.SimplyPrint.CompanyID(),
		"SIMPLYPRINT_API_KEY":             spAPIKey,
	}
}

// Apply returns vars with Env's variables set: in demo mode they win over
// the environment's (the fakes accept only their own credentials), every
// other variable is kept.
func (f *Fakes) Apply(vars map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		out[k] = v
	}
	for k, v := range f.Env() {
		out[k] = v
	}
	return out
}

// Connect does what a user does once hookflow runs at hookflowURL: points
// the bot's webhook at it (setWebhook, as `hookflow telegram set-webhook`),
// registers the SimplyPrint webhook (as `hookflow simplyprint
// register-webhooks`), and has the demo customer open the bot and share
// their phone number, which links the chat to the Okdesk contact.
// okdeskPath is the Okdesk webhook's path (config.RatingsConfig.Path).
func (f *Fakes) Connect(ctx context.Context, hookflowURL, okdeskPath string) error {
	hookflowURL = strings.TrimRight(hookflowURL, "/")
	f.mu.Lock()
	f.hookflowURL, f.okdeskPath = hookflowURL, okdeskPath
	f.mu.Unlock()
	bot, err := telegram.New(f.Telegram.URL(), botToken, f.hc)
	if err != nil {
		return err
	}
	if err := bot.SetWebhook(ctx, hookflowURL+config.TelegramWebhookPath, botSecret, []string{"message", "callback_query"}); err != nil {
		return fmt.Errorf("demo: setWebhook at the fake Telegram: %w", err)
	}
	sp := simplyprint.New(f.SimplyPrint.BaseURLTemplate(), f.SimplyPrint.CompanyID(), spAPIKey, f.hc)
	if _, _, err := sp.EnsureWebhook(ctx, simplyprint.WebhookSpec{
		Name: "hookflow demo", Description: "hookflow: print farm events", URL: hookflowURL + "/api/v1/simpleprint/webhook/",
		Secret: spSecret, Enabled: true, Events: simplyprint.AllEvents,
	}); err != nil {
		return fmt.Errorf("demo: register the webhook at the fake SimplyPrint: %w", err)
	}
	if len(f.Telegram.Messages(ChatID)) == 0 {
		// Each step waits for the bot's answer: a rating request made
		// before the link is stored would find no chat.
		if err := expect200(f.Telegram.SendText(ctx, ChatID, "/start")); err != nil {
			return fmt.Errorf("demo: /start in the demo chat: %w", err)
		}
		if err := f.waitAnswer(ctx, 0, "the greeting"); err != nil {
			return err
		}
		n := len(f.Telegram.Messages(ChatID))
		if err := expect200(f.Telegram.ShareContact(ctx, ChatID, okdesktest.Digits(phone), firstName)); err != nil {
			return fmt.Errorf("demo: sharing the demo customer's phone: %w", err)
		}
		if err := f.waitAnswer(ctx, n, "the answer to the shared phone number"); err != nil {
			return err
		}
	}
	return nil
}

// waitAnswer waits until the bot has sent more than n messages to the demo
// chat.
func (f *Fakes) waitAnswer(ctx context.Context, n int, what string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for len(f.Telegram.Messages(ChatID)) <= n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: the bot did not send %s to the demo chat: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

func expect200(status int, err error) error {
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("hookflow answered %d", status)
	}
	return nil
}

func (f *Fakes) base() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hookflowURL == "" {
		return "", errors.New("demo: not connected to hookflow yet")
	}
	return f.hookflowURL, nil
}

func (f *Fakes) okdeskHook() (string, error) {
	base, err := f.base()
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return base + f.okdeskPath + "?token=" + okdeskHookSecret, nil
}

// Press is the demo customer pressing an inline button in the fake
// Telegram chat: the fake delivers the callback_query update to hookflow's
// webhook with the secret token header.
func (f *Fakes) Press(ctx context.Context, chatID int64, msgID int, data string) error {
	return expect200(pressStatus(f.Telegram.Press(ctx, chatID, msgID, data)))
}

func pressStatus(status int, _ int64, err error) (int, error) { return status, err }

// ResolveIssue is an Okdesk employee resolving an issue: the fake moves it
// to "resolved" and posts the status-change webhook to hookflow.
func (f *Fakes) ResolveIssue(ctx context.Context, issueID int64) error {
	hook, err := f.okdeskHook()
	if err != nil {
		return err
	}
	if _, ok := f.Okdesk.Issue(issueID); !ok {
		return fmt.Errorf("the fake Okdesk has no issue %d", issueID)
	}
	resp, err := f.Okdesk.SendStatusChange(ctx, hook, okdesktest.FormatVendor, issueID, resolved,
		okdesktest.WithHTTPClient(f.hc))
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		return fmt.Errorf("hookflow answered %d: %s", resp.Status, resp.Body)
	}
	return nil
}

// ReopenIssue puts an issue back to "opened" without a webhook, so it can
// be resolved again.
func (f *Fakes) ReopenIssue(issueID int64) error {
	_, err := f.Okdesk.SetStatus(issueID, okdesk.Status{Code: "opened", Name: "Открыта"})
	return err
}

// SaveOrder is a manager saving order id in Bitrix24 (created when the
// fake portal lacks it): the portal posts ONSALEORDERSAVED to hookflow,
// which fetches the order over REST.
func (f *Fakes) SaveOrder(ctx context.Context, id int64) error {
	base, err := f.base()
	if err != nil {
		return err
	}
	if _, ok := f.Bitrix.Order(id); !ok {
		f.Bitrix.PutOrder(bitrixtest.NewOrder(id, "N"))
	}
	status, err := bitrixtest.SendEvent(ctx, f.hc, base+"/api/webhooks/bitrix24", bitrixtest.Event{
		Name: "ONSALEORDERSAVED", HandlerID: 1, OrderID: id, Action: "save", ApplicationToken: bitrixAppToken, MemberID: "demo",
	})
	return expect200(status, err)
}

// FireSimplyPrint is the print farm reporting a finished job on the demo
// printer: the fake SimplyPrint posts job.done to every webhook
// registered for it.
func (f *Fakes) FireSimplyPrint(ctx context.Context) error {
	f.mu.Lock()
	f.nextSPJob++
	id := f.nextSPJob
	f.mu.Unlock()
	now := time.Now().Unix()
	ds, err := f.SimplyPrint.Fire(ctx, "job.done", simplyprinttest.JobData(simplyprinttest.Job{
		ID: id, UID: fmt.Sprintf("pj_demo%d", id), State: "completed", File: "benchy.gcode", Percentage: 100,
		Started: now - 3600, Ended: now, Duration: 3600, Cost: 0.42,
		Printer: simplyprinttest.Printer{ID: PrinterID, Name: "Prusa MK4 - bed 1", Group: &simplyprinttest.Group{ID: 2, Name: "Production bay"}},
	}))
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return errors.New("no webhook is registered at the fake SimplyPrint")
	}
	for _, d := range ds {
		if d.StatusCode != http.StatusOK {
			return fmt.Errorf("hookflow answered %d", d.StatusCode)
		}
	}
	return nil
}

// SubmitJob is the demo client submitting a description job of lots lots,
// signed with its secret, with the demo receiver as webhook_url.
func (f *Fakes) SubmitJob(ctx context.Context, lots int) (SubmittedJob, error) {
	base, err := f.base()
	if err != nil {
		return SubmittedJob{}, err
	}
	if lots < 1 || lots > 20 {
		return SubmittedJob{}, fmt.Errorf("lots: %d, want 1 to 20", lots)
	}
	f.mu.Lock()
	f.nextJob++
	n := f.nextJob
	f.mu.Unlock()
	imgBase := strings.TrimSuffix(f.Receiver.URL(), callbacktest.Path)
	var ls []jobs.Lot
	for i := range lots {
		id := fmt.Sprintf("demo-%d-%d", n, i+1)
		ls = append(ls, jobs.Lot{LotID: id, Images: []string{imgBase + "/images/" + id + ".jpg"}})
	}
	body := SignedJob(JobsSecret, f.Receiver.URL(), []string{"ru", "en"}, ls)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/generate-descriptions", bytes.NewReader(body))
	if err != nil {
		return SubmittedJob{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.hc.Do(req)
	if err != nil {
		return SubmittedJob{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	sj := SubmittedJob{Lots: lots, Status: resp.StatusCode, Answer: string(raw), At: time.Now()}
	var acc struct {
		JobID string `json:"job_id"`
	}
	if json.Unmarshal(raw, &acc) == nil {
		sj.JobID = acc.JobID
	}
	f.mu.Lock()
	f.jobs = append(f.jobs, sj)
	f.mu.Unlock()
	if resp.StatusCode != http.StatusAccepted {
		return sj, fmt.Errorf("hookflow answered %d: %s", resp.StatusCode, raw)
	}
	return sj, nil
}

// SignedJob is a submission signed the seed's way: "signature" is the
// HMAC-SHA256 (hex) of the lots value exactly as it appears in the body.
func SignedJob(secret, webhookURL string, languages []string, lots []jobs.Lot) []byte {
	rawLots, _ := json.Marshal(lots)
	langs, _ := json.Marshal(languages)
	hook, _ := json.Marshal(webhookURL)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(rawLots)
	return []byte(fmt.Sprintf(`{"signature": %q, "version": "1.0.0", "languages": %s, "webhook_url": %s, "lots": %s}`,
		hex.EncodeToString(m.Sum(nil)), langs, hook, rawLots))
}

// Jobs returns the jobs the demo submitted, oldest first.
func (f *Fakes) Jobs() []SubmittedJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SubmittedJob(nil), f.jobs...)
}

// ParseID reads a positive id from a form value, naming it in the error.
func ParseID(name, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive number", name, v)
	}
	return n, nil
}
