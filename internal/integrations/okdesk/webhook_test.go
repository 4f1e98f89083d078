package okdesk_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
)

// seedPayload is the example of the seed document, verbatim.
const seedPayload = `{
  "event": {
    "event_type": "issue.status_changed"
  },
  "issue": {
    "id": 1380,
    "title": "Название заявки",
    "status": {
      "code": "resolved",
      "name": "Решена"
    },
    "old_status": {
      "code": "opened", 
      "name": "Открыта"
    },
    "client": {
      "contact": {
        "id": 95
      },
      "company": {
        "id": 147
      }
    }
  }
}`

// vendorPayload is Okdesk's own format from the wire-formats reference.
const vendorPayload = `{"event":{"event_type":"new_ticket_status",
  "author":{"id":"1","type":"employee"},
  "old_status":{"code":"opened","name":"Открыта"},"new_status":{"code":"completed","name":"Решена"}},
 "issue":{"id":"153","title":"...","status":{"code":"completed","name":"Решена"},
  "client":{"company":{"id":"15"},"contact":{"id":"21","first_name":"Иван"}}}}`

func TestParseWebhook(t *testing.T) {
	tests := []struct {
		name string
		body string
		want okdesk.Webhook
		key  string
	}{
		{
			name: "seed format",
			body: seedPayload,
			want: okdesk.Webhook{
				EventType: "issue.status_changed", Kind: okdesk.KindStatusChanged, IssueID: 1380,
				Title:     "Название заявки",
				NewStatus: okdesk.Status{Code: "resolved", Name: "Решена"},
				OldStatus: okdesk.Status{Code: "opened", Name: "Открыта"},
				ContactID: 95, CompanyID: 147,
			},
			key: "1380:status_changed:resolved",
		},
		{
			name: "vendor format",
			body: vendorPayload,
			want: okdesk.Webhook{
				EventType: "new_ticket_status", Kind: okdesk.KindStatusChanged, IssueID: 153, Title: "...",
				NewStatus: okdesk.Status{Code: "completed", Name: "Решена"},
				OldStatus: okdesk.Status{Code: "opened", Name: "Открыта"},
				ContactID: 21, ContactName: "Иван", CompanyID: 15,
				Author: okdesk.Author{ID: 1, Type: "employee"},
			},
			key: "153:status_changed:completed",
		},
		{
			name: "vendor event status wins over issue status, assignee and event time",
			body: `{"event":{"event_type":"new_ticket_status","created_at":"2024-01-15T10:00:00+03:00",
				"new_status":{"code":"closed"},"old_status":"completed"},
				"issue":{"id":"7","status":{"code":"completed"},"assignee":{"id":"3","name":"Сидоров"},
				"client":{"contact":null,"company":{"id":""}}}}`,
			want: okdesk.Webhook{
				EventType: "new_ticket_status", Kind: okdesk.KindStatusChanged, IssueID: 7,
				NewStatus: okdesk.Status{Code: "closed"}, OldStatus: okdesk.Status{Code: "completed"},
				AssigneeID: 3, OccurredAt: "2024-01-15T10:00:00+03:00",
			},
			key: "7:status_changed:closed:at=2024-01-15T10:00:00+03:00",
		},
		{
			name: "event id is preferred over time",
			body: `{"event":{"event_type":"issue.status_changed","id":99812,"timestamp":1705320000},
				"issue":{"id":5,"status":{"code":"done"},"updated_at":"x"}}`,
			want: okdesk.Webhook{
				EventType: "issue.status_changed", Kind: okdesk.KindStatusChanged, IssueID: 5,
				NewStatus: okdesk.Status{Code: "done"}, EventID: "99812", OccurredAt: "1705320000",
			},
			key: "5:status_changed:done:id=99812",
		},
		{
			name: "issue.updated with a status change is a status change",
			body: `{"event":{"event_type":"issue.updated"},"issue":{"id":9,"status":{"code":"solved"},
				"old_status":{"code":"in_progress"},"contact":{"id":4,"name":"Пётр"},"company_id":2}}`,
			want: okdesk.Webhook{
				EventType: "issue.updated", Kind: okdesk.KindStatusChanged, IssueID: 9,
				NewStatus: okdesk.Status{Code: "solved"}, OldStatus: okdesk.Status{Code: "in_progress"},
				ContactID: 4, ContactName: "Пётр", CompanyID: 2,
			},
			key: "9:status_changed:solved",
		},
		{
			name: "issue.updated without a status change is other",
			body: `{"event":{"event_type":"issue.updated"},"issue":{"id":9,"status":{"code":"solved"},"old_status":{"code":"solved"}}}`,
			want: okdesk.Webhook{
				EventType: "issue.updated", Kind: okdesk.KindOther, IssueID: 9,
				NewStatus: okdesk.Status{Code: "solved"}, OldStatus: okdesk.Status{Code: "solved"},
			},
			key: "9:issue.updated:solved",
		},
		{
			name: "other event type",
			body: `{"event":{"event_type":"new_comment","author":{"id":"21","type":"contact"}},"issue":{"id":"153"}}`,
			want: okdesk.Webhook{
				EventType: "new_comment", Kind: okdesk.KindOther, IssueID: 153,
				Author: okdesk.Author{ID: 21, Type: "contact"},
			},
			key: "153:new_comment:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := okdesk.ParseWebhook([]byte(tt.body))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.key, got.DedupKey())
		})
	}
}

