package activities

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
)

// VendorErrors names the ApplicationError types of one third-party API's
// failures; ActivityError maps that API's client errors with them.
type VendorErrors struct {
	// Retryable is the type of a failure worth another attempt.
	Retryable string
	// Permanent is the type of a failure that is not.
	Permanent string
	// MaxDelay caps the vendor's Retry-After hint; 0 for no cap.
	MaxDelay time.Duration
	// UnknownPermanent makes an error that is not a vendor error
	// permanent; without it such an error is returned as it is (and
	// Temporal retries it under the activity's policy).
	UnknownPermanent bool
}

// ActivityError is the one place a vendor client error (apierr.Classified:
// every client's APIError) becomes the error an activity returns: a
// retryable failure an ApplicationError whose next attempt waits for the
// vendor's Retry-After (capped at MaxDelay) when it sent one, a permanent
// one a non-retryable ApplicationError; both carry err's text, which the
// clients keep free of tokens. nil stays nil.
func (v VendorErrors) ActivityError(err error) error {
	if err == nil {
		return nil
	}
	c, ok := apierr.As(err)
	if !ok {
		if v.UnknownPermanent {
			return temporal.NewNonRetryableApplicationError(err.Error(), v.Permanent, nil)
		}
		return err
	}
	retryable, after := c.RetryInfo()
	if !retryable {
		return temporal.NewNonRetryableApplicationError(err.Error(), v.Permanent, nil)
	}
	if v.MaxDelay > 0 {
		after = min(after, v.MaxDelay)
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), v.Retryable, temporal.ApplicationErrorOptions{
		NextRetryDelay: after,
	})
}

var (
	telegramErrors = VendorErrors{Retryable: ErrTypeTelegram, Permanent: ErrTypeTelegram}
	okdeskErrors   = VendorErrors{Retryable: ErrTypeOkdesk, Permanent: ErrTypeOkdesk}
)

// TelegramActivityError classifies a Telegram client error for Temporal:
// 403 (blocked) is permanent with its own type, the rest as VendorErrors
// maps them.
func TelegramActivityError(err error) error {
	if telegram.IsBlocked(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeTelegramBlocked, nil)
	}
	return telegramErrors.ActivityError(err)
}

// OkdeskActivityError classifies an Okdesk client error for Temporal: 429
// and 5xx are retried (after Retry-After when given), other 4xx are
// permanent.
func OkdeskActivityError(err error) error {
	return okdeskErrors.ActivityError(err)
}
