package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/workflows"
)

// WorkflowRetention purges what is past its retention period.
const WorkflowRetention = "Retention"

// RetentionScheduleID is the Temporal Schedule that starts the purge:
// hookflow-retention with the default task queue. It is named after the task
// queue so that two installations sharing a namespace (which must use
// different task queues) each have their own.
func RetentionScheduleID(taskQueue string) string { return taskQueue + "-retention" }

// EnsureRetentionSchedule creates the retention schedule, or brings an
// existing one to this configuration (cadence RETENTION_EVERY, this task
// queue). A run that would overlap the previous one is skipped; a missed
// one (Temporal down) is not caught up, as the next covers it.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, cfg config.Config) error {
	id := RetentionScheduleID(cfg.Temporal.TaskQueue)
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: cfg.Retention.Every}}}
	action := &client.ScheduleWorkflowAction{
		ID: id, Workflow: WorkflowRetention, Args: []any{workflows.RetentionInput{}}, TaskQueue: cfg.Temporal.TaskQueue,
	}
	note := "hookflow: purges inbound events, callback attempts, sync_log and done rating actions past their retention (EVENT_RETENTION and friends)"
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: id, Spec: spec, Action: action, Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: time.Minute, Note: note,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		if err != nil {
			return fmt.Errorf("create schedule %s: %w", id, err)
		}
		return nil
	}
	err = c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			if current, ok := s.Action.(*client.ScheduleWorkflowAction); ok && current.TaskQueue == action.TaskQueue &&
				fmt.Sprint(current.Workflow) == WorkflowRetention && s.Spec != nil && len(s.Spec.Intervals) == 1 &&
				s.Spec.Intervals[0].Every == spec.Intervals[0].Every && len(s.Spec.Calendars) == 0 && len(s.Spec.CronExpressions) == 0 {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			s.Spec, s.Action = &spec, action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap, s.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, time.Minute
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", id, err)
	}
	return nil
}

// KeepRetentionSchedule ensures the schedule, retrying while Temporal does
// not answer, until it succeeds or ctx ends.
func KeepRetentionSchedule(ctx context.Context, c client.Client, cfg config.Config, log *slog.Logger) {
	wait := time.Second
	for {
		err := EnsureRetentionSchedule(ctx, c, cfg)
		if err == nil {
			log.Info("retention schedule ready", "schedule", RetentionScheduleID(cfg.Temporal.TaskQueue),
				"every", cfg.Retention.Every.String(), "policy", cfg.Retention.Describe())
			return
		}
		log.Warn("retention schedule not ready; retrying", "error", err, "in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}
