package telegram_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
)

func TestParseUpdateCallback(t *testing.T) {
	tests := []struct {
		name string
		body string
		want telegram.Callback
	}{
		{
			// The wire-formats reference example: a message without a
			// date, which the library decodes as an InaccessibleMessage.
			name: "reference example",
			body: `{"update_id":10000,"callback_query":{"id":"4382bf","from":{"id":123},"message":{"message_id":42,"chat":{"id":123}},"data":"rate:153:5"}}`,
			want: telegram.Callback{ID: "4382bf", FromID: 123, ChatID: 123, MessageID: 42, Data: "rate:153:5"},
		},
		{
			name: "fake builder (whole message)",
			body: string(telegramtest.CallbackUpdate(10001, 555, 7, "rate:9:3")),
			want: telegram.Callback{ID: telegramtest.CallbackQueryID(10001), FromID: 555, ChatID: 555, MessageID: 7, Data: "rate:9:3"},
		},
		{
			name: "inline message button",
			body: `{"update_id":3,"callback_query":{"id":"q","from":{"id":5},"inline_message_id":"AAA","data":"x"}}`,
			want: telegram.Callback{ID: "q", FromID: 5, Data: "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := telegram.ParseUpdate([]byte(tt.body))
			require.NoError(t, err)
			cb, ok := telegram.CallbackOf(u)
			require.True(t, ok)
			assert.Equal(t, tt.want, cb)
			_, ok = telegram.MessageOf(u)
			assert.False(t, ok)
		})
	}
}

func TestParseUpdateMessages(t *testing.T) {
	u, err := telegram.ParseUpdate(telegramtest.MessageUpdate(20, 555, "/start c21_x-Y"))
	require.NoError(t, err)
	assert.Equal(t, "20", telegram.DedupKey(u))
	m, ok := telegram.MessageOf(u)
	require.True(t, ok)
	assert.Equal(t, telegram.Message{ChatID: 555, FromID: 555, MessageID: m.MessageID, Text: "/start c21_x-Y"}, m)
	payload, isStart, err := telegram.ParseStart(m.Text)
	require.NoError(t, err)
	assert.True(t, isStart)
	assert.Equal(t, "c21_x-Y", payload)
	_, ok = telegram.CallbackOf(u)
	assert.False(t, ok)
	_, ok = telegram.ContactOf(u)
	assert.False(t, ok)

	u, err = telegram.ParseUpdate(telegramtest.ContactUpdate(21, 555, "79161234567", "Иван"))
	require.NoError(t, err)
	c, ok := telegram.ContactOf(u)
	require.True(t, ok)
	assert.Equal(t, telegram.SharedContact{ChatID: 555, FromID: 555, UserID: 555, Phone: "79161234567", FirstName: "Иван", Own: true}, c)

	// A forwarded contact card of someone else is not Own.
	u, err = telegram.ParseUpdate([]byte(`{"update_id":22,"message":{"message_id":1,"date":1,"chat":{"id":555,"type":"private"},"from":{"id":555},
		"contact":{"phone_number":"+70000000000","first_name":"Other","user_id":999}}}`))
	require.NoError(t, err)
	c, ok = telegram.ContactOf(u)
	require.True(t, ok)
	assert.False(t, c.Own)
	u, err = telegram.ParseUpdate([]byte(`{"update_id":23,"message":{"message_id":1,"date":1,"chat":{"id":555,"type":"private"},"from":{"id":555},
		"contact":{"phone_number":"+70000000000","first_name":"No TG"}}}`))
	require.NoError(t, err)
	c, _ = telegram.ContactOf(u)
	assert.False(t, c.Own, "a contact without user_id is not own")

	// Update kinds hookflow does not handle still parse.
	u, err = telegram.ParseUpdate([]byte(`{"update_id":24,"my_chat_member":{"chat":{"id":1,"type":"private"},"from":{"id":1},"date":1,
		"old_chat_member":{"status":"member","user":{"id":2}},"new_chat_member":{"status":"kicked","user":{"id":2},"until_date":0}}}`))
	require.NoError(t, err)
	assert.NotNil(t, u.MyChatMember)
}

func TestParseUpdateErrors(t *testing.T) {
	tests := []struct{ name, body, field, reason string }{
		{"empty", ``, "body", "must be a JSON object"},
		{"array", `[1]`, "body", "must be a JSON object"},
		{"broken", `{"update_id":`, "body", "invalid JSON"},
		{"no update_id", `{"message":{}}`, "update_id", "required"},
		{"null update_id", `{"update_id":null}`, "update_id", "required"},
		{"string update_id", `{"update_id":"10"}`, "update_id", "must be an integer"},
		{"fraction update_id", `{"update_id":1.5}`, "update_id", "must be an integer"},
		{"negative update_id", `{"update_id":-1}`, "update_id", "must not be negative"},
		{"bad message", `{"update_id":1,"message":{"message_id":"x"}}`, "message.message_id", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := telegram.ParseUpdate([]byte(tt.body))
			var ue *telegram.UpdateError
			require.True(t, errors.As(err, &ue), "want *UpdateError, got %T: %v", err, err)
			assert.Equal(t, tt.field, ue.Field)
			assert.Contains(t, ue.Reason, tt.reason)
		})
	}
}

