// Package telegramtest is a fake Telegram Bot API server for tests, built on
// httptest. It serves POST (or GET) /bot<TOKEN>/<method> with parameters as
// JSON, application/x-www-form-urlencoded or multipart/form-data (objects
// such as reply_markup as JSON strings in the last two, the way
// github.com/go-telegram/bot sends them) and answers {"ok":true,"result":..}
// with realistic Message objects, or {"ok":false,"error_code":..,
// "description":..} with the Bot API's own error texts.
//
// Methods: getMe, sendMessage, editMessageText, answerCallbackQuery,
// setWebhook, deleteWebhook, getWebhookInfo. Every call is recorded with its
// decoded parameters; failures can be injected per method; chats can be
// blocked. The package also delivers updates to a bot's webhook
// (PushUpdate, Server.Deliver) and builds them (CallbackUpdate,
// MessageUpdate, ContactUpdate). It is safe for concurrent use.
package telegramtest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/samples"
)

// Call is one Bot API call the fake received.
type Call struct {
	Method string // as sent, e.g. "sendMessage"
	// Encoding is "json", "form", "multipart" or "query".
	Encoding string
	// Params holds every parameter as text: strings unquoted, numbers and
	// booleans as written, objects and arrays as JSON text.
	Params map[string]string
	// Status is the HTTP status the fake answered.
	Status int
}

// String returns a parameter ("" when absent).
func (c Call) String(key string) string { return c.Params[key] }

// Int64 returns an integer parameter.
func (c Call) Int64(key string) (int64, error) {
	v, ok := c.Params[key]
	if !ok {
		return 0, fmt.Errorf("%s %s: absent", c.Method, key)
	}
	return strconv.ParseInt(v, 10, 64)
}

// JSON decodes a JSON-valued parameter (reply_markup, allowed_updates).
func (c Call) JSON(key string, v any) error {
	s, ok := c.Params[key]
	if !ok {
		return fmt.Errorf("%s %s: absent", c.Method, key)
	}
	return json.Unmarshal([]byte(s), v)
}

// InlineButton is an inline keyboard button as received.
type InlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// ReplyMarkup is reply_markup as received (any of its kinds).
type ReplyMarkup struct {
	InlineKeyboard [][]InlineButton `json:"inline_keyboard,omitempty"`
	Keyboard       [][]struct {
		Text           string `json:"text"`
		RequestContact bool   `json:"request_contact,omitempty"`
	} `json:"keyboard,omitempty"`
	OneTimeKeyboard bool `json:"one_time_keyboard,omitempty"`
	ResizeKeyboard  bool `json:"resize_keyboard,omitempty"`
	RemoveKeyboard  bool `json:"remove_keyboard,omitempty"`
}

// ReplyMarkup decodes the call's reply_markup (nil when absent).
func (c Call) ReplyMarkup() (*ReplyMarkup, error) {
	if _, ok := c.Params["reply_markup"]; !ok {
		return nil, nil
	}
	var m ReplyMarkup
	if err := c.JSON("reply_markup", &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Message is a message the bot sent, as it currently stands.
type Message struct {
	ChatID      int64
	ID          int
	Text        string
	ReplyMarkup json.RawMessage // nil when none
	Edited      bool
}

// Failure is an injected answer. A zero Description uses the Bot API's
// text for Status; RetryAfter adds parameters.retry_after; RawBody, when
// set, is sent instead of the JSON envelope (e.g. a proxy's HTML 502).
type Failure struct {
	Status      int
	Description string
	RetryAfter  int
	RawBody     string
}

// BlockedDescription is the Bot API's text for a user who blocked the bot.
const BlockedDescription = "Forbidden: bot was blocked by the user"

// WebhookInfo is what setWebhook stored.
type WebhookInfo struct {
	URL            string
	SecretToken    string
	AllowedUpdates []string
}

type chat struct {
	nextID   int
	messages map[int]*Message
	order    []int
}

type injected struct {
	method    string // lower case
	remaining int
	f         Failure
}

// Server is the fake Bot API. Create it with New and Close it when done.
type Server struct {
	srv   *httptest.Server
	token string
	botID int64

	mu       sync.Mutex
	calls    []Call
	failures []*injected
	chats    map[int64]*chat
	blocked  map[int64]bool
	webhook  WebhookInfo
	now      func() time.Time
	// lastUpdate is the last update_id NextUpdateID handed out.
	lastUpdate int64
}

// New starts a fake Bot API for the bot with token ("123456:ABC..."; the
// number before the colon is the bot's user id).
func New(token string) *Server {
	s := &Server{token: token, chats: map[int64]*chat{}, blocked: map[int64]bool{}, now: time.Now, botID: 1}
	if id, err := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64); err == nil && id > 0 {
		s.botID = id
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server root, for bot.WithServerURL / telegram.New.
func (s *Server) URL() string { return s.srv.URL }

// Client is an HTTP client for the fake.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the fake down.
func (s *Server) Close() { s.srv.Close() }

// BotID is the bot's user id (from the token).
func (s *Server) BotID() int64 { return s.botID }

// Calls returns every call received, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls of one method (case-insensitive).
func (s *Server) CallsTo(method string) []Call {
	return slices.DeleteFunc(s.Calls(), func(c Call) bool { return !strings.EqualFold(c.Method, method) })
}

// Messages returns the messages the bot sent to chatID, oldest first, as
// they stand after edits.
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chats[chatID]
	if c == nil {
		return nil
	}
	out := make([]Message, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, *c.messages[id])
	}
	return out
}

// Webhook returns what the last setWebhook stored.
func (s *Server) Webhook() WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.webhook
	w.AllowedUpdates = append([]string(nil), w.AllowedUpdates...)
	return w
}

