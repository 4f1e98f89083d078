package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/store"
)

// Workflow ids of the ratings flow.

// OkdeskIssueWorkflowID is the per-issue workflow of Okdesk webhooks.
func OkdeskIssueWorkflowID(issueID int64) string {
	return "okdesk-issue-" + strconv.FormatInt(issueID, 10)
}

// RatingWorkflowID is the rating workflow of an issue's n-th resolution.
func RatingWorkflowID(issueID int64, resolution int) string {
	return "okdesk-rating-" + strconv.FormatInt(issueID, 10) + "-" + strconv.Itoa(resolution)
}

// TelegramChatWorkflowID is the per-chat workflow of the bot's updates;
// updates without a chat share "telegram-chat-none".
func TelegramChatWorkflowID(chatID int64) (workflowID, entityID string) {
	if chatID == 0 {
		return "telegram-chat-none", "none"
	}
	id := strconv.FormatInt(chatID, 10)
	return "telegram-chat-" + id, id
}

// Action kinds (rating_actions.kind). The first three are carried out by
// the workflow itself (child start, signals), the others by
// TelegramRunAction.
const (
	ActionStartRating  = "start_rating"  // okdesk-issue: start okdesk-rating-<issue>-<n>
	ActionCancelRating = "cancel_rating" // okdesk-issue: the issue was reopened
	ActionForwardPress = "forward_press" // telegram-chat: a rating button was pressed
	ActionSend         = "send"          // telegram-chat: send a message
	ActionAnswer       = "answer"        // telegram-chat: answer a callback query
	ActionLinkPhone    = "link_phone"    // telegram-chat: match a shared phone to a contact
	ActionCreateIssue  = "create_issue"  // telegram-chat: create an Okdesk issue from a description
)

// Error types of the ratings activities (temporal.ApplicationError.Type).
const (
	ErrTypeTelegramBlocked      = "TelegramBlocked"
	ErrTypeTelegram             = "Telegram"
	ErrTypeOkdesk               = "Okdesk"
	ErrTypeRatingsNotConfigured = "RatingsNotConfigured"
)

// CallbackNewRequest is the callback data of the "New request" button.
const CallbackNewRequest = "new_request"

// Keyboards of send actions.
const (
	keyboardNone   = ""
	keyboardMenu   = "menu"   // inline "New request"
	keyboardPhone  = "phone"  // reply keyboard that shares the phone
	keyboardRemove = "remove" // hide the reply keyboard
)

// RatingInput starts a rating workflow. The timings are fixed when the
// request is made, so a configuration change never alters running ones.
type RatingInput struct {
	RequestID     int64         `json:"request_id"`
	IssueID       int64         `json:"issue_id"`
	Resolution    int           `json:"resolution"`
	WorkflowID    string        `json:"workflow_id"`
	ReminderAfter time.Duration `json:"reminder_after"`
	TTL           time.Duration `json:"ttl"`
}

// RatingPress is a rating button press, forwarded by the chat workflow to
// the rating workflow.
type RatingPress struct {
	UpdateID   int64  `json:"update_id"`
	CallbackID string `json:"callback_id"`
	ChatID     int64  `json:"chat_id"`
	MessageID  int    `json:"message_id"`
	FromID     int64  `json:"from_id"`
	IssueID    int64  `json:"issue_id"`
	Score      int    `json:"score"`
}

// EntityApply is the input of the apply activities: the workflow that owns
// the events (and their follow-up actions) and the event ids.
type EntityApply struct {
	Owner string  `json:"owner"`
	IDs   []int64 `json:"ids"`
}

// RatingAction is one follow-up the workflow carries out.
type RatingAction struct {
	ID         int64        `json:"id"`
	Kind       string       `json:"kind"`
	Rating     *RatingInput `json:"rating,omitempty"`      // start_rating
	WorkflowID string       `json:"workflow_id,omitempty"` // cancel_rating, forward_press
	Press      *RatingPress `json:"press,omitempty"`       // forward_press
}

// EntityActions is what an apply activity leaves to its workflow: every
// action of the owner not done yet (also ones whose first result was lost).
type EntityActions struct {
	Processed int            `json:"processed"`
	Actions   []RatingAction `json:"actions"`
}

type sendPayload struct {
	ChatID   int64  `json:"chat_id"`
	Text     string `json:"text"`
	Keyboard string `json:"keyboard,omitempty"`
}

type answerPayload struct {
	CallbackID string `json:"callback_id"`
	Text       string `json:"text,omitempty"`
}

type forwardPayload struct {
	WorkflowID string      `json:"workflow_id"`
	Press      RatingPress `json:"press"`
}

type linkPhonePayload struct {
	ChatID int64  `json:"chat_id"`
	UserID int64  `json:"user_id"`
	Phone  string `json:"phone"`
}

type createIssuePayload struct {
	ChatID      int64  `json:"chat_id"`
	ContactID   int64  `json:"contact_id"`
	Description string `json:"description"`
}

// Ratings are the activities of the issue ratings flow.
type Ratings struct {
	Config   config.RatingsConfig
	Store    *store.Store
	Okdesk   *okdesk.Client   // nil when OKDESK_API_URL is unset
	Telegram *telegram.Client // nil when TELEGRAM_BOT_TOKEN is unset
	Log      *slog.Logger
	texts    ratingTexts
}

// NewRatings builds the activities with clients from cfg (hc may carry a
// traced transport; nil uses plain clients).
func NewRatings(cfg config.RatingsConfig, st *store.Store, hc *http.Client, log *slog.Logger) *Ratings {
	if log == nil {
		log = slog.Default()
	}
	a := &Ratings{Config: cfg, Store: st, Log: log, texts: textsFor(cfg)}
	if cfg.OkdeskConfigured() {
		a.Okdesk = okdesk.New(cfg.OkdeskAPIURL, cfg.OkdeskAPIToken, hc)
	}
	if cfg.TelegramBotToken != "" {
		tg, err := telegram.New(cfg.TelegramAPIURL, cfg.TelegramBotToken, hc)
		if err != nil {
			log.Error("ratings: Telegram client not usable", "error", err)
		} else {
			a.Telegram = tg
		}
	}
	return a
}

