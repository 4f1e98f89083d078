package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/callback"
	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/generator"
	"github.com/hookflow/hookflow/internal/netguard"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/telemetry"
)

// Jobs runs description jobs: it generates lots through the generator and
// delivers the signed callback. Its methods are activities; every name starts
// with Job or Callback so they stay unique on the shared worker.
type Jobs struct {
	Store     *store.Store
	Config    config.JobsConfig
	Generator *generator.Client
	Callbacks *http.Client // netguard: no redirects, refuses private addresses at connect time
	UserAgent string       // hookflow/<version>
	Log       *slog.Logger
	// GeneratorQueue is the task queue of JobGenerateLotPaced, put in the
	// plans of jobs started while GENERATOR_MAX_RPS is set.
	GeneratorQueue string
	// StartCallback starts a delivery's attempt series (the workflow
	// callback-<delivery id>) through the Temporal client; the worker sets
	// it. JobStartCallback calls it.
	StartCallback func(context.Context, CallbackInput) error
}

// NewJobs builds the activities from configuration: a generator client on a
// traced transport, and a callback client that re-checks every address it
// connects to (DNS rebinding) and never follows redirects.
func NewJobs(cfg config.JobsConfig, st *store.Store, version string, log *slog.Logger) *Jobs {
	gen := generator.New(cfg.GeneratorURL, cfg.GeneratorAPIKey, cfg.GeneratorModel,
		&http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport)}) // bounded by the activity's timeout
	cb := netguard.WrapClient(otelhttp.NewTransport(netguard.Transport(cfg.CallbackAllowPrivate)))
	return &Jobs{Store: st, Config: cfg, Generator: gen, Callbacks: cb, UserAgent: callback.UserAgent(version), Log: log}
}

// JobStartInput names the job and the inbound events that started it.
type JobStartInput struct {
	JobID    string  `json:"job_id"`
	EventIDs []int64 `json:"event_ids,omitempty"`
	// PageSize, when set (jobs run in pages, see JobPendingLots), caps the
	// pending lots of the plan; More says whether there were more.
	PageSize int `json:"page_size,omitempty"`
}

// LotRef names one lot of a job.
type LotRef struct {
	Position int    `json:"position"`
	LotID    string `json:"lot_id"`
}

// JobPlan is what the job workflow does: the lots still pending and the
// settings (read once, kept in history, so a config change never alters a
// running job's replay).
type JobPlan struct {
	Status       string        `json:"status"`
	Pending      []LotRef      `json:"pending"`
	Concurrency  int           `json:"concurrency"`
	LotAttempts  int           `json:"lot_attempts"`
	LotRetryBase time.Duration `json:"lot_retry_base"`
	LotTimeout   time.Duration `json:"lot_timeout"`
	// GeneratorQueue, set when the job started with GENERATOR_MAX_RPS, is
	// where each lot goes as one JobGenerateLotPaced activity (no batches).
	GeneratorQueue string `json:"generator_queue,omitempty"`
	// More is set when the plan was asked for a page (PageSize) and more
	// lots than that were pending: the job pages the rest with
	// JobPendingLots after the last of Pending.
	More bool `json:"more,omitempty"`
}

// JobStart marks the job processing (and its inbound events processed) and
// returns its plan.
func (a *Jobs) JobStart(ctx context.Context, in JobStartInput) (JobPlan, error) {
	limit := 0
	if in.PageSize > 0 {
		limit = in.PageSize + 1 // one more tells whether there are more
	}
	status, pending, err := a.Store.StartJob(ctx, in.JobID, in.EventIDs, limit)
	if errors.Is(err, store.ErrJobNotFound) {
		return JobPlan{}, temporal.NewNonRetryableApplicationError(err.Error(), "JobNotFound", err)
	}
	if err != nil {
		return JobPlan{}, err
	}
	plan := JobPlan{Status: status, Concurrency: a.Config.GeneratorConcurrency, LotAttempts: a.Config.GeneratorAttempts,
		LotRetryBase: a.Config.GeneratorRetryBase, LotTimeout: a.Config.GeneratorTimeout}
	if a.Config.GeneratorMaxRPS > 0 {
		plan.GeneratorQueue = a.GeneratorQueue
	}
	if in.PageSize > 0 && len(pending) > in.PageSize {
		pending, plan.More = pending[:in.PageSize], true
	}
	for _, l := range pending {
		plan.Pending = append(plan.Pending, LotRef{Position: l.Position, LotID: l.LotID})
	}
	return plan, nil
}

