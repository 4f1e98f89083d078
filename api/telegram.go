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
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	u, err := telegram.ParseUpdate(body)
	if err != nil {
		field := "body"
		var ue *telegram.UpdateError
		if errors.As(err, &ue) && ue.Field != "" {
			field = ue.Field
		}
		failField(c, http.StatusBadRequest, field, err.Error())
		return
	}
	chatID, kind := telegramUpdateChat(u)
	workflowID, entityID := activities.TelegramChatWorkflowID(chatID)
	rec := &store.InboundEvent{
		Source: store.TelegramSource, DedupKey: telegram.DedupKey(u), WorkflowID: workflowID, EntityID: entityID,
		Event: kind, EventType: kind, Attrs: map[string]any{"update_id": u.ID, "chat_id": chatID}, Payload: body,
	}
	id, duplicate, err := s.Pipeline.Accept(c.Request.Context(), rec)
	if err != nil {
		s.Log.Error("telegram: cannot record update", "update_id", u.ID, "error", err)
		fail(c, http.StatusServiceUnavailable, "the update could not be recorded; please retry")
		return
	}
	markDuplicate(c, duplicate)
	s.Log.Debug("telegram update received", "update_id", u.ID, "kind", kind, "id", id, "duplicate", duplicate)
	c.JSON(http.StatusOK, gin.H{"ok": true, "id": id, "duplicate": duplicate})
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