// ---- Okdesk: per-issue events ----

// OkdeskApplyEvents applies an issue's recorded webhooks in id order,
// exactly once: it keeps the issue's status, counts resolutions and queues
// a rating request for each transition into RATING_STATUSES (a
// cancellation for each transition out of them). It returns every action
// of the issue workflow not done yet.
func (a *Ratings) OkdeskApplyEvents(ctx context.Context, in EntityApply) (EntityActions, error) {
	n, err := a.Store.ProcessEvents(ctx, in.IDs, "", store.PerEvent(a.applyOkdesk))
	if err != nil {
		return EntityActions{}, nonRetryableData(err)
	}
	acts, err := a.pendingActions(ctx, in.Owner)
	return EntityActions{Processed: n, Actions: acts}, err
}

func (a *Ratings) applyOkdesk(ctx context.Context, tx pgx.Tx, ev store.InboundEvent) (store.EventOutcome, error) {
	w, err := okdesk.ParseWebhook(ev.Payload)
	if err != nil { // accepted once, so only if the parser changed since
		return store.EventOutcome{Outcome: "failed", Error: err.Error()}, nil
	}
	is, err := store.LockOkdeskIssue(ctx, tx, w.IssueID)
	if err != nil {
		return store.EventOutcome{}, err
	}
	known := is != nil
	if !known {
		is = &store.OkdeskIssue{IssueID: w.IssueID}
	}
	if w.Title != "" {
		is.Title = w.Title
	}
	if w.ContactID != 0 {
		is.ContactID = w.ContactID
	}
	if w.CompanyID != 0 {
		is.CompanyID = w.CompanyID
	}
	if w.AssigneeID != 0 {
		is.AssigneeID = w.AssigneeID
	}
	is.LastEventID = ev.ID
	out := store.EventOutcome{Outcome: "recorded"}
	if w.Kind == okdesk.KindStatusChanged {
		out, err = a.applyStatusChange(ctx, tx, ev, w, is, known)
		if err != nil {
			return store.EventOutcome{}, err
		}
	}
	return out, store.SaveOkdeskIssue(ctx, tx, *is)
}

func (a *Ratings) applyStatusChange(ctx context.Context, tx pgx.Tx, ev store.InboundEvent, w okdesk.Webhook, is *store.OkdeskIssue, known bool) (store.EventOutcome, error) {
	prev := is.Status
	if !known || prev == "" {
		prev = w.OldStatus.Code
	}
	next := w.NewStatus.Code
	is.Status = next
	if known && prev == next {
		return store.EventOutcome{Outcome: "unchanged", Error: "the issue's status is " + next + " already"}, nil
	}
	was, now := a.Config.AsksForRating(prev), a.Config.AsksForRating(next)
	switch {
	case now && !was:
		is.Resolutions++
		in := RatingInput{IssueID: is.IssueID, Resolution: is.Resolutions, WorkflowID: RatingWorkflowID(is.IssueID, is.Resolutions),
			ReminderAfter: a.Config.ReminderAfter, TTL: a.Config.TTL}
		id, err := store.InsertRatingRequest(ctx, tx, store.RatingRequest{IssueID: is.IssueID, Resolution: is.Resolutions,
			WorkflowID: in.WorkflowID, Title: is.Title, Status: next, ContactID: is.ContactID, CompanyID: is.CompanyID,
			AssigneeID: is.AssigneeID, EventID: ev.ID})
		if err != nil {
			return store.EventOutcome{}, err
		}
		in.RequestID = id
		if err := store.InsertAction(ctx, tx, ev.WorkflowID, ActionStartRating, in, ev.ID); err != nil {
			return store.EventOutcome{}, err
		}
		return store.EventOutcome{Outcome: "rating_requested"}, nil
	case was && !now:
		open, err := store.OpenRatingRequest(ctx, tx, is.IssueID)
		if err != nil {
			return store.EventOutcome{}, err
		}
		if open == nil {
			return store.EventOutcome{Outcome: "reopened"}, nil
		}
		if err := store.InsertAction(ctx, tx, ev.WorkflowID, ActionCancelRating, map[string]any{"workflow_id": open.WorkflowID}, ev.ID); err != nil {
			return store.EventOutcome{}, err
		}
		return store.EventOutcome{Outcome: "reopened", Error: "cancels " + open.WorkflowID}, nil
	case was && now:
		return store.EventOutcome{Outcome: "still_resolved", Error: prev + " → " + next + ": asked already for this resolution"}, nil
	}
	return store.EventOutcome{Outcome: "recorded"}, nil
}

// ---- Telegram: per-chat updates ----

// TelegramApplyUpdates applies a chat's updates in id order, exactly once:
// the conversation (/start, deep links, the shared phone, "New request")
// and rating presses. Replies and presses become actions; it returns every
// action of the chat workflow not done yet.
func (a *Ratings) TelegramApplyUpdates(ctx context.Context, in EntityApply) (EntityActions, error) {
	n, err := a.Store.ProcessEvents(ctx, in.IDs, "", store.PerEvent(a.applyTelegram))
	if err != nil {
		return EntityActions{}, nonRetryableData(err)
	}
	acts, err := a.pendingActions(ctx, in.Owner)
	return EntityActions{Processed: n, Actions: acts}, err
}

// TelegramHandles says whether the chat workflow does anything with an
// update: a button press, a shared contact or a message with text. The API
// records the others (stickers, photos, edits, membership changes, ...) as
// ignored, without a workflow.
func TelegramHandles(u models.Update) bool {
	if _, ok := telegram.CallbackOf(u); ok {
		return true
	}
	if _, ok := telegram.ContactOf(u); ok {
		return true
	}
	m, ok := telegram.MessageOf(u)
	return ok && strings.TrimSpace(m.Text) != ""
}