func TestParseWebhookErrors(t *testing.T) {
	tests := []struct {
		name, body, field, reason string
	}{
		{"not json", `{"event":`, "body", "invalid JSON"},
		{"array", `[]`, "body", "must be a JSON object"},
		{"empty", ``, "body", "required"},
		{"no event", `{"issue":{"id":1}}`, "event", "required"},
		{"event not object", `{"event":"x","issue":{"id":1}}`, "event", "must be a JSON object"},
		{"no issue", `{"event":{"event_type":"new_comment"}}`, "issue", "required"},
		{"no event type", `{"event":{},"issue":{"id":1}}`, "event.event_type", "required"},
		{"event type number", `{"event":{"event_type":5},"issue":{"id":1}}`, "event.event_type", "must be a string"},
		{"no issue id", `{"event":{"event_type":"x"},"issue":{}}`, "issue.id", "required"},
		{"issue id text", `{"event":{"event_type":"x"},"issue":{"id":"abc"}}`, "issue.id", "must be an integer or a numeric string"},
		{"issue id fraction", `{"event":{"event_type":"x"},"issue":{"id":1.5}}`, "issue.id", "must be an integer or a numeric string"},
		{"issue id exponent", `{"event":{"event_type":"x"},"issue":{"id":1e3}}`, "issue.id", "must be an integer or a numeric string"},
		{"issue id bool", `{"event":{"event_type":"x"},"issue":{"id":true}}`, "issue.id", "must be an integer or a numeric string"},
		{"issue id zero", `{"event":{"event_type":"x"},"issue":{"id":0}}`, "issue.id", "must be positive"},
		{"issue id negative", `{"event":{"event_type":"x"},"issue":{"id":"-4"}}`, "issue.id", "must be positive"},
		{"issue id overflow", `{"event":{"event_type":"x"},"issue":{"id":99999999999999999999}}`, "issue.id", "out of range"},
		{"title number", `{"event":{"event_type":"x"},"issue":{"id":1,"title":5}}`, "issue.title", "must be a string"},
		{"client not object", `{"event":{"event_type":"x"},"issue":{"id":1,"client":[]}}`, "issue.client", "must be a JSON object"},
		{"contact id bad", `{"event":{"event_type":"x"},"issue":{"id":1,"client":{"contact":{"id":"x1"}}}}`, "issue.client.contact.id", "must be an integer or a numeric string"},
		{"company id bad", `{"event":{"event_type":"x"},"issue":{"id":1,"company_id":{}}}`, "issue.company_id", "must be an integer or a numeric string"},
		{"status code number", `{"event":{"event_type":"x"},"issue":{"id":1,"status":{"code":3}}}`, "issue.status.code", "must be a string"},
		{"status array", `{"event":{"event_type":"x"},"issue":{"id":1,"status":[1]}}`, "issue.status", "must be an object or a string"},
		{"seed change without status", `{"event":{"event_type":"issue.status_changed"},"issue":{"id":1}}`, "issue.status", "required for a status change"},
		{"vendor change without status", `{"event":{"event_type":"new_ticket_status"},"issue":{"id":"1"}}`, "event.new_status", "required for a status change"},
		{"vendor change name only", `{"event":{"event_type":"new_ticket_status","new_status":{"name":"Решена"}},"issue":{"id":"1"}}`, "event.new_status.code", "required for a status change"},
		{"author id bad", `{"event":{"event_type":"x","author":{"id":"me"}},"issue":{"id":1}}`, "event.author.id", "must be an integer or a numeric string"},
		{"event id object", `{"event":{"event_type":"x","id":{}},"issue":{"id":1}}`, "event.id", "must be a string or a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := okdesk.ParseWebhook([]byte(tt.body))
			require.Error(t, err)
			var fe *okdesk.FieldError
			require.True(t, errors.As(err, &fe), "want *FieldError, got %T: %v", err, err)
			assert.Equal(t, tt.field, fe.Field)
			assert.Contains(t, fe.Reason, tt.reason)
			assert.True(t, strings.HasPrefix(err.Error(), tt.field+": "), err.Error())
		})
	}
}

