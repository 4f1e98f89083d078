package telegramtest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
)

// Press delivers the callback_query of a button the message shows, with the
// secret token, and refuses one it does not show; the user's updates get
// fresh, increasing update ids.
func TestPressAndUserUpdates(t *testing.T) {
	fake := telegramtest.New(token)
	defer fake.Close()
	var mu sync.Mutex
	var updates []int64
	var callbacks []telegram.Callback
	var secrets []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u, err := telegram.ParseUpdate(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		updates = append(updates, u.ID)
		secrets = append(secrets, r.Header.Get(telegram.SecretTokenHeader))
		if cb, ok := telegram.CallbackOf(u); ok {
			callbacks = append(callbacks, cb)
		}
	}))
	defer hook.Close()
	ctx := context.Background()
	c, err := telegram.New(fake.URL(), token, fake.Client())
	require.NoError(t, err)
	require.NoError(t, c.SetWebhook(ctx, hook.URL, "sec_ret", []string{"message", "callback_query"}))

	msgID, err := c.SendMessage(ctx, 77, "Оцените", [][]telegram.Button{{{Text: "⭐", CallbackData: "rate:9:1"}, {Text: "⭐⭐", CallbackData: "rate:9:2"}}})
	require.NoError(t, err)
	assert.Equal(t, []int64{77}, fake.Chats())
	assert.Equal(t, []telegramtest.InlineButton{{Text: "⭐", CallbackData: "rate:9:1"}, {Text: "⭐⭐", CallbackData: "rate:9:2"}},
		fake.Messages(77)[0].InlineButtons())

	_, _, err = fake.Press(ctx, 77, msgID, "rate:9:5")
	assert.ErrorContains(t, err, "shows no button")
	_, _, err = fake.Press(ctx, 78, msgID, "rate:9:2")
	assert.ErrorContains(t, err, "shows no button")
	status, id, err := fake.Press(ctx, 77, msgID, "rate:9:2")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	status, err = fake.SendText(ctx, 77, "/start")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	status, err = fake.ShareContact(ctx, 77, "79161234567", "Иван")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []telegram.Callback{{ID: telegramtest.CallbackQueryID(id), FromID: 77, ChatID: 77, MessageID: msgID, Data: "rate:9:2"}}, callbacks)
	assert.Equal(t, []string{"sec_ret", "sec_ret", "sec_ret"}, secrets)
	require.Len(t, updates, 3)
	assert.Equal(t, id, updates[0])
	assert.Less(t, updates[0], updates[1])
	assert.Less(t, updates[1], updates[2])

	// An edit that drops the keyboard leaves nothing to press.
	require.NoError(t, c.EditMessageText(ctx, 77, msgID, "Спасибо", nil))
	_, _, err = fake.Press(ctx, 77, msgID, "rate:9:2")
	assert.ErrorContains(t, err, "shows no button")
}