func (a *Ratings) applyTelegram(ctx context.Context, tx pgx.Tx, ev store.InboundEvent) (store.EventOutcome, error) {
	u, err := telegram.ParseUpdate(ev.Payload)
	if err != nil {
		return store.EventOutcome{Outcome: "failed", Error: err.Error()}, nil
	}
	t := a.texts
	owner := ev.WorkflowID
	queue := func(kind string, payload any) error { return store.InsertAction(ctx, tx, owner, kind, payload, ev.ID) }
	send := func(chatID int64, text, kb string) error {
		return queue(ActionSend, sendPayload{ChatID: chatID, Text: text, Keyboard: kb})
	}

	if cb, ok := telegram.CallbackOf(u); ok {
		if cb.ChatID == 0 {
			return store.EventOutcome{Outcome: "ignored", Error: "button of an inline message"}, queue(ActionAnswer, answerPayload{CallbackID: cb.ID})
		}
		chat, err := store.LockChat(ctx, tx, cb.ChatID, cb.FromID)
		if err != nil {
			return store.EventOutcome{}, err
		}
		if cb.Data == CallbackNewRequest {
			if err := queue(ActionAnswer, answerPayload{CallbackID: cb.ID}); err != nil {
				return store.EventOutcome{}, err
			}
			return a.startNewRequest(ctx, tx, chat, send)
		}
		issueID, score, perr := telegram.ParseRateCallback(cb.Data)
		if perr != nil {
			return store.EventOutcome{Outcome: "ignored", Error: perr.Error()}, queue(ActionAnswer, answerPayload{CallbackID: cb.ID})
		}
		req, err := store.LatestRequestInChat(ctx, tx, issueID, cb.ChatID)
		if err != nil {
			return store.EventOutcome{}, err
		}
		switch {
		case req == nil:
			return store.EventOutcome{Outcome: "ignored", Error: "no rating request for this issue in this chat"},
				queue(ActionAnswer, answerPayload{CallbackID: cb.ID, Text: t.ToastInactive})
		case req.Open():
			press := RatingPress{UpdateID: u.ID, CallbackID: cb.ID, ChatID: cb.ChatID, MessageID: cb.MessageID,
				FromID: cb.FromID, IssueID: issueID, Score: score}
			return store.EventOutcome{Outcome: "press_forwarded", Error: req.WorkflowID},
				queue(ActionForwardPress, forwardPayload{WorkflowID: req.WorkflowID, Press: press})
		case req.State == store.RatingRated:
			return store.EventOutcome{Outcome: "already_rated"}, queue(ActionAnswer, answerPayload{CallbackID: cb.ID, Text: t.ToastAlreadyRated})
		default:
			return store.EventOutcome{Outcome: "rating_closed", Error: "request " + req.State},
				queue(ActionAnswer, answerPayload{CallbackID: cb.ID, Text: t.ToastInactive})
		}
	}

	if c, ok := telegram.ContactOf(u); ok {
		if _, err := store.LockChat(ctx, tx, c.ChatID, c.FromID); err != nil {
			return store.EventOutcome{}, err
		}
		if !c.Own {
			return store.EventOutcome{Outcome: "contact_not_own"}, send(c.ChatID, t.PhoneNotOwn, keyboardPhone)
		}
		return store.EventOutcome{Outcome: "phone_shared"}, queue(ActionLinkPhone, linkPhonePayload{ChatID: c.ChatID, UserID: c.FromID, Phone: c.Phone})
	}

	m, ok := telegram.MessageOf(u)
	if !ok || !TelegramHandles(u) { // ignored at the edge since; recorded before
		return store.EventOutcome{Outcome: "ignored", Error: "update kind not handled"}, nil
	}
	chat, err := store.LockChat(ctx, tx, m.ChatID, m.FromID)
	if err != nil {
		return store.EventOutcome{}, err
	}
	payload, isStart, serr := telegram.ParseStart(m.Text)
	switch {
	case isStart && serr != nil:
		return store.EventOutcome{Outcome: "link_invalid", Error: serr.Error()}, send(m.ChatID, t.LinkInvalid, keyboardPhone)
	case isStart && payload != "":
		contactID, ok, err := store.ConsumeLinkToken(ctx, tx, payload, m.ChatID)
		if err != nil {
			return store.EventOutcome{}, err
		}
		if !ok {
			return store.EventOutcome{Outcome: "link_invalid", Error: "unknown, used or expired token"}, send(m.ChatID, t.LinkInvalid, keyboardPhone)
		}
		if err := store.LinkChat(ctx, tx, m.ChatID, contactID, "deep_link", ""); err != nil {
			return store.EventOutcome{}, err
		}
		return store.EventOutcome{Outcome: "linked", Error: "contact " + strconv.FormatInt(contactID, 10)}, send(m.ChatID, t.Linked, keyboardMenu)
	case isStart:
		if chat.State != "" {
			if err := store.SetChatState(ctx, tx, chat.ChatID, ""); err != nil {
				return store.EventOutcome{}, err
			}
		}
		if chat.Linked() {
			return store.EventOutcome{Outcome: "greeted"}, send(m.ChatID, t.GreetingLinked, keyboardMenu)
		}
		return store.EventOutcome{Outcome: "greeted"}, send(m.ChatID, t.GreetingUnlinked, keyboardPhone)
	case isNewRequestCommand(m.Text, t):
		return a.startNewRequest(ctx, tx, chat, send)
	case chat.State == store.ChatAwaitingDescription:
		if err := store.SetChatState(ctx, tx, chat.ChatID, ""); err != nil {
			return store.EventOutcome{}, err
		}
		if !chat.Linked() {
			return store.EventOutcome{Outcome: "not_linked"}, send(m.ChatID, t.NeedLink, keyboardPhone)
		}
		return store.EventOutcome{Outcome: "issue_requested"},
			queue(ActionCreateIssue, createIssuePayload{ChatID: m.ChatID, ContactID: chat.ContactID, Description: m.Text})
	case chat.Linked():
		return store.EventOutcome{Outcome: "help"}, send(m.ChatID, t.Help, keyboardMenu)
	default:
		return store.EventOutcome{Outcome: "help"}, send(m.ChatID, t.GreetingUnlinked, keyboardPhone)
	}
}