func TestDedupKeyIsBounded(t *testing.T) {
	w := okdesk.Webhook{IssueID: 1, Kind: okdesk.KindOther, EventType: strings.Repeat("я", 300), NewStatus: okdesk.Status{Code: "x"}}
	k := w.DedupKey()
	assert.LessOrEqual(t, len(k), 160)
	assert.True(t, utf8.ValidString(k))
	w2 := w
	w2.NewStatus.Code = "y"
	assert.NotEqual(t, k, w2.DedupKey(), "keys that differ only past the cut must still differ")
}

// The fake's payloads (both formats) must parse to the issue they came
// from: this pins the fake and the parser to the same contract.
func TestFakePayloadsParse(t *testing.T) {
	for _, f := range []okdesktest.Format{okdesktest.FormatSeed, okdesktest.FormatVendor} {
		t.Run(f.String(), func(t *testing.T) {
			fake := okdesktest.New("tok")
			defer fake.Close()
			fake.AddContact(okdesktest.Contact{ID: 21, FirstName: "Иван", LastName: "Петров"})
			fake.AddIssue(okdesktest.Issue{ID: 153, Title: "Т", ContactID: 21, CompanyID: 15, AssigneeID: 3})

			var got okdesk.Webhook
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
				assert.Equal(t, "s", r.URL.Query().Get("token"))
				assert.Equal(t, "v", r.Header.Get("X-Extra"))
				var err error
				got, err = okdesk.ParseWebhook(body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
				}
			}))
			defer recv.Close()

			resp, err := fake.SendStatusChange(context.Background(), recv.URL+"?token=s", f, 153,
				okdesk.Status{Code: "completed", Name: "Решена"}, okdesktest.WithHeader("X-Extra", "v"),
				okdesktest.WithAuthor(7, okdesk.AuthorEmployee))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))

			assert.Equal(t, okdesk.KindStatusChanged, got.Kind)
			assert.Equal(t, int64(153), got.IssueID)
			assert.Equal(t, "Т", got.Title)
			assert.Equal(t, okdesk.Status{Code: "completed", Name: "Решена"}, got.NewStatus)
			assert.Equal(t, okdesk.Status{Code: "opened", Name: "Открыта"}, got.OldStatus)
			assert.Equal(t, int64(21), got.ContactID)
			assert.Equal(t, int64(15), got.CompanyID)
			if f == okdesktest.FormatVendor {
				assert.Equal(t, "new_ticket_status", got.EventType)
				assert.Equal(t, "Иван Петров", got.ContactName)
				assert.Equal(t, int64(3), got.AssigneeID)
				assert.Equal(t, okdesk.Author{ID: 7, Type: "employee"}, got.Author)
			} else {
				assert.Equal(t, "issue.status_changed", got.EventType)
			}
			is, _ := fake.Issue(153)
			assert.Equal(t, "completed", is.Status.Code, "the fake moved the issue")
		})
	}
}

