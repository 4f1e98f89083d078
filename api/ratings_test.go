package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

const (
	rtOkdeskToken = "okd-api-token"
	rtBotToken    = "123456:TEST-bot-token"
	rtBotSecret   = "tg_secret-1"
	rtHookSecret  = "okdesk-s3cret"
	rtAdmin       = "ratings-admin"
	rtAuthorID    = 5
)

var (
	resolved = okdesk.Status{Code: "resolved", Name: "Решена"}
	opened   = okdesk.Status{Code: "opened", Name: "Открыта"}
)

type ratingsEnv struct {
	cfg  config.Config
	app  *app.App // the API (and, unless split, the worker)
	st   *store.Store
	tmp  *testenv.DevServer
	okd  *okdesktest.Server
	tg   *telegramtest.Server
	hook string // the Okdesk webhook URL with ?token=
	next int64  // next Telegram update_id
	base int64  // added to issue and chat ids: workflow ids stay unique on the shared dev server
}

// id is a test's issue or chat id n, made unique for this run.
func (e *ratingsEnv) id(n int64) int64 { return e.base + n }

// startRatings runs hookflow against a fake Okdesk and a fake Telegram,
// with the bot's webhook registered at the fake.
func startRatings(t *testing.T, roles app.Roles, vars map[string]string) *ratingsEnv {
	t.Helper()
	okd := okdesktest.New(rtOkdeskToken)
	t.Cleanup(okd.Close)
	tg := telegramtest.New(rtBotToken)
	t.Cleanup(tg.Close)
	base := map[string]string{
		"OKDESK_API_URL": okd.APIURL(), "OKDESK_API_TOKEN": rtOkdeskToken, "OKDESK_COMMENT_AUTHOR_ID": fmt.Sprint(rtAuthorID),
		"OKDESK_WEBHOOK_SECRET": rtHookSecret,
		"TELEGRAM_BOT_TOKEN":    rtBotToken, "TELEGRAM_API_URL": tg.URL(), "TELEGRAM_WEBHOOK_SECRET": rtBotSecret,
		"TELEGRAM_BOT_USERNAME": "hookflow_test_bot", "ADMIN_TOKEN": rtAdmin,
	}
	for k, v := range vars {
		base[k] = v
	}
	dbURL, st := testenv.Database(t)
	tmp := testenv.Temporal(t)
	cfg := testenv.Config(t, dbURL, tmp, base)
	a := testenv.StartApp(t, cfg, roles)
	e := &ratingsEnv{cfg: cfg, app: a, st: st, tmp: tmp, okd: okd, tg: tg, next: 1000, base: 1_000_000 * (1 + rand.Int64N(1_000_000))}
	e.hook = a.URL() + cfg.Ratings.Path() + "?token=" + rtHookSecret
	bot, err := telegram.New(tg.URL(), rtBotToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bot.SetWebhook(context.Background(), a.URL()+config.TelegramWebhookPath, rtBotSecret, []string{"message", "callback_query"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// deliver pushes an update built by f (given the next update_id) to the bot.
func (e *ratingsEnv) deliver(t *testing.T, f func(updateID int64) json.RawMessage) int64 {
	t.Helper()
	e.next++
	code, err := e.tg.Deliver(context.Background(), f(e.next))
	if err != nil || code != 200 {
		t.Fatalf("update %d: %d %v", e.next, code, err)
	}
	return e.next
}

// statusChange moves an issue and sends Okdesk's webhook.
func (e *ratingsEnv) statusChange(t *testing.T, f okdesktest.Format, issueID int64, st okdesk.Status) map[string]any {
	t.Helper()
	resp, err := e.okd.SendStatusChange(context.Background(), e.hook, f, issueID, st)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if resp.Status != 200 || json.Unmarshal(resp.Body, &out) != nil {
		t.Fatalf("status change of %d: %d %s", issueID, resp.Status, resp.Body)
	}
	return out
}

// messages waits until chat holds n messages matching ok (nil: any).
func (e *ratingsEnv) messages(t *testing.T, chatID int64, n int, ok func([]telegramtest.Message) error) []telegramtest.Message {
	t.Helper()
	var msgs []telegramtest.Message
	testenv.Eventually(t, 30*time.Second, func() error {
		msgs = e.tg.Messages(chatID)
		if len(msgs) != n {
			return fmt.Errorf("chat %d has %d messages, want %d: %+v", chatID, len(msgs), n, msgs)
		}
		if ok != nil {
			return ok(msgs)
		}
		return nil
	})
	return msgs
}

// linkByDeepLink makes a deep link for contactID with the admin API and
// opens it from chatID.
func (e *ratingsEnv) linkByDeepLink(t *testing.T, contactID, chatID int64) string {
	t.Helper()
	var link map[string]any
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/okdesk/contacts/%d/link", e.app.URL(), contactID), nil, rtBearer(), &link); code != 201 {
		t.Fatalf("link contact %d: %d %v", contactID, code, link)
	}
	deep, _ := link["deep_link"].(string)
	token, found := strings.CutPrefix(deep, "https://t.me/hookflow_test_bot?start=")
	if !found || len(token) < 20 {
		t.Fatalf("deep link %q", deep)
	}
	before := len(e.tg.Messages(chatID))
	e.deliver(t, func(id int64) json.RawMessage { return telegramtest.MessageUpdate(id, chatID, "/start "+token) })
	e.messages(t, chatID, before+1, func(m []telegramtest.Message) error {
		if !strings.Contains(m[before].Text, "Чат привязан") {
			return fmt.Errorf("answer to the deep link: %q", m[before].Text)
		}
		return nil
	})
	return token
}

func rtBearer() map[string]string { return map[string]string{"Authorization": "Bearer " + rtAdmin} }

func markup(t *testing.T, m telegramtest.Message) telegramtest.ReplyMarkup {
	t.Helper()
	var rm telegramtest.ReplyMarkup
	if len(m.ReplyMarkup) > 0 {
		if err := json.Unmarshal(m.ReplyMarkup, &rm); err != nil {
			t.Fatal(err)
		}
	}
	return rm
}

// checkRatingButtons checks the seed's five buttons for an issue.
func checkRatingButtons(t *testing.T, m telegramtest.Message, issueID int64) {
	t.Helper()
	rm := markup(t, m)
	want := []string{"⭐⭐⭐⭐⭐ Отлично (5)", "⭐⭐⭐⭐ Хорошо (4)", "⭐⭐⭐ Нормально (3)", "⭐⭐ Плохо (2)", "⭐ Ужасно (1)"}
	if len(rm.InlineKeyboard) != 5 {
		t.Fatalf("keyboard %+v, want 5 rows", rm.InlineKeyboard)
	}
	for i, row := range rm.InlineKeyboard {
		if len(row) != 1 || row[0].Text != want[i] || row[0].CallbackData != fmt.Sprintf("rate:%d:%d", issueID, 5-i) {
			t.Fatalf("row %d: %+v", i, row)
		}
	}
}

func (e *ratingsEnv) requests(t *testing.T, issueID int64) []store.RatingRequest {
	t.Helper()
	reqs, err := e.st.RatingRequestsOfIssue(context.Background(), issueID)
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

// waitRequest waits until the issue's n-th request is in state.
func (e *ratingsEnv) waitRequest(t *testing.T, issueID int64, n int, state string) store.RatingRequest {
	t.Helper()
	var req store.RatingRequest
	testenv.Eventually(t, 30*time.Second, func() error {
		reqs := e.requests(t, issueID)
		if len(reqs) < n {
			return fmt.Errorf("issue %d has %d requests, want %d", issueID, len(reqs), n)
		}
		req = reqs[n-1]
		if req.State != state {
			return fmt.Errorf("request %d of issue %d is %s, want %s", n, issueID, req.State, state)
		}
		return nil
	})
	return req
}

// waitOutcome waits until a workflow carries HookflowOutcome want.
func (e *ratingsEnv) waitOutcome(t *testing.T, workflowID, want string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		desc, err := e.tmp.Client().DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			return err
		}
		sa := desc.WorkflowExecutionInfo.SearchAttributes.GetIndexedFields()["HookflowOutcome"]
		if sa == nil || string(sa.GetData()) != `"`+want+`"` {
			return fmt.Errorf("%s: HookflowOutcome %s, want %s", workflowID, sa.GetData(), want)
		}
		return nil
	})
}

func (e *ratingsEnv) waitComments(t *testing.T, issueID int64, n int) []okdesktest.RecordedComment {
	t.Helper()
	var cs []okdesktest.RecordedComment
	testenv.Eventually(t, 30*time.Second, func() error {
		cs = e.okd.CommentsFor(issueID)
		if len(cs) != n {
			return fmt.Errorf("issue %d has %d comments, want %d", issueID, len(cs), n)
		}
		return nil
	})
	return cs
}

// waitAnswer waits for answerCallbackQuery of an update's press and
// returns its text.
func (e *ratingsEnv) waitAnswer(t *testing.T, updateID int64) string {
	t.Helper()
	var text string
	testenv.Eventually(t, 30*time.Second, func() error {
		for _, c := range e.tg.CallsTo("answerCallbackQuery") {
			if c.String("callback_query_id") == telegramtest.CallbackQueryID(updateID) && c.Status == 200 {
				text = c.String("text")
				return nil
			}
		}
		return fmt.Errorf("press %d not answered", updateID)
	})
	return text
}

// waitEventsProcessed waits until every recorded event of source is
// processed.
func (e *ratingsEnv) waitEventsProcessed(t *testing.T, source string, n int) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		var total, done int
		if err := e.st.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE processed) FROM inbound_events WHERE source = $1`,
			source).Scan(&total, &done); err != nil {
			return err
		}
		if total != n || done != n {
			return fmt.Errorf("%s: %d of %d events processed, want %d", source, done, total, n)
		}
		return nil
	})
}

// TestRatingsStory drives the whole story over HTTP in the seed's format:
// a deep link ties the chat to the contact, the resolution asks with five
// buttons, a press becomes the Okdesk comment and the thank-you edit; a
// second press makes no second comment; stats and the export show it.
func TestRatingsStory(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startRatings(t, app.Roles{API: true, Worker: true}, nil)
	chat, issue := e.id(5001), e.id(153)
	rating1 := fmt.Sprintf("okdesk-rating-%d-1", issue)
	e.okd.AddContact(okdesktest.Contact{ID: 21, FirstName: "Иван", LastName: "Петров", Phone: "+7 916 123-45-67"})
	e.okd.AddIssue(okdesktest.Issue{ID: issue, Title: "Принтер не печатает", ContactID: 21, CompanyID: 15, AssigneeID: 7, AssigneeName: "Ольга"})

	// The admin API refuses without the token; the link works once.
	if code := call(t, "POST", e.app.URL()+"/api/v1/okdesk/contacts/21/link", nil, nil, nil); code != 401 {
		t.Fatalf("link without the admin token: %d", code)
	}
	var bad map[string]any
	if code := call(t, "POST", e.app.URL()+"/api/v1/okdesk/contacts/404/link", nil, rtBearer(), &bad); code != 404 || bad["field"] != "id" {
		t.Fatalf("link for a contact Okdesk lacks: %d %v", code, bad)
	}
	token := e.linkByDeepLink(t, 21, chat)
	e.deliver(t, func(id int64) json.RawMessage { return telegramtest.MessageUpdate(id, e.id(5002), "/start "+token) })
	e.messages(t, e.id(5002), 1, func(m []telegramtest.Message) error {
		if !strings.Contains(m[0].Text, "недействительна") || markup(t, m[0]).Keyboard == nil {
			return fmt.Errorf("a used token from another chat: %q", m[0].Text)
		}
		return nil
	})

	// The resolution: one message with the seed's five buttons.
	if out := e.statusChange(t, okdesktest.FormatSeed, issue, resolved); out["duplicate"] != false || out["workflow_id"] != fmt.Sprintf("okdesk-issue-%d", issue) {
		t.Fatalf("webhook answer %v", out)
	}
	msgs := e.messages(t, chat, 2, nil)
	ask := msgs[1]
	if !strings.Contains(ask.Text, fmt.Sprintf("№%d", issue)) || !strings.Contains(ask.Text, "Принтер не печатает") || !strings.Contains(ask.Text, "решена") {
		t.Fatalf("rating request text %q", ask.Text)
	}
	checkRatingButtons(t, ask, issue)
	req := e.waitRequest(t, issue, 1, store.RatingWaiting)
	if req.ChatID != chat || req.ContactID != 21 || req.AssigneeID != 7 || req.MessageID != ask.ID || req.WorkflowID != rating1 {
		t.Fatalf("request %+v", req)
	}

	// The press.
	press := e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.CallbackUpdate(id, chat, ask.ID, fmt.Sprintf("rate:%d:4", issue))
	})
	if text := e.waitAnswer(t, press); text != "Спасибо за оценку!" {
		t.Fatalf("toast %q", text)
	}
	cs := e.waitComments(t, issue, 1)
	if c := cs[0]; c.Content != "Оценка клиента: ⭐⭐⭐⭐ (4/5)" || c.AuthorID != rtAuthorID || c.AuthorType != okdesk.AuthorEmployee {
		t.Fatalf("comment %+v", c)
	}
	msgs = e.messages(t, chat, 2, func(m []telegramtest.Message) error {
		if !m[1].Edited || !strings.Contains(m[1].Text, "Спасибо за оценку ⭐⭐⭐⭐ (4/5)") {
			return fmt.Errorf("not thanked yet: %q", m[1].Text)
		}
		return nil
	})
	if rm := markup(t, msgs[1]); len(rm.InlineKeyboard) != 1 || rm.InlineKeyboard[0][0].CallbackData != "new_request" {
		t.Fatalf("thank-you keyboard %+v, want the New request button", rm.InlineKeyboard)
	}
	e.waitOutcome(t, rating1, "rated")
	rating, err := e.st.RatingOf(context.Background(), req.ID)
	if err != nil || rating.Score != 4 || rating.ChatID != chat || rating.ContactID != 21 || rating.AssigneeID != 7 ||
		rating.CommentState != store.CommentPosted || rating.CommentID != cs[0].ID || rating.TelegramUserID != chat {
		t.Fatalf("rating %+v (%v)", rating, err)
	}

	// A second press: answered, no second comment.
	again := e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.CallbackUpdate(id, chat, ask.ID, fmt.Sprintf("rate:%d:1", issue))
	})
	if text := e.waitAnswer(t, again); text != "Вы уже оценили эту заявку." {
		t.Fatalf("second press toast %q", text)
	}
	if cs := e.okd.CommentsFor(issue); len(cs) != 1 {
		t.Fatalf("%d comments after a second press", len(cs))
	}

	// Stats and export, admin only.
	if code := call(t, "GET", e.app.URL()+"/api/v1/ratings/stats", nil, nil, nil); code != 401 {
		t.Fatalf("stats without the token: %d", code)
	}
	var stats api.RatingStatsAnswer
	if code := call(t, "GET", e.app.URL()+"/api/v1/ratings/stats?from=2000-01-01&to=2999-12-31", nil, rtBearer(), &stats); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	if stats.Count != 1 || stats.Requests != 1 || stats.Asked != 1 || *stats.Average != 4 || stats.Distribution["4"] != 1 ||
		*stats.ResponseRate != 1 || stats.MedianSecondsToRate == nil || stats.Outcomes["rated"] != 1 || stats.Comments["posted"] != 1 ||
		len(stats.PerAssignee) != 1 || *stats.PerAssignee[0].AssigneeID != 7 || stats.PerAssignee[0].Average != 4 {
		t.Fatalf("stats %+v", stats)
	}
	call(t, "GET", e.app.URL()+"/api/v1/ratings/stats?from=2999-01-01", nil, rtBearer(), &stats)
	if stats.Count != 0 || stats.Requests != 0 || stats.Average != nil {
		t.Fatalf("stats of an empty period %+v", stats)
	}
	if code := call(t, "GET", e.app.URL()+"/api/v1/ratings/stats?from=yesterday", nil, rtBearer(), &bad); code != 400 || bad["field"] != "from" {
		t.Fatalf("bad from: %d %v", code, bad)
	}
	rows := exportCSV(t, e.app.URL()+"/api/v1/ratings/export.csv")
	if len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(api.RatingExportColumns, ",") {
		t.Fatalf("export %v", rows)
	}
	if r := rows[1]; r[1] != fmt.Sprint(issue) || r[3] != "Принтер не печатает" || r[8] != "rated" || r[11] != "4" || r[14] != "posted" || r[6] != "7" {
		t.Fatalf("export row %v", r)
	}
	for id, file := range map[string]string{rating1: "okdesk-rating-153-1", fmt.Sprintf("okdesk-issue-%d", issue): "okdesk-issue-153",
		fmt.Sprintf("telegram-chat-%d", chat): "telegram-chat-5001"} {
		writeRatingHistory(t, e.app, id, file)
	}
}

func exportCSV(t *testing.T, url string) [][]string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+rtAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestRatingsPhoneLinkReopenAndNewRequest speaks Okdesk's own format: the
// chat is linked by the shared phone, a reopen cancels the request (the
// message is edited), the next resolution asks again; the "New request"
// conversation creates an Okdesk issue that belongs to the chat.
func TestRatingsPhoneLinkReopenAndNewRequest(t *testing.T) {
	e := startRatings(t, app.Roles{API: true, Worker: true}, nil)
	chat, issue := e.id(6001), e.id(154)
	e.okd.AddContact(okdesktest.Contact{ID: 22, FirstName: "Анна", MobilePhone: "+7 (916) 765-43-21"})
	e.okd.AddIssue(okdesktest.Issue{ID: issue, Title: "Нет интернета", ContactID: 22})

	e.deliver(t, func(id int64) json.RawMessage { return telegramtest.MessageUpdate(id, chat, "/start") })
	msgs := e.messages(t, chat, 1, nil)
	if kb := markup(t, msgs[0]).Keyboard; len(kb) != 1 || !kb[0][0].RequestContact {
		t.Fatalf("greeting of an unlinked chat %q without the share-phone button: %s", msgs[0].Text, msgs[0].ReplyMarkup)
	}
	e.deliver(t, func(id int64) json.RawMessage { return telegramtest.ContactUpdate(id, chat, "79167654321", "Анна") })
	e.messages(t, chat, 3, func(m []telegramtest.Message) error {
		if !strings.Contains(m[1].Text, "Чат привязан") {
			return fmt.Errorf("answer to the phone: %q", m[1].Text)
		}
		return nil
	})
	linked, err := e.st.Chat(context.Background(), chat)
	if err != nil || linked.ContactID != 22 || linked.LinkedVia != "phone" {
		t.Fatalf("chat %+v (%v)", linked, err)
	}

	// Resolution, reopen, resolution again.
	e.statusChange(t, okdesktest.FormatVendor, issue, okdesk.Status{Code: "completed", Name: "Решена"})
	msgs = e.messages(t, chat, 4, nil)
	first := msgs[3]
	checkRatingButtons(t, first, issue)
	e.waitRequest(t, issue, 1, store.RatingWaiting)
	e.statusChange(t, okdesktest.FormatVendor, issue, opened)
	e.messages(t, chat, 4, func(m []telegramtest.Message) error {
		if !m[3].Edited || !strings.Contains(m[3].Text, "снова открыта") || len(m[3].ReplyMarkup) != 0 {
			return fmt.Errorf("the request was not cancelled: %q %s", m[3].Text, m[3].ReplyMarkup)
		}
		return nil
	})
	e.waitRequest(t, issue, 1, store.RatingCancelled)
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", issue), "cancelled")
	e.statusChange(t, okdesktest.FormatVendor, issue, okdesk.Status{Code: "completed", Name: "Решена"})
	msgs = e.messages(t, chat, 5, nil)
	second := msgs[4]
	checkRatingButtons(t, second, issue)
	if req := e.waitRequest(t, issue, 2, store.RatingWaiting); req.WorkflowID != fmt.Sprintf("okdesk-rating-%d-2", issue) {
		t.Fatalf("second request %+v", req)
	}
	e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.CallbackUpdate(id, chat, second.ID, fmt.Sprintf("rate:%d:5", issue))
	})
	if cs := e.waitComments(t, issue, 1); cs[0].Content != "Оценка клиента: ⭐⭐⭐⭐⭐ (5/5)" {
		t.Fatalf("comment %+v", cs[0])
	}
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-2", issue), "rated")

	// New request: the button asks for a description, the description
	// becomes an Okdesk issue of the contact, answered with its number.
	before := len(e.tg.Messages(chat))
	e.deliver(t, func(id int64) json.RawMessage { return telegramtest.CallbackUpdate(id, chat, second.ID, "new_request") })
	e.messages(t, chat, before+1, func(m []telegramtest.Message) error {
		if !strings.Contains(m[before].Text, "Опишите") {
			return fmt.Errorf("asked %q", m[before].Text)
		}
		return nil
	})
	e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.MessageUpdate(id, chat, "Не работает сканер\nНа втором этаже, с утра.")
	})
	var created okdesktest.Issue
	createdID := issue + 1 // the fake numbers new issues after the largest it holds
	e.messages(t, chat, before+2, func(m []telegramtest.Message) error {
		var ok bool
		if created, ok = e.okd.Issue(createdID); !ok {
			return fmt.Errorf("no issue created")
		}
		if !strings.Contains(m[before+1].Text, fmt.Sprintf("Заявка №%d создана", createdID)) {
			return fmt.Errorf("answer %q", m[before+1].Text)
		}
		return nil
	})
	if created.Title != "Не работает сканер" || created.ContactID != 22 || !strings.Contains(created.Description, "втором этаже") {
		t.Fatalf("created issue %+v", created)
	}
	// Its resolution is asked in the chat that created it.
	e.statusChange(t, okdesktest.FormatSeed, createdID, resolved)
	e.messages(t, chat, before+3, func(m []telegramtest.Message) error {
		if !strings.Contains(m[before+2].Text, fmt.Sprintf("№%d", createdID)) {
			return fmt.Errorf("request %q", m[before+2].Text)
		}
		return nil
	})
}

// TestRatingsDuplicatesAndOkdeskRetry: a repeated webhook (same body, the
// seed's issue.updated for the same change, Okdesk's format of the same
// change) is one request; Okdesk's 500 then 200 makes one comment.
func TestRatingsDuplicatesAndOkdeskRetry(t *testing.T) {
	e := startRatings(t, app.Roles{API: true, Worker: true}, nil)
	chat, issue := e.id(7001), e.id(155)
	e.okd.AddContact(okdesktest.Contact{ID: 23})
	e.okd.AddIssue(okdesktest.Issue{ID: issue, Title: "Дубли", ContactID: 23})
	e.linkByDeepLink(t, 23, chat)

	first := e.statusChange(t, okdesktest.FormatSeed, issue, resolved)
	snap := okdesktest.Snapshot{Issue: okdesktest.Issue{ID: issue, Title: "Дубли", ContactID: 23}, Old: opened, New: resolved}
	seed, _ := okdesktest.StatusChangePayload(okdesktest.FormatSeed, snap)
	vendor, _ := okdesktest.StatusChangePayload(okdesktest.FormatVendor, snap)
	updated := strings.Replace(string(seed), okdesk.EventStatusChanged, okdesk.EventIssueUpdated, 1)
	for name, body := range map[string][]byte{"same body": seed, "issue.updated": []byte(updated), "vendor format": vendor} {
		resp, err := okdesktest.PostWebhook(context.Background(), e.hook, body)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.Unmarshal(resp.Body, &out)
		if resp.Status != 200 || out["duplicate"] != true || out["id"] != first["id"] {
			t.Fatalf("%s: %d %v (first %v)", name, resp.Status, out, first)
		}
	}
	msgs := e.messages(t, chat, 2, nil)
	e.waitEventsProcessed(t, store.OkdeskSource, 1)
	if reqs := e.requests(t, issue); len(reqs) != 1 {
		t.Fatalf("%d rating requests for one resolution", len(reqs))
	}

	e.okd.FailNext(fmt.Sprintf("issues/%d/comments", issue), 1, 500)
	e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.CallbackUpdate(id, chat, msgs[1].ID, fmt.Sprintf("rate:%d:3", issue))
	})
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", issue), "rated")
	if cs := e.okd.CommentsFor(issue); len(cs) != 1 || cs[0].Content != "Оценка клиента: ⭐⭐⭐ (3/5)" {
		t.Fatalf("comments %+v", cs)
	}
	var attempts []int
	for _, r := range e.okd.Requests() {
		if r.Method == "POST" && r.Path == fmt.Sprintf("issues/%d/comments", issue) {
			attempts = append(attempts, r.Status)
		}
	}
	if len(attempts) != 2 || attempts[0] != 500 || attempts[1] != 200 {
		t.Fatalf("comment attempts %v, want 500 then 200", attempts)
	}
}

// TestRatingsNoChatBlockedAndRefusedComment: the outcomes that end a
// request without a comment are recorded (database, stats, Temporal).
func TestRatingsNoChatBlockedAndRefusedComment(t *testing.T) {
	e := startRatings(t, app.Roles{API: true, Worker: true}, nil)
	noChat, blocked, refused := e.id(156), e.id(157), e.id(158)
	blockedChat, refusedChat := e.id(8001), e.id(8002)
	for _, c := range []okdesktest.Contact{{ID: 30}, {ID: 31}, {ID: 32}} {
		e.okd.AddContact(c)
	}
	e.okd.AddIssue(okdesktest.Issue{ID: noChat, ContactID: 30})
	e.okd.AddIssue(okdesktest.Issue{ID: blocked, ContactID: 31})
	e.okd.AddIssue(okdesktest.Issue{ID: refused, ContactID: 32, Title: "422"})
	e.linkByDeepLink(t, 31, blockedChat)
	e.linkByDeepLink(t, 32, refusedChat)

	// No chat is linked to contact 30.
	e.statusChange(t, okdesktest.FormatSeed, noChat, resolved)
	e.waitRequest(t, noChat, 1, store.RatingNoChat)
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", noChat), "no_chat")

	// The customer blocked the bot: 403 is permanent and recorded.
	e.tg.BlockChat(blockedChat)
	e.statusChange(t, okdesktest.FormatVendor, blocked, resolved)
	req := e.waitRequest(t, blocked, 1, store.RatingBlocked)
	if !strings.Contains(req.Error, "blocked") {
		t.Fatalf("blocked request %+v", req)
	}
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", blocked), "blocked")
	var attempts int
	for _, c := range e.tg.CallsTo("sendMessage") {
		if c.String("chat_id") == fmt.Sprint(blockedChat) && c.Status == http.StatusForbidden {
			attempts++
		}
	}
	if attempts != 1 {
		t.Fatalf("%d refused sendMessage calls, want 1 (403 is not retried)", attempts)
	}
	var blockedAt *time.Time
	if err := e.st.Pool.QueryRow(context.Background(), `SELECT blocked_at FROM telegram_chats WHERE chat_id = $1`, blockedChat).Scan(&blockedAt); err != nil || blockedAt == nil {
		t.Fatalf("chat not marked blocked (%v)", err)
	}

	// Okdesk refuses the comment (422): permanent, recorded, still thanked.
	e.statusChange(t, okdesktest.FormatSeed, refused, resolved)
	msgs := e.messages(t, refusedChat, 2, nil)
	e.okd.FailNext(fmt.Sprintf("issues/%d/comments", refused), 1, 422)
	e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.CallbackUpdate(id, refusedChat, msgs[1].ID, fmt.Sprintf("rate:%d:2", refused))
	})
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", refused), "comment_failed")
	r, err := e.st.RatingOf(context.Background(), e.waitRequest(t, refused, 1, store.RatingRated).ID)
	if err != nil || r.CommentState != store.CommentFailed || !strings.Contains(r.CommentError, "422") || r.Score != 2 {
		t.Fatalf("rating %+v (%v)", r, err)
	}
	if cs := e.okd.CommentsFor(refused); len(cs) != 0 {
		t.Fatalf("comments %+v", cs)
	}
	e.messages(t, refusedChat, 2, func(m []telegramtest.Message) error {
		if !strings.Contains(m[1].Text, "Спасибо") {
			return fmt.Errorf("not thanked: %q", m[1].Text)
		}
		return nil
	})

	var stats api.RatingStatsAnswer
	call(t, "GET", e.app.URL()+"/api/v1/ratings/stats", nil, rtBearer(), &stats)
	if stats.Requests != 3 || stats.Asked != 1 || stats.Count != 1 || stats.Outcomes["no_chat"] != 1 || stats.Outcomes["blocked"] != 1 ||
		stats.Comments["failed"] != 1 || *stats.ResponseRate != 1 {
		t.Fatalf("stats %+v", stats)
	}
}

// TestRatingsReminderAndExpiry runs the timers for real (shortened): one
// reminder with the buttons, then both messages lose them.
func TestRatingsReminderAndExpiry(t *testing.T) {
	e := startRatings(t, app.Roles{API: true, Worker: true}, map[string]string{"RATING_REMINDER_AFTER": "1s", "RATING_TTL": "3s"})
	issue, chat := e.id(160), e.id(9001)
	e.okd.AddContact(okdesktest.Contact{ID: 40})
	e.okd.AddIssue(okdesktest.Issue{ID: issue, ContactID: 40, Title: "Таймеры"})
	e.linkByDeepLink(t, 40, chat)
	e.statusChange(t, okdesktest.FormatSeed, issue, resolved)
	e.waitRequest(t, issue, 1, store.RatingExpired)
	msgs := e.messages(t, chat, 3, nil)
	var reminders []telegramtest.Call
	for _, c := range e.tg.CallsTo("sendMessage") {
		if strings.Contains(c.String("text"), "Напоминание") && strings.Contains(c.String("text"), fmt.Sprintf("№%d", issue)) {
			reminders = append(reminders, c)
		}
	}
	if len(reminders) != 1 {
		t.Fatalf("%d reminders, want 1", len(reminders))
	}
	if rm, err := reminders[0].ReplyMarkup(); err != nil || len(rm.InlineKeyboard) != 5 {
		t.Fatalf("reminder keyboard %+v (%v)", rm, err)
	}
	for _, m := range msgs[1:] {
		if !m.Edited || !strings.Contains(m.Text, "истекло") || len(m.ReplyMarkup) != 0 {
			t.Fatalf("after expiry: %+v", m)
		}
	}
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", issue), "expired")
}

// TestRatingsWorkerRestartWhileWaiting: the API and the worker are separate
// processes; the worker stops while the request waits, the press is
// accepted meanwhile, and a new worker finishes the story.
func TestRatingsWorkerRestartWhileWaiting(t *testing.T) {
	e := startRatings(t, app.Roles{API: true}, nil)
	ctx := context.Background()
	w1 := testenv.StartStoppable(t, e.cfg, app.Roles{Worker: true})
	issue, chat := e.id(170), e.id(9101)
	e.okd.AddContact(okdesktest.Contact{ID: 50})
	e.okd.AddIssue(okdesktest.Issue{ID: issue, ContactID: 50})
	e.linkByDeepLink(t, 50, chat)
	e.statusChange(t, okdesktest.FormatSeed, issue, resolved)
	msgs := e.messages(t, chat, 2, nil)
	e.waitRequest(t, issue, 1, store.RatingWaiting)

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	w1.Stop(stopCtx)
	cancel()
	e.deliver(t, func(id int64) json.RawMessage {
		return telegramtest.CallbackUpdate(id, chat, msgs[1].ID, fmt.Sprintf("rate:%d:5", issue))
	})
	if cs := e.okd.CommentsFor(issue); len(cs) != 0 {
		t.Fatalf("a comment without a worker: %+v", cs)
	}

	testenv.StartApp(t, e.cfg, app.Roles{Worker: true})
	if cs := e.waitComments(t, issue, 1); cs[0].Content != "Оценка клиента: ⭐⭐⭐⭐⭐ (5/5)" {
		t.Fatalf("comment %+v", cs[0])
	}
	e.messages(t, chat, 2, func(m []telegramtest.Message) error {
		if !strings.Contains(m[1].Text, "Спасибо") {
			return fmt.Errorf("not thanked: %q", m[1].Text)
		}
		return nil
	})
	e.waitOutcome(t, fmt.Sprintf("okdesk-rating-%d-1", issue), "rated")
}

// TestRatingsAuthAndBadInput: the seed's variable names (WEBHOOK_PATH,
// WEBHOOK_SECRET), secrets on both webhooks, field errors, and event types
// that are only recorded.
func TestRatingsAuthAndBadInput(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startRatings(t, app.Roles{API: true, Worker: true}, map[string]string{
		"OKDESK_WEBHOOK_SECRET": "", "WEBHOOK_SECRET": "seed-secret", "WEBHOOK_PATH": "/hooks/okdesk"})
	hook := e.app.URL() + "/hooks/okdesk"
	contractPathAs("/hooks/okdesk", "/okdesk-webhook") // the seed's WEBHOOK_PATH
	var ready map[string]any
	if code := call(t, "GET", hook, nil, nil, &ready); code != 200 || ready["message"] != "Webhook endpoint is ready" || ready["path"] != "/hooks/okdesk" {
		t.Fatalf("GET: %d %v", code, ready)
	}
	issue := e.id(180)
	e.okd.AddIssue(okdesktest.Issue{ID: issue, Title: "Auth"})
	good, _ := okdesktest.StatusChangePayload(okdesktest.FormatSeed, okdesktest.Snapshot{Issue: okdesktest.Issue{ID: issue}, Old: opened, New: okdesk.Status{Code: "in_progress"}})
	comment := []byte(fmt.Sprintf(`{"event":{"event_type":"new_comment","author":{"id":"3","type":"employee"}},"issue":{"id":"%d","title":"Auth","status":{"code":"in_progress"}},"comment":{"id":"9","content":"hi"}}`, issue))
	cases := []struct {
		name    string
		url     string
		body    []byte
		headers map[string]string
		code    int
		field   string
	}{
		{"no secret", hook, good, nil, 401, ""},
		{"wrong token", hook + "?token=nope", good, nil, 401, ""},
		{"wrong header", hook, good, map[string]string{"X-Webhook-Secret": "seed-secre"}, 401, ""},
		{"token", hook + "?token=seed-secret", good, nil, 200, ""},
		{"header", hook, good, map[string]string{"X-Webhook-Secret": "seed-secret"}, 200, ""},
		{"other event type", hook + "?token=seed-secret", comment, nil, 200, ""},
		{"malformed", hook + "?token=seed-secret", []byte(`{"event":`), nil, 400, "body"},
		{"no issue id", hook + "?token=seed-secret", []byte(`{"event":{"event_type":"issue.status_changed"},"issue":{"status":{"code":"resolved"}}}`), nil, 400, "issue.id"},
		{"bad issue id", hook + "?token=seed-secret", []byte(`{"event":{"event_type":"new_ticket_status","new_status":{"code":"x"}},"issue":{"id":"15x"}}`), nil, 400, "issue.id"},
		{"status change without status", hook + "?token=seed-secret", []byte(`{"event":{"event_type":"issue.status_changed"},"issue":{"id":1}}`), nil, 400, "issue.status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body map[string]any
			code := call(t, "POST", c.url, c.body, c.headers, &body)
			if code != c.code {
				t.Fatalf("status %d, want %d (%v)", code, c.code, body)
			}
			if code >= 400 && (body["error"] == "" || (c.field != "" && body["field"] != c.field)) {
				t.Fatalf("error answer %v, want field %q", body, c.field)
			}
		})
	}
	// The status change (twice: one event) and the comment are recorded; no
	// rating is asked for.
	e.waitEventsProcessed(t, store.OkdeskSource, 2)
	var outcomes []string
	rows, _ := e.st.Pool.Query(context.Background(), `SELECT event || ':' || outcome FROM inbound_events WHERE source = 'okdesk' ORDER BY id`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		outcomes = append(outcomes, s)
	}
	if strings.Join(outcomes, ",") != "issue.status_changed:recorded,new_comment:recorded" {
		t.Fatalf("outcomes %v", outcomes)
	}
	if reqs := e.requests(t, issue); len(reqs) != 0 {
		t.Fatalf("requests %+v", reqs)
	}

	// Telegram: the secret token is required; bad bodies are acknowledged
	// as ignored, naming the field.
	tgURL := e.app.URL() + config.TelegramWebhookPath
	update := telegramtest.MessageUpdate(1, e.id(1), "/start")
	for _, c := range []struct {
		name    string
		body    []byte
		headers map[string]string
		code    int
		field   string
	}{
		{"no secret", update, nil, 401, ""},
		{"wrong secret", update, map[string]string{telegram.SecretTokenHeader: "tg_secret-2"}, 401, ""},
		// Authenticated but never acceptable: acknowledged (ignored), as Telegram would resend it for ever.
		{"no update_id", []byte(`{"message":{"message_id":1}}`), map[string]string{telegram.SecretTokenHeader: rtBotSecret}, 200, "update_id"},
		{"not an object", []byte(`[1]`), map[string]string{telegram.SecretTokenHeader: rtBotSecret}, 200, "body"},
	} {
		var body map[string]any
		if code := call(t, "POST", tgURL, c.body, c.headers, &body); code != c.code || (c.field != "" && body["field"] != c.field) {
			t.Fatalf("telegram %s: %d %v", c.name, code, body)
		}
	}
	// Telegram retries: the same update_id is recorded once.
	var first, second map[string]any
	headers := map[string]string{telegram.SecretTokenHeader: rtBotSecret}
	call(t, "POST", tgURL, update, headers, &first)
	call(t, "POST", tgURL, update, headers, &second)
	if first["duplicate"] != false || second["duplicate"] != true || first["id"] != second["id"] {
		t.Fatalf("telegram dedup: %v %v", first, second)
	}
	e.messages(t, e.id(1), 1, nil)
}

// writeRatingHistory refreshes a replay fixture (UPDATE_HISTORY=1) under a
// fixed name: the tests' ids differ between runs.
func writeRatingHistory(t *testing.T, a *app.App, workflowID, name string) {
	writeHistoryAs(t, a, workflowID, name+".json")
}