// BlockChat makes every later send to chatID fail like a user who blocked
// the bot (403); UnblockChat undoes it.
func (s *Server) BlockChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[chatID] = true
}

// UnblockChat undoes BlockChat.
func (s *Server) UnblockChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, chatID)
}

// FailNext makes the next n calls of method answer f. Injected failures
// are used up in the order they were added.
func (s *Server) FailNext(method string, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &injected{method: strings.ToLower(method), remaining: n, f: f})
}

// FailNextTooManyRequests makes the next call of method answer 429 with
// parameters.retry_after = retryAfter seconds.
func (s *Server) FailNextTooManyRequests(method string, retryAfter int) {
	s.FailNext(method, 1, Failure{Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// FailNextBlocked makes the next call of method answer 403 "Forbidden: bot
// was blocked by the user".
func (s *Server) FailNextBlocked(method string) {
	s.FailNext(method, 1, Failure{Status: http.StatusForbidden, Description: BlockedDescription})
}

func defaultDescription(status int, retryAfter int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Too Many Requests: retry after " + strconv.Itoa(retryAfter)
	case http.StatusForbidden:
		return BlockedDescription
	case http.StatusBadRequest:
		return "Bad Request: injected failure"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusNotFound:
		return "Not Found"
	case http.StatusConflict:
		return "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	}
	return http.StatusText(status)
}

// reply is an answer being built.
type reply struct {
	status int
	body   []byte
	ctype  string
}

func okReply(result any) reply {
	b, _ := json.Marshal(map[string]any{"ok": true, "result": result})
	return reply{status: http.StatusOK, body: b}
}

func errReply(status int, description string, retryAfter int) reply {
	env := map[string]any{"ok": false, "error_code": status, "description": description}
	if retryAfter > 0 {
		env["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	b, _ := json.Marshal(env)
	return reply{status: status, body: b}
}

func badRequest(description string) reply {
	return errReply(http.StatusBadRequest, "Bad Request: "+description, 0)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	call := Call{Params: map[string]string{}}
	var rep reply
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	call.Method = method
	switch {
	case !ok || !ok2 || method == "" || strings.Contains(method, "/"):
		rep = errReply(http.StatusNotFound, "Not Found", 0)
	case token != s.token:
		rep = errReply(http.StatusUnauthorized, "Unauthorized", 0)
	case r.Method != http.MethodPost && r.Method != http.MethodGet:
		rep = errReply(http.StatusMethodNotAllowed, "Method Not Allowed", 0)
	default:
		enc, params, err := decodeParams(r)
		call.Encoding, call.Params = enc, params
		if err != nil {
			rep = badRequest(err.Error())
			break
		}
		s.mu.Lock()
		rep = s.dispatch(strings.ToLower(method), params)
		s.mu.Unlock()
	}
	call.Status = rep.status
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()

	if rep.ctype == "" {
		rep.ctype = "application/json"
	}
	w.Header().Set("Content-Type", rep.ctype)
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// decodeParams reads the parameters in any of the encodings the Bot API
// accepts, plus the query string.
func decodeParams(r *http.Request) (string, map[string]string, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	enc := "query"
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "application/json":
		enc = "json"
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return enc, params, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return enc, params, fmt.Errorf("can't parse JSON object")
		}
		for k, raw := range m {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				params[k] = s
			} else {
				params[k] = strings.TrimSpace(string(raw))
			}
		}
	case "application/x-www-form-urlencoded":
		enc = "form"
		if err := r.ParseForm(); err != nil {
			return enc, params, err
		}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
	case "multipart/form-data":
		enc = "multipart"
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return enc, params, err
		}
		for k, v := range r.MultipartForm.Value {
			params[k] = v[0]
		}
	}
	return enc, params, nil
}

// dispatch answers one call; s.mu is held.
func (s *Server) dispatch(method string, p map[string]string) reply {
	for _, f := range s.failures {
		if f.remaining > 0 && f.method == method {
			f.remaining--
			return failureReply(f.f)
		}
	}
	switch method {
	case "getme":
		return okReply(s.botUser())
	case "sendmessage":
		return s.sendMessage(p)
	case "editmessagetext":
		return s.editMessageText(p)
	case "answercallbackquery":
		return s.answerCallbackQuery(p)
	case "setwebhook":
		return s.setWebhook(p)
	case "deletewebhook":
		s.webhook = WebhookInfo{}
		return okReply(true)
	case "getwebhookinfo":
		allowed := s.webhook.AllowedUpdates
		if allowed == nil {
			allowed = []string{}
		}
		return okReply(map[string]any{
			"url": s.webhook.URL, "has_custom_certificate": false, "pending_update_count": 0,
			"allowed_updates": allowed,
		})
	}
	return errReply(http.StatusNotFound, "Not Found", 0)
}

func failureReply(f Failure) reply {
	if f.RawBody != "" {
		return reply{status: f.Status, body: []byte(f.RawBody), ctype: "text/html"}
	}
	d := f.Description
	if d == "" {
		d = defaultDescription(f.Status, f.RetryAfter)
	}
	return errReply(f.Status, d, f.RetryAfter)
}

func (s *Server) botUser() map[string]any {
	return map[string]any{
		"id": s.botID, "is_bot": true, "first_name": "Hookflow Test Bot", "username": "hookflow_test_bot",
		"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
	}
}

// chatID reads chat_id: an integer (a "@username" is not a chat the fake
// knows).
func chatID(p map[string]string) (int64, *reply) {
	v, ok := p["chat_id"]
	if !ok || v == "" {
		r := badRequest("chat_id is empty")
		return 0, &r
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id == 0 {
		r := badRequest("chat not found")
		return 0, &r
	}
	return id, nil
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// checkMarkup validates reply_markup and returns it normalised (nil when
// absent).
func checkMarkup(p map[string]string) (json.RawMessage, *reply) {
	v, ok := p["reply_markup"]
	if !ok || v == "" {
		return nil, nil
	}
	fail := func(d string) (json.RawMessage, *reply) { r := badRequest(d); return nil, &r }
	var m struct {
		InlineKeyboard *[][]map[string]json.RawMessage `json:"inline_keyboard"`
		Keyboard       *[][]json.RawMessage            `json:"keyboard"`
		RemoveKeyboard *bool                           `json:"remove_keyboard"`
	}
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return fail("can't parse reply keyboard markup JSON object")
	}
	switch {
	case m.InlineKeyboard != nil:
		for _, row := range *m.InlineKeyboard {
			for _, b := range row {
				var text string
				if json.Unmarshal(b["text"], &text) != nil || text == "" {
					return fail("can't parse inline keyboard button: Text must be non-empty")
				}
				actions := 0
				for k, raw := range b {
					if k == "text" {
						continue
					}
					var str string
					if json.Unmarshal(raw, &str) == nil && str == "" {
						continue // empty optional strings are ignored
					}
					actions++
					if k == "callback_data" && (len(str) < 1 || len(str) > 64) {
						return fail("BUTTON_DATA_INVALID")
					}
				}
				if actions == 0 {
					return fail("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
				}
			}
		}
	case m.Keyboard != nil:
		for _, row := range *m.Keyboard {
			for _, b := range row {
				var btn struct {
					Text string `json:"text"`
				}
				var str string
				if json.Unmarshal(b, &str) == nil {
					btn.Text = str
				} else if json.Unmarshal(b, &btn) != nil {
					return fail("can't parse keyboard button")
				}
				if btn.Text == "" {
					return fail("can't parse keyboard button: Text must be non-empty")
				}
			}
		}
	case m.RemoveKeyboard != nil:
	default:
		return fail("can't parse reply keyboard markup JSON object")
	}
	var norm any
	_ = json.Unmarshal([]byte(v), &norm)
	b, _ := json.Marshal(norm)
	return b, nil
}

func (s *Server) messageJSON(m *Message, date int64) map[string]any {
	out := map[string]any{
		"message_id": m.ID,
		"from":       s.botUser(),
		"chat":       map[string]any{"id": m.ChatID, "first_name": "Test", "username": "test_user", "type": chatType(m.ChatID)},
		"date":       date,
		"text":       m.Text,
	}
	if m.Edited {
		out["edit_date"] = date
	}
	// Telegram echoes only inline keyboards in the Message.
	if len(m.ReplyMarkup) > 0 {
		var rm map[string]json.RawMessage
		if json.Unmarshal(m.ReplyMarkup, &rm) == nil && rm["inline_keyboard"] != nil {
			out["reply_markup"] = m.ReplyMarkup
		}
	}
	return out
}

func chatType(id int64) string { return samples.TelegramChatType(id) }

// checkMessage checks the text and reply_markup of a message the bot
// sends or edits in chat id, and that the chat has not blocked the bot;
// tooLong is Telegram's description of a text over 4096 characters.
func (s *Server) checkMessage(p map[string]string, id int64, tooLong string) (string, json.RawMessage, *reply) {
	fail := func(r reply) (string, json.RawMessage, *reply) { return "", nil, &r }
	text := p["text"]
	if strings.TrimSpace(text) == "" {
		return fail(badRequest("message text is empty"))
	}
	if utf16Len(text) > 4096 {
		return fail(badRequest(tooLong))
	}
	markup, bad := checkMarkup(p)
	if bad != nil {
		return "", nil, bad
	}
	if s.blocked[id] {
		return fail(errReply(http.StatusForbidden, BlockedDescription, 0))
	}
	return text, markup, nil
}

func (s *Server) sendMessage(p map[string]string) reply {
	id, bad := chatID(p)
	if bad != nil {
		return *bad
	}
	text, markup, bad := s.checkMessage(p, id, "message is too long")
	if bad != nil {
		return *bad
	}
	c := s.chats[id]
	if c == nil {
		c = &chat{nextID: 1, messages: map[int]*Message{}}
		s.chats[id] = c
	}
	m := &Message{ChatID: id, ID: c.nextID, Text: text, ReplyMarkup: markup}
	c.nextID++
	c.messages[m.ID] = m
	c.order = append(c.order, m.ID)
	return okReply(s.messageJSON(m, s.now().Unix()))
}

func (s *Server) editMessageText(p map[string]string) reply {
	if p["inline_message_id"] != "" {
		return badRequest("MESSAGE_ID_INVALID")
	}
	id, bad := chatID(p)
	if bad != nil {
		return *bad
	}
	msgID, err := strconv.Atoi(p["message_id"])
	if err != nil || msgID <= 0 {
		return badRequest("message identifier is not specified")
	}
	text, markup, bad := s.checkMessage(p, id, "MESSAGE_TOO_LONG")
	if bad != nil {
		return *bad
	}
	var m *Message
	if c := s.chats[id]; c != nil {
		m = c.messages[msgID]
	}
	if m == nil {
		return badRequest("message to edit not found")
	}
	if m.Text == text && string(m.ReplyMarkup) == string(markup) {
		return badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text, m.ReplyMarkup, m.Edited = text, markup, true
	return okReply(s.messageJSON(m, s.now().Unix()))
}

func (s *Server) answerCallbackQuery(p map[string]string) reply {
	if p["callback_query_id"] == "" {
		return badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	if utf16Len(p["text"]) > 200 {
		return badRequest("MESSAGE_TOO_LONG")
	}
	return okReply(true)
}

func (s *Server) setWebhook(p map[string]string) reply {
	raw := p["url"]
	if raw == "" { // an empty url removes the webhook
		s.webhook = WebhookInfo{}
		return okReply(true)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return badRequest("bad webhook: invalid webhook URL specified")
	}
	// Telegram requires HTTPS; the fake also accepts http to loopback so
	// tests can point it at an httptest server.
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	secret, hasSecret := p["secret_token"]
	if hasSecret && !telegram.ValidSecretToken(secret) {
		return badRequest("secret token contains unallowed characters")
	}
	info := WebhookInfo{URL: raw, SecretToken: secret, AllowedUpdates: s.webhook.AllowedUpdates}
	if v, ok := p["allowed_updates"]; ok {
		var allowed []string
		if err := json.Unmarshal([]byte(v), &allowed); err != nil {
			return badRequest("can't parse allowed updates")
		}
		info.AllowedUpdates = allowed
	}
	s.webhook = info
	return okReply(true)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
