package workflows

import (
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/callback"
)

// Source and entity search attributes of callback workflows.
const callbackSource = "callbacks"

// DescriptionJob processes one job (workflow ID job-<uuid>, started by the
// relay with SignalWithStart like every inbound flow): it generates the
// lots with bounded concurrency, recording each result as it finishes, gives
// the job its final status and starts the callback's workflow
// (callback-<delivery id>), which outlives this run. A job whose lots fit in
// one round runs in one workflow task when the generator answers (see
// versionJobLocalFirstRound).
func DescriptionJob(ctx workflow.Context, in EntityInput) error {
	var a *activities.Jobs
	events := workflow.GetSignalChannel(ctx, SignalEvents)
	if in.Job != nil {
		return continueJob(ctx, in, events)
	}
	ids := append([]int64(nil), in.Pending...)
	drainEvents(events, &ids)

	db := jobDBSteps(ctx)
	start := activities.JobStartInput{JobID: in.EntityID, EventIDs: ids}
	if workflow.GetVersion(ctx, versionJobPagedRuns, workflow.DefaultVersion, 1) >= 1 {
		start.PageSize = JobLotsPerRun
	}
	var plan activities.JobPlan
	if err := db(ctx, a.JobStart, start).Get(ctx, &plan); err != nil {
		return err
	}
	if err := generateLots(ctx, in.EntityID, plan, db); err != nil {
		return err
	}
	if plan.More && len(plan.Pending) > 0 {
		return continueJobAsNew(ctx, in, nil, plan, start.PageSize, events)
	}
	return finishJob(ctx, in.EntityID, db, nil, events)
}

// JobLotsPerRun is how many pending lots one run of a job works through
// before it continues as new (the page JobStart and JobPendingLots return):
// at about 9 history events a lot in the worst case (see docs/jobs.md,
// "Large jobs") a run stays under Temporal's 10,240-event warning. A
// variable so tests can make it small; a running job keeps the size it
// started with (JobRun.PageSize).
var JobLotsPerRun = 500

// JobRun is what a job's run hands to the next one when it continues as
// new: the plan it started with (without lots) and where the next page of
// pending lots starts.
type JobRun struct {
	Plan     activities.JobPlan `json:"plan"`
	After    int                `json:"after"` // position of the last lot handled
	PageSize int                `json:"page_size"`
	Run      int                `json:"run"` // 2 for the second run, and so on
}

// continueJob is a run after the first: it pages the next pending lots
// from Postgres, generates them, and continues as new again or, when none
// are left after them, finishes the job.
func continueJob(ctx workflow.Context, in EntityInput, events workflow.ReceiveChannel) error {
	var a *activities.Jobs
	db := jobDBSteps(ctx)
	var page activities.JobLotsPage
	if err := db(ctx, a.JobPendingLots, activities.JobPendingLotsInput{JobID: in.EntityID, After: in.Job.After, Limit: in.Job.PageSize}).Get(ctx, &page); err != nil {
		return err
	}
	plan := in.Job.Plan
	plan.Pending, plan.More = page.Lots, page.More
	if err := generateLots(ctx, in.EntityID, plan, db); err != nil {
		return err
	}
	if plan.More && len(plan.Pending) > 0 {
		return continueJobAsNew(ctx, in, in.Pending, plan, in.Job.PageSize, events)
	}
	return finishJob(ctx, in.EntityID, db, in.Pending, events)
}

// continueJobAsNew ends this run with continue-as-new after the page of
// plan.Pending, carrying the cursor, the settings and the inbound event
// ids signalled since the start (drained now: a signal left in the channel
// would be lost with the run), which the last run marks processed.
func continueJobAsNew(ctx workflow.Context, in EntityInput, late []int64, plan activities.JobPlan, pageSize int, events workflow.ReceiveChannel) error {
	late = append([]int64(nil), late...)
	drainEvents(events, &late)
	after := plan.Pending[len(plan.Pending)-1].Position
	run := 2
	if in.Job != nil {
		run = in.Job.Run + 1
	}
	plan.Pending, plan.More = nil, false
	return workflow.NewContinueAsNewError(ctx, workflow.GetInfo(ctx).WorkflowType.Name, EntityInput{
		Source: in.Source, EntityID: in.EntityID, Pending: late,
		Job: &JobRun{Plan: plan, After: after, PageSize: max(pageSize, 1), Run: run},
	})
}

