package okdesktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
)

func post(t *testing.T, url, contentType, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, contentType, strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// The fake validates comment bodies the way Okdesk does.
func TestCommentValidation(t *testing.T) {
	fake := okdesktest.New("tok")
	defer fake.Close()
	fake.AddIssue(okdesktest.Issue{ID: 1})
	fake.AddContact(okdesktest.Contact{ID: 5})
	url := fake.APIURL() + "issues/1/comments?api_token=tok"

	tests := []struct {
		name, contentType, body string
		status                  int
		errors                  any
	}{
		{"ok employee", "application/json", `{"comment":{"content":"x","author_id":9,"public":true}}`, 200, nil},
		{"ok contact string id", "application/json", `{"comment":{"content":"x","author_id":"5","author_type":"contact"}}`, 200, nil},
		{"no envelope", "application/json", `{"content":"x","author_id":9}`, 400, "param is missing or the value is empty: comment"},
		{"not json", "application/json", `{`, 400, nil},
		{"form body", "application/x-www-form-urlencoded", `comment[content]=x`, 400, nil},
		{"no author", "application/json", `{"comment":{"content":"x"}}`, 422, map[string]any{"author_id": []any{"не может быть пустым"}}},
		{"empty content", "application/json", `{"comment":{"content":" ","author_id":1}}`, 422, map[string]any{"content": []any{"не может быть пустым"}}},
		{"bad author type", "application/json", `{"comment":{"content":"x","author_id":1,"author_type":"bot"}}`, 422, map[string]any{"author_type": []any{"должен быть одним из: employee, contact"}}},
		{"unknown contact author", "application/json", `{"comment":{"content":"x","author_id":6,"author_type":"contact"}}`, 422, map[string]any{"author_id": []any{"контакт не найден"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, url, tt.contentType, tt.body)
			assert.Equal(t, tt.status, status, "%v", body)
			if tt.errors != nil {
				assert.Equal(t, tt.errors, body["errors"])
			}
		})
	}
	assert.Len(t, fake.CommentsFor(1), 2)

	status, _ := post(t, fake.APIURL()+"issues/2/comments?api_token=tok", "application/json", `{"comment":{"content":"x","author_id":9}}`)
	assert.Equal(t, http.StatusNotFound, status, "unknown issue")
	status, _ = post(t, fake.APIURL()+"issues/1/comments?api_token=nope", "application/json", `{"comment":{"content":"x","author_id":9}}`)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = post(t, fake.APIURL()+"issues/1/comments", "application/json", `{"comment":{"content":"x","author_id":9}}`)
	assert.Equal(t, http.StatusUnauthorized, status, "no token")
	assert.Len(t, fake.CommentsFor(1), 2)

	reqs := fake.Requests()
	last := reqs[len(reqs)-1]
	assert.False(t, last.TokenOK)
	assert.Equal(t, http.StatusUnauthorized, last.Status)
	assert.Empty(t, last.Query.Get("api_token"), "the token is not kept in the record")
}

func TestFailNextCountsDown(t *testing.T) {
	fake := okdesktest.New("tok")
	defer fake.Close()
	fake.AddIssue(okdesktest.Issue{ID: 1})
	fake.FailNext("/issues/1/", 2, http.StatusBadGateway)
	c := okdesk.New(fake.APIURL(), "tok", fake.Client())
	var statuses []int
	for range 3 {
		_, err := c.GetIssue(context.Background(), 1)
		if ae, ok := err.(*okdesk.APIError); ok {
			statuses = append(statuses, ae.Status)
		} else {
			require.NoError(t, err)
			statuses = append(statuses, 200)
		}
	}
	assert.Equal(t, []int{502, 502, 200}, statuses)
}

func TestConcurrentUse(t *testing.T) {
	fake := okdesktest.New("tok")
	defer fake.Close()
	fake.AddIssue(okdesktest.Issue{ID: 1})
	c := okdesk.New(fake.APIURL(), "tok", fake.Client())
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := c.AddComment(context.Background(), 1, okdesk.Comment{Content: fmt.Sprint(i), AuthorID: 1})
			assert.NoError(t, err)
			_ = fake.Requests()
		})
	}
	wg.Wait()
	got := fake.CommentsFor(1)
	require.Len(t, got, 20)
	ids := map[int64]bool{}
	for _, c := range got {
		ids[c.ID] = true
	}
	assert.Len(t, ids, 20, "comment ids are unique")
}

func TestSendStatusChangeUnknownIssue(t *testing.T) {
	fake := okdesktest.New("tok")
	defer fake.Close()
	_, err := fake.SendStatusChange(context.Background(), "http://127.0.0.1:1/", okdesktest.FormatSeed, 5, okdesk.Status{Code: "closed"})
	assert.ErrorContains(t, err, "no issue 5")
}
