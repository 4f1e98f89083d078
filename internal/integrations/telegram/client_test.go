package telegram_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/clienttest"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
)

const (
	botToken  = "123456:AAH-secretTokenValue_xyz"
	tokenPart = "AAH-secretTokenValue"
)

func newFake(t *testing.T) (*telegramtest.Server, *telegram.Client) {
	t.Helper()
	fake := telegramtest.New(botToken)
	t.Cleanup(fake.Close)
	c, err := telegram.New(fake.URL(), botToken, fake.Client())
	require.NoError(t, err)
	return fake, c
}

func requireAPIError(t *testing.T, err error) *telegram.APIError {
	t.Helper()
	require.Error(t, err)
	var ae *telegram.APIError
	require.True(t, errors.As(err, &ae), "want *telegram.APIError, got %T: %v", err, err)
	assert.NotContains(t, err.Error(), tokenPart, "bot token leaked into the error")
	return ae
}

func TestSendMessage(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	kb := telegram.RatingKeyboard(153)
	id, err := c.SendMessage(ctx, 777, "Заявка #153 решена. Оцените работу:", kb)
	require.NoError(t, err)
	assert.Equal(t, 1, id)
	id, err = c.SendMessage(ctx, 777, "второе", nil)
	require.NoError(t, err)
	assert.Equal(t, 2, id, "message ids increment per chat")

	calls := fake.CallsTo("sendMessage")
	require.Len(t, calls, 2)
	first := calls[0]
	assert.Equal(t, "multipart", first.Encoding, "go-telegram/bot sends multipart")
	chat, err := first.Int64("chat_id")
	require.NoError(t, err)
	assert.Equal(t, int64(777), chat)
	assert.Equal(t, "Заявка #153 решена. Оцените работу:", first.String("text"))
	rm, err := first.ReplyMarkup()
	require.NoError(t, err)
	require.NotNil(t, rm)
	require.Len(t, rm.InlineKeyboard, 5)
	assert.Equal(t, telegramtest.InlineButton{Text: "⭐⭐⭐⭐⭐ Отлично (5)", CallbackData: "rate:153:5"}, rm.InlineKeyboard[0][0])
	assert.Equal(t, telegramtest.InlineButton{Text: "⭐ Ужасно (1)", CallbackData: "rate:153:1"}, rm.InlineKeyboard[4][0])
	assert.NotContains(t, first.String("reply_markup"), "copy_text")

	_, hasMarkup := calls[1].Params["reply_markup"]
	assert.False(t, hasMarkup, "no keyboard, no reply_markup")

	msgs := fake.Messages(777)
	require.Len(t, msgs, 2)
	assert.Equal(t, "второе", msgs[1].Text)
}

func TestContactRequestAndRemoveKeyboard(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	_, err := c.Send(ctx, 5, "Поделитесь номером телефона", telegram.ContactRequestKeyboard("📱 Отправить номер"))
	require.NoError(t, err)
	_, err = c.Send(ctx, 5, "Спасибо!", telegram.RemoveKeyboard())
	require.NoError(t, err)

	calls := fake.CallsTo("sendMessage")
	rm, err := calls[0].ReplyMarkup()
	require.NoError(t, err)
	require.Len(t, rm.Keyboard, 1)
	assert.Equal(t, "📱 Отправить номер", rm.Keyboard[0][0].Text)
	assert.True(t, rm.Keyboard[0][0].RequestContact)
	assert.True(t, rm.OneTimeKeyboard)
	rm, err = calls[1].ReplyMarkup()
	require.NoError(t, err)
	assert.True(t, rm.RemoveKeyboard)
}

func TestEditMessageText(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	id, err := c.SendMessage(ctx, 9, "Оцените", telegram.RatingKeyboard(1))
	require.NoError(t, err)

	require.NoError(t, c.EditMessageText(ctx, 9, id, "Спасибо за оценку 5!", nil))
	msgs := fake.Messages(9)
	require.Len(t, msgs, 1)
	assert.Equal(t, "Спасибо за оценку 5!", msgs[0].Text)
	assert.Nil(t, msgs[0].ReplyMarkup, "nil keyboard removes the buttons")
	assert.True(t, msgs[0].Edited)

	// A retried edit that already happened is not an error.
	require.NoError(t, c.EditMessageText(ctx, 9, id, "Спасибо за оценку 5!", nil))
	last := fake.CallsTo("editMessageText")
	assert.Equal(t, http.StatusBadRequest, last[len(last)-1].Status, "the fake did answer 'not modified'")

	// With a keyboard.
	require.NoError(t, c.EditMessageText(ctx, 9, id, "Изменить оценку?", [][]telegram.Button{{{Text: "Да", CallbackData: "rerate:1"}}}))
	rm, err := fake.CallsTo("editMessageText")[2].ReplyMarkup()
	require.NoError(t, err)
	assert.Equal(t, "rerate:1", rm.InlineKeyboard[0][0].CallbackData)

	err = c.EditMessageText(ctx, 9, 999, "x", nil)
	ae := requireAPIError(t, err)
	assert.Equal(t, http.StatusBadRequest, ae.Code)
	assert.Equal(t, "Bad Request: message to edit not found", ae.Message)
	assert.False(t, ae.Retryable)
}