func isNewRequestCommand(text string, t ratingTexts) bool {
	text = strings.TrimSpace(text)
	return text == "/new" || strings.HasPrefix(text, "/new@") || text == t.NewRequestButton
}

// startNewRequest asks for a description (linked chats) or for the phone.
func (a *Ratings) startNewRequest(ctx context.Context, tx pgx.Tx, chat store.TelegramChat, send func(int64, string, string) error) (store.EventOutcome, error) {
	if !chat.Linked() {
		return store.EventOutcome{Outcome: "not_linked"}, send(chat.ChatID, a.texts.NeedLink, keyboardPhone)
	}
	if err := store.SetChatState(ctx, tx, chat.ChatID, store.ChatAwaitingDescription); err != nil {
		return store.EventOutcome{}, err
	}
	return store.EventOutcome{Outcome: "new_request"}, send(chat.ChatID, a.texts.AskDescription, keyboardNone)
}

func (a *Ratings) pendingActions(ctx context.Context, owner string) ([]RatingAction, error) {
	rows, err := a.Store.PendingActions(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := make([]RatingAction, 0, len(rows))
	for _, r := range rows {
		act := RatingAction{ID: r.ID, Kind: r.Kind}
		switch r.Kind {
		case ActionStartRating:
			var in RatingInput
			if err := json.Unmarshal(r.Payload, &in); err != nil {
				return nil, fmt.Errorf("action %d: %w", r.ID, err)
			}
			act.Rating = &in
		case ActionCancelRating:
			var p struct {
				WorkflowID string `json:"workflow_id"`
			}
			if err := json.Unmarshal(r.Payload, &p); err != nil {
				return nil, fmt.Errorf("action %d: %w", r.ID, err)
			}
			act.WorkflowID = p.WorkflowID
		case ActionForwardPress:
			var p forwardPayload
			if err := json.Unmarshal(r.Payload, &p); err != nil {
				return nil, fmt.Errorf("action %d: %w", r.ID, err)
			}
			act.WorkflowID, act.Press = p.WorkflowID, &p.Press
		}
		out = append(out, act)
	}
	return out, nil
}

// RatingActionsDone marks actions done; errText says why they did not
// succeed ("" when they did).
func (a *Ratings) RatingActionsDone(ctx context.Context, ids []int64, errText string) error {
	return a.Store.FinishActions(ctx, ids, errText)
}

// TelegramRunAction carries out one queued chat action (send, answer,
// link_phone, create_issue) and marks it done. Retryable failures are
// returned for Temporal to retry (429 after retry_after); permanent ones
// as non-retryable errors (403: ErrTypeTelegramBlocked), which the
// workflow records on the action.
func (a *Ratings) TelegramRunAction(ctx context.Context, id int64) error {
	act, done, err := a.Store.Action(ctx, id)
	if err != nil || done {
		return err
	}
	switch act.Kind {
	case ActionSend:
		var p sendPayload
		if err := json.Unmarshal(act.Payload, &p); err != nil {
			return badPayload(id, err)
		}
		if err := a.send(ctx, p.ChatID, p.Text, p.Keyboard); err != nil {
			return err
		}
	case ActionAnswer:
		var p answerPayload
		if err := json.Unmarshal(act.Payload, &p); err != nil {
			return badPayload(id, err)
		}
		if err := a.answer(ctx, p.CallbackID, p.Text); err != nil {
			return err
		}
	case ActionLinkPhone:
		var p linkPhonePayload
		if err := json.Unmarshal(act.Payload, &p); err != nil {
			return badPayload(id, err)
		}
		if err := a.linkPhone(ctx, p); err != nil {
			return err
		}
	case ActionCreateIssue:
		var p createIssuePayload
		if err := json.Unmarshal(act.Payload, &p); err != nil {
			return badPayload(id, err)
		}
		if err := a.createIssue(ctx, act, p); err != nil {
			return err
		}
	default:
		return temporal.NewNonRetryableApplicationError("action "+strconv.FormatInt(id, 10)+" of kind "+act.Kind+" is not run by TelegramRunAction", "BadAction", nil)
	}
	return a.Store.FinishActions(ctx, []int64{id}, "")
}

// TelegramAnswerStale answers a press whose rating workflow was no longer
// running (it ended between the press and the forward) and marks the
// forward action done.
func (a *Ratings) TelegramAnswerStale(ctx context.Context, id int64) error {
	act, done, err := a.Store.Action(ctx, id)
	if err != nil || done {
		return err
	}
	var p forwardPayload
	if err := json.Unmarshal(act.Payload, &p); err != nil {
		return badPayload(id, err)
	}
	text := a.texts.ToastInactive
	if req, err := store.LatestRequestInChat(ctx, a.Store.Pool, p.Press.IssueID, p.Press.ChatID); err != nil {
		return err
	} else if req != nil && req.State == store.RatingRated {
		text = a.texts.ToastAlreadyRated
	}
	if err := a.answer(ctx, p.Press.CallbackID, text); err != nil {
		return err
	}
	return a.Store.FinishActions(ctx, []int64{id}, "the rating workflow had ended; answered from its recorded state")
}

func badPayload(id int64, err error) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("action %d: undecodable payload: %v", id, err), "BadAction", nil)
}

func (a *Ratings) keyboard(kind string) telegram.Keyboard {
	switch kind {
	case keyboardMenu:
		return telegram.InlineKeyboard(a.menu())
	case keyboardPhone:
		return telegram.ContactRequestKeyboard(a.texts.SharePhoneButton)
	case keyboardRemove:
		return telegram.RemoveKeyboard()
	}
	return nil
}

func (a *Ratings) menu() [][]telegram.Button {
	return [][]telegram.Button{{{Text: a.texts.NewRequestButton, CallbackData: CallbackNewRequest}}}
}

func (a *Ratings) telegramClient() (*telegram.Client, error) {
	if a.Telegram == nil {
		return nil, temporal.NewNonRetryableApplicationError("Telegram is not configured: set TELEGRAM_BOT_TOKEN", ErrTypeRatingsNotConfigured, nil)
	}
	return a.Telegram, nil
}

