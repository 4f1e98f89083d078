package activities

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/retention"
	"github.com/hookflow/hookflow/internal/store"
)

// Retention purges what is past its retention period (issue 11), for the
// hookflow-retention schedule. The periods are the worker's configuration:
// they never enter workflow history.
type Retention struct {
	Store  *store.Store
	Config config.RetentionConfig
	Log    *slog.Logger
	// Budget bounds one activity call; the workflow calls again while there
	// is more (one long call would outlive a worker's restart and lose its
	// progress report).
	Budget time.Duration
}

// RetentionInput fixes the moment the cutoffs are measured from, the same
// for every call of one run.
type RetentionInput struct {
	Now time.Time `json:"now"`
}

// RetentionResult is what one call purged.
type RetentionResult struct {
	Purged retention.Counts `json:"purged"`
	More   bool             `json:"more"`   // the budget ran out first
	Policy string           `json:"policy"` // the periods in words
}

// RetentionPurge deletes, in batches of RETENTION_BATCH_SIZE, what is past
// its period (archiving it first under RETENTION_ARCHIVE_DIR when set),
// heartbeating its progress after every batch.
func (a *Retention) RetentionPurge(ctx context.Context, in RetentionInput) (RetentionResult, error) {
	budget := a.Budget
	if budget <= 0 {
		budget = 30 * time.Second
	}
	opt := retention.Options{Now: in.Now, BatchSize: a.Config.BatchSize, Pause: a.Config.BatchPause, Budget: budget,
		Progress: func(c retention.Counts) {
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, c)
			}
		}}
	if a.Config.ArchiveDir != "" {
		opt.Archive = &retention.Archive{Dir: a.Config.ArchiveDir}
	}
	res, err := retention.Purge(ctx, a.Store, a.Config, opt)
	out := RetentionResult{Purged: res.Purged, More: res.More, Policy: a.Config.Describe()}
	if a.Log != nil && res.Purged.Total() > 0 {
		a.Log.Info("retention: purged", "rows", res.Purged.Total(), "by_kind", res.Purged, "more", res.More)
	}
	return out, err
}