func FuzzParseWebhook(f *testing.F) {
	f.Add([]byte(seedPayload))
	f.Add([]byte(vendorPayload))
	for _, fm := range []okdesktest.Format{okdesktest.FormatSeed, okdesktest.FormatVendor} {
		b, err := okdesktest.StatusChangePayload(fm, okdesktest.Snapshot{
			Issue: okdesktest.Issue{ID: 42, Title: "t", ContactID: 1, CompanyID: 2, AssigneeID: 3},
			Old:   okdesk.Status{Code: "opened"}, New: okdesk.Status{Code: "closed", Name: "Закрыта"},
		})
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"event":{"event_type":"issue.updated","id":"e1"},"issue":{"id":"9","status":"done","old_status":"opened"}}`))
	f.Add([]byte(`{"event":{"event_type":"x"},"issue":{"id":-1}}`))
	f.Add([]byte(`{"event":null,"issue":{"id":1}}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := okdesk.ParseWebhook(body)
		if err != nil {
			var fe *okdesk.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error is not a *FieldError naming a field: %T %v", err, err)
			}
			return
		}
		if w.IssueID <= 0 {
			t.Fatalf("accepted issue id %d", w.IssueID)
		}
		if w.Kind != okdesk.KindStatusChanged && w.Kind != okdesk.KindOther {
			t.Fatalf("kind %q", w.Kind)
		}
		if w.Kind == okdesk.KindStatusChanged && w.NewStatus.Code == "" {
			t.Fatal("status change without a new status code")
		}
		if w.ContactID < 0 || w.CompanyID < 0 || w.AssigneeID < 0 || w.Author.ID < 0 {
			t.Fatalf("negative id: %+v", w)
		}
		key := w.DedupKey()
		if key == "" || len(key) > 160 {
			t.Fatalf("dedup key %q", key)
		}
		again, err := okdesk.ParseWebhook(body)
		if err != nil || again.DedupKey() != key {
			t.Fatalf("parse is not deterministic: %v %q vs %q", err, again.DedupKey(), key)
		}
		// Re-encoding a status change in either format keeps its identity.
		if w.Kind != okdesk.KindStatusChanged {
			return
		}
		for _, fm := range []okdesktest.Format{okdesktest.FormatSeed, okdesktest.FormatVendor} {
			b, err := okdesktest.StatusChangePayload(fm, okdesktest.Snapshot{
				Issue: okdesktest.Issue{ID: w.IssueID, Title: w.Title, ContactID: w.ContactID, CompanyID: w.CompanyID},
				Old:   w.OldStatus, New: w.NewStatus,
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := okdesk.ParseWebhook(b)
			if err != nil {
				t.Fatalf("%s re-encoding does not parse: %v\n%s", fm, err, b)
			}
			if r.IssueID != w.IssueID || r.NewStatus != w.NewStatus || r.ContactID != w.ContactID ||
				r.CompanyID != w.CompanyID || r.Title != w.Title || r.Kind != okdesk.KindStatusChanged {
				t.Fatalf("%s round trip changed the event:\n in  %+v\n out %+v", fm, w, r)
			}
		}
	})
}
