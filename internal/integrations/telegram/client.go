// Package telegram is hookflow's Telegram Bot API client, a thin layer over
// github.com/go-telegram/bot, plus the parsing of inbound webhook updates
// (rating buttons, /start deep links, shared contacts).
//
// The client never retries: every failure is an *APIError that says whether
// a retry may help (and after how long), so Temporal activities own the
// retry policy. The bot token is part of every Bot API URL; it is scrubbed
// from every error and never logged.
package telegram

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// DefaultAPIURL is Telegram's Bot API server.
const DefaultAPIURL = "https://api.telegram.org"

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 64 << 10

// MaxCallbackData is Telegram's limit for callback_data, in bytes.
const MaxCallbackData = 64

// Button is an inline keyboard button: set exactly one of CallbackData
// (1-64 bytes) and URL.
type Button struct {
	Text         string
	CallbackData string
	URL          string
}

// Keyboard is a reply_markup: InlineKeyboard, ContactRequestKeyboard or
// RemoveKeyboard.
type Keyboard interface {
	replyMarkup() (any, error)
}

// The markup types are our own rather than the library's models: its
// InlineKeyboardButton always serialises "copy_text":{"text":""} (a struct
// under omitempty), which a user of the library reported the Bot API
// rejecting with BUTTON_COPY_TEXT_INVALID (go-telegram/bot PR #167). These
// serialise exactly the fields the Bot API documents.
type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

type inlineMarkup struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type keyboardButton struct {
	Text           string `json:"text"`
	RequestContact bool   `json:"request_contact,omitempty"`
}

type replyMarkup struct {
	Keyboard        [][]keyboardButton `json:"keyboard"`
	ResizeKeyboard  bool               `json:"resize_keyboard,omitempty"`
	OneTimeKeyboard bool               `json:"one_time_keyboard,omitempty"`
}

type removeMarkup struct {
	RemoveKeyboard bool `json:"remove_keyboard"`
}

type inlineKeyboard [][]Button

// InlineKeyboard is an inline keyboard of rows of buttons.
func InlineKeyboard(rows [][]Button) Keyboard { return inlineKeyboard(rows) }

func (k inlineKeyboard) replyMarkup() (any, error) {
	m := inlineMarkup{InlineKeyboard: make([][]inlineButton, 0, len(k))}
	for i, row := range k {
		r := make([]inlineButton, 0, len(row))
		for j, b := range row {
			field := fmt.Sprintf("keyboard[%d][%d]", i, j)
			switch {
			case strings.TrimSpace(b.Text) == "":
				return nil, fmt.Errorf("%s.text: required", field)
			case (b.CallbackData == "") == (b.URL == ""):
				return nil, fmt.Errorf("%s: set exactly one of callback_data and url", field)
			case b.URL == "" && len(b.CallbackData) > MaxCallbackData:
				return nil, fmt.Errorf("%s.callback_data: must be 1-%d bytes, got %d", field, MaxCallbackData, len(b.CallbackData))
			}
			r = append(r, inlineButton(b))
		}
		m.InlineKeyboard = append(m.InlineKeyboard, r)
	}
	return m, nil
}

type contactKeyboard string

// ContactRequestKeyboard is a one-time reply keyboard with a single
// button that shares the user's phone number (request_contact). The
// answer arrives as a message with a contact: see ContactOf.
func ContactRequestKeyboard(buttonText string) Keyboard { return contactKeyboard(buttonText) }

func (k contactKeyboard) replyMarkup() (any, error) {
	if strings.TrimSpace(string(k)) == "" {
		return nil, errors.New("keyboard[0][0].text: required")
	}
	return replyMarkup{
		Keyboard:       [][]keyboardButton{{{Text: string(k), RequestContact: true}}},
		ResizeKeyboard: true, OneTimeKeyboard: true,
	}, nil
}

type removeKeyboard struct{}

// RemoveKeyboard hides a reply keyboard (after the contact was shared).
func RemoveKeyboard() Keyboard { return removeKeyboard{} }

func (removeKeyboard) replyMarkup() (any, error) { return removeMarkup{RemoveKeyboard: true}, nil }

// Client sends Bot API calls for one bot. It is safe for concurrent use.
type Client struct {
	b     *bot.Bot
	token string
}

