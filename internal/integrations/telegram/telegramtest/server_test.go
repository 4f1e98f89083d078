package telegramtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
)

const token = "42:TEST"

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

func do(t *testing.T, req *http.Request) (int, answer) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	require.NoError(t, json.Unmarshal(b, &a), string(b))
	return resp.StatusCode, a
}

func postJSON(t *testing.T, fake *telegramtest.Server, method, body string) (int, answer) {
	req, _ := http.NewRequest(http.MethodPost, fake.URL()+"/bot"+token+"/"+method, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func postForm(t *testing.T, fake *telegramtest.Server, method string, v url.Values) (int, answer) {
	req, _ := http.NewRequest(http.MethodPost, fake.URL()+"/bot"+token+"/"+method, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func TestEncodingsAndMessages(t *testing.T) {
	fake := telegramtest.New(token)
	defer fake.Close()

	status, a := postJSON(t, fake, "sendMessage",
		`{"chat_id":123,"text":"Оцените","reply_markup":{"inline_keyboard":[[{"text":"⭐⭐⭐⭐⭐","callback_data":"rate:153:5"}]]}}`)
	require.Equal(t, http.StatusOK, status, a.Description)
	var msg struct {
		MessageID int `json:"message_id"`
		From      struct {
			ID    int64 `json:"id"`
			IsBot bool  `json:"is_bot"`
		} `json:"from"`
		Chat struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
		} `json:"chat"`
		Date        int64           `json:"date"`
		Text        string          `json:"text"`
		ReplyMarkup json.RawMessage `json:"reply_markup"`
	}
	require.NoError(t, json.Unmarshal(a.Result, &msg))
	assert.Equal(t, 1, msg.MessageID)
	assert.Equal(t, int64(42), msg.From.ID)
	assert.True(t, msg.From.IsBot)
	assert.Equal(t, int64(123), msg.Chat.ID)
	assert.Equal(t, "private", msg.Chat.Type)
	assert.Positive(t, msg.Date)
	assert.Equal(t, "Оцените", msg.Text)
	assert.JSONEq(t, `{"inline_keyboard":[[{"text":"⭐⭐⭐⭐⭐","callback_data":"rate:153:5"}]]}`, string(msg.ReplyMarkup))

	status, a = postForm(t, fake, "sendMessage", url.Values{
		"chat_id": {"123"}, "text": {"второе"}, "reply_markup": {`{"inline_keyboard":[[{"text":"x","callback_data":"rate:1:1"}]]}`},
	})
	require.Equal(t, http.StatusOK, status, a.Description)
	require.NoError(t, json.Unmarshal(a.Result, &msg))
	assert.Equal(t, 2, msg.MessageID, "message ids increment")

	calls := fake.CallsTo("sendmessage")
	require.Len(t, calls, 2)
	assert.Equal(t, "json", calls[0].Encoding)
	assert.Equal(t, "form", calls[1].Encoding)
	for _, c := range calls {
		rm, err := c.ReplyMarkup()
		require.NoError(t, err)
		require.NotNil(t, rm)
		assert.Len(t, rm.InlineKeyboard, 1)
		id, err := c.Int64("chat_id")
		require.NoError(t, err)
		assert.Equal(t, int64(123), id)
	}
	assert.Len(t, fake.Messages(123), 2)
}

func TestValidation(t *testing.T) {
	fake := telegramtest.New(token)
	defer fake.Close()
	tests := []struct {
		name, method, body string
		status             int
		description        string
	}{
		{"no chat", "sendMessage", `{"text":"x"}`, 400, "Bad Request: chat_id is empty"},
		{"username chat", "sendMessage", `{"chat_id":"@someone","text":"x"}`, 400, "Bad Request: chat not found"},
		{"empty text", "sendMessage", `{"chat_id":1,"text":"  "}`, 400, "Bad Request: message text is empty"},
		{"too long", "sendMessage", `{"chat_id":1,"text":"` + strings.Repeat("я", 4097) + `"}`, 400, "Bad Request: message is too long"},
		{"long callback", "sendMessage", `{"chat_id":1,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"` + strings.Repeat("x", 65) + `"}]]}}`, 400, "Bad Request: BUTTON_DATA_INVALID"},
		{"empty callback", "sendMessage", `{"chat_id":1,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":""}]]}}`, 400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"},
		{"text button inline", "sendMessage", `{"chat_id":1,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a"}]]}}`, 400, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"},
		{"markup not json", "sendMessage", `{"chat_id":1,"text":"x","reply_markup":"{"}`, 400, "Bad Request: can't parse reply keyboard markup JSON object"},
		{"edit unknown", "editMessageText", `{"chat_id":1,"message_id":5,"text":"x"}`, 400, "Bad Request: message to edit not found"},
		{"answer no id", "answerCallbackQuery", `{}`, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid"},
		{"webhook http", "setWebhook", `{"url":"http://example.com/hook"}`, 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"},
		{"webhook secret", "setWebhook", `{"url":"https://example.com/hook","secret_token":"a b"}`, 400, "Bad Request: secret token contains unallowed characters"},
		{"unknown method", "sendTelepathy", `{}`, 404, "Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, a := postJSON(t, fake, tt.method, tt.body)
			assert.Equal(t, tt.status, status)
			assert.False(t, a.OK)
			assert.Equal(t, tt.status, a.ErrorCode)
			assert.Equal(t, tt.description, a.Description)
		})
	}
	assert.Empty(t, fake.Messages(1))

	req, _ := http.NewRequest(http.MethodPost, fake.URL()+"/bot42:WRONG/getMe", nil)
	status, a := do(t, req)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "Unauthorized", a.Description)
}

func TestFailureInjection(t *testing.T) {
	fake := telegramtest.New(token)
	defer fake.Close()
	fake.FailNextTooManyRequests("sendMessage", 7)
	fake.FailNext("sendMessage", 2, telegramtest.Failure{Status: 500})
	body := `{"chat_id":1,"text":"x"}`

	status, a := postJSON(t, fake, "sendMessage", body)
	assert.Equal(t, 429, status)
	assert.Equal(t, 7, a.Parameters.RetryAfter)
	assert.Equal(t, "Too Many Requests: retry after 7", a.Description)
	for range 2 {
		status, _ = postJSON(t, fake, "sendMessage", body)
		assert.Equal(t, 500, status)
	}
	status, _ = postJSON(t, fake, "sendMessage", body)
	assert.Equal(t, 200, status, "failures are used up")

	fake.BlockChat(1)
	status, a = postJSON(t, fake, "sendMessage", body)
	assert.Equal(t, 403, status)
	assert.Equal(t, telegramtest.BlockedDescription, a.Description)
	fake.UnblockChat(1)
	status, _ = postJSON(t, fake, "sendMessage", body)
	assert.Equal(t, 200, status)
}

func TestDeliverAndPushUpdate(t *testing.T) {
	fake := telegramtest.New(token)
	defer fake.Close()

	var gotSecret, gotType string
	var got telegram.Callback
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotSecret, gotType = r.Header.Get(telegram.SecretTokenHeader), r.Header.Get("Content-Type")
		body, _ := io.ReadAll(r.Body)
		u, err := telegram.ParseUpdate(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, _ = telegram.CallbackOf(u)
	}))
	defer hook.Close()

	_, err := fake.Deliver(context.Background(), telegramtest.CallbackUpdate(1, 2, 3, "rate:4:5"))
	assert.ErrorContains(t, err, "no webhook set")

	c, err := telegram.New(fake.URL(), token, fake.Client())
	require.NoError(t, err)
	require.NoError(t, c.SetWebhook(context.Background(), hook.URL+"/telegram", "sec_ret", []string{"message", "callback_query"}))

	status, err := fake.Deliver(context.Background(), telegramtest.CallbackUpdate(1, 2, 3, "rate:4:5"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "sec_ret", gotSecret)
	assert.Equal(t, "application/json", gotType)
	assert.Equal(t, telegram.Callback{ID: telegramtest.CallbackQueryID(1), FromID: 2, ChatID: 2, MessageID: 3, Data: "rate:4:5"}, got)

	status, err = telegramtest.PushUpdate(context.Background(), hook.URL, "", map[string]any{"no_update_id": true})
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Empty(t, gotSecret, "no secret, no header")
}
