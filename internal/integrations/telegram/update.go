package telegram

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-telegram/bot/models"
)

// SecretTokenHeader carries setWebhook's secret_token on every update.
const SecretTokenHeader = "X-Telegram-Bot-Api-Secret-Token"

// CheckSecretToken compares the header value with the configured secret in
// constant time. An empty configured secret never matches.
func CheckSecretToken(header, secret string) bool {
	return secret != "" && subtle.ConstantTimeCompare([]byte(header), []byte(secret)) == 1
}

// ValidSecretToken reports whether Telegram takes s as setWebhook's
// secret_token: 1-256 characters of A-Z a-z 0-9 _ -.
func ValidSecretToken(s string) bool {
	if len(s) < 1 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}

// UpdateError says what is wrong with an inbound update body.
type UpdateError struct {
	Field  string // "body", "update_id"
	Reason string
}

func (e *UpdateError) Error() string { return e.Field + ": " + e.Reason }

// ParseUpdate decodes a webhook body into the library's Update. update_id
// is required (it is the dedup key); update kinds hookflow does not handle
// decode fine and are recognised by their nil fields.
func ParseUpdate(body []byte) (models.Update, error) {
	var u models.Update
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return u, &UpdateError{Field: "body", Reason: "must be a JSON object"}
	}
	var head map[string]json.RawMessage
	if err := json.Unmarshal(body, &head); err != nil {
		return u, &UpdateError{Field: "body", Reason: "invalid JSON: " + err.Error()}
	}
	raw, ok := head["update_id"]
	if !ok || string(raw) == "null" {
		return u, &UpdateError{Field: "update_id", Reason: "required"}
	}
	var id int64
	if err := json.Unmarshal(raw, &id); err != nil {
		return u, &UpdateError{Field: "update_id", Reason: "must be an integer"}
	}
	if id < 0 {
		return u, &UpdateError{Field: "update_id", Reason: "must not be negative"}
	}
	if err := json.Unmarshal(body, &u); err != nil {
		field := "body"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field = te.Field
		}
		return models.Update{}, &UpdateError{Field: field, Reason: err.Error()}
	}
	return u, nil
}

// DedupKey is the update's identity: its update_id.
func DedupKey(u models.Update) string { return strconv.FormatInt(u.ID, 10) }

// Callback is a pressed inline button.
type Callback struct {
	ID        string // for AnswerCallbackQuery
	FromID    int64
	ChatID    int64 // 0 for buttons on inline-mode messages
	MessageID int   // the message carrying the button
	Data      string
}

// CallbackOf extracts the callback query of u. The message is read
// whether Telegram sent it whole or as an InaccessibleMessage (date 0,
// as for messages older than 48 hours).
func CallbackOf(u models.Update) (Callback, bool) {
	q := u.CallbackQuery
	if q == nil {
		return Callback{}, false
	}
	cb := Callback{ID: q.ID, FromID: q.From.ID, Data: q.Data}
	switch {
	case q.Message.Message != nil:
		cb.ChatID, cb.MessageID = q.Message.Message.Chat.ID, q.Message.Message.ID
	case q.Message.InaccessibleMessage != nil:
		cb.ChatID, cb.MessageID = q.Message.InaccessibleMessage.Chat.ID, q.Message.InaccessibleMessage.MessageID
	}
	return cb, true
}

// Message is an inbound text message.
type Message struct {
	ChatID    int64
	FromID    int64
	MessageID int
	Text      string
}

// MessageOf extracts the (non-edited) message of u, if any.
func MessageOf(u models.Update) (Message, bool) {
	m := u.Message
	if m == nil {
		return Message{}, false
	}
	msg := Message{ChatID: m.Chat.ID, MessageID: m.ID, Text: m.Text}
	if m.From != nil {
		msg.FromID = m.From.ID
	}
	return msg, true
}

// SharedContact is a contact sent in a chat.
type SharedContact struct {
	ChatID    int64
	FromID    int64
	UserID    int64 // the contact's Telegram user, 0 if not a Telegram user
	Phone     string
	FirstName string
	LastName  string
	// Own is true when the sender shared their own contact (the
	// request_contact button does that: user_id == from.id). Only an own
	// contact may link a chat to an Okdesk contact: anyone can forward
	// someone else's contact card.
	Own bool
}