// New returns a client for the bot with token. apiURL is the Bot API
// server ("" means DefaultAPIURL; tests pass a telegramtest server's URL).
// hc may carry an otelhttp transport; nil means a client with a 30 s
// timeout. No call is made (getMe is skipped).
func New(apiURL, token string, hc *http.Client) (*Client, error) {
	if strings.TrimSpace(token) == "" {
		return nil, errors.New("telegram: empty bot token")
	}
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("telegram: api URL %q must be an absolute http(s) URL without a query", apiURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{token: token}
	b, err := bot.New(token,
		bot.WithServerURL(strings.TrimRight(apiURL, "/")),
		bot.WithSkipGetMe(),
		bot.WithHTTPClient(time.Minute, recordingClient{hc}),
		// The library reports pipe/close failures here; never with the
		// token, but scrub anyway.
		bot.WithErrorsHandler(func(err error) {
			slog.Warn("telegram client", "err", c.scrub(err.Error()))
		}),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %s", c.scrub(err.Error()))
	}
	c.b = b
	return c, nil
}

// Bot is the underlying library bot, for calls this client does not wrap.
// Its errors are not classified.
func (c *Client) Bot() *bot.Bot { return c.b }

// SendMessage sends text to chatID with an optional inline keyboard and
// returns the new message's id.
func (c *Client) SendMessage(ctx context.Context, chatID int64, text string, keyboard [][]Button) (int, error) {
	var kb Keyboard
	if len(keyboard) > 0 {
		kb = InlineKeyboard(keyboard)
	}
	return c.Send(ctx, chatID, text, kb)
}

// Send sends text to chatID with any Keyboard (nil for none) and returns
// the new message's id.
func (c *Client) Send(ctx context.Context, chatID int64, text string, kb Keyboard) (int, error) {
	const method = "sendMessage"
	p := &bot.SendMessageParams{ChatID: chatID, Text: text}
	if kb != nil {
		m, err := kb.replyMarkup()
		if err != nil {
			return 0, &APIError{Method: method, Message: err.Error()}
		}
		p.ReplyMarkup = m
	}
	var msg *models.Message
	err := c.call(ctx, method, func(ctx context.Context) error {
		var err error
		msg, err = c.b.SendMessage(ctx, p)
		return err
	})
	if err != nil {
		return 0, err
	}
	return msg.ID, nil
}

// EditMessageText replaces the text of a message and its inline keyboard
// (nil removes the buttons). "message is not modified" counts as success,
// so a retried edit that already happened does not fail.
func (c *Client) EditMessageText(ctx context.Context, chatID int64, messageID int, text string, keyboard [][]Button) error {
	const method = "editMessageText"
	p := &bot.EditMessageTextParams{ChatID: chatID, MessageID: messageID, Text: text}
	if len(keyboard) > 0 {
		m, err := inlineKeyboard(keyboard).replyMarkup()
		if err != nil {
			return &APIError{Method: method, Message: err.Error()}
		}
		p.ReplyMarkup = m
	}
	err := c.call(ctx, method, func(ctx context.Context) error {
		_, err := c.b.EditMessageText(ctx, p)
		return err
	})
	if isNotModified(err) {
		return nil
	}
	return err
}

// AnswerCallbackQuery stops the button's spinner, showing text (may be
// empty) as a toast. See IsCallbackQueryExpired for late answers.
func (c *Client) AnswerCallbackQuery(ctx context.Context, callbackQueryID, text string) error {
	return c.call(ctx, "answerCallbackQuery", func(ctx context.Context) error {
		_, err := c.b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: callbackQueryID, Text: text})
		return err
	})
}

// SetWebhook points the bot at webhookURL. Telegram then sends
// secretToken in the X-Telegram-Bot-Api-Secret-Token header of every
// update; allowedUpdates limits the update kinds (e.g. "message",
// "callback_query"; nil keeps Telegram's previous setting).
func (c *Client) SetWebhook(ctx context.Context, webhookURL, secretToken string, allowedUpdates []string) error {
	return c.call(ctx, "setWebhook", func(ctx context.Context) error {
		_, err := c.b.SetWebhook(ctx, &bot.SetWebhookParams{URL: webhookURL, SecretToken: secretToken, AllowedUpdates: allowedUpdates})
		return err
	})
}

type recordKey struct{}

// call runs one library call with a callRecord in its context and
// classifies the error.
func (c *Client) call(ctx context.Context, method string, fn func(context.Context) error) error {
	rec := &callRecord{}
	err := fn(context.WithValue(ctx, recordKey{}, rec))
	if err == nil {
		return nil
	}
	return c.classify(method, err, rec)
}

// recordingClient is the library's HttpClient: it notes the HTTP status
// and, for error answers, the body, into the call's callRecord.
type recordingClient struct{ hc *http.Client }

func (r recordingClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.hc.Do(req)
	rec, _ := req.Context().Value(recordKey{}).(*callRecord)
	if err != nil || rec == nil {
		return resp, err
	}
	rec.status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		rec.body = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}