func TestAnswerCallbackQueryAndSetWebhook(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	require.NoError(t, c.AnswerCallbackQuery(ctx, "4382bf", "Спасибо!"))
	call := fake.CallsTo("answerCallbackQuery")[0]
	assert.Equal(t, "4382bf", call.String("callback_query_id"))
	assert.Equal(t, "Спасибо!", call.String("text"))

	err := c.AnswerCallbackQuery(ctx, "", "")
	requireAPIError(t, err)
	assert.True(t, telegram.IsCallbackQueryExpired(err))

	require.NoError(t, c.SetWebhook(ctx, "https://hooks.example.com/telegram", "s3cret_Token-1", []string{"message", "callback_query"}))
	assert.Equal(t, telegramtest.WebhookInfo{
		URL: "https://hooks.example.com/telegram", SecretToken: "s3cret_Token-1",
		AllowedUpdates: []string{"message", "callback_query"},
	}, fake.Webhook())

	err = c.SetWebhook(ctx, "http://hooks.example.com/telegram", "x", nil)
	ae := requireAPIError(t, err)
	assert.Contains(t, ae.Message, "HTTPS URL must be provided")
	err = c.SetWebhook(ctx, "https://hooks.example.com/telegram", "bad secret!", nil)
	assert.Contains(t, requireAPIError(t, err).Message, "secret token contains unallowed characters")
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*telegramtest.Server)
		status     int
		code       int
		retryable  bool
		retryAfter time.Duration
		blocked    bool
		message    string
	}{
		{
			name:   "429 with retry_after",
			setup:  func(s *telegramtest.Server) { s.FailNextTooManyRequests("sendMessage", 1) },
			status: 429, code: 429, retryable: true, retryAfter: time.Second,
			message: "Too Many Requests: retry after 1",
		},
		{
			name:   "403 blocked",
			setup:  func(s *telegramtest.Server) { s.FailNextBlocked("sendMessage") },
			status: 403, code: 403, blocked: true, message: telegramtest.BlockedDescription,
		},
		{
			name:   "blocked chat",
			setup:  func(s *telegramtest.Server) { s.BlockChat(42) },
			status: 403, code: 403, blocked: true, message: telegramtest.BlockedDescription,
		},
		{
			name: "403 deactivated is blocked too",
			setup: func(s *telegramtest.Server) {
				s.FailNext("sendMessage", 1, telegramtest.Failure{Status: 403, Description: "Forbidden: user is deactivated"})
			},
			status: 403, code: 403, blocked: true, message: "Forbidden: user is deactivated",
		},
		{
			name: "400",
			setup: func(s *telegramtest.Server) {
				s.FailNext("sendMessage", 1, telegramtest.Failure{Status: 400, Description: "Bad Request: chat not found"})
			},
			status: 400, code: 400, message: "Bad Request: chat not found",
		},
		{
			name:   "400 default description",
			setup:  func(s *telegramtest.Server) { s.FailNext("sendMessage", 1, telegramtest.Failure{Status: 400}) },
			status: 400, code: 400,
		},
		{
			name:   "500 json",
			setup:  func(s *telegramtest.Server) { s.FailNext("sendMessage", 1, telegramtest.Failure{Status: 500}) },
			status: 500, code: 500, retryable: true, message: "Internal Server Error",
		},
		{
			name: "502 html from a proxy",
			setup: func(s *telegramtest.Server) {
				s.FailNext("sendMessage", 1, telegramtest.Failure{Status: 502, RawBody: "<html><h1>502 Bad Gateway</h1></html>"})
			},
			status: 502, retryable: true,
		},
		{
			name:   "409 conflict",
			setup:  func(s *telegramtest.Server) { s.FailNext("sendMessage", 1, telegramtest.Failure{Status: 409}) },
			status: 409, code: 409,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t)
			tt.setup(fake)
			_, err := c.SendMessage(context.Background(), 42, "hi", nil)
			ae := requireAPIError(t, err)
			assert.Equal(t, "sendMessage", ae.Method)
			assert.Equal(t, tt.status, ae.Status)
			assert.Equal(t, tt.code, ae.Code)
			assert.Equal(t, tt.retryable, ae.Retryable)
			assert.Equal(t, tt.retryable, telegram.IsRetryable(err))
			assert.Equal(t, tt.retryAfter, ae.RetryAfter)
			assert.Equal(t, tt.retryAfter, telegram.RetryAfter(err))
			assert.Equal(t, tt.blocked, telegram.IsBlocked(err))
			if tt.message != "" {
				assert.Equal(t, tt.message, ae.Message)
			}
		})
	}
}

