package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// SecretTokenHeader is the header Telegram puts setWebhook's secret in.
const SecretTokenHeader = "X-Telegram-Bot-Api-Secret-Token"

// updateDate is the fixed "date" of built updates, so tests are
// reproducible.
var updateDate = time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC).Unix()

func user(id int64) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "Test", "username": "test_user", "language_code": "ru"}
}

func privateChat(id int64) map[string]any {
	return map[string]any{"id": id, "first_name": "Test", "username": "test_user", "type": chatType(id)}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of plain values are marshalled here
	}
	return b
}

// CallbackQueryID is the callback query id CallbackUpdate uses for
// updateID.
func CallbackQueryID(updateID int64) string {
	return strconv.FormatInt(4382000000+updateID, 16)
}

// CallbackUpdate is a button press on message msgID in private chat
// chatID (the user's id equals the chat id, as in private chats) with
// callback data. The message is sent whole (with a date), as Telegram
// does for recent messages.
func CallbackUpdate(updateID, chatID int64, msgID int, data string) json.RawMessage {
	return mustJSON(map[string]any{
		"update_id": updateID,
		"callback_query": map[string]any{
			"id":            CallbackQueryID(updateID),
			"from":          user(chatID),
			"chat_instance": "-" + strconv.FormatInt(chatID*7919, 10),
			"data":          data,
			"message": map[string]any{
				"message_id": msgID,
				"from":       map[string]any{"id": 1, "is_bot": true, "first_name": "Hookflow Test Bot", "username": "hookflow_test_bot"},
				"chat":       privateChat(chatID),
				"date":       updateDate,
				"text":       "…",
			},
		},
	})
}

// MessageUpdate is a text message from the user of private chat chatID.
// Commands ("/start abc") carry a bot_command entity, as Telegram sends.
func MessageUpdate(updateID, chatID int64, text string) json.RawMessage {
	msg := map[string]any{
		"message_id": int(updateID%100000) + 1,
		"from":       user(chatID),
		"chat":       privateChat(chatID),
		"date":       updateDate,
		"text":       text,
	}
	if len(text) > 1 && text[0] == '/' {
		end := len(text)
		for i, r := range text {
			if r == ' ' {
				end = i
				break
			}
		}
		msg["entities"] = []any{map[string]any{"offset": 0, "length": len([]rune(text[:end])), "type": "bot_command"}}
	}
	return mustJSON(map[string]any{"update_id": updateID, "message": msg})
}

// ContactUpdate is the user of private chat chatID sharing their own
// contact (what the request_contact button sends: contact.user_id equals
// from.id). Telegram sends the phone without "+" for most clients.
func ContactUpdate(updateID, chatID int64, phone, firstName string) json.RawMessage {
	return mustJSON(map[string]any{
		"update_id": updateID,
		"message": map[string]any{
			"message_id": int(updateID%100000) + 1,
			"from":       user(chatID),
			"chat":       privateChat(chatID),
			"date":       updateDate,
			"contact":    map[string]any{"phone_number": phone, "first_name": firstName, "user_id": chatID},
		},
	})
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