// ContactOf extracts a contact message of u.
func ContactOf(u models.Update) (SharedContact, bool) {
	m := u.Message
	if m == nil || m.Contact == nil {
		return SharedContact{}, false
	}
	c := SharedContact{
		ChatID: m.Chat.ID, UserID: m.Contact.UserID,
		Phone: m.Contact.PhoneNumber, FirstName: m.Contact.FirstName, LastName: m.Contact.LastName,
	}
	if m.From != nil {
		c.FromID = m.From.ID
	}
	c.Own = c.UserID != 0 && c.UserID == c.FromID
	return c, true
}

// ratePrefix starts the callback data of rating buttons.
const ratePrefix = "rate:"

// RateCallbackData is the callback_data of a rating button:
// "rate:<issue>:<score>".
func RateCallbackData(issueID int64, score int) string {
	return ratePrefix + strconv.FormatInt(issueID, 10) + ":" + strconv.Itoa(score)
}

// ParseRateCallback parses "rate:<issue>:<score>" (issue a positive
// integer without leading zeros, score 1..5, at most 64 bytes): exactly
// the strings RateCallbackData produces.
func ParseRateCallback(data string) (issueID int64, score int, err error) {
	if len(data) > MaxCallbackData {
		return 0, 0, fmt.Errorf("callback data: longer than %d bytes", MaxCallbackData)
	}
	rest, ok := strings.CutPrefix(data, ratePrefix)
	if !ok {
		return 0, 0, fmt.Errorf("callback data %q: not a rating (want rate:<issue>:<score>)", data)
	}
	issue, sc, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, 0, fmt.Errorf("callback data %q: want rate:<issue>:<score>", data)
	}
	if !allDigits(issue) || issue[0] == '0' { // canonical form only: no "01"
		return 0, 0, fmt.Errorf("callback data %q: issue id must be a positive integer", data)
	}
	issueID, err = strconv.ParseInt(issue, 10, 64)
	if err != nil || issueID <= 0 {
		return 0, 0, fmt.Errorf("callback data %q: issue id must be a positive integer", data)
	}
	if len(sc) != 1 || sc[0] < '1' || sc[0] > '5' {
		return 0, 0, fmt.Errorf("callback data %q: score must be 1..5", data)
	}
	return issueID, int(sc[0] - '0'), nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// RatingLabels are the seed's button labels, index = score.
var RatingLabels = [6]string{
	1: "⭐ Ужасно (1)",
	2: "⭐⭐ Плохо (2)",
	3: "⭐⭐⭐ Нормально (3)",
	4: "⭐⭐⭐⭐ Хорошо (4)",
	5: "⭐⭐⭐⭐⭐ Отлично (5)",
}

// RatingKeyboard is the seed's rating keyboard for an issue: one button
// per row, 5 stars first.
func RatingKeyboard(issueID int64) [][]Button {
	rows := make([][]Button, 0, 5)
	for score := 5; score >= 1; score-- {
		rows = append(rows, []Button{{Text: RatingLabels[score], CallbackData: RateCallbackData(issueID, score)}})
	}
	return rows
}

// MaxStartPayload is Telegram's limit for a deep link's start parameter.
const MaxStartPayload = 64

// ParseStart recognises "/start", "/start <payload>" and
// "/start@<bot> <payload>" (what a t.me/<bot>?start=<payload> deep link
// sends). isStart is false for any other text. A payload that is not
// 1-64 characters of A-Za-z0-9_- is an error (with isStart true).
func ParseStart(text string) (payload string, isStart bool, err error) {
	text = strings.TrimSpace(text)
	rest, ok := strings.CutPrefix(text, "/start")
	if !ok {
		return "", false, nil
	}
	if strings.HasPrefix(rest, "@") {
		end := strings.IndexAny(rest, " \t\n")
		if end < 0 {
			end = len(rest)
		}
		rest = rest[end:]
	} else if rest != "" && !strings.ContainsAny(rest[:1], " \t\n") {
		return "", false, nil // "/startx" is another command
	}
	payload = strings.TrimSpace(rest)
	if payload == "" {
		return "", true, nil
	}
	if len(payload) > MaxStartPayload {
		return "", true, fmt.Errorf("start payload: longer than %d characters", MaxStartPayload)
	}
	for i := 0; i < len(payload); i++ {
		ch := payload[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-') {
			return "", true, fmt.Errorf("start payload %q: only A-Za-z0-9_- allowed", payload)
		}
	}
	return payload, true, nil
}