// finishJob gives the job its final status and starts its callback (once:
// only the last run of a job gets here), then marks processed the inbound
// events signalled after the start (the relay hands over at least once),
// carried ones from earlier runs included; JobStart does nothing else for
// a finished job.
func finishJob(ctx workflow.Context, jobID string, db dbStep, late []int64, events workflow.ReceiveChannel) error {
	var a *activities.Jobs
	var sum activities.JobSummary
	if err := db(ctx, a.JobFinish, jobID).Get(ctx, &sum); err != nil {
		return err
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SearchOutcome.ValueSet(sum.Status))
	if sum.Callback != nil {
		if workflow.GetVersion(ctx, versionJobCallbackByActivity, workflow.DefaultVersion, 1) >= 1 {
			// Started by a local activity through the client: this run
			// ends in this workflow task instead of waiting for a child's
			// start to be recorded.
			if err := workflow.ExecuteLocalActivity(entityLocalActivityOptions(ctx), a.JobStartCallback, *sum.Callback).Get(ctx, nil); err != nil {
				return err
			}
		} else if err := startCallback(ctx, *sum.Callback); err != nil {
			return err
		}
	}
	late = append([]int64(nil), late...)
	drainEvents(events, &late)
	if len(late) > 0 {
		return db(ctx, a.JobStart, activities.JobStartInput{JobID: jobID, EventIDs: late}).Get(ctx, nil)
	}
	return nil
}

// Versions of the job and callback workflows (workflow.GetVersion), so runs
// recorded before a change replay as they ran.
const (
	// versionJobLocalDBSteps: the job's short Postgres steps (JobStart,
	// JobFailLot, JobFinish) run as local activities inside the workflow
	// task instead of as activity tasks of their own, saving a round trip
	// through the server each (they show as markers in Temporal UI).
	versionJobLocalDBSteps = "job-local-db-steps"
	// versionCallbackLocalRecord: CallbackDelivery records an attempt with
	// a local activity, and not at all when the attempt recorded itself
	// (a 2xx, see DeliverResult.Recorded).
	versionCallbackLocalRecord = "callback-local-record"
	// versionJobLotBatches: first attempts of lots go in batches, one
	// JobGenerateLots activity per batch (generateLotBatches).
	versionJobLotBatches = "job-lot-batches"
	// versionCallbackClientPause: CallbackDelivery asks for pause-aware
	// attempts, and waits (not spending the attempt) while the client is
	// paused.
	versionCallbackClientPause = "callback-client-pause"
	// versionJobGeneratorQueue: a job planned with a generator queue
	// (GENERATOR_MAX_RPS) sends each lot there as one JobGenerateLotPaced
	// activity (generatePacedLots).
	versionJobGeneratorQueue = "job-generator-queue"
	// versionJobPagedRuns: the job's plan holds one page of its pending lots
	// (JobLotsPerRun) and the job continues as new after each page, the
	// next run paging on with JobPendingLots, so no run's history or payload
	// grows with the size of the job.
	versionJobPagedRuns = "job-paged-runs"
	// versionJobCallbackByActivity: the job starts its callback series
	// with the local activity JobStartCallback (a workflow of its own,
	// started through the client) instead of as an abandoned child.
	versionJobCallbackByActivity = "job-callback-by-activity"
	// versionJobLocalFirstRound: a job whose pending lots all fit in one
	// round (no more lots than GENERATOR_CONCURRENCY) makes their first
	// attempts as local activities, one lot each, so a small job runs in
	// one workflow task when the generator answers.
	versionJobLocalFirstRound = "job-local-first-round"
	// versionCallbackLocalFirstAttempt: a series' first attempt runs as a
	// local activity in the run's first workflow task; later attempts
	// (after a timer) are activities, visible in Temporal UI while they
	// run.
	versionCallbackLocalFirstAttempt = "callback-local-first-attempt"
)

// dbStep runs one short, idempotent Postgres step of a workflow.
type dbStep func(ctx workflow.Context, activity any, arg any) workflow.Future

