package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/store"
)

// ---- Telegram: per-chat updates ----

// TelegramApplyUpdates applies a chat's updates in id order, exactly once:
// the conversation (/start, deep links, the shared phone, "New request")
// and rating presses. Replies and presses become actions; it returns every
// action of the chat workflow not done yet.
func (a *Ratings) TelegramApplyUpdates(ctx context.Context, in EntityApply) (EntityActions, error) {
	return a.applyEvents(ctx, in, a.applyTelegram)
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
