package generator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/clienttest"
	"github.com/hookflow/hookflow/internal/integrations/generator"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
)

const (
	apiKey = "sk-test-123"
	model  = "gpt-4o-mini"
)

var images = []string{"https://example.com/car1_front.jpg", "https://example.com/car1_back.jpg"}

func newPair(t *testing.T) (*generatortest.Server, *generator.Client) {
	t.Helper()
	fake := generatortest.New(apiKey, model)
	t.Cleanup(fake.Close)
	return fake, generator.New(fake.URL(), apiKey, model, fake.Client())
}

func TestDescribe(t *testing.T) {
	fake, c := newPair(t)
	got, err := c.Describe(context.Background(), "car_001", images, []string{"en", "ru"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"en": "[en] lot car_001: 2 images",
		"ru": "[ru] lot car_001: 2 images",
	}
	if !maps.Equal(got, want) {
		t.Errorf("Describe = %v, want %v", got, want)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("fake got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.ShapeErr != "" || r.Authorization != "Bearer "+apiKey || r.Model != model || r.LotID != "car_001" ||
		!slices.Equal(r.Images, images) || !slices.Equal(r.Languages, []string{"en", "ru"}) {
		t.Errorf("request as the fake saw it: %+v", r)
	}
}

// TestDescribeWireFormat pins the JSON the API receives.
func TestDescribeWireFormat(t *testing.T) {
	fake, c := newPair(t)
	if _, err := c.Describe(context.Background(), `lot "7"/ж`, images[:1], []string{"de"}); err != nil {
		t.Fatal(err)
	}
	var body struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		ResponseFormat map[string]string `json:"response_format"`
	}
	if err := json.Unmarshal(fake.Requests()[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Model != model || body.ResponseFormat["type"] != "json_object" || len(body.Messages) != 2 {
		t.Fatalf("request = %s", fake.Requests()[0].Body)
	}
	if body.Messages[0].Role != "system" || body.Messages[1].Role != "user" {
		t.Errorf("roles = %s, %s", body.Messages[0].Role, body.Messages[1].Role)
	}
	var parts []map[string]any
	if err := json.Unmarshal(body.Messages[1].Content, &parts); err != nil {
		t.Fatalf("user content is not an array of parts: %s", body.Messages[1].Content)
	}
	if len(parts) != 2 || parts[0]["type"] != "text" {
		t.Fatalf("parts = %v", parts)
	}
	wantImage := map[string]any{"type": "image_url", "image_url": map[string]any{"url": images[0]}}
	if fmt.Sprint(parts[1]) != fmt.Sprint(wantImage) {
		t.Errorf("image part = %v, want %v", parts[1], wantImage)
	}
	if got := fake.Requests()[0].LotID; got != `lot "7"/ж` {
		t.Errorf("lot id round trip through the prompt = %q", got)
	}
}

func TestDescribeNotConfigured(t *testing.T) {
	c := generator.New("", apiKey, model, nil)
	if c.Configured() {
		t.Error("Configured() = true without a URL")
	}
	_, err := c.Describe(context.Background(), "a", images, []string{"en"})
	if !errors.Is(err, generator.ErrNotConfigured) || generator.IsRetryable(err) {
		t.Errorf("Describe = %v, want ErrNotConfigured, not retryable", err)
	}
}

func TestDescribeErrors(t *testing.T) {
	tests := []struct {
		name       string
		failure    generatortest.Failure
		wantStatus int
		wantCode   string
		retryable  bool
		retryAfter time.Duration
	}{
		{"400", generatortest.Failure{Status: 400}, 400, "invalid_request_error", false, 0},
		{"401", generatortest.Failure{Status: 401}, 401, "invalid_api_key", false, 0},
		{"403", generatortest.Failure{Status: 403}, 403, "unsupported_country_region_territory", false, 0},
		{"404", generatortest.Failure{Status: 404}, 404, "model_not_found", false, 0},
		{"429 with Retry-After", generatortest.Failure{Status: 429, RetryAfter: "2"}, 429, "rate_limit_exceeded", true, 2 * time.Second},
		{"429 quota", generatortest.Failure{Status: 429, Code: "insufficient_quota"}, 429, "insufficient_quota", false, 0},
		{"500", generatortest.Failure{Status: 500}, 500, "server_error", true, 0},
		{"503 with Retry-After", generatortest.Failure{Status: 503, RetryAfter: "7"}, 503, "server_overloaded", true, 7 * time.Second},
		{"408", generatortest.Failure{Status: 408, Code: "timeout"}, 408, "timeout", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newPair(t)
			fake.FailLotWith("car_001", tt.failure, 0)
			_, err := c.Describe(context.Background(), "car_001", images, []string{"en"})
			var ae *generator.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("Describe error = %v (%T), want *APIError", err, err)
			}
			if ae.Status != tt.wantStatus || ae.Code != tt.wantCode || ae.Retryable != tt.retryable || ae.RetryAfter != tt.retryAfter {
				t.Errorf("APIError = %+v, want status %d code %q retryable %v retry-after %v", ae, tt.wantStatus, tt.wantCode, tt.retryable, tt.retryAfter)
			}
			if generator.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v", !tt.retryable)
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("error shows the API key: %v", err)
			}
			// Other lots are unaffected.
			if _, err := c.Describe(context.Background(), "car_002", images, []string{"en"}); err != nil {
				t.Errorf("another lot: %v", err)
			}
		})
	}
}

func TestDescribeRequestShapeRejected(t *testing.T) {
	fake := generatortest.New(apiKey, model)
	defer fake.Close()
	tests := []struct {
		name   string
		client *generator.Client
		status int
		code   string
	}{
		{"wrong key", generator.New(fake.URL(), "sk-wrong", model, fake.Client()), 401, "invalid_api_key"},
		{"no key", generator.New(fake.URL(), "", model, fake.Client()), 401, "invalid_api_key"},
		{"wrong model", generator.New(fake.URL(), apiKey, "gpt-3.5-turbo", fake.Client()), 404, "model_not_found"},
		{"wrong base URL", generator.New(fake.URL()+"/v2", apiKey, model, fake.Client()), 404, "unknown_url"},
	}
	for _, tt := range tests {
		_, err := tt.client.Describe(context.Background(), "a", images, []string{"en"})
		var ae *generator.APIError
		if !errors.As(err, &ae) || ae.Status != tt.status || ae.Code != tt.code || ae.Retryable {
			t.Errorf("%s: Describe = %v, want permanent %d %s", tt.name, err, tt.status, tt.code)
		}
	}
	for _, r := range fake.Requests() {
		if r.ShapeErr == "" {
			t.Errorf("fake accepted %+v", r)
		}
	}
}

func TestDescribeFailLotTimes(t *testing.T) {
	fake, c := newPair(t)
	fake.FailLot("car_001", 500, 2)
	for i, wantErr := range []bool{true, true, false} {
		_, err := c.Describe(context.Background(), "car_001", images, []string{"en"})
		if (err != nil) != wantErr {
			t.Errorf("call %d: err = %v, want error %v", i+1, err, wantErr)
		}
	}
	fake.FailNext(1, 502)
	if _, err := c.Describe(context.Background(), "any", images, []string{"en"}); !generator.IsRetryable(err) {
		t.Errorf("FailNext(1, 502): %v", err)
	}
	if n := len(fake.RequestsFor("car_001")); n != 3 {
		t.Errorf("RequestsFor(car_001) = %d, want 3", n)
	}
}

func TestDescribeMissingLanguage(t *testing.T) {
	fake, c := newPair(t)
	fake.OmitLanguage("car_001", "ru")
	fake.OmitLanguage("car_001", "de")
	_, err := c.Describe(context.Background(), "car_001", images, []string{"ru", "en", "de"})
	if !errors.Is(err, generator.ErrInvalidAnswer) || generator.IsRetryable(err) {
		t.Fatalf("Describe = %v, want a permanent invalid answer", err)
	}
	if !strings.Contains(err.Error(), "missing or empty languages de, ru") || !strings.Contains(err.Error(), `"car_001"`) {
		t.Errorf("error %q does not name the lot and the missing languages", err)
	}
	if got, err := c.Describe(context.Background(), "car_002", images, []string{"ru"}); err != nil || got["ru"] == "" {
		t.Errorf("other lot: %v %v", got, err)
	}
}

func TestDescribeStall(t *testing.T) {
	fake, c := newPair(t)
	fake.StallLot("slow")
	var wg sync.WaitGroup
	var slowErr, fastErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, slowErr = c.Describe(ctx, "slow", images, []string{"en"})
	}()
	go func() {
		defer wg.Done()
		_, fastErr = c.Describe(context.Background(), "fast", images, []string{"en"})
	}()
	wg.Wait()
	var ae *generator.APIError
	if !errors.As(slowErr, &ae) || ae.Code != generator.CodeTransport || !ae.Retryable || !errors.Is(slowErr, context.DeadlineExceeded) {
		t.Errorf("stalled lot: %v, want a retryable transport error wrapping DeadlineExceeded", slowErr)
	}
	if fastErr != nil {
		t.Errorf("other lot while one stalls: %v", fastErr)
	}
}