// jobDBSteps is how the job runs its Postgres steps: local activities for
// new runs, activities for runs recorded before versionJobLocalDBSteps.
func jobDBSteps(ctx workflow.Context) dbStep {
	if workflow.GetVersion(ctx, versionJobLocalDBSteps, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return func(ctx workflow.Context, activity any, arg any) workflow.Future {
			return workflow.ExecuteActivity(entityActivityOptions(ctx), activity, arg)
		}
	}
	return func(ctx workflow.Context, activity any, arg any) workflow.Future {
		return workflow.ExecuteLocalActivity(entityLocalActivityOptions(ctx), activity, arg)
	}
}

func drainEvents(ch workflow.ReceiveChannel, ids *[]int64) {
	for {
		var b EventBatch
		if !ch.ReceiveAsync(&b) {
			return
		}
		*ids = append(*ids, b.IDs...)
	}
}

// generateLots runs the pending lots, at most plan.Concurrency at a time. A
// lot whose activity fails for good (attempts used up, or a permanent
// error) is recorded as failed with the reason.
func generateLots(ctx workflow.Context, jobID string, plan activities.JobPlan, db dbStep) error {
	if len(plan.Pending) > 0 && plan.GeneratorQueue != "" &&
		workflow.GetVersion(ctx, versionJobGeneratorQueue, workflow.DefaultVersion, 1) >= 1 {
		return generatePacedLots(ctx, jobID, plan, db)
	}
	if len(plan.Pending) > 0 && workflow.GetVersion(ctx, versionJobLotBatches, workflow.DefaultVersion, 1) >= 1 {
		return generateLotBatches(ctx, jobID, plan, db)
	}
	var a *activities.Jobs
	return generateEachLot(ctx, jobID, plan, db, lotActivityOptions(ctx, plan, 0), a.JobGenerateLot)
}

// PacedLotWait is how long a JobGenerateLotPaced attempt may wait for its
// turn (the pacer's queue, a 429's hold) on top of GENERATOR_TIMEOUT.
const PacedLotWait = 10 * time.Minute

// generatePacedLots is generateLots for jobs planned with a generator
// queue: each lot is one JobGenerateLotPaced activity on that queue (one
// generator request per activity task, so the queue's rate limit counts
// requests), plan.Concurrency at a time, with Temporal's retries.
func generatePacedLots(ctx workflow.Context, jobID string, plan activities.JobPlan, db dbStep) error {
	var a *activities.Jobs
	lotCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           plan.GeneratorQueue,
		StartToCloseTimeout: plan.LotTimeout + PacedLotWait,
		HeartbeatTimeout:    30 * time.Second, // heartbeats every 5 s, waiting or generating
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    plan.LotRetryBase,
			BackoffCoefficient: 2,
			MaximumAttempts:    int32(max(plan.LotAttempts, 1)),
		},
	})
	return generateEachLot(ctx, jobID, plan, db, lotCtx, a.JobGenerateLotPaced)
}

// generateEachLot runs one lot activity per pending lot, plan.Concurrency
// at a time, recording a lot failed with its reason when its activity
// fails for good.
func generateEachLot(ctx workflow.Context, jobID string, plan activities.JobPlan, db dbStep, lotCtx workflow.Context, lotActivity any) error {
	var a *activities.Jobs
	return eachBounded(ctx, max(plan.Concurrency, 1), plan.Pending, func(ctx workflow.Context, lot activities.LotRef) {
		err := workflow.ExecuteActivity(lotCtx, lotActivity, activities.LotInput{JobID: jobID, Position: lot.Position, LotID: lot.LotID}).Get(ctx, nil)
		if err == nil {
			return
		}
		reason := lotFailureReason(err, plan.LotTimeout)
		// Retried until Postgres takes it; only cancellation ends it early.
		_ = db(ctx, a.JobFailLot, activities.LotFailure{JobID: jobID, Position: lot.Position, Error: reason}).Get(ctx, nil)
	})
}

// eachBounded runs do for each item in a coroutine of its own, at most n
// at a time in item order, and waits for all of them.
func eachBounded[T any](ctx workflow.Context, n int, items []T, do func(ctx workflow.Context, item T)) error {
	sem := workflow.NewSemaphore(ctx, int64(n))
	wg := workflow.NewWaitGroup(ctx)
	for _, item := range items {
		if err := sem.Acquire(ctx, 1); err != nil {
			return err
		}
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			defer sem.Release(1)
			do(ctx, item)
		})
	}
	wg.Wait(ctx)
	return ctx.Err()
}

