package okdesk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/clienttest"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
)

// token contains characters that must be query-escaped and are easy to
// spot in error strings.
const token = "s3cr3t+tok/en=="

func newFake(t *testing.T) (*okdesktest.Server, *okdesk.Client) {
	t.Helper()
	fake := okdesktest.New(token)
	t.Cleanup(fake.Close)
	fake.AddContact(okdesktest.Contact{ID: 21, FirstName: "Иван", LastName: "Петров", Phone: "+7 (916) 123-45-67", CompanyID: 15})
	fake.AddIssue(okdesktest.Issue{ID: 153, Title: "Принтер не печатает", ContactID: 21, CompanyID: 15, AssigneeID: 7, AssigneeName: "Сидоров"})
	return fake, okdesk.New(fake.APIURL(), token, fake.Client())
}

func requireAPIError(t *testing.T, err error) *okdesk.APIError {
	t.Helper()
	require.Error(t, err)
	var ae *okdesk.APIError
	require.True(t, errors.As(err, &ae), "want *okdesk.APIError, got %T: %v", err, err)
	assert.NotContains(t, err.Error(), token, "token leaked into the error")
	assert.NotContains(t, err.Error(), "s3cr3t", "token leaked into the error")
	return ae
}

func TestGetIssue(t *testing.T) {
	fake, c := newFake(t)
	is, err := c.GetIssue(context.Background(), 153)
	require.NoError(t, err)
	assert.Equal(t, okdesk.Issue{
		ID: 153, Title: "Принтер не печатает", Status: okdesk.Status{Code: "opened", Name: "Открыта"},
		ContactID: 21, ContactName: "Иван Петров", CompanyID: 15, AssigneeID: 7, AssigneeName: "Сидоров",
	}, *is)

	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	assert.True(t, reqs[0].TokenOK, "api_token must be sent in the query")
	assert.Equal(t, "issues/153", reqs[0].Path)
}

func TestAPIURLTrailingSlashOptional(t *testing.T) {
	fake, _ := newFake(t)
	for _, u := range []string{fake.APIURL(), strings.TrimSuffix(fake.APIURL(), "/")} {
		c := okdesk.New(u, token, fake.Client())
		_, err := c.GetIssue(context.Background(), 153)
		assert.NoError(t, err, u)
	}
}

func TestAddComment(t *testing.T) {
	fake, c := newFake(t)
	id, err := c.AddComment(context.Background(), 153, okdesk.Comment{
		Content: "<p>Оценка: ⭐⭐⭐⭐⭐ (5)</p>", AuthorID: 21, AuthorType: okdesk.AuthorContact, Public: true,
	})
	require.NoError(t, err)
	assert.Positive(t, id)

	got := fake.CommentsFor(153)
	require.Len(t, got, 1)
	assert.Equal(t, id, got[0].ID)
	assert.Equal(t, "<p>Оценка: ⭐⭐⭐⭐⭐ (5)</p>", got[0].Content)
	assert.Equal(t, int64(21), got[0].AuthorID)
	assert.Equal(t, okdesk.AuthorContact, got[0].AuthorType)
	assert.True(t, got[0].Public)

	// The wire body is Okdesk's envelope.
	reqs := fake.Requests()
	var body map[string]map[string]any
	require.NoError(t, json.Unmarshal(reqs[len(reqs)-1].Body, &body))
	assert.Equal(t, map[string]any{
		"content": "<p>Оценка: ⭐⭐⭐⭐⭐ (5)</p>", "author_id": float64(21), "author_type": "contact", "public": true,
	}, body["comment"])
}

