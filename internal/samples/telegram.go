package samples

import (
	"strconv"
	"time"
)

// TelegramUpdateDate is the fixed "date" of built updates, so tests are
// reproducible.
var TelegramUpdateDate = time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC).Unix()

// TelegramChatType is the type of chat id: negative ids are groups.
func TelegramChatType(id int64) string {
	if id < 0 {
		return "supergroup"
	}
	return "private"
}

func telegramUser(id int64) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "Test", "username": "test_user", "language_code": "ru"}
}

func telegramChat(id int64) map[string]any {
	return map[string]any{"id": id, "first_name": "Test", "username": "test_user", "type": TelegramChatType(id)}
}

// TelegramCallbackQueryID is the callback query id TelegramCallbackUpdate
// uses for updateID.
func TelegramCallbackQueryID(updateID int64) string {
	return strconv.FormatInt(4382000000+updateID, 16)
}

// TelegramRateData is a rating button's callback data: "rate:<issue>:<stars>".
func TelegramRateData(issueID int64, stars int) string {
	return "rate:" + strconv.FormatInt(issueID, 10) + ":" + strconv.Itoa(stars)
}

// TelegramCallbackUpdate is a button press on message msgID in private
// chat chatID (the user's id equals the chat id, as in private chats) with
// callback data. The message is sent whole (with a date), as Telegram
// does for recent messages.
func TelegramCallbackUpdate(updateID, chatID int64, msgID int, data string) []byte {
	return mustJSON("TelegramCallbackUpdate", map[string]any{
		"update_id": updateID,
		"callback_query": map[string]any{
			"id":            TelegramCallbackQueryID(updateID),
			"from":          telegramUser(chatID),
			"chat_instance": "-" + strconv.FormatInt(chatID*7919, 10),
			"data":          data,
			"message": map[string]any{
				"message_id": msgID,
				"from":       map[string]any{"id": 1, "is_bot": true, "first_name": "Hookflow Test Bot", "username": "hookflow_test_bot"},
				"chat":       telegramChat(chatID),
				"date":       TelegramUpdateDate,
				"text":       "…",
			},
		},
	})
}

// TelegramMessageUpdate is a text message from the user of private chat
// chatID. Commands ("/start abc") carry a bot_command entity, as Telegram
// sends.
func TelegramMessageUpdate(updateID, chatID int64, text string) []byte {
	msg := map[string]any{
		"message_id": int(updateID%100000) + 1,
		"from":       telegramUser(chatID),
		"chat":       telegramChat(chatID),
		"date":       TelegramUpdateDate,
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
	return mustJSON("TelegramMessageUpdate", map[string]any{"update_id": updateID, "message": msg})
}

// TelegramContactUpdate is the user of private chat chatID sharing their
// own contact (what the request_contact button sends: contact.user_id
// equals from.id). Telegram sends the phone without "+" for most clients.
func TelegramContactUpdate(updateID, chatID int64, phone, firstName string) []byte {
	return mustJSON("TelegramContactUpdate", map[string]any{
		"update_id": updateID,
		"message": map[string]any{
			"message_id": int(updateID%100000) + 1,
			"from":       telegramUser(chatID),
			"chat":       telegramChat(chatID),
			"date":       TelegramUpdateDate,
			"contact":    map[string]any{"phone_number": phone, "first_name": firstName, "user_id": chatID},
		},
	})
}