func TestDescribeInvalidInput(t *testing.T) {
	_, c := newPair(t)
	for _, tc := range []struct {
		lot    string
		images []string
		langs  []string
	}{
		{"", images, []string{"en"}},
		{"a", nil, []string{"en"}},
		{"a", images, nil},
	} {
		_, err := c.Describe(context.Background(), tc.lot, tc.images, tc.langs)
		var ae *generator.APIError
		if !errors.As(err, &ae) || ae.Code != generator.CodeInvalidRequest || ae.Retryable {
			t.Errorf("Describe(%q, %v, %v) = %v, want permanent invalid_request", tc.lot, tc.images, tc.langs, err)
		}
	}
}

func TestDescribeConcurrent(t *testing.T) {
	fake, c := newPair(t)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lot := fmt.Sprintf("lot_%02d", i)
			got, err := c.Describe(context.Background(), lot, images[:1+i%2], []string{"en", "kk"})
			if err == nil && got["kk"] != generatortest.Description("kk", lot, 1+i%2) {
				err = fmt.Errorf("lot %s: kk = %q", lot, got["kk"])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
	if n := len(fake.Requests()); n != 20 {
		t.Errorf("requests = %d", n)
	}
}

// TestDescribeAnswers covers answers the fake never gives but real models
// and compatible servers do.
func TestDescribeAnswers(t *testing.T) {
	envelope := func(content any, finish string) string {
		b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": content}, "finish_reason": finish}}})
		return string(b)
	}
	tests := []struct {
		name      string
		body      string
		header    map[string]string
		status    int
		want      map[string]string
		errHas    string
		retryable bool
		ra        time.Duration
	}{
		{"fenced JSON", envelope("```json\n{\"en\": \"A car.\", \"ru\": \"Машина.\"}\n```", "stop"), nil, 200, map[string]string{"en": "A car.", "ru": "Машина."}, "", false, 0},
		{"extra keys ignored, text trimmed", envelope(`{"en": "  A car. ", "fr": "Une voiture", "ru": "Машина"}`, "stop"), nil, 200, map[string]string{"en": "A car.", "ru": "Машина"}, "", false, 0},
		{"empty value", envelope(`{"en": "A car.", "ru": "  "}`, "stop"), nil, 200, nil, "missing or empty languages ru", false, 0},
		{"non-string value", envelope(`{"en": {"text": "A car."}, "ru": "Машина"}`, "stop"), nil, 200, nil, "missing or empty languages en", false, 0},
		{"not JSON content", envelope("Here is a description: a car.", "stop"), nil, 200, nil, "content is not a JSON object", false, 0},
		{"cut off", envelope(`{"en": "A ca`, "length"), nil, 200, nil, `finish_reason "length"`, false, 0},
		{"refusal", `{"choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}`, nil, 200, nil, "the model refused: I can't help with that.", false, 0},
		{"no choices", `{"choices":[]}`, nil, 200, nil, "no choices", false, 0},
		{"not an envelope", `<html>Bad gateway</html>`, nil, 200, nil, "HTTP 200: bad_response: answer is not a chat completion", true, 0},
		{"retry-after-ms wins", `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`, map[string]string{"retry-after-ms": "1500", "Retry-After": "2"}, 429, nil, "Rate limit reached", true, 1500 * time.Millisecond},
		{"fractional Retry-After", `{"error":{"message":"slow down","code":"rate_limit_exceeded"}}`, map[string]string{"Retry-After": "1.5"}, 429, nil, "HTTP 429: rate_limit_exceeded: slow down (retryable, retry after 1.5s)", true, 1500 * time.Millisecond},
		{"malformed Retry-After", `{"error":{"message":"busy","code":"server_error"}}`, map[string]string{"Retry-After": "soon"}, 503, nil, "busy (retryable)", true, 0},
		{"retry-after-ms beyond a Duration", `{"error":{"message":"busy","code":"server_error"}}`, map[string]string{"retry-after-ms": "1e300"}, 503, nil, "busy", true, time.Duration(math.MaxInt64)},
		{"no hint on a permanent answer", `{"error":{"message":"no","code":"invalid_api_key"}}`, map[string]string{"Retry-After": "5"}, 401, nil, "HTTP 401: invalid_api_key: no (permanent)", false, 0},
		{"non-JSON error body", `upstream connect error`, nil, 502, nil, "generator: HTTP 502: http_status: upstream connect error (retryable)", true, 0},
		{"numeric error code", `{"error":{"message":"busy","code":503}}`, nil, 503, nil, "503: busy", true, 0},
		{"409 is retryable", `{"error":{"message":"conflict","type":"conflict"}}`, nil, 409, nil, "conflict", true, 0},
		{"422 is permanent", `{"error":{"message":"bad image","type":"invalid_request_error","code":"invalid_image_url"}}`, nil, 422, nil, "invalid_image_url: bad image (permanent)", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clienttest.Answering(t, tt.status, tt.header, tt.body)
			c := generator.New(srv.URL+"/v1/", apiKey, model, srv.Client())
			got, err := c.Describe(context.Background(), "car_001", images, []string{"en", "ru"})
			if tt.errHas == "" {
				if err != nil || !maps.Equal(got, tt.want) {
					t.Fatalf("Describe = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Describe error = %v, want it to contain %q", err, tt.errHas)
			}
			var ae *generator.APIError
			if !errors.As(err, &ae) || ae.Retryable != tt.retryable || ae.RetryAfter != tt.ra {
				t.Errorf("APIError = %+v, want retryable %v retry-after %v", ae, tt.retryable, tt.ra)
			}
		})
	}
}