// lotActivityOptions are the options of JobGenerateLot: plan.LotAttempts
// attempts (or the given number), backoff from plan.LotRetryBase.
func lotActivityOptions(ctx workflow.Context, plan activities.JobPlan, attempts int) workflow.Context {
	if attempts <= 0 {
		attempts = plan.LotAttempts
	}
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: plan.LotTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    plan.LotRetryBase,
			BackoffCoefficient: 2,
			MaximumAttempts:    int32(max(attempts, 1)),
		},
	})
}

// MaxLotsPerBatch caps the lots of one JobGenerateLots call.
const MaxLotsPerBatch = 25

// lotBatches splits lots into batches that keep every one of the job's
// concurrency slots busy: ceil(len/concurrency) lots each, at most
// MaxLotsPerBatch.
func lotBatches(lots []activities.LotRef, concurrency int) [][]activities.LotRef {
	size := min(MaxLotsPerBatch, max(1, (len(lots)+concurrency-1)/max(concurrency, 1)))
	var out [][]activities.LotRef
	for len(lots) > 0 {
		n := min(size, len(lots))
		out = append(out, lots[:n])
		lots = lots[n:]
	}
	return out
}

// generateLotBatches is generateLots for runs from versionJobLotBatches on:
// at most plan.Concurrency JobGenerateLots calls at a time, each making the
// first attempt of a batch of lots in one activity round trip. A lot it
// hands back as retryable gets its further attempts as before, one
// JobGenerateLot activity with Temporal's retries (after the wait the first
// attempt's answer asked for, or GENERATOR_RETRY_BASE), in the same slot;
// a lot that fails for good is recorded failed with its reason.
func generateLotBatches(ctx workflow.Context, jobID string, plan activities.JobPlan, db dbStep) error {
	var a *activities.Jobs
	concurrency := max(plan.Concurrency, 1)
	batches := lotBatches(plan.Pending, concurrency)
	retry := entityApplyRetry
	// All lots in one round: first attempts as local activities (one lot
	// each, bounded by the lot's timeout), no activity task round trips.
	local := len(plan.Pending) <= concurrency &&
		workflow.GetVersion(ctx, versionJobLocalFirstRound, workflow.DefaultVersion, 1) >= 1
	return eachBounded(ctx, concurrency, batches, func(ctx workflow.Context, batch []activities.LotRef) {
		batchCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: plan.LotTimeout*time.Duration(len(batch)) + time.Minute,
			HeartbeatTimeout:    plan.LotTimeout + 30*time.Second, // a dead worker shows after one lot's time
			RetryPolicy:         &retry,                           // idempotent: finished lots are skipped
		})
		in := activities.LotsInput{JobID: jobID, Lots: batch, LotTimeout: plan.LotTimeout}
		var f workflow.Future
		if local {
			f = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				StartToCloseTimeout: plan.LotTimeout*time.Duration(len(batch)) + time.Minute,
				RetryPolicy:         &retry, // idempotent: finished lots are skipped
			}), a.JobGenerateLots, in)
		} else {
			f = workflow.ExecuteActivity(batchCtx, a.JobGenerateLots, in)
		}
		var res activities.LotsResult
		if err := f.Get(ctx, &res); err != nil {
			return // cancelled: the job ends with ctx.Err()
		}
		for _, f := range res.Failed {
			_ = db(ctx, a.JobFailLot, f).Get(ctx, nil)
		}
		for _, r := range res.Retry {
			reason := r.Error
			if plan.LotAttempts > 1 {
				wait := r.RetryAfter
				if wait <= 0 {
					wait = plan.LotRetryBase
				}
				if err := workflow.Sleep(ctx, wait); err != nil {
					return
				}
				// Attempts 2.. of the lot; their backoff starts at twice the
				// base, as it would have after a first failed attempt.
				opts := plan
				opts.LotRetryBase = 2 * plan.LotRetryBase
				err := workflow.ExecuteActivity(lotActivityOptions(ctx, opts, plan.LotAttempts-1), a.JobGenerateLot,
					activities.LotInput{JobID: jobID, Position: r.Position, LotID: r.LotID}).Get(ctx, nil)
				if err == nil {
					continue
				}
				reason = lotFailureReason(err, plan.LotTimeout)
			}
			_ = db(ctx, a.JobFailLot, activities.LotFailure{JobID: jobID, Position: r.Position, Error: reason}).Get(ctx, nil)
		}
	})
}

