package generatortest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
)

func TestFakeRejectsMalformedRequests(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{
			"model":           "m",
			"response_format": map[string]string{"type": "json_object"},
			"messages": []any{
				map[string]any{"role": "user", "content": []any{
					map[string]any{"type": "text", "text": "Lot ID: \"a\"\nLanguages: [\"en\"]\nAnswer in JSON."},
					map[string]any{"type": "image_url", "image_url": map[string]string{"url": "https://x.example/1.jpg"}},
				}},
			},
		}
	}
	userContent := func(parts ...any) map[string]any {
		b := good()
		b["messages"] = []any{map[string]any{"role": "user", "content": parts}}
		return b
	}
	text := map[string]any{"type": "text", "text": "Lot ID: \"a\"\nLanguages: [\"en\"]\nJSON please"}
	img := map[string]any{"type": "image_url", "image_url": map[string]string{"url": "https://x.example/1.jpg"}}
	tests := []struct {
		name   string
		body   func() map[string]any
		status int
		errHas string
	}{
		{"good", good, 200, ""},
		{"no response_format", func() map[string]any { b := good(); delete(b, "response_format"); return b }, 400, "response_format"},
		{"text response_format", func() map[string]any {
			b := good()
			b["response_format"] = map[string]string{"type": "text"}
			return b
		}, 400, "response_format"},
		{"no model", func() map[string]any { b := good(); delete(b, "model"); return b }, 400, "model"},
		{"other model", func() map[string]any { b := good(); b["model"] = "x"; return b }, 404, "fake serves"},
		{"string content", func() map[string]any {
			b := good()
			b["messages"] = []any{map[string]any{"role": "user", "content": "Lot ID: \"a\" JSON"}}
			return b
		}, 400, "array of parts"},
		{"no images", func() map[string]any { return userContent(text) }, 400, "no image_url parts"},
		{"image not http", func() map[string]any {
			return userContent(text, map[string]any{"type": "image_url", "image_url": map[string]string{"url": "file:///etc/passwd"}})
		}, 400, "must be an http(s) URL"},
		{"no lot id line", func() map[string]any {
			return userContent(map[string]any{"type": "text", "text": "Languages: [\"en\"] JSON"}, img)
		}, 400, "Lot ID"},
		{"no json word", func() map[string]any {
			return userContent(map[string]any{"type": "text", "text": "Lot ID: \"a\"\nLanguages: [\"en\"]"}, img)
		}, 400, "the word 'json'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := generatortest.New("k", "m")
			defer fake.Close()
			b, _ := json.Marshal(tt.body())
			req, _ := http.NewRequest("POST", fake.URL()+"/chat/completions", strings.NewReader(string(b)))
			req.Header.Set("Authorization", "Bearer k")
			resp, err := fake.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d (%s), want %d", resp.StatusCode, raw, tt.status)
			}
			r := fake.Requests()[0]
			if tt.errHas == "" {
				if r.ShapeErr != "" {
					t.Errorf("ShapeErr = %q", r.ShapeErr)
				}
				var cr struct {
					Choices []struct {
						Message struct{ Content string } `json:"message"`
					} `json:"choices"`
				}
				if err := json.Unmarshal(raw, &cr); err != nil || len(cr.Choices) != 1 || cr.Choices[0].Message.Content != `{"en":"[en] lot a: 1 images"}` {
					t.Errorf("answer = %s", raw)
				}
				return
			}
			if !strings.Contains(r.ShapeErr, tt.errHas) || !strings.Contains(string(raw), `"error"`) {
				t.Errorf("ShapeErr = %q, answer %s; want %q", r.ShapeErr, raw, tt.errHas)
			}
		})
	}
}
