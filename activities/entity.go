package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/store"
)

// ErrTypeInvalidData is the application error type of an activity that
// failed because Postgres refuses the data it was given (store.IsDataError:
// a NUL, invalid UTF-8, a value out of range): the same data would be
// refused on every retry, so the error is non-retryable and the entity
// workflow records the batch's events as failed (DeadLetterEvents).
const ErrTypeInvalidData = "InvalidData"

// nonRetryableData makes a data error non-retryable; other errors stay as
// they are (retried).
func nonRetryableData(err error) error {
	if err != nil && store.IsDataError(err) {
		return temporal.NewNonRetryableApplicationError(store.DataErrorText(err), ErrTypeInvalidData, err)
	}
	return err
}

// Events holds the activities every entity workflow shares.
type Events struct {
	Store *store.Store
}

// DeadLetterInput names the events of a batch that cannot be applied.
type DeadLetterInput struct {
	IDs    []int64 `json:"ids"`
	Reason string  `json:"reason"`
}

// DeadLetterEvents records the batch's events that are not processed yet as
// failed with the reason, so that they are visible (outcome failed, error)
// and never retried, and the entity's later events are applied.
func (a *Events) DeadLetterEvents(ctx context.Context, in DeadLetterInput) (int64, error) {
	return a.Store.FailEvents(ctx, in.IDs, "", in.Reason)
}