// lotFailureReason is the error a failed lot shows: the generator's own
// message, or what timed out.
func lotFailureReason(err error, timeout time.Duration) string {
	return activityErrorText(err, func(*temporal.TimeoutError) string {
		return "the generator did not answer within " + timeout.String()
	})
}

// startCallback starts the delivery's attempt series as a child that
// outlives this run (ABANDON), and only once: a second start of the same
// workflow ID is refused by Temporal and ignored here. Runs from
// versionJobCallbackByActivity on use JobStartCallback instead.
func startCallback(ctx workflow.Context, in activities.CallbackInput) error {
	return startChildOnce(ctx, activities.CallbackWorkflowID(in.DeliveryID, in.Series), CallbackSearchAttributes(in.ClientID), CallbackDelivery, in)
}

// startChildOnce starts the child workflow wf(in) as workflowID, one that
// outlives this run (ABANDON), and only once: a second start of the same
// ID is refused by Temporal (REJECT_DUPLICATE) and ignored here. It waits
// for the start, not for the child.
func startChildOnce(ctx workflow.Context, workflowID string, attrs temporal.SearchAttributes, wf, in any) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            workflowID,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: attrs,
	})
	f := workflow.ExecuteChildWorkflow(cctx, wf, in)
	var exec workflow.Execution
	err := f.GetChildWorkflowExecution().Get(ctx, &exec)
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// CallbackSearchAttributes are the search attributes of a delivery's
// workflows: HookflowSource "callbacks" and HookflowEntity the client the
// callback goes to (the delivery id is in the workflow ID), so ops can ask
// for a client's failed callbacks.
func CallbackSearchAttributes(clientID string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SearchSource.ValueSet(callbackSource),
		SearchEntity.ValueSet(clientID),
	)
}

// CallbackStartOptions start a delivery's attempt series (the workflow
// callback-<delivery id>, or -retry-<n>) on taskQueue, once: a second start
// of the same ID is refused (REJECT_DUPLICATE). The job's JobStartCallback
// and the API's manual retry both start series with them.
func CallbackStartOptions(in CallbackInput, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    activities.CallbackWorkflowID(in.DeliveryID, in.Series),
		TaskQueue:             taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: CallbackSearchAttributes(in.ClientID),
	}
}

// CallbackResult is how an attempt series ended.
type CallbackResult struct {
	Status   string `json:"status"`   // delivered, failed, gone; superseded when a manual retry took over
	Attempts int    `json:"attempts"` // made in this series
}

// Delivery statuses as the store names them.
const (
	deliveryPending   = "pending"
	deliveryDelivered = "delivered"
	deliveryFailed    = "failed"
	deliveryGone      = "gone"
)

