package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

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

// ---- actions of both workflows ----

// applyEvents applies the entity's recorded events in id order, exactly
// once, with apply, and returns every action of the entity's workflow not
// done yet.
func (a *Ratings) applyEvents(ctx context.Context, in EntityApply, apply store.EventApplier) (EntityActions, error) {
	n, err := a.Store.ProcessEvents(ctx, in.IDs, "", store.PerEvent(apply))
	if err != nil {
		return EntityActions{}, nonRetryableData(err)
	}
	acts, err := a.pendingActions(ctx, in.Owner)
	return EntityActions{Processed: n, Actions: acts}, err
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
