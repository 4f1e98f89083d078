package activities

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
	"github.com/hookflow/hookflow/internal/integrations/bitrix"
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