func TestParseRateCallback(t *testing.T) {
	tests := []struct {
		data    string
		issue   int64
		score   int
		wantErr string
	}{
		{"rate:153:5", 153, 5, ""},
		{"rate:1:1", 1, 1, ""},
		{"rate:9223372036854775807:3", 9223372036854775807, 3, ""},
		{"rate:153:0", 0, 0, "score must be 1..5"},
		{"rate:153:6", 0, 0, "score must be 1..5"},
		{"rate:153:55", 0, 0, "score must be 1..5"},
		{"rate:153:", 0, 0, "score must be 1..5"},
		{"rate:153", 0, 0, "want rate:<issue>:<score>"},
		{"rate::5", 0, 0, "issue id must be a positive integer"},
		{"rate:0:5", 0, 0, "issue id must be a positive integer"},
		{"rate:01:1", 0, 0, "issue id must be a positive integer"},
		{"rate:-1:5", 0, 0, "issue id must be a positive integer"},
		{"rate:+1:5", 0, 0, "issue id must be a positive integer"},
		{"rate:99999999999999999999:5", 0, 0, "issue id must be a positive integer"},
		{"rate:1:5:extra", 0, 0, "score must be 1..5"},
		{"vote:1:5", 0, 0, "not a rating"},
		{"rate:" + strings.Repeat("1", 60) + ":5", 0, 0, "longer than 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			issue, score, err := telegram.ParseRateCallback(tt.data)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.issue, issue)
			assert.Equal(t, tt.score, score)
		})
	}
}

func TestRatingKeyboardRoundTrip(t *testing.T) {
	rows := telegram.RatingKeyboard(9223372036854775807)
	require.Len(t, rows, 5)
	for i, row := range rows {
		require.Len(t, row, 1)
		assert.LessOrEqual(t, len(row[0].CallbackData), telegram.MaxCallbackData)
		issue, score, err := telegram.ParseRateCallback(row[0].CallbackData)
		require.NoError(t, err)
		assert.Equal(t, int64(9223372036854775807), issue)
		assert.Equal(t, 5-i, score)
		assert.Equal(t, telegram.RatingLabels[score], row[0].Text)
	}
}

func TestParseStart(t *testing.T) {
	tests := []struct {
		text    string
		payload string
		isStart bool
		wantErr string
	}{
		{"/start", "", true, ""},
		{"/start abc_DEF-123", "abc_DEF-123", true, ""},
		{"  /start   tok  ", "tok", true, ""},
		{"/start@hookflow_bot tok", "tok", true, ""},
		{"/start@hookflow_bot", "", true, ""},
		{"/startx", "", false, ""},
		{"/help", "", false, ""},
		{"hello /start x", "", false, ""},
		{"/start bad payload", "", true, "only A-Za-z0-9_- allowed"},
		{"/start пэйлоад", "", true, "only A-Za-z0-9_- allowed"},
		{"/start " + strings.Repeat("a", 64), strings.Repeat("a", 64), true, ""},
		{"/start " + strings.Repeat("a", 65), "", true, "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			payload, isStart, err := telegram.ParseStart(tt.text)
			assert.Equal(t, tt.isStart, isStart)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.payload, payload)
		})
	}
}

func TestCheckSecretToken(t *testing.T) {
	assert.True(t, telegram.CheckSecretToken("abc", "abc"))
	assert.False(t, telegram.CheckSecretToken("abd", "abc"))
	assert.False(t, telegram.CheckSecretToken("", "abc"))
	assert.False(t, telegram.CheckSecretToken("", ""), "no configured secret never matches")
}

func FuzzParseRateCallback(f *testing.F) {
	for _, s := range []string{"rate:153:5", "rate:0:1", "rate:1:9", "rate:a:1", "rate:" + strings.Repeat("9", 30) + ":2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		issue, score, err := telegram.ParseRateCallback(data)
		if err != nil {
			return
		}
		if issue <= 0 || score < 1 || score > 5 {
			t.Fatalf("accepted %q as %d/%d", data, issue, score)
		}
		if got := telegram.RateCallbackData(issue, score); got != data {
			t.Fatalf("not canonical: %q parsed to %d/%d which renders %q", data, issue, score, got)
		}
	})
}