func TestWrongTokenAndTransport(t *testing.T) {
	fake, _ := newFake(t)
	wrong, err := telegram.New(fake.URL(), "999:"+tokenPart+"-wrong", fake.Client())
	require.NoError(t, err)
	_, err = wrong.SendMessage(context.Background(), 1, "x", nil)
	ae := requireAPIError(t, err)
	assert.Equal(t, http.StatusUnauthorized, ae.Code)
	assert.False(t, ae.Retryable)

	// Connection refused: retryable, and the URL in the error has no token.
	fake2, c := newFake(t)
	fake2.Close()
	_, err = c.SendMessage(context.Background(), 1, "x", nil)
	ae = requireAPIError(t, err)
	assert.Zero(t, ae.Status)
	assert.True(t, ae.Retryable)

	// The caller's cancellation is permanent, a deadline retryable.
	_, c3 := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c3.SendMessage(ctx, 1, "x", nil)
	ae = requireAPIError(t, err)
	assert.False(t, ae.Retryable)
	assert.ErrorIs(t, err, context.Canceled)

	slow := clienttest.Hanging(t)
	c4, err := telegram.New(slow.URL, botToken, slow.Client())
	require.NoError(t, err)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = c4.SendMessage(ctx, 1, "x", nil)
	ae = requireAPIError(t, err)
	assert.True(t, ae.Retryable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestUndecodableSuccessIsPermanent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true,"result":"not a message"}`))
	}))
	defer srv.Close()
	c, err := telegram.New(srv.URL, botToken, srv.Client())
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), 1, "x", nil)
	ae := requireAPIError(t, err)
	assert.Equal(t, http.StatusOK, ae.Status)
	assert.False(t, ae.Retryable, "the message may have been sent: do not repeat it")
}

func TestKeyboardValidation(t *testing.T) {
	tests := []struct {
		name string
		kb   [][]telegram.Button
		want string
	}{
		{"long callback", [][]telegram.Button{{{Text: "a", CallbackData: strings.Repeat("x", 65)}}}, "keyboard[0][0].callback_data: must be 1-64 bytes, got 65"},
		{"no action", [][]telegram.Button{{{Text: "a", CallbackData: "ok"}, {Text: "b"}}}, "keyboard[0][1]: set exactly one of callback_data and url"},
		{"two actions", [][]telegram.Button{{{Text: "a", CallbackData: "x", URL: "https://t.me"}}}, "keyboard[0][0]: set exactly one"},
		{"no text", [][]telegram.Button{{}, {{CallbackData: "x"}}}, "keyboard[1][0].text: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t)
			_, err := c.SendMessage(context.Background(), 1, "x", tt.kb)
			ae := requireAPIError(t, err)
			assert.Contains(t, ae.Message, tt.want)
			assert.False(t, ae.Retryable)
			assert.Empty(t, fake.Calls(), "nothing is sent")
		})
	}
	// Exactly 64 bytes is fine.
	_, c := newFake(t)
	_, err := c.SendMessage(context.Background(), 1, "x", [][]telegram.Button{{{Text: "a", CallbackData: strings.Repeat("x", 64)}}})
	assert.NoError(t, err)
}

func TestNew(t *testing.T) {
	_, err := telegram.New("", " ", nil)
	assert.ErrorContains(t, err, "empty bot token")
	_, err = telegram.New("api.telegram.org", botToken, nil)
	assert.ErrorContains(t, err, "absolute http(s) URL")
	c, err := telegram.New("", botToken, nil)
	require.NoError(t, err, "no network call at construction")
	assert.NotNil(t, c.Bot())
}
