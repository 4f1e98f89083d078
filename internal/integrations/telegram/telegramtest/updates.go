package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hookflow/hookflow/internal/samples"
)

// SecretTokenHeader is the header Telegram puts setWebhook's secret in.
const SecretTokenHeader = "X-Telegram-Bot-Api-Secret-Token"

// The updates are built by internal/samples, the one source of Telegram
// sample bodies (hookflow trigger sends the same).

// CallbackQueryID is the callback query id CallbackUpdate uses for
// updateID.
func CallbackQueryID(updateID int64) string { return samples.TelegramCallbackQueryID(updateID) }

// CallbackUpdate is a button press on message msgID in private chat
// chatID (the user's id equals the chat id, as in private chats) with
// callback data. The message is sent whole (with a date), as Telegram
// does for recent messages.
func CallbackUpdate(updateID, chatID int64, msgID int, data string) json.RawMessage {
	return samples.TelegramCallbackUpdate(updateID, chatID, msgID, data)
}

// MessageUpdate is a text message from the user of private chat chatID.
// Commands ("/start abc") carry a bot_command entity, as Telegram sends.
func MessageUpdate(updateID, chatID int64, text string) json.RawMessage {
	return samples.TelegramMessageUpdate(updateID, chatID, text)
}

// ContactUpdate is the user of private chat chatID sharing their own
// contact (what the request_contact button sends).
func ContactUpdate(updateID, chatID int64, phone, firstName string) json.RawMessage {
	return samples.TelegramContactUpdate(updateID, chatID, phone, firstName)
}

// PushUpdate POSTs update (raw JSON bytes, or any value to marshal) to a
// bot's webhook as Telegram does: JSON, with the secret in
// X-Telegram-Bot-Api-Secret-Token when secretToken is set. It returns the
// HTTP status; Telegram retries anything but 2xx.
func PushUpdate(ctx context.Context, webhookURL, secretToken string, update any) (int, error) {
	var body []byte
	switch u := update.(type) {
	case json.RawMessage:
		body = u
	case []byte:
		body = u
	default:
		b, err := json.Marshal(update)
		if err != nil {
			return 0, fmt.Errorf("telegramtest: marshal update: %w", err)
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secretToken != "" {
		req.Header.Set(SecretTokenHeader, secretToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Deliver pushes update to the webhook registered by the last setWebhook,
// with its secret token.
func (s *Server) Deliver(ctx context.Context, update any) (int, error) {
	w := s.Webhook()
	if w.URL == "" {
		return 0, errors.New("telegramtest: no webhook set")
	}
	return PushUpdate(ctx, w.URL, w.SecretToken, update)
}