func (a *Ratings) send(ctx context.Context, chatID int64, text, kb string) error {
	tg, err := a.telegramClient()
	if err != nil {
		return err
	}
	_, err = tg.Send(ctx, chatID, text, a.keyboard(kb))
	return a.telegramError(ctx, chatID, err)
}

// answer stops a button's spinner. A query that is too old (Telegram
// keeps them briefly) or answered twice is no failure.
func (a *Ratings) answer(ctx context.Context, callbackID, text string) error {
	tg, err := a.telegramClient()
	if err != nil {
		return err
	}
	err = tg.AnswerCallbackQuery(ctx, callbackID, text)
	if telegram.IsCallbackQueryExpired(err) {
		return nil
	}
	return a.telegramError(ctx, 0, err)
}

// telegramError turns a Telegram failure into an activity error: 403
// (blocked) is permanent with its own type and recorded on the chat; 429
// is retried after retry_after; other 4xx are permanent.
func (a *Ratings) telegramError(ctx context.Context, chatID int64, err error) error {
	if err == nil {
		return nil
	}
	if telegram.IsBlocked(err) && chatID != 0 {
		if merr := a.Store.MarkChatBlocked(ctx, chatID); merr != nil {
			return merr // retried: the block must be recorded
		}
	}
	return TelegramActivityError(err)
}

var (
	telegramErrors = VendorErrors{Retryable: ErrTypeTelegram, Permanent: ErrTypeTelegram}
	okdeskErrors   = VendorErrors{Retryable: ErrTypeOkdesk, Permanent: ErrTypeOkdesk}
)

// TelegramActivityError classifies a Telegram client error for Temporal:
// 403 (blocked) is permanent with its own type, the rest as VendorErrors
// maps them.
func TelegramActivityError(err error) error {
	if telegram.IsBlocked(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTelegramBlocked, nil)
	}
	return telegramErrors.ActivityError(err)
}

// OkdeskActivityError classifies an Okdesk client error for Temporal: 429
// and 5xx are retried (after Retry-After when given), other 4xx are
// permanent.
func OkdeskActivityError(err error) error {
	return okdeskErrors.ActivityError(err)
}