// CallbackDelivery is one attempt series of a callback (workflow ID
// callback-<delivery id>, or callback-<id>-retry-<n> for manual retries).
// The schedule is this workflow's durable timers: attempt, wait
// Schedule.NextDelay (1, 2, 4, 8, 16 min by default, longer when the
// receiver's Retry-After asks), attempt again, until a 2xx, a permanent
// answer (4xx but 408/429, 410 Gone) or the last attempt. Each attempt is
// one activity without retries of its own (the first a local activity, see
// versionCallbackLocalFirstAttempt), then one (retried) local activity that
// records it, unless the attempt was a 2xx the activity
// recorded itself (runs from before versionCallbackLocalRecord record every
// attempt with an activity).
func CallbackDelivery(ctx workflow.Context, in CallbackInput) (CallbackResult, error) {
	var a *activities.Jobs
	deliverCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// Deliver bounds the request by in.Timeout; the margin covers loading
		// the delivery. A worker that dies mid-attempt shows as a timeout.
		StartToCloseTimeout: in.Timeout + 15*time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	localRecord := workflow.GetVersion(ctx, versionCallbackLocalRecord, workflow.DefaultVersion, 1) >= 1
	record := func(rec activities.AttemptRecord) error {
		if localRecord {
			return workflow.ExecuteLocalActivity(entityLocalActivityOptions(ctx), a.CallbackRecordAttempt, rec).Get(ctx, nil)
		}
		return workflow.ExecuteActivity(entityActivityOptions(ctx), a.CallbackRecordAttempt, rec).Get(ctx, nil)
	}
	pauseAware := workflow.GetVersion(ctx, versionCallbackClientPause, workflow.DefaultVersion, 1) >= 1
	pausePoll := in.PausePoll
	if pausePoll <= 0 {
		pausePoll = activities.DefaultPausePoll
	}
	wait := pausePoll
	first := max(in.FirstAttempt, 1)
	// The first attempt in the run's first workflow task (a local activity),
	// the others as activities.
	localFirst := workflow.GetVersion(ctx, versionCallbackLocalFirstAttempt, workflow.DefaultVersion, 1) >= 1
	for n := 1; ; n++ {
		attempt := first + n - 1
		var res activities.DeliverResult
		deliver := activities.DeliverInput{DeliveryID: in.DeliveryID, Series: in.Series, Attempt: attempt, Timeout: in.Timeout, PauseAware: pauseAware}
		var err error
		if localFirst {
			localFirst = false
			err = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
				StartToCloseTimeout: in.Timeout + 15*time.Second,
				RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
			}), a.CallbackDeliver, deliver).Get(ctx, &res)
		} else {
			err = workflow.ExecuteActivity(deliverCtx, a.CallbackDeliver, deliver).Get(ctx, &res)
		}
		if err == nil && res.Paused {
			// The client is paused: the same attempt waits and looks again,
			// longer each time (a long pause stays a short history), and
			// the schedule resumes where it was.
			if err := workflow.Sleep(ctx, wait); err != nil {
				return CallbackResult{}, err
			}
			wait = min(2*wait, activities.MaxPausePoll)
			n--
			continue
		}
		wait = pausePoll
		if err != nil {
			res = activities.DeliverResult{AttemptedAt: workflow.Now(ctx), Attempt: callback.Attempt{
				Outcome: callback.OutcomeRetryable, Err: "the attempt did not complete: " + attemptErrorText(err)}}
		}
		if res.Superseded {
			_ = workflow.UpsertTypedSearchAttributes(ctx, SearchOutcome.ValueSet("superseded"))
			return CallbackResult{Status: "superseded", Attempts: n - 1}, nil
		}
		if res.AlreadyDelivered {
			// An earlier attempt was delivered and recorded by the activity,
			// but its result was lost with its worker. (Histories recorded
			// before this field existed never take this branch.)
			_ = workflow.UpsertTypedSearchAttributes(ctx, SearchOutcome.ValueSet(deliveryDelivered))
			return CallbackResult{Status: deliveryDelivered, Attempts: n - 1}, nil
		}
		delay, more := in.Schedule.NextDelay(n, res.RetryAfter)
		status := deliveryStatus(res.Outcome, more)
		rec := activities.AttemptRecord{DeliveryID: in.DeliveryID, Series: in.Series, Attempt: attempt, Result: res, DeliveryStatus: status}
		var next time.Time
		if status == deliveryPending {
			next = workflow.Now(ctx).Add(delay)
			rec.NextAttemptAt = &next
		}
		if !(localRecord && res.Recorded && status == deliveryDelivered) {
			if err := record(rec); err != nil {
				return CallbackResult{}, err
			}
		}
		if status != deliveryPending {
			_ = workflow.UpsertTypedSearchAttributes(ctx, SearchOutcome.ValueSet(status))
			return CallbackResult{Status: status, Attempts: n}, nil
		}
		// Measured from the end of the attempt, not of its recording.
		if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return CallbackResult{}, err
			}
		}
	}
}

// CallbackInput is the input of CallbackDelivery.
type CallbackInput = activities.CallbackInput

func deliveryStatus(o callback.Outcome, more bool) string {
	switch o {
	case callback.OutcomeDelivered:
		return deliveryDelivered
	case callback.OutcomeGone:
		return deliveryGone
	case callback.OutcomeRetryable:
		if more {
			return deliveryPending
		}
	}
	return deliveryFailed
}

func attemptErrorText(err error) string {
	var toErr *temporal.TimeoutError
	if errors.As(err, &toErr) {
		return "no result in time (worker stopped or stalled)"
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}