func TestAddCommentValidationError(t *testing.T) {
	fake, c := newFake(t)
	_, err := c.AddComment(context.Background(), 153, okdesk.Comment{Content: "x"})
	ae := requireAPIError(t, err)
	assert.Equal(t, http.StatusUnprocessableEntity, ae.Status)
	assert.False(t, ae.Retryable)
	assert.Equal(t, "author_id: не может быть пустым", ae.Message)
	assert.Empty(t, fake.Comments())
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryable  bool
		retryAfter time.Duration
		notFound   bool
		message    string
	}{
		{"429 retry after", http.StatusTooManyRequests, true, time.Second, false, "Превышен лимит запросов"},
		{"500", http.StatusInternalServerError, true, 0, false, "500 Internal Server Error"},
		{"502", http.StatusBadGateway, true, 0, false, ""},
		{"503", http.StatusServiceUnavailable, true, 0, false, ""},
		{"501 permanent", http.StatusNotImplemented, false, 0, false, ""},
		{"400", http.StatusBadRequest, false, 0, false, "injected failure"},
		{"403", http.StatusForbidden, false, 0, false, ""},
		{"404", http.StatusNotFound, false, 0, true, ""},
		{"422", http.StatusUnprocessableEntity, false, 0, false, "base: injected failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t)
			fake.FailNext("issues/153", 1, tt.status)
			_, err := c.GetIssue(context.Background(), 153)
			ae := requireAPIError(t, err)
			assert.Equal(t, tt.status, ae.Status)
			assert.Equal(t, okdesk.CodeHTTP, ae.Code)
			assert.Equal(t, tt.retryable, ae.Retryable)
			assert.Equal(t, tt.retryable, okdesk.IsRetryable(err))
			assert.Equal(t, tt.retryAfter, ae.RetryAfter)
			assert.Equal(t, tt.retryAfter, okdesk.RetryAfter(err))
			assert.Equal(t, tt.notFound, errors.Is(err, okdesk.ErrNotFound))
			if tt.message != "" {
				assert.Contains(t, ae.Message, tt.message)
			}
			// The failure is used up: the next call succeeds.
			_, err = c.GetIssue(context.Background(), 153)
			assert.NoError(t, err)
		})
	}
}

func TestNotFoundAndAuth(t *testing.T) {
	fake, c := newFake(t)
	_, err := c.GetIssue(context.Background(), 999)
	ae := requireAPIError(t, err)
	assert.True(t, errors.Is(err, okdesk.ErrNotFound))
	assert.False(t, ae.Retryable)
	assert.Equal(t, "Заявка не найдена", ae.Message)

	bad := okdesk.New(fake.APIURL(), "wrong", fake.Client())
	_, err = bad.GetIssue(context.Background(), 153)
	ae = requireAPIError(t, err)
	assert.Equal(t, http.StatusUnauthorized, ae.Status)
	assert.False(t, ae.Retryable)
}

func TestTransportErrors(t *testing.T) {
	fake, c := newFake(t)
	fake.Close()
	_, err := c.GetIssue(context.Background(), 153)
	ae := requireAPIError(t, err)
	assert.Equal(t, okdesk.CodeTransport, ae.Code)
	assert.True(t, ae.Retryable)
	assert.Contains(t, err.Error(), "issues/153", "the error should say which call failed")

	// A caller's cancellation is permanent; a deadline is retryable.
	fake2, c2 := newFake(t)
	_ = fake2
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c2.GetIssue(ctx, 153)
	ae = requireAPIError(t, err)
	assert.False(t, ae.Retryable)
	assert.True(t, errors.Is(err, context.Canceled))

	slow := clienttest.Hanging(t)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = okdesk.New(slow.URL+"/api/v1", token, slow.Client()).GetIssue(ctx, 153)
	ae = requireAPIError(t, err)
	assert.True(t, ae.Retryable)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
}

func TestInvalidConfiguration(t *testing.T) {
	tests := []struct{ name, url, token string }{
		{"relative url", "acme.okdesk.ru/api/v1", token},
		{"ftp", "ftp://acme.okdesk.ru/api/v1/", token},
		{"query", "https://acme.okdesk.ru/api/v1/?api_token=x", token},
		{"empty token", "https://acme.okdesk.ru/api/v1/", " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := okdesk.New(tt.url, tt.token, nil).GetIssue(context.Background(), 1)
			ae := requireAPIError(t, err)
			assert.Equal(t, okdesk.CodeInvalidRequest, ae.Code)
			assert.False(t, ae.Retryable)
		})
	}
	fake, c := newFake(t)
	_, err := c.GetIssue(context.Background(), 0)
	ae := requireAPIError(t, err)
	assert.Equal(t, okdesk.CodeInvalidRequest, ae.Code)
	assert.Equal(t, "GET issues/0", ae.Op)
	assert.Contains(t, ae.Message, "issue id must be positive, got 0")
	_, err = c.GetContact(context.Background(), -2)
	ae = requireAPIError(t, err)
	assert.Equal(t, okdesk.CodeInvalidRequest, ae.Code)
	assert.Equal(t, "GET contacts/-2", ae.Op)
	assert.Contains(t, ae.Message, "contact id must be positive, got -2")
	assert.Empty(t, fake.Requests(), "an invalid id reached the server")
}