// phoneVariants are the spellings tried against Okdesk's exact phone
// search: as shared, with and without "+".
func phoneVariants(phone string) []string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	out := []string{}
	for _, v := range []string{strings.TrimSpace(phone), "+" + digits, digits} {
		if v == "" || v == "+" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == v
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

func (a *Ratings) linkPhone(ctx context.Context, p linkPhonePayload) error {
	t := a.texts
	if a.Okdesk == nil {
		if err := a.send(ctx, p.ChatID, t.PhoneNotFound, keyboardRemove); err != nil {
			return err
		}
		return temporal.NewNonRetryableApplicationError("Okdesk is not configured: set OKDESK_API_URL and OKDESK_API_TOKEN", ErrTypeRatingsNotConfigured, nil)
	}
	var contact *okdesk.Contact
	for _, v := range phoneVariants(p.Phone) {
		c, err := a.Okdesk.FindContactByPhone(ctx, v)
		if errors.Is(err, okdesk.ErrNotFound) {
			continue
		}
		if err != nil {
			return OkdeskActivityError(err)
		}
		contact = c
		break
	}
	if contact == nil {
		return a.send(ctx, p.ChatID, t.PhoneNotFound, keyboardRemove)
	}
	if err := store.LinkChat(ctx, a.Store.Pool, p.ChatID, contact.ID, "phone", p.Phone); err != nil {
		return err
	}
	if err := a.send(ctx, p.ChatID, t.Linked, keyboardRemove); err != nil {
		return err
	}
	return a.send(ctx, p.ChatID, t.Help, keyboardMenu)
}

func (a *Ratings) createIssue(ctx context.Context, act store.RatingAction, p createIssuePayload) error {
	t := a.texts
	if a.Okdesk == nil {
		if err := a.send(ctx, p.ChatID, t.IssueFailed, keyboardNone); err != nil {
			return err
		}
		return temporal.NewNonRetryableApplicationError("Okdesk is not configured: set OKDESK_API_URL and OKDESK_API_TOKEN", ErrTypeRatingsNotConfigured, nil)
	}
	var res struct {
		IssueID int64 `json:"issue_id"`
	}
	if len(act.Result) > 0 {
		_ = json.Unmarshal(act.Result, &res)
	}
	if res.IssueID == 0 {
		id, err := a.Okdesk.CreateIssue(ctx, okdesk.IssueInput{Title: issueTitle(p.Description, t), Description: p.Description, ContactID: p.ContactID})
		if err != nil {
			if okdesk.IsRetryable(err) {
				return OkdeskActivityError(err)
			}
			if serr := a.send(ctx, p.ChatID, t.IssueFailed, keyboardMenu); serr != nil {
				return serr
			}
			return OkdeskActivityError(err)
		}
		res.IssueID = id
		if err := a.Store.SetActionResult(ctx, act.ID, res); err != nil {
			return err
		}
	}
	if err := a.Store.TieIssueToChat(ctx, res.IssueID, p.ChatID, p.ContactID); err != nil {
		return err
	}
	return a.send(ctx, p.ChatID, fmt.Sprintf(t.IssueCreated, res.IssueID), keyboardNone)
}

// issueTitle is the description's first line, cut to 80 characters.
func issueTitle(description string, t ratingTexts) string {
	line := strings.TrimSpace(strings.SplitN(strings.TrimSpace(description), "\n", 2)[0])
	if line == "" {
		return t.IssueTitleFallback
	}
	if utf8.RuneCountInString(line) > 80 {
		r := []rune(line)
		line = strings.TrimSpace(string(r[:79])) + "…"
	}
	return line
}

// ---- the rating workflow's activities ----

// RatingTarget is where a request goes.
type RatingTarget struct {
	ChatID int64  `json:"chat_id"` // 0: no chat is linked to the customer
	State  string `json:"state"`   // the request's state (pending unless it ended)
}

// RatingPrepare finds the chat to ask: the chat that created the issue
// through the bot, else the one linked to the issue's contact. When the
// webhook lacked the contact (or the assignee), the issue is read from
// Okdesk first.
func (a *Ratings) RatingPrepare(ctx context.Context, requestID int64) (RatingTarget, error) {
	req, err := a.Store.RatingRequest(ctx, requestID)
	if err != nil {
		return RatingTarget{}, err
	}
	if !req.Open() {
		return RatingTarget{ChatID: req.ChatID, State: req.State}, nil
	}
	contactID, assigneeID, title := req.ContactID, req.AssigneeID, req.Title
	if (contactID == 0 || assigneeID == 0 || title == "") && a.Okdesk != nil {
		is, err := a.Okdesk.GetIssue(ctx, req.IssueID)
		switch {
		case err == nil:
			contactID, assigneeID, title = firstNonZero(contactID, is.ContactID), firstNonZero(assigneeID, is.AssigneeID), firstNonEmpty(title, is.Title)
		case contactID == 0 && okdesk.IsRetryable(err):
			return RatingTarget{}, OkdeskActivityError(err) // the contact decides where to ask
		default:
			a.Log.Warn("ratings: cannot read the issue from Okdesk; going on with the webhook's data", "issue_id", req.IssueID, "error", err)
		}
	}
	chatID, _, err := a.Store.ChatForIssue(ctx, req.IssueID, contactID)
	if err != nil {
		return RatingTarget{}, err
	}
	if err := a.Store.UpdateRequestTarget(ctx, requestID, chatID, contactID, assigneeID, title); err != nil {
		return RatingTarget{}, err
	}
	return RatingTarget{ChatID: chatID, State: req.State}, nil
}

func firstNonZero(have, found int64) int64 {
	if have != 0 {
		return have
	}
	return found
}

func firstNonEmpty(have, found string) string {
	if have != "" {
		return have
	}
	return found
}

// RatingSend sends the request with its five buttons and records the
// message. A request sent already is not sent again.
func (a *Ratings) RatingSend(ctx context.Context, requestID int64) (int, error) {
	req, err := a.Store.RatingRequest(ctx, requestID)
	if err != nil {
		return 0, err
	}
	if req.MessageID != 0 || !req.Open() {
		return req.MessageID, nil
	}
	tg, err := a.telegramClient()
	if err != nil {
		return 0, err
	}
	msgID, err := tg.SendMessage(ctx, req.ChatID, a.texts.request(req, a.Config.PortalURL), a.ratingKeyboard(req.IssueID))
	if err != nil {
		return 0, a.telegramError(ctx, req.ChatID, err)
	}
	return msgID, a.Store.SetRequestSent(ctx, requestID, msgID)
}

// RatingRemind sends the one reminder (again with the buttons).
func (a *Ratings) RatingRemind(ctx context.Context, requestID int64) error {
	req, err := a.Store.RatingRequest(ctx, requestID)
	if err != nil {
		return err
	}
	if req.ReminderMessageID != 0 || !req.Open() {
		return nil
	}
	tg, err := a.telegramClient()
	if err != nil {
		return err
	}
	msgID, err := tg.SendMessage(ctx, req.ChatID, a.texts.reminder(req), a.ratingKeyboard(req.IssueID))
	if err != nil {
		return a.telegramError(ctx, req.ChatID, err)
	}
	return a.Store.SetRequestReminded(ctx, requestID, msgID)
}

func (a *Ratings) ratingKeyboard(issueID int64) [][]telegram.Button {
	kb := telegram.RatingKeyboard(issueID)
	if a.Config.English() {
		for i := range kb {
			score := 5 - i
			kb[i][0].Text = englishRatingLabels[score]
		}
	}
	return kb
}

var englishRatingLabels = [6]string{
	1: "⭐ Terrible (1)",
	2: "⭐⭐ Poor (2)",
	3: "⭐⭐⭐ Okay (3)",
	4: "⭐⭐⭐⭐ Good (4)",
	5: "⭐⭐⭐⭐⭐ Excellent (5)",
}

// RatingCloseInput ends a request without a rating.
type RatingCloseInput struct {
	RequestID int64  `json:"request_id"`
	State     string `json:"state"` // expired, cancelled, no_chat, blocked, failed
	Error     string `json:"error,omitempty"`
	SkipEdit  bool   `json:"skip_edit,omitempty"` // record only (the edit failed for good)
}

// RatingClose ends a request: for expired and cancelled ones the message
// (and the reminder) lose their buttons and say why; then the state is
// recorded.
func (a *Ratings) RatingClose(ctx context.Context, in RatingCloseInput) error {
	req, err := a.Store.RatingRequest(ctx, in.RequestID)
	if err != nil {
		return err
	}
	if req.Open() && !in.SkipEdit && (in.State == store.RatingExpired || in.State == store.RatingCancelled) {
		text := a.texts.expired(req)
		if in.State == store.RatingCancelled {
			text = a.texts.cancelled(req)
		}
		if err := a.editMessages(ctx, req, text, nil); err != nil {
			return err
		}
	}
	_, err = a.Store.CloseRequest(ctx, in.RequestID, in.State, in.Error)
	return err
}

// editMessages edits the request's message and reminder. A blocked chat
// or a message Telegram no longer has is logged and skipped: the outcome
// of the request does not depend on the edit.
func (a *Ratings) editMessages(ctx context.Context, req store.RatingRequest, text string, kb [][]telegram.Button) error {
	if req.ChatID == 0 || (req.MessageID == 0 && req.ReminderMessageID == 0) {
		return nil
	}
	tg, err := a.telegramClient()
	if err != nil {
		return err
	}
	for _, id := range []int{req.MessageID, req.ReminderMessageID} {
		if id == 0 {
			continue
		}
		err := tg.EditMessageText(ctx, req.ChatID, id, text, kb)
		if err == nil {
			continue
		}
		if telegram.IsRetryable(err) {
			return TelegramActivityError(err)
		}
		if telegram.IsBlocked(err) {
			if merr := a.Store.MarkChatBlocked(ctx, req.ChatID); merr != nil {
				return merr
			}
		}
		a.Log.Warn("ratings: message not edited", "request_id", req.ID, "message_id", id, "error", err)
	}
	return nil
}

// Toasts a press can be answered with.
const (
	ToastThanks       = "thanks"
	ToastAlreadyRated = "already_rated"
	ToastInactive     = "inactive"
)

// RatingAnswerInput answers a press.
type RatingAnswerInput struct {
	CallbackID string `json:"callback_id"`
	Toast      string `json:"toast"` // ToastThanks, ToastAlreadyRated, ToastInactive
}

// RatingAnswer answers a press's callback query with a toast.
func (a *Ratings) RatingAnswer(ctx context.Context, in RatingAnswerInput) error {
	text := a.texts.ToastThanks
	switch in.Toast {
	case ToastAlreadyRated:
		text = a.texts.ToastAlreadyRated
	case ToastInactive:
		text = a.texts.ToastInactive
	}
	return a.answer(ctx, in.CallbackID, text)
}

// RatingRecordInput records a press.
type RatingRecordInput struct {
	RequestID int64       `json:"request_id"`
	Press     RatingPress `json:"press"`
}

// RatingRecord stores the rating (the first press of a request wins) and
// marks the request rated.
func (a *Ratings) RatingRecord(ctx context.Context, in RatingRecordInput) (store.Rating, error) {
	if in.Press.Score < 1 || in.Press.Score > 5 {
		return store.Rating{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("score %d is not 1..5", in.Press.Score), "BadPress", nil)
	}
	return a.Store.RecordRating(ctx, store.Rating{RequestID: in.RequestID, ChatID: in.Press.ChatID,
		TelegramUserID: in.Press.FromID, Score: in.Press.Score, RatedAt: time.Now()})
}

// RatingComment posts the rating to the Okdesk issue as a comment (once:
// a rating whose comment was posted is not posted again) and returns the
// comment's id.
func (a *Ratings) RatingComment(ctx context.Context, requestID int64) (int64, error) {
	r, err := a.Store.RatingOf(ctx, requestID)
	if err != nil {
		return 0, err
	}
	if r.CommentState == store.CommentPosted {
		return r.CommentID, nil
	}
	if a.Okdesk == nil {
		return 0, temporal.NewNonRetryableApplicationError("Okdesk is not configured: set OKDESK_API_URL, OKDESK_API_TOKEN and OKDESK_COMMENT_AUTHOR_ID", ErrTypeRatingsNotConfigured, nil)
	}
	id, err := a.Okdesk.AddComment(ctx, r.IssueID, okdesk.Comment{Content: a.texts.comment(r.Score),
		AuthorID: a.Config.CommentAuthorID, AuthorType: okdesk.AuthorEmployee})
	if err != nil {
		return 0, OkdeskActivityError(err)
	}
	return id, a.Store.SetCommentPosted(ctx, requestID, id)
}

// RatingCommentFailed records that Okdesk refused the comment for good.
func (a *Ratings) RatingCommentFailed(ctx context.Context, requestID int64, reason string) error {
	return a.Store.SetCommentFailed(ctx, requestID, reason)
}

// RatingThank replaces the request's message (and reminder) with thanks
// and a "New request" button.
func (a *Ratings) RatingThank(ctx context.Context, requestID int64) error {
	req, err := a.Store.RatingRequest(ctx, requestID)
	if err != nil {
		return err
	}
	r, err := a.Store.RatingOf(ctx, requestID)
	if err != nil {
		return err
	}
	return a.editMessages(ctx, req, a.texts.thanks(req, r.Score), a.menu())
}

// ---- deep links ----

// ContactLink is a deep link that ties the chat opening it to a contact.
type ContactLink struct {
	ContactID   int64     `json:"contact_id"`
	ContactName string    `json:"contact_name,omitempty"`
	DeepLink    string    `json:"deep_link"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Errors of CreateContactLink.
var (
	ErrNoBotUsername   = errors.New("deep links need the bot's username: set TELEGRAM_BOT_USERNAME")
	ErrContactNotFound = errors.New("no such contact in Okdesk")
)

// CreateContactLink makes a single-use deep link for contactID (checked
// against Okdesk when the API is configured). Used by the admin API and
// `hookflow okdesk link-contact`.
func CreateContactLink(ctx context.Context, cfg config.RatingsConfig, st *store.Store, hc *http.Client, contactID int64) (ContactLink, error) {
	if cfg.BotUsername() == "" {
		return ContactLink{}, ErrNoBotUsername
	}
	out := ContactLink{ContactID: contactID}
	if cfg.OkdeskConfigured() {
		c, err := okdesk.New(cfg.OkdeskAPIURL, cfg.OkdeskAPIToken, hc).GetContact(ctx, contactID)
		if errors.Is(err, okdesk.ErrNotFound) {
			return ContactLink{}, ErrContactNotFound
		}
		if err != nil {
			return ContactLink{}, err
		}
		out.ContactName = c.Name()
	}
	tok, err := st.CreateLinkToken(ctx, contactID, cfg.LinkTokenTTL)
	if err != nil {
		return ContactLink{}, err
	}
	out.DeepLink, out.ExpiresAt = cfg.DeepLink(tok.Token), tok.ExpiresAt
	return out, nil
}

// ---- texts ----

// ratingTexts are the bot's words in one language. Formats take the issue
// number and title where they show them.
type ratingTexts struct {
	Request, RequestNoTitle    string
	Reminder, ReminderNoTitle  string
	Thanks                     string
	Expired, Cancelled         string
	Comment                    string
	ToastThanks                string
	ToastAlreadyRated          string
	ToastInactive              string
	GreetingLinked             string
	GreetingUnlinked           string
	SharePhoneButton           string
	NewRequestButton           string
	Linked, LinkInvalid        string
	PhoneNotOwn, PhoneNotFound string
	AskDescription, NeedLink   string
	IssueCreated, IssueFailed  string
	IssueTitleFallback, Help   string
	PortalLink                 string
}

var russianTexts = ratingTexts{
	Request:            "Ваша заявка №%d «%s» решена.\nПожалуйста, оцените качество работы:",
	RequestNoTitle:     "Ваша заявка №%d решена.\nПожалуйста, оцените качество работы:",
	Reminder:           "Напоминание: оцените, пожалуйста, решение заявки №%d «%s».",
	ReminderNoTitle:    "Напоминание: оцените, пожалуйста, решение заявки №%d.",
	Thanks:             "Спасибо за оценку %s (%d/5) заявки №%d!\nЕсли появится новый вопрос — создайте новую заявку.",
	Expired:            "Время для оценки заявки №%d истекло.",
	Cancelled:          "Заявка №%d снова открыта — запрос оценки отменён.",
	Comment:            "Оценка клиента: %s (%d/5)",
	ToastThanks:        "Спасибо за оценку!",
	ToastAlreadyRated:  "Вы уже оценили эту заявку.",
	ToastInactive:      "Этот запрос оценки больше не активен.",
	GreetingLinked:     "Здравствуйте! Здесь вы получаете запросы оценки решённых заявок и можете создать новую заявку.",
	GreetingUnlinked:   "Здравствуйте! Я бот службы поддержки. Чтобы получать запросы оценки по вашим заявкам и создавать новые, поделитесь номером телефона кнопкой ниже.",
	SharePhoneButton:   "📱 Поделиться номером телефона",
	NewRequestButton:   "📝 Новая заявка",
	Linked:             "Готово! Чат привязан к вашему контакту в службе поддержки.",
	LinkInvalid:        "Ссылка недействительна, устарела или уже использована. Попросите новую или поделитесь номером телефона.",
	PhoneNotOwn:        "Пожалуйста, отправьте свой номер кнопкой «Поделиться номером телефона».",
	PhoneNotFound:      "Этот номер не найден среди контактов службы поддержки. Попросите у менеджера ссылку для привязки чата.",
	AskDescription:     "Опишите, пожалуйста, проблему одним сообщением.",
	NeedLink:           "Сначала привяжите чат к своему контакту: поделитесь номером телефона кнопкой ниже.",
	IssueCreated:       "Заявка №%d создана. Мы сообщим, когда она будет решена.",
	IssueFailed:        "Не удалось создать заявку. Попробуйте позже или свяжитесь со службой поддержки.",
	IssueTitleFallback: "Заявка из Telegram",
	Help:               "Чтобы обратиться в поддержку, нажмите «Новая заявка».",
	PortalLink:         "\n%s/issues/%d",
}

var englishTexts = ratingTexts{
	Request:            "Your request #%d \"%s\" has been resolved.\nPlease rate our work:",
	RequestNoTitle:     "Your request #%d has been resolved.\nPlease rate our work:",
	Reminder:           "Reminder: please rate how request #%d \"%s\" was resolved.",
	ReminderNoTitle:    "Reminder: please rate how request #%d was resolved.",
	Thanks:             "Thank you for rating request #%[3]d %[1]s (%[2]d/5)!\nIf anything else comes up, create a new request.",
	Expired:            "The time to rate request #%d has passed.",
	Cancelled:          "Request #%d was reopened, so the rating request is cancelled.",
	Comment:            "Customer rating: %s (%d/5)",
	ToastThanks:        "Thank you for your rating!",
	ToastAlreadyRated:  "You have rated this request already.",
	ToastInactive:      "This rating request is no longer active.",
	GreetingLinked:     "Hello! Here you get rating requests for resolved issues and can create a new request.",
	GreetingUnlinked:   "Hello! I am the support bot. To get rating requests for your issues and create new ones, share your phone number with the button below.",
	SharePhoneButton:   "📱 Share my phone number",
	NewRequestButton:   "📝 New request",
	Linked:             "Done! This chat is linked to your support contact.",
	LinkInvalid:        "This link is invalid, expired or used already. Ask for a new one or share your phone number.",
	PhoneNotOwn:        "Please send your own number with the \"Share my phone number\" button.",
	PhoneNotFound:      "This number is not among the support contacts. Ask your manager for a link to connect this chat.",
	AskDescription:     "Please describe the problem in one message.",
	NeedLink:           "Please link this chat to your contact first: share your phone number with the button below.",
	IssueCreated:       "Request #%d has been created. We will let you know when it is resolved.",
	IssueFailed:        "The request could not be created. Please try again later or contact support.",
	IssueTitleFallback: "Request from Telegram",
	Help:               "To contact support, press \"New request\".",
	PortalLink:         "\n%s/issues/%d",
}

func textsFor(cfg config.RatingsConfig) ratingTexts {
	if cfg.English() {
		return englishTexts
	}
	return russianTexts
}

// Stars is "⭐" repeated score times.
func Stars(score int) string { return strings.Repeat("⭐", max(score, 0)) }

func (t ratingTexts) request(req store.RatingRequest, portal string) string {
	s := fmt.Sprintf(t.RequestNoTitle, req.IssueID)
	if req.Title != "" {
		s = fmt.Sprintf(t.Request, req.IssueID, req.Title)
	}
	if portal != "" {
		s += fmt.Sprintf(t.PortalLink, strings.TrimRight(portal, "/"), req.IssueID)
	}
	return s
}

func (t ratingTexts) reminder(req store.RatingRequest) string {
	if req.Title != "" {
		return fmt.Sprintf(t.Reminder, req.IssueID, req.Title)
	}
	return fmt.Sprintf(t.ReminderNoTitle, req.IssueID)
}

func (t ratingTexts) thanks(req store.RatingRequest, score int) string {
	return fmt.Sprintf(t.Thanks, Stars(score), score, req.IssueID)
}

func (t ratingTexts) expired(req store.RatingRequest) string {
	return fmt.Sprintf(t.Expired, req.IssueID)
}

func (t ratingTexts) cancelled(req store.RatingRequest) string {
	return fmt.Sprintf(t.Cancelled, req.IssueID)
}

func (t ratingTexts) comment(score int) string { return fmt.Sprintf(t.Comment, Stars(score), score) }
