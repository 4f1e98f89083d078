package telegram_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/hookflow/hookflow/internal/integrations/telegram"
)

// FuzzParseUpdate: ParseUpdate never panics, refuses with an *UpdateError
// naming a field, and what it accepts agrees with encoding/json read as the
// reference: one JSON object whose update_id is a non-negative integer equal
// to the parsed id (the dedup key).
func FuzzParseUpdate(f *testing.F) {
	for _, s := range []string{
		`{"update_id":1,"message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"text":"/start abc"}}`,
		`{"update_id":2,"callback_query":{"id":"q","from":{"id":42,"is_bot":false,"first_name":"A"},"data":"rate:153:5"}}`,
		`{"update_id":3,"message":{"message_id":6,"date":1,"chat":{"id":42,"type":"private"},"contact":{"phone_number":"+7 900","first_name":"A","user_id":42}}}`,
		`{"update_id":-1}`, `{"update_id":1e3}`, `{"update_id":"7"}`, `{"update_id":9223372036854775808}`, `[]`, ` {"update_id":4} `,
		`{"update_id":5,"message":"text"}`, `{"update_id":6,"update_id":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := telegram.ParseUpdate(body)
		if err != nil {
			var ue *telegram.UpdateError
			if !errors.As(err, &ue) || ue.Field == "" {
				t.Fatalf("error %v is not an *UpdateError naming a field", err)
			}
			return
		}
		var ref map[string]json.RawMessage
		if err := json.Unmarshal(bytes.TrimSpace(body), &ref); err != nil || ref == nil {
			t.Fatalf("accepted a body encoding/json does not read as an object: %v", err)
		}
		want, err := strconv.ParseInt(string(bytes.TrimSpace(ref["update_id"])), 10, 64)
		if err != nil {
			var n json.Number
			if json.Unmarshal(ref["update_id"], &n) != nil {
				t.Fatalf("accepted update_id %s", ref["update_id"])
			}
			want, _ = strconv.ParseInt(n.String(), 10, 64)
		}
		if u.ID < 0 || u.ID != want {
			t.Fatalf("update_id %d, reference %s", u.ID, ref["update_id"])
		}
		if telegram.DedupKey(u) != strconv.FormatInt(u.ID, 10) {
			t.Fatalf("dedup key %q for %d", telegram.DedupKey(u), u.ID)
		}
		_, _ = telegram.CallbackOf(u)
		_, _ = telegram.MessageOf(u)
		_, _ = telegram.ContactOf(u)
	})
}

// FuzzCheckSecretToken: the constant-time check agrees with plain equality,
// and an empty configured secret accepts nothing.
func FuzzCheckSecretToken(f *testing.F) {
	f.Add("abc", "abc")
	f.Add("", "")
	f.Add("abc", "abd")
	f.Add("a", "")
	f.Fuzz(func(t *testing.T, header, secret string) {
		if got, want := telegram.CheckSecretToken(header, secret), secret != "" && header == secret; got != want {
			t.Fatalf("CheckSecretToken(%q, %q) = %v, want %v", header, secret, got, want)
		}
	})
}

// FuzzParseStart: never panics; a payload it returns is 1-64 characters of
// A-Za-z0-9_- and comes from the text.
func FuzzParseStart(f *testing.F) {
	for _, s := range []string{"/start", "/start abc", "/start@bot abc_-1", "/startx", "/start " + string(make([]byte, 70)), "hello", " /start\tZ "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		payload, isStart, err := telegram.ParseStart(text)
		if !isStart && (payload != "" || err != nil) {
			t.Fatalf("%q: not a start but payload %q, err %v", text, payload, err)
		}
		if payload == "" {
			return
		}
		if len(payload) > telegram.MaxStartPayload || !bytes.Contains([]byte(text), []byte(payload)) {
			t.Fatalf("%q: payload %q", text, payload)
		}
		for _, c := range []byte(payload) {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				t.Fatalf("%q: payload %q has %q", text, payload, c)
			}
		}
	})
}