// An issue or contact answered without its id is a retryable bad response.
func TestAnswerWithoutID(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"title":"x","first_name":"y"}`))
	}))
	defer srv.Close()
	c := okdesk.New(srv.URL+"/api/v1/", token, srv.Client())
	_, err := c.GetIssue(context.Background(), 5)
	ae := requireAPIError(t, err)
	assert.Equal(t, okdesk.CodeBadResponse, ae.Code)
	assert.Equal(t, "GET issues/5", ae.Op)
	assert.Equal(t, "issue without id", ae.Message)
	assert.True(t, ae.Retryable)
	_, err = c.GetContact(context.Background(), 6)
	ae = requireAPIError(t, err)
	assert.Equal(t, okdesk.CodeBadResponse, ae.Code)
	assert.Equal(t, "GET contacts/6", ae.Op)
	assert.Equal(t, "contact without id", ae.Message)
	assert.True(t, ae.Retryable)
}

func TestCreateIssue(t *testing.T) {
	fake, c := newFake(t)
	id, err := c.CreateIssue(context.Background(), okdesk.IssueInput{
		Title: "Новая заявка из Telegram", Description: "Не работает сканер", ContactID: 21, CompanyID: 15,
	})
	require.NoError(t, err)
	is, ok := fake.Issue(id)
	require.True(t, ok, "issue %d not stored", id)
	assert.Equal(t, "Новая заявка из Telegram", is.Title)
	assert.Equal(t, "Не работает сканер", is.Description)
	assert.Equal(t, int64(21), is.ContactID)
	assert.Equal(t, int64(15), is.CompanyID)

	_, err = c.CreateIssue(context.Background(), okdesk.IssueInput{Title: "x", ContactID: 404})
	ae := requireAPIError(t, err)
	assert.Equal(t, http.StatusUnprocessableEntity, ae.Status)
	assert.Contains(t, ae.Message, "contact_id")

	_, err = c.CreateIssue(context.Background(), okdesk.IssueInput{})
	assert.Equal(t, okdesk.CodeInvalidRequest, requireAPIError(t, err).Code)
}

func TestContacts(t *testing.T) {
	fake, c := newFake(t)
	ct, err := c.GetContact(context.Background(), 21)
	require.NoError(t, err)
	assert.Equal(t, okdesk.Contact{ID: 21, FirstName: "Иван", LastName: "Петров", Phone: "+7 (916) 123-45-67", CompanyID: 15}, *ct)
	assert.Equal(t, "Иван Петров", ct.Name())

	ct, err = c.FindContactByPhone(context.Background(), "+79161234567")
	require.NoError(t, err)
	assert.Equal(t, int64(21), ct.ID)
	last := fake.Requests()[len(fake.Requests())-1]
	assert.Equal(t, "contacts/", last.Path)
	assert.Equal(t, "+79161234567", last.Query.Get("phone"))

	_, err = c.FindContactByPhone(context.Background(), "+70000000000")
	assert.True(t, errors.Is(err, okdesk.ErrNotFound), "got %v", err)
	_, err = c.GetContact(context.Background(), 77)
	assert.True(t, errors.Is(err, okdesk.ErrNotFound), "got %v", err)
}

// FindContactByPhone tolerates the other "nothing found" and list shapes.
func TestFindContactByPhoneShapes(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		wantID int64
	}{
		{"empty object", `{}`, 0},
		{"null", `null`, 0},
		{"empty list", `[]`, 0},
		{"list", `[{"id":"5","first_name":"A"}]`, 5},
		{"string ids", `{"id":"9","company_id":"3"}`, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			ct, err := okdesk.New(srv.URL+"/api/v1/", token, srv.Client()).FindContactByPhone(context.Background(), "1")
			if tt.wantID == 0 {
				assert.ErrorIs(t, err, okdesk.ErrNotFound)
				assert.Nil(t, ct)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantID, ct.ID)
		})
	}
}

func TestBadResponseBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<html>maintenance</html>`))
	}))
	defer srv.Close()
	c := okdesk.New(srv.URL+"/api/v1/", token, srv.Client())
	_, err := c.GetIssue(context.Background(), 1)
	ae := requireAPIError(t, err)
	assert.Equal(t, okdesk.CodeBadResponse, ae.Code)
	assert.True(t, ae.Retryable, "a garbled answer to a read is retryable")

	_, err = c.AddComment(context.Background(), 1, okdesk.Comment{Content: "x", AuthorID: 1})
	ae = requireAPIError(t, err)
	assert.Equal(t, okdesk.CodeBadResponse, ae.Code)
	assert.False(t, ae.Retryable, "a garbled answer to a write is permanent: it may have happened")
}
