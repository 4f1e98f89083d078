package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-telegram/bot/models"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/store"
)

// telegramWebhook accepts the bot's updates (registered by `hookflow
// telegram set-webhook`): authenticated by the secret token, deduplicated
// by update_id, handed to the chat's workflow.
func (s *Server) telegramWebhook(c *gin.Context) {
	secret := s.Config.Ratings.TelegramWebhookSecret
	if secret == "" {
		fail(c, http.StatusForbidden, "the Telegram webhook is disabled: set TELEGRAM_WEBHOOK_SECRET and run hookflow telegram set-webhook")
		return
	}
	if !s.acceptSecret(c, c.GetHeader(telegram.SecretTokenHeader), secret, s.Config.Ratings.TelegramWebhookSecretPrevious, "TELEGRAM_WEBHOOK_SECRET_PREVIOUS") {
		fail(c, http.StatusUnauthorized, "missing or wrong secret token (header "+telegram.SecretTokenHeader+")")
		return
	}
	// Telegram resends an update it got no 2xx for, and holds back the
	// bot's later updates meanwhile: an update that can never be accepted
	// is acknowledged (ignored) so that the conversation goes on.
	body, p := s.inboundJSON(c)
	switch {
	case p != nil && p.transient: // it did not arrive whole: Telegram's resend may
		p.reply(c)
		return
	case p != nil:
		s.telegramIgnore(c, p.field, p.msg)
		return
	}
	u, err := telegram.ParseUpdate(body)
	if err != nil {
		field := "body"
		var ue *telegram.UpdateError
		if errors.As(err, &ue) && ue.Field != "" {
			field = ue.Field
		}
		s.telegramIgnore(c, field, err.Error())
		return
	}
	chatID, kind := telegramUpdateChat(u)
	workflowID, entityID := activities.TelegramChatWorkflowID(chatID)
	rec := &store.InboundEvent{
		Source: store.TelegramSource, DedupKey: telegram.DedupKey(u), WorkflowID: workflowID, EntityID: entityID,
		Event: kind, EventType: kind, Attrs: map[string]any{"update_id": u.ID, "chat_id": chatID}, Payload: body,
	}
	if !activities.TelegramHandles(u) {
		rec.WorkflowID = ""
		rec.Ignored("update kind " + kind + " is not handled by the bot")
		markIgnored(c)
	}
	id, duplicate, err := s.Pipeline.Accept(c.Request.Context(), rec)
	switch {
	case store.IsDataError(err):
		s.telegramIgnore(c, "body", "the update cannot be stored as sent: "+store.DataErrorText(err))
		return
	case err != nil:
		s.Log.Error("telegram: cannot record update", "update_id", u.ID, "error", err)
		fail(c, http.StatusServiceUnavailable, "the update could not be recorded; please retry")
		return
	}
	markDuplicate(c, duplicate)
	s.Log.Debug("telegram update received", "update_id", u.ID, "kind", kind, "id", id, "duplicate", duplicate)
	answer := gin.H{"ok": true, "id": id, "duplicate": duplicate}
	if rec.Outcome != nil {
		answer["ignored"], answer["reason"] = true, *rec.Error
	}
	c.JSON(http.StatusOK, answer)
}

// telegramIgnore acknowledges an authenticated update that can never be
// accepted (not JSON, no update_id, invalid UTF-8, NUL, ...): nothing is
// recorded, the reason is logged, and Telegram gets the 2xx it needs to
// stop resending it.
func (s *Server) telegramIgnore(c *gin.Context, field, reason string) {
	s.Log.Warn("telegram: update ignored: it can never be accepted", "field", field, "reason", reason)
	markIgnored(c)
	c.AbortWithStatusJSON(http.StatusOK, gin.H{"ok": true, "ignored": true, "error": reason, "field": field})
}

// telegramUpdateChat names an update's chat and kind (callback_query,
// contact, command, message, or the update's own field name).
func telegramUpdateChat(u models.Update) (int64, string) {
	if cb, ok := telegram.CallbackOf(u); ok {
		return cb.ChatID, "callback_query"
	}
	if c, ok := telegram.ContactOf(u); ok {
		return c.ChatID, "contact"
	}
	if m, ok := telegram.MessageOf(u); ok {
		if strings.HasPrefix(m.Text, "/") {
			return m.ChatID, "command"
		}
		return m.ChatID, "message"
	}
	switch {
	case u.EditedMessage != nil:
		return u.EditedMessage.Chat.ID, "edited_message"
	case u.MyChatMember != nil:
		return u.MyChatMember.Chat.ID, "my_chat_member"
	}
	return 0, "other"
}