// JobPendingLotsInput asks for a page of a job's pending lots.
type JobPendingLotsInput struct {
	JobID string `json:"job_id"`
	After int    `json:"after"` // position of the last lot of the previous page
	Limit int    `json:"limit"`
}

// JobLotsPage is one page of a job's pending lots, in position order; More
// says whether lots are pending after the last of them.
type JobLotsPage struct {
	Lots []LotRef `json:"lots"`
	More bool     `json:"more,omitempty"`
}

// JobPendingLots returns the job's pending lots after a position, at most
// in.Limit of them: how a large job carries one page of lots per run
// instead of all of them in its plan (a 10,000-lot plan can pass
// Temporal's 2 MB payload limit).
func (a *Jobs) JobPendingLots(ctx context.Context, in JobPendingLotsInput) (JobLotsPage, error) {
	lots, err := a.Store.PendingLots(ctx, in.JobID, in.After, max(in.Limit, 1)+1)
	if err != nil {
		return JobLotsPage{}, err
	}
	var page JobLotsPage
	if len(lots) > max(in.Limit, 1) {
		lots, page.More = lots[:max(in.Limit, 1)], true
	}
	for _, l := range lots {
		page.Lots = append(page.Lots, LotRef{Position: l.Position, LotID: l.LotID})
	}
	return page, nil
}

// LotInput names the lot to generate.
type LotInput struct {
	JobID    string `json:"job_id"`
	Position int    `json:"position"`
	LotID    string `json:"lot_id"`
}

// Error types of JobGenerateLot's application errors.
const (
	ErrTypeGenerator              = "GeneratorError"
	ErrTypeGeneratorNotConfigured = "GeneratorNotConfigured"
)

// JobGenerateLot asks the generator for the lot's descriptions and stores
// them. A retryable generator error is returned for Temporal to retry (with
// the API's Retry-After as the next delay); a permanent one is
// non-retryable. A lot finished already (a retry after a lost completion) is
// not generated again.
func (a *Jobs) JobGenerateLot(ctx context.Context, in LotInput) error {
	genErr, err := a.generateLot(ctx, in.JobID, in.Position, in.LotID, 0, nil)
	if err != nil {
		return err
	}
	if genErr != nil {
		return generatorError(genErr)
	}
	return nil
}

// JobGenerateLotPaced is JobGenerateLot for the generator task queue
// (GENERATOR_MAX_RPS set): one generator request per activity task. Before
// it sends, it waits for its turn in the deployment's pacer (a Postgres row
// every worker shares: at most GENERATOR_MAX_RPS turns a second, none
// before a 429's hold ends), heartbeating; the wait is part of this attempt
// and never counts as one. A 429 the API retries after holds every
// worker's requests for its Retry-After (GENERATOR_RETRY_BASE when it sent
// none), not only this lot's.
func (a *Jobs) JobGenerateLotPaced(ctx context.Context, in LotInput) error {
	stop := heartbeatEvery(ctx, 5*time.Second)
	defer stop()
	var await func(context.Context) error
	if a.Config.GeneratorMaxRPS > 0 {
		await = a.awaitGeneratorTurn
	}
	genErr, err := a.generateLot(ctx, in.JobID, in.Position, in.LotID, a.Config.GeneratorTimeout, await)
	if err != nil {
		return err
	}
	if genErr == nil {
		return nil
	}
	if ae, ok := generator.Vendor.Of(genErr); ok && a.Config.GeneratorMaxRPS > 0 && ae.Status == http.StatusTooManyRequests && ae.Retryable {
		hold := ae.RetryAfter
		if hold <= 0 {
			hold = a.Config.GeneratorRetryBase
		}
		if err := a.Store.HoldGenerator(ctx, store.GeneratorPacer, hold); err != nil && a.Log != nil {
			a.Log.Warn("generator hold not recorded", "hold", hold.String(), "error", err)
		}
	}
	return generatorError(genErr)
}

