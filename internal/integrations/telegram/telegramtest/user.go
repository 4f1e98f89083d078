package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// What a user does in a chat, delivered to the bot's webhook as Telegram
// would: the same updates tests build by hand, with update ids the fake
// hands out itself (so a long-running fake, as in demo mode, never repeats
// one).

// NextUpdateID returns a fresh update_id, higher than every one handed out
// before.
func (s *Server) NextUpdateID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastUpdate++
	return s.lastUpdate
}

// Chats returns the ids of the chats the bot has sent messages to, in
// ascending order.
func (s *Server) Chats() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.chats))
	for id := range s.chats {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// InlineButtons decodes the message's inline keyboard (nil when it has
// none).
func (m Message) InlineButtons() []InlineButton {
	if len(m.ReplyMarkup) == 0 {
		return nil
	}
	var rm ReplyMarkup
	if json.Unmarshal(m.ReplyMarkup, &rm) != nil {
		return nil
	}
	var out []InlineButton
	for _, row := range rm.InlineKeyboard {
		out = append(out, row...)
	}
	return out
}

// Press is the user of chatID pressing the inline button carrying data
// under message msgID: the fake delivers the callback_query update to the
// registered webhook with its secret token, as Telegram does. It refuses a
// button the message does not show (now, after edits), as a real client
// cannot press one. It returns the webhook's HTTP status and the update id.
func (s *Server) Press(ctx context.Context, chatID int64, msgID int, data string) (status int, updateID int64, err error) {
	var found bool
	s.mu.Lock()
	if c := s.chats[chatID]; c != nil {
		if m := c.messages[msgID]; m != nil {
			for _, b := range m.InlineButtons() {
				if b.CallbackData != "" && b.CallbackData == data {
					found = true
				}
			}
		}
	}
	s.mu.Unlock()
	if !found {
		return 0, 0, fmt.Errorf("telegramtest: message %d of chat %d shows no button with callback data %q", msgID, chatID, data)
	}
	updateID = s.NextUpdateID()
	status, err = s.Deliver(ctx, CallbackUpdate(updateID, chatID, msgID, data))
	return status, updateID, err
}

// SendText is the user of chatID sending text (a command such as "/start"
// included) to the bot through the registered webhook.
func (s *Server) SendText(ctx context.Context, chatID int64, text string) (int, error) {
	return s.Deliver(ctx, MessageUpdate(s.NextUpdateID(), chatID, text))
}

// ShareContact is the user of chatID sharing their phone number with the
// bot (the request_contact keyboard button).
func (s *Server) ShareContact(ctx context.Context, chatID int64, phone, firstName string) (int, error) {
	return s.Deliver(ctx, ContactUpdate(s.NextUpdateID(), chatID, phone, firstName))
}
