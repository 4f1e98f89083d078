package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/store"
)

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
