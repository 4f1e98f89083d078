package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
	"github.com/hookflow/hookflow/internal/integrations/bitrix"
	"github.com/hookflow/hookflow/internal/integrations/generator"
)

// TestVendorErrorsActivityError: one mapping for every vendor's error:
// retryable with the Retry-After capped, permanent with the vendor's
// text, other errors passed through or made permanent.
func TestVendorErrorsActivityError(t *testing.T) {
	v := bitrixErrors(time.Minute)
	if v.ActivityError(nil) != nil {
		t.Fatal("nil is not nil")
	}

	hinted := &bitrix.APIError{Vendor: "bitrix", Op: "sale.order.get", Status: 503, Code: bitrix.CodeQueryLimitExceeded, Retryable: true, RetryAfter: time.Hour}
	ae := appError(t, v.ActivityError(fmt.Errorf("fetch: %w", hinted)))
	if ae.NonRetryable() || ae.Type() != "BitrixRetryable" || ae.NextRetryDelay() != time.Minute {
		t.Errorf("retryable: %v, type %s, delay %s", ae, ae.Type(), ae.NextRetryDelay())
	}
	if ae.Message() != "fetch: "+hinted.Error() {
		t.Errorf("message %q", ae.Message())
	}

	bare := &bitrix.APIError{Vendor: "bitrix", Status: 502, Code: bitrix.CodeHTTP, Retryable: true}
	if ae := appError(t, v.ActivityError(bare)); ae.NonRetryable() || ae.NextRetryDelay() != 0 {
		t.Errorf("no hint: %v, delay %s", ae, ae.NextRetryDelay())
	}
	if ae := appError(t, (VendorErrors{Retryable: "R"}).ActivityError(hinted)); ae.NextRetryDelay() != time.Hour {
		t.Errorf("no cap: delay %s", ae.NextRetryDelay())
	}

	perm := bitrix.InvalidRequest("back sync", "no target")
	if ae := appError(t, v.ActivityError(perm)); !ae.NonRetryable() || ae.Type() != "BitrixPermanent" || ae.Message() != perm.Error() {
		t.Errorf("permanent: %v, type %s", ae, ae.Type())
	}

	plain := errors.New("database is down")
	if ae := appError(t, v.ActivityError(plain)); !ae.NonRetryable() {
		t.Error("UnknownPermanent: a plain error is retried")
	}
	if got := okdeskErrors.ActivityError(plain); got != plain {
		t.Errorf("a plain error is not passed through: %v", got)
	}

	var _ apierr.Classified = hinted
}

// TestGeneratorError: the generator's errors go through the same mapping
// (one type, retryable or not, the Retry-After as the next delay), an
// unconfigured generator says what to set, and a lost connection does not
// show the generator's URL.
func TestGeneratorError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer busy":
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"message":"image unreadable","type":"invalid_request_error"}}`))
		}
	}))
	defer srv.Close()
	describe := func(url, key string) error {
		_, err := generator.New(url, key, "", srv.Client()).Describe(context.Background(), "car_001", []string{"https://img/1.jpg"}, []string{"en"})
		if err == nil {
			t.Fatalf("Describe(%s, %s) succeeded", url, key)
		}
		return err
	}

	ae := appError(t, generatorError(describe(srv.URL, "busy")))
	if ae.NonRetryable() || ae.Type() != ErrTypeGenerator || ae.NextRetryDelay() != 2*time.Second ||
		ae.Message() != "generator: HTTP 429: rate_limit_exceeded: Rate limit reached (retryable, retry after 2s)" {
		t.Errorf("429: %q, type %s, delay %s", ae.Message(), ae.Type(), ae.NextRetryDelay())
	}
	ae = appError(t, generatorError(describe(srv.URL, "key")))
	if !ae.NonRetryable() || ae.Type() != ErrTypeGenerator || !strings.Contains(ae.Message(), "HTTP 400") {
		t.Errorf("400: %q, type %s", ae.Message(), ae.Type())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	ae = appError(t, generatorError(describe(deadURL+"/v1", "key")))
	if ae.NonRetryable() || strings.Contains(ae.Message(), deadURL) || !strings.Contains(ae.Message(), "no answer") {
		t.Errorf("transport: %q, non-retryable %v", ae.Message(), ae.NonRetryable())
	}

	ae = appError(t, generatorError(describe("", "key")))
	if !ae.NonRetryable() || ae.Type() != ErrTypeGeneratorNotConfigured || !strings.Contains(ae.Message(), "GENERATOR_URL") {
		t.Errorf("not configured: %q, type %s", ae.Message(), ae.Type())
	}

	plain := context.DeadlineExceeded
	if got := generatorError(plain); got != plain {
		t.Errorf("a plain error is not passed through: %v", got)
	}
}