// awaitGeneratorTurn waits until the pacer gives this worker a turn (see
// config.GeneratorPace): it asks, sleeps as long as it is told, and asks
// again; a 429's hold makes every worker wait it out.
func (a *Jobs) awaitGeneratorTurn(ctx context.Context) error {
	turns, window, _ := a.Config.GeneratorPace()
	for {
		wait, err := a.Store.TakeGeneratorTurn(ctx, store.GeneratorPacer, turns, window)
		if err != nil {
			return fmt.Errorf("generator pacer: %w", err)
		}
		if wait <= 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// heartbeatEvery records a heartbeat every d until stop is called, so a
// worker that dies while waiting or generating shows by the heartbeat
// timeout.
func heartbeatEvery(ctx context.Context, d time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}

// generateLot makes one generator attempt for a pending lot and stores its
// descriptions. genErr is the generator's error (the lot is left pending);
// err is the database's. timeout > 0 bounds the generator call. await, if
// set, is called right before the request goes out (the pacer's turn: a
// lot finished already takes none) and its error is returned as err.
func (a *Jobs) generateLot(ctx context.Context, jobID string, position int, lotID string, timeout time.Duration,
	await func(context.Context) error) (genErr, err error) {
	w, err := a.Store.BeginLotAttempt(ctx, jobID, position)
	if err != nil {
		return nil, fmt.Errorf("load lot %q: %w", lotID, err)
	}
	if w.Status != store.LotPending {
		return nil, nil
	}
	if await != nil {
		if err := await(ctx); err != nil {
			return nil, err
		}
	}
	gctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		gctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	descs, genErr := a.Generator.Describe(gctx, w.LotID, w.Images, w.Languages)
	if genErr != nil {
		if a.Log != nil {
			a.Log.Warn("generator call failed", "job_id", jobID, "lot_id", w.LotID, "error", genErr)
		}
		return genErr, nil
	}
	if err := a.Store.CompleteLot(ctx, jobID, position, descs); err != nil {
		if store.IsDataError(err) {
			// Descriptions Postgres cannot store (a NUL from the model)
			// fail the lot with the reason at once: another attempt would
			// be refused too.
			return nonRetryableData(err), nil
		}
		return nil, err
	}
	return nil, nil
}

// LotsInput is a batch of a job's lots for one JobGenerateLots call.
type LotsInput struct {
	JobID      string        `json:"job_id"`
	Lots       []LotRef      `json:"lots"`
	LotTimeout time.Duration `json:"lot_timeout"` // bounds each generator call
}

// LotRetry is a lot whose first attempt failed with a retryable error.
type LotRetry struct {
	Position   int           `json:"position"`
	LotID      string        `json:"lot_id"`
	Error      string        `json:"error"`
	RetryAfter time.Duration `json:"retry_after,omitempty"` // the API's Retry-After, if it sent one
}

// LotsResult is what one JobGenerateLots call did. Completed lots are
// stored already; the workflow records Failed and retries Retry one lot
// per activity.
type LotsResult struct {
	Completed int          `json:"completed"`
	Failed    []LotFailure `json:"failed,omitempty"` // permanent errors
	Retry     []LotRetry   `json:"retry,omitempty"`
}

// JobGenerateLots makes the first attempt of each lot of a batch, one after
// the other (the job runs GENERATOR_CONCURRENCY batches at a time), storing
// each lot's descriptions as it finishes: one activity round trip for many
// lots. A lot the generator refuses is returned as Failed or Retry, never
// retried here; a database error fails the call, whose retry skips the
// lots finished already.
func (a *Jobs) JobGenerateLots(ctx context.Context, in LotsInput) (LotsResult, error) {
	var res LotsResult
	for i, l := range in.Lots {
		if i > 0 {
			activity.RecordHeartbeat(ctx, i)
		}
		genErr, err := a.generateLot(ctx, in.JobID, l.Position, l.LotID, in.LotTimeout, nil)
		if err != nil {
			return LotsResult{}, err
		}
		if ctx.Err() != nil {
			return LotsResult{}, ctx.Err() // cancelled or timed out: the lot stays pending
		}
		if genErr == nil {
			res.Completed++
			continue
		}
		var appErr *temporal.ApplicationError
		if !errors.As(generatorError(genErr), &appErr) {
			res.Retry = append(res.Retry, LotRetry{Position: l.Position, LotID: l.LotID, Error: genErr.Error()})
			continue
		}
		if appErr.NonRetryable() {
			res.Failed = append(res.Failed, LotFailure{JobID: in.JobID, Position: l.Position, Error: appErr.Message()})
			continue
		}
		res.Retry = append(res.Retry, LotRetry{Position: l.Position, LotID: l.LotID, Error: appErr.Message(),
			RetryAfter: generator.Vendor.RetryAfterOf(genErr)})
	}
	return res, nil
}

// generatorErrors maps the generator's errors: one type, retryable or not.
var generatorErrors = VendorErrors{Retryable: ErrTypeGenerator, Permanent: ErrTypeGenerator}

// generatorError is the activity error of a failed Describe (see
// VendorErrors.ActivityError); an unconfigured generator says what to set,
// and a lost connection keeps the generator's URL out of the job's results.
func generatorError(err error) error {
	if errors.Is(err, generator.ErrNotConfigured) {
		return temporal.NewNonRetryableApplicationError(
			"no generator configured: set GENERATOR_URL (and GENERATOR_API_KEY, GENERATOR_MODEL)", ErrTypeGeneratorNotConfigured, nil)
	}
	if ae, ok := generator.Vendor.Of(err); ok && ae.Status == 0 && ae.Code == generator.CodeTransport {
		// The transport's error names the generator's URL, an operator
		// detail the job's client sees in the results: say what happened.
		err = &generator.APIError{Vendor: ae.Vendor, Code: ae.Code, Retryable: ae.Retryable, RetryAfter: ae.RetryAfter,
			Message: "no answer (connection failed or timed out; see the worker log)"}
	}
	return generatorErrors.ActivityError(err) // other errors (context deadline and the like) as they are: retried
}

// LotFailure is a lot that ran out of attempts.
type LotFailure struct {
	JobID    string `json:"job_id"`
	Position int    `json:"position"`
	Error    string `json:"error"`
}

// JobFailLot records a lot's failure.
func (a *Jobs) JobFailLot(ctx context.Context, in LotFailure) error {
	return a.Store.FailLot(ctx, in.JobID, in.Position, in.Error)
}

// JobSummary is a finished job and, when it has a webhook_url, its callback.
type JobSummary struct {
	Status        string `json:"status"`
	TotalLots     int    `json:"total_lots"`
	CompletedLots int    `json:"completed_lots"`
	FailedLots    int    `json:"failed_lots"`
	// Callback is set when the job's callback series is still to be started.
	Callback *CallbackInput `json:"callback,omitempty"`
}

// CallbackInput starts one attempt series of a delivery.
type CallbackInput struct {
	DeliveryID   string            `json:"delivery_id"`
	JobID        string            `json:"job_id"`
	ClientID     string            `json:"client_id"`     // HookflowEntity of the run: "failed callbacks of client X"
	Series       int               `json:"series"`        // 1 for the job's own, +1 per manual retry
	FirstAttempt int               `json:"first_attempt"` // attempt number of the series' first attempt
	Schedule     callback.Schedule `json:"schedule"`
	Timeout      time.Duration     `json:"timeout"`
	// PausePoll: while the client is paused, the first wait before looking
	// again (CALLBACK_PAUSE_POLL; doubles up to MaxPausePoll). Zero in
	// inputs recorded before client pauses: DefaultPausePoll.
	PausePoll time.Duration `json:"pause_poll,omitempty"`
}

// Waits of a delivery whose client is paused.
const (
	DefaultPausePoll = time.Minute
	MaxPausePoll     = 10 * time.Minute
)

// CallbackWorkflowID is the workflow of a delivery's attempt series.
func CallbackWorkflowID(deliveryID string, series int) string {
	if series <= 1 {
		return "callback-" + deliveryID
	}
	return fmt.Sprintf("callback-%s-retry-%d", deliveryID, series-1)
}

// WebhookID is the Standard Webhooks webhook-id of a delivery: the same on
// every attempt and every manual retry series, and unique beyond this
// installation (receivers deduplicate on it).
func WebhookID(deliveryID string) string { return "msg_" + deliveryID }

// JobFinish gives the job its final status and creates its callback delivery.
func (a *Jobs) JobFinish(ctx context.Context, jobID string) (JobSummary, error) {
	j, err := a.Store.FinishJob(ctx, jobID, WebhookID)
	if err != nil {
		return JobSummary{}, err
	}
	s := JobSummary{Status: j.Status, TotalLots: j.TotalLots, CompletedLots: j.CompletedLots, FailedLots: j.FailedLots}
	if d := j.Delivery; d != nil && d.Series == 1 && d.Attempts == 0 && d.Status == store.DeliveryPending {
		s.Callback = &CallbackInput{DeliveryID: d.ID, JobID: j.ID, ClientID: d.ClientID, Series: 1, FirstAttempt: 1,
			Schedule: a.Config.Schedule(), Timeout: a.Config.CallbackTimeout, PausePoll: a.Config.CallbackPausePoll}
	}
	return s, nil
}

// JobStartCallback starts the job's callback series, once: a second start
// of the same workflow ID is refused by Temporal and taken as done. The
// job's run calls it as a local activity right after JobFinish, so the
// run ends in the same workflow task and the callback's first attempt does
// not wait for the run's next one (a child workflow costs the parent two
// more history events and a workflow task to learn it started).
func (a *Jobs) JobStartCallback(ctx context.Context, in CallbackInput) error {
	if a.StartCallback == nil {
		return temporal.NewNonRetryableApplicationError("the worker has no Temporal client to start callbacks with", "JobNoTemporalClient", nil)
	}
	err := a.StartCallback(ctx, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// DeliverInput is one attempt.
type DeliverInput struct {
	DeliveryID string        `json:"delivery_id"`
	Series     int           `json:"series"`
	Attempt    int           `json:"attempt"`
	Timeout    time.Duration `json:"timeout"`
	// PauseAware: the series waits while its client is paused (runs from
	// versionCallbackClientPause on); the attempt then sends nothing and
	// answers Paused.
	PauseAware bool `json:"pause_aware,omitempty"`
}

// DeliverResult is what one attempt did.
type DeliverResult struct {
	callback.Attempt
	AttemptedAt time.Time `json:"attempted_at"`
	// Superseded: a newer series (manual retry) owns the delivery; nothing
	// was sent and this series ends without recording anything.
	Superseded bool `json:"superseded,omitempty"`
	// AlreadyDelivered: an earlier attempt of this series got a 2xx and
	// recorded it, but its result never reached the workflow (the worker
	// died first); nothing was sent again and the series ends delivered.
	AlreadyDelivered bool `json:"already_delivered,omitempty"`
	// Recorded: this attempt was a 2xx and CallbackDeliver stored it (with
	// the delivery's status delivered) before returning; recording it
	// again would change nothing.
	Recorded bool `json:"recorded,omitempty"`
	// Paused: the client is paused (POST /api/v1/clients/{client}/pause);
	// nothing was sent, and the attempt is not spent.
	Paused bool `json:"paused,omitempty"`
}

// CallbackDeliver makes exactly one attempt (the workflow owns the
// schedule). It signs with the submitting client's secret (and, during a
// rotation's overlap, its previous one), read from configuration at the
// attempt: secrets never enter workflow history.
func (a *Jobs) CallbackDeliver(ctx context.Context, in DeliverInput) (DeliverResult, error) {
	d, err := a.Store.DeliveryForAttempt(ctx, in.DeliveryID)
	if err != nil {
		return DeliverResult{}, fmt.Errorf("load delivery %s: %w", in.DeliveryID, err)
	}
	now := time.Now()
	res := DeliverResult{AttemptedAt: now}
	if d == nil {
		res.Attempt = callback.Attempt{Outcome: callback.OutcomePermanent, Err: fmt.Sprintf("delivery %s does not exist", in.DeliveryID)}
		return res, nil
	}
	if in.Series != 0 && d.Series != in.Series {
		res.Superseded = true
		return res, nil
	}
	if d.Status == "delivered" {
		res.AlreadyDelivered = true
		return res, nil
	}
	if in.PauseAware {
		paused, err := a.Store.ClientPaused(ctx, d.ClientID)
		if err != nil {
			return DeliverResult{}, fmt.Errorf("is client %s paused: %w", d.ClientID, err)
		}
		if paused {
			res.Paused = true
			return res, nil
		}
	}
	secret, previous := "", ""
	if clients, err := a.Config.ClientSet(); err == nil {
		for _, c := range clients {
			if c.ID == d.ClientID {
				// During a rotation's overlap webhook-signature carries a
				// signature with the previous secret too; X-Signature
				// uses the current one.
				secret, previous = c.Secret, c.PreviousAt(now)
			}
		}
	}
	if secret == "" {
		res.Attempt = callback.Attempt{Outcome: callback.OutcomePermanent,
			Err: fmt.Sprintf("client %q is no longer configured (JOBS_CLIENTS/JOBS_SHARED_SECRET): cannot sign the callback", d.ClientID)}
		return res, nil
	}
	res.Attempt = callback.Deliver(ctx, a.Callbacks, callback.Request{
		URL: d.URL, Body: d.Body, Secret: secret, PreviousSecret: previous, WebhookID: d.WebhookID,
		Timestamp: now, UserAgent: a.UserAgent, Timeout: in.Timeout,
	})
	code := "none"
	if res.StatusCode != 0 {
		code = strconv.Itoa(res.StatusCode)
	}
	telemetry.Metrics().CallbackAttempts.Add(ctx, 1, telemetry.Attrs("outcome", string(res.Outcome), "status", code))
	if a.Log != nil {
		a.Log.Info("callback attempt", "delivery_id", d.ID, "job_id", d.JobID, "attempt", in.Attempt,
			"status", res.StatusCode, "outcome", res.Outcome, "latency", res.Latency.String(), "error", res.Err)
	}
	if res.Outcome == callback.OutcomeDelivered {
		// Record the 2xx before the workflow hears of it: if this worker
		// dies before its result reaches Temporal, the attempt times out
		// and the next one finds the delivery delivered instead of sending
		// it again (make chaos caught a double delivery there). The
		// workflow's own record of this attempt is then a no-op.
		rec := AttemptRecord{DeliveryID: d.ID, Series: d.Series, Attempt: in.Attempt, Result: res, DeliveryStatus: "delivered"}
		if err := a.CallbackRecordAttempt(ctx, rec); err != nil {
			// Not recorded: report the attempt as sent all the same (the
			// workflow records it with retries); the window stays as wide
			// as it was.
			if a.Log != nil {
				a.Log.Warn("callback delivered but not recorded at once", "delivery_id", d.ID, "error", err)
			}
		} else {
			res.Recorded = true
		}
	}
	return res, nil
}

// AttemptRecord is an attempt and what it means for its delivery.
type AttemptRecord struct {
	DeliveryID     string        `json:"delivery_id"`
	Series         int           `json:"series"`
	Attempt        int           `json:"attempt"`
	Result         DeliverResult `json:"result"`
	DeliveryStatus string        `json:"delivery_status"`
	NextAttemptAt  *time.Time    `json:"next_attempt_at,omitempty"`
}

// CallbackRecordAttempt stores an attempt and the delivery's new state
// (idempotent: a repeat changes nothing).
func (a *Jobs) CallbackRecordAttempt(ctx context.Context, r AttemptRecord) error {
	return a.Store.RecordAttempt(ctx, store.AttemptRecord{
		DeliveryID: r.DeliveryID, Series: r.Series, Attempt: r.Attempt, AttemptedAt: r.Result.AttemptedAt,
		StatusCode: r.Result.StatusCode, Latency: r.Result.Latency, Outcome: string(r.Result.Outcome),
		Error: r.Result.Err, ResponseSnippet: r.Result.ResponseSnippet,
		DeliveryStatus: r.DeliveryStatus, NextAttemptAt: r.NextAttemptAt,
	})
}
