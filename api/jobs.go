package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/auth"
	"github.com/hookflow/hookflow/internal/jobs"
	"github.com/hookflow/hookflow/internal/netguard"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/workflows"
)

// jobsResolver resolves webhook_url and image hosts for the submission-time
// SSRF check (tests swap it to make names resolve to private addresses).
var jobsResolver netguard.Resolver = net.DefaultResolver

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

func (s *Server) jobsRoutes(r *gin.Engine) {
	r.POST("/api/v1/generate-descriptions", inboundMetrics(store.JobsSource), s.submitJob)
	r.GET("/api/v1/jobs/:id/status", s.jobStatus)
	r.GET("/api/v1/jobs/:id/results", s.jobResults)
	r.GET("/api/v1/webhook-metrics", s.monitoring, s.webhookMetrics)
	r.GET("/api/v1/webhook-health", s.monitoring, s.webhookHealth)
	r.GET("/api/v1/webhook-failures", s.monitoring, s.webhookFailures)
	r.GET("/api/v1/webhook-deliveries/:id", s.requireRead, s.webhookDelivery)
	r.POST("/api/v1/webhook-deliveries/:id/retry", s.requireAdmin, s.retryWebhookDelivery)
	r.POST("/api/v1/webhook-deliveries/retry", s.requireAdmin, s.retryWebhookDeliveries)
}

// JobAccepted is the 202 answer to a submission.
type JobAccepted struct {
	JobID      string `json:"job_id"`
	Status     string `json:"status"`
	TotalLots  int    `json:"total_lots"`
	StatusURL  string `json:"status_url"`
	ResultsURL string `json:"results_url"`
}

func (s *Server) jobURL(jobID, what string) string {
	return strings.TrimRight(s.Config.PublicBaseURL, "/") + "/api/v1/jobs/" + jobID + "/" + what
}

// submitJob: parse (400), authenticate (401), validate (422), refuse private
// destinations (422), then record the job, its lots and its inbound event
// in one transaction before answering 202. The relay starts job-<id>.
func (s *Server) submitJob(c *gin.Context) {
	ctx := c.Request.Context()
	body, ok := s.readJSON(c)
	if !ok {
		return
	}
	sub, err := jobs.ParseSubmission(body)
	if err != nil {
		failValidation(c, http.StatusBadRequest, err)
		return
	}
	clients, err := s.Config.Jobs.ClientSet()
	if err != nil || len(clients) == 0 {
		fail(c, http.StatusServiceUnavailable, "job submissions are disabled: the server has no clients (set JOBS_CLIENTS or JOBS_SHARED_SECRET)")
		return
	}
	clientID, withPrevious, err := jobs.VerifySignatureAt(sub, body, c.GetHeader("X-Signature"), clients, time.Now())
	if withPrevious && s.Log != nil {
		s.Log.Info("job submission signed with the client's previous secret (JOBS_CLIENTS_PREVIOUS)", "client_id", clientID)
	}
	if err != nil {
		field := "signature"
		if c.GetHeader("X-Signature") != "" && sub.Signature == "" {
			field = "X-Signature"
		}
		failField(c, http.StatusUnauthorized, field, err.Error())
		return
	}
	if err := sub.Validate(s.Config.Jobs.Limits()); err != nil {
		failValidation(c, http.StatusUnprocessableEntity, err)
		return
	}
	if errs := s.checkJobDestinations(ctx, sub); len(errs) > 0 {
		failValidation(c, http.StatusUnprocessableEntity, &jobs.ValidationError{Errors: errs})
		return
	}
	key := strings.TrimSpace(c.GetHeader("Idempotency-Key"))
	if len(key) > maxIdempotencyKey {
		failField(c, http.StatusBadRequest, "Idempotency-Key", fmt.Sprintf("Idempotency-Key is longer than %d bytes", maxIdempotencyKey))
		return
	}

	id := uuid.NewString()
	payload, _ := json.Marshal(map[string]any{"job_id": id, "total_lots": len(sub.Lots)})
	ev := &store.InboundEvent{
		Source: store.JobsSource, DedupKey: id, WorkflowID: store.JobWorkflowID(id), EntityID: id,
		Event: "job.submitted", EventType: "job_submitted",
		Attrs:   map[string]any{"client_id": clientID, "total_lots": len(sub.Lots)},
		Payload: payload,
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	ev.TraceParent = carrier.Get("traceparent")

	jobID, replay, err := s.Store.CreateJob(ctx, store.NewJob{
		ID: id, ClientID: clientID, Version: sub.Version, Languages: sub.Languages, WebhookURL: sub.WebhookURL,
		IdempotencyKey: key, RequestHash: jobs.RequestHash(body), Lots: sub.Lots,
	}, ev)
	switch {
	case errors.Is(err, store.ErrJobIdempotencyConflict):
		failField(c, http.StatusConflict, "Idempotency-Key", "Idempotency-Key "+strconv.Quote(key)+" was used before with a different request body; use a new key for a new job")
		return
	case store.IsDataError(err):
		s.Log.Warn("jobs: the job's data was refused", "client_id", clientID, "error", err)
		failField(c, http.StatusBadRequest, "body", "the job cannot be stored as sent: "+store.DataErrorText(err))
		return
	case err != nil:
		s.Log.Error("jobs: cannot record job", "client_id", clientID, "error", err)
		fail(c, http.StatusServiceUnavailable, "the job could not be recorded; please retry")
		return
	}
	markDuplicate(c, replay)
	if replay {
		c.Header("Idempotent-Replayed", "true")
	} else if s.Pipeline != nil && s.Pipeline.Relay != nil {
		s.Pipeline.Relay.Poke()
	}
	s.Log.Info("job accepted", "job_id", jobID, "client_id", clientID, "lots", len(sub.Lots), "languages", len(sub.Languages),
		"callback", sub.WebhookURL != "", "replay", replay)
	c.Header("Location", s.jobURL(jobID, "status"))
	c.JSON(http.StatusAccepted, JobAccepted{JobID: jobID, Status: store.JobQueued, TotalLots: len(sub.Lots),
		StatusURL: s.jobURL(jobID, "status"), ResultsURL: s.jobURL(jobID, "results")})
}

// failValidation answers a *jobs.ValidationError with every field listed.
func failValidation(c *gin.Context, status int, err error) {
	var verr *jobs.ValidationError
	if !errors.As(err, &verr) || len(verr.Errors) == 0 {
		fail(c, status, err.Error())
		return
	}
	c.AbortWithStatusJSON(status, ErrorBody{Error: verr.Error(), Field: verr.Errors[0].Field, Details: verr.Errors})
}

// checkJobDestinations applies the SSRF guard to webhook_url and every image
// URL (each distinct host resolved once): every address a host resolves to
// must be public, unless CALLBACK_ALLOW_PRIVATE_NETWORKS. The callback's
// dialer checks again at connect time, against DNS rebinding.
func (s *Server) checkJobDestinations(ctx context.Context, sub jobs.Submission) []jobs.FieldError {
	type target struct{ field, host string }
	var targets []target
	add := func(field, raw string) {
		if u, err := url.Parse(raw); err == nil {
			targets = append(targets, target{field, strings.ToLower(u.Host)})
		}
	}
	if sub.WebhookURL != "" {
		add("webhook_url", sub.WebhookURL)
	}
	for i, lot := range sub.Lots {
		for j, img := range lot.Images {
			add(fmt.Sprintf("lots[%d].images[%d]", i, j), img)
		}
	}
	results := map[string]error{}
	var hosts []string
	for _, t := range targets {
		if _, seen := results[t.host]; !seen {
			results[t.host] = nil
			hosts = append(hosts, t.host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, host := range hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := netguard.CheckURL(ctx, "http://"+host+"/", s.Config.Jobs.CallbackAllowPrivate, jobsResolver)
			mu.Lock()
			results[host] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	var errs []jobs.FieldError
	for _, t := range targets {
		err := results[t.host]
		if err == nil {
			continue
		}
		if len(errs) == 50 {
			errs = append(errs, jobs.FieldError{Message: "and more refused URLs"})
			break
		}
		msg := strings.TrimPrefix(err.Error(), "netguard: ")
		if errors.Is(err, netguard.ErrBlocked) {
			msg = "refused: " + strings.TrimSuffix(msg, ": "+netguard.ErrBlocked.Error()) +
				"; only public addresses are allowed"
		}
		errs = append(errs, jobs.FieldError{Field: t.field, Message: msg})
	}
	return errs
}

// JobStatus is the answer of GET /api/v1/jobs/{id}/status.
type JobStatus struct {
	JobID         string          `json:"job_id"`
	Status        string          `json:"status"`
	TotalLots     int             `json:"total_lots"`
	CompletedLots int             `json:"completed_lots"`
	FailedLots    int             `json:"failed_lots"`
	Progress      int             `json:"progress"` // % of lots finished, completed or failed
	Languages     []string        `json:"languages"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	StartedAt     *time.Time      `json:"started_at"`
	FinishedAt    *time.Time      `json:"finished_at"`
	ResultsURL    string          `json:"results_url"`
	Callback      *CallbackStatus `json:"callback"` // null when the job has no webhook_url
}

// CallbackStatus is a job's callback as the status endpoint shows it.
type CallbackStatus struct {
	DeliveryID    string     `json:"delivery_id,omitempty"`
	WebhookID     string     `json:"webhook_id,omitempty"`
	Status        string     `json:"status"` // waiting_for_job, pending, delivered, failed, gone
	Attempts      int        `json:"attempts"`
	LastStatus    *int       `json:"last_status"` // HTTP status of the last attempt; null when none answered
	LastError     *string    `json:"last_error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

func (s *Server) loadJob(c *gin.Context) *store.Job {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		failField(c, http.StatusNotFound, "id", "no job "+strconv.Quote(id)+" (job ids are UUIDs)")
		return nil
	}
	j, err := s.Store.GetJob(c.Request.Context(), id)
	if err != nil {
		s.internalError(c, "load job", err)
		return nil
	}
	if j == nil {
		failField(c, http.StatusNotFound, "id", "no job "+id)
		return nil
	}
	return j
}

func (s *Server) jobStatus(c *gin.Context) {
	j := s.loadJob(c)
	if j == nil {
		return
	}
	out := JobStatus{JobID: j.ID, Status: j.Status, TotalLots: j.TotalLots, CompletedLots: j.CompletedLots, FailedLots: j.FailedLots,
		Languages: j.Languages, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt,
		ResultsURL: s.jobURL(j.ID, "results")}
	if j.TotalLots > 0 {
		out.Progress = (j.CompletedLots + j.FailedLots) * 100 / j.TotalLots
	}
	switch d := j.Delivery; {
	case d != nil:
		out.Callback = &CallbackStatus{DeliveryID: d.ID, WebhookID: d.WebhookID, Status: d.Status, Attempts: d.Attempts,
			LastStatus: d.LastStatusCode, LastError: d.LastError, NextAttemptAt: d.NextAttemptAt, FinishedAt: d.FinishedAt}
	case j.WebhookURL != "":
		out.Callback = &CallbackStatus{Status: "waiting_for_job"}
	}
	c.JSON(http.StatusOK, out)
}

// JobResults is the answer of GET /api/v1/jobs/{id}/results.
type JobResults struct {
	JobID         string            `json:"job_id"`
	Status        string            `json:"status"`
	Languages     []string          `json:"languages"`
	TotalLots     int               `json:"total_lots"`
	CompletedLots int               `json:"completed_lots"`
	FailedLots    int               `json:"failed_lots"`
	FinishedAt    *time.Time        `json:"finished_at"`
	Results       []store.LotResult `json:"results"`
}

func (s *Server) jobResults(c *gin.Context) {
	j := s.loadJob(c)
	if j == nil {
		return
	}
	if !j.Finished() {
		c.AbortWithStatusJSON(http.StatusConflict, ErrorBody{
			Error:   fmt.Sprintf("job %s is %s: results are available once it has finished (poll %s)", j.ID, j.Status, s.jobURL(j.ID, "status")),
			Details: gin.H{"status": j.Status, "completed_lots": j.CompletedLots, "failed_lots": j.FailedLots, "total_lots": j.TotalLots},
		})
		return
	}
	lots, err := s.Store.JobResults(c.Request.Context(), j.ID)
	if err != nil {
		s.internalError(c, "load results", err)
		return
	}
	c.JSON(http.StatusOK, JobResults{JobID: j.ID, Status: j.Status, Languages: j.Languages, TotalLots: j.TotalLots,
		CompletedLots: j.CompletedLots, FailedLots: j.FailedLots, FinishedAt: j.FinishedAt, Results: lots})
}

// WebhookMetrics is the answer of GET /api/v1/webhook-metrics.
type WebhookMetrics struct {
	Hours int       `json:"hours"`
	Since time.Time `json:"since"`
	store.DeliveryMetrics
}

func (s *Server) webhookMetrics(c *gin.Context) {
	hours, err := queryInt(c, "hours", 24, 1, 24*90)
	if err != nil {
		return
	}
	since := time.Now().Add(-time.Duration(hours) * time.Hour)
	m, err := s.Store.DeliveryMetrics(c.Request.Context(), since)
	if err != nil {
		s.internalError(c, "webhook metrics", err)
		return
	}
	c.JSON(http.StatusOK, WebhookMetrics{Hours: hours, Since: since.UTC(), DeliveryMetrics: m})
}

// Health verdicts and their thresholds (docs/jobs.md explains them).
const (
	healthWindow           = time.Hour
	degradedPending        = 100
	unhealthyPending       = 1000
	degradedFailureRate    = 0.10
	unhealthyFailureRate   = 0.50
	unhealthyMinFinished   = 5
	stuckMarginAfterSeries = 5 * time.Minute
)

// WebhookHealth is the answer of GET /api/v1/webhook-health.
type WebhookHealth struct {
	Status               string   `json:"status"` // healthy, degraded, unhealthy
	Reasons              []string `json:"reasons"`
	Pending              int64    `json:"pending"`
	OldestPendingSeconds int64    `json:"oldest_pending_seconds"`
	StuckAfterSeconds    int64    `json:"stuck_after_seconds"` // a pending delivery older than this has outlived its schedule
	WindowSeconds        int64    `json:"window_seconds"`
	RecentDelivered      int64    `json:"recent_delivered"`
	RecentFailed         int64    `json:"recent_failed"`
	FailureRate          *float64 `json:"failure_rate"` // failed / finished within the window; null when none finished
}

// stuckAfter is how long a delivery can legitimately stay pending: its whole
// schedule, every attempt's timeout, and a margin.
func (s *Server) stuckAfter() time.Duration {
	d := stuckMarginAfterSeries
	for _, w := range s.Config.Jobs.Schedule().Delays() {
		d += w
	}
	return d + time.Duration(s.Config.Jobs.CallbackRetryMaxAttempts)*s.Config.Jobs.CallbackTimeout
}

func (s *Server) webhookHealth(c *gin.Context) {
	h, err := s.Store.DeliveryHealth(c.Request.Context(), time.Now().Add(-healthWindow))
	if err != nil {
		s.internalError(c, "webhook health", err)
		return
	}
	stuck := s.stuckAfter()
	out := WebhookHealth{Status: "healthy", Reasons: []string{}, Pending: h.Pending, OldestPendingSeconds: int64(h.OldestPending.Seconds()),
		StuckAfterSeconds: int64(stuck.Seconds()), WindowSeconds: int64(healthWindow.Seconds()),
		RecentDelivered: h.RecentDelivered, RecentFailed: h.RecentFailed}
	level := 0
	flag := func(l int, reason string) {
		level = max(level, l)
		out.Reasons = append(out.Reasons, reason)
	}
	switch {
	case h.Pending >= unhealthyPending:
		flag(2, fmt.Sprintf("pending backlog: %d deliveries pending (unhealthy from %d)", h.Pending, unhealthyPending))
	case h.Pending >= degradedPending:
		flag(1, fmt.Sprintf("pending backlog: %d deliveries pending (degraded from %d)", h.Pending, degradedPending))
	}
	switch {
	case h.OldestPending > 2*stuck:
		flag(2, fmt.Sprintf("oldest pending delivery is %s old, twice longer than its schedule allows (%s): are workers running?", h.OldestPending.Round(time.Second), stuck))
	case h.OldestPending > stuck:
		flag(1, fmt.Sprintf("oldest pending delivery is %s old, longer than its schedule allows (%s)", h.OldestPending.Round(time.Second), stuck))
	}
	if done := h.RecentDelivered + h.RecentFailed; done > 0 {
		rate := float64(h.RecentFailed) / float64(done)
		out.FailureRate = &rate
		switch {
		case rate >= unhealthyFailureRate && done >= unhealthyMinFinished:
			flag(2, fmt.Sprintf("failure rate: %d of %d deliveries finished in the last hour failed", h.RecentFailed, done))
		case rate >= degradedFailureRate:
			flag(1, fmt.Sprintf("failure rate: %d of %d deliveries finished in the last hour failed", h.RecentFailed, done))
		}
	}
	out.Status = []string{"healthy", "degraded", "unhealthy"}[level]
	code := http.StatusOK
	if level == 2 {
		code = http.StatusServiceUnavailable
	}
	c.JSON(code, out)
}

// DeliveryView is a delivery as the monitoring endpoints show it: the URL
// without query, fragment or credentials (they may carry the receiver's
// token).
type DeliveryView struct {
	store.Delivery
	URL        string                  `json:"url"`
	WorkflowID string                  `json:"workflow_id"`
	History    []store.DeliveryAttempt `json:"history,omitempty"`
}

func viewDelivery(d store.Delivery) DeliveryView {
	return DeliveryView{Delivery: d, URL: redactURL(d.URL), WorkflowID: activities.CallbackWorkflowID(d.ID, d.Series)}
}

// redactURL keeps scheme, host and path.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	out := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?…"
	}
	return out
}

func (s *Server) webhookFailures(c *gin.Context) {
	f := store.DeliveryFilter{}
	var err error
	if f.Limit, err = queryInt(c, "limit", 50, 1, 500); err != nil {
		return
	}
	if f.Since, f.Until, err = queryTimeRange(c); err != nil {
		return
	}
	at, id, err := queryCursor(c)
	if err != nil {
		return
	}
	if !at.IsZero() {
		if _, parseErr := uuid.Parse(id); parseErr != nil {
			failField(c, http.StatusBadRequest, "cursor", "cursor is not one of this list (pass next_cursor of the previous page as is)")
			return
		}
		f.After = &store.DeliveryCursor{FinishedAt: at, ID: id}
	}
	ds, err := s.Store.FailedDeliveries(c.Request.Context(), f)
	if err != nil {
		s.internalError(c, "list failed deliveries", err)
		return
	}
	out := make([]DeliveryView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewDelivery(d))
	}
	page := gin.H{"failures": out, "count": len(out)}
	if len(ds) == f.Limit {
		if last := ds[len(ds)-1]; last.FinishedAt != nil {
			page["next_cursor"] = encodeCursor(*last.FinishedAt, last.ID)
		}
	}
	c.JSON(http.StatusOK, page)
}

func parseDeliveryID(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		failField(c, http.StatusNotFound, "id", "no delivery "+strconv.Quote(id)+" (delivery ids are UUIDs)")
		return "", false
	}
	return id, true
}

// webhookDelivery shows one delivery with every attempt.
func (s *Server) webhookDelivery(c *gin.Context) {
	id, ok := parseDeliveryID(c)
	if !ok {
		return
	}
	d, err := s.Store.GetDelivery(c.Request.Context(), id)
	if err != nil {
		s.internalError(c, "load delivery", err)
		return
	}
	if d == nil {
		failField(c, http.StatusNotFound, "id", "no delivery "+id)
		return
	}
	v := viewDelivery(*d)
	if v.History, err = s.Store.DeliveryAttempts(c.Request.Context(), id); err != nil {
		s.internalError(c, "load attempts", err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// retryWebhookDelivery starts a new attempt series (same webhook-id, the
// configured schedule) for a delivery whose series has ended.
// startCallbackSeries starts the attempt series of a delivery that a retry
// has just moved to its next series (inside the retry's transaction, so a
// refused start leaves the delivery as it was).
func (s *Server) startCallbackSeries(ctx context.Context, d store.Delivery) (activities.CallbackInput, error) {
	input := activities.CallbackInput{DeliveryID: d.ID, JobID: d.JobID, ClientID: d.ClientID, Series: d.Series, FirstAttempt: d.Attempts + 1,
		Schedule: s.Config.Jobs.Schedule(), Timeout: s.Config.Jobs.CallbackTimeout, PausePoll: s.Config.Jobs.CallbackPausePoll}
	_, err := s.Temporal.ExecuteWorkflow(ctx, workflows.CallbackStartOptions(input, s.Config.Temporal.TaskQueue), workflows.CallbackDelivery, input)
	return input, err
}

func (s *Server) retryWebhookDelivery(c *gin.Context) {
	id, ok := parseDeliveryID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var input activities.CallbackInput
	// A pending delivery whose series' workflow has closed anyway (terminated
	// by hand) would stay pending for ever: it may be retried.
	stalled := func(d store.Delivery) bool {
		desc, err := s.Temporal.DescribeWorkflowExecution(ctx, activities.CallbackWorkflowID(d.ID, d.Series), "")
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			// Not started yet: the job's run starts it right after creating
			// the delivery; only a long absence means it never will.
			return time.Since(d.UpdatedAt) > time.Minute
		}
		return err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}
	who, _ := auth.Who(c)
	markAudited(c) // RetryDeliveryAs records the entry, whatever the result
	d, err := s.Store.RetryDeliveryAs(ctx, who.Name, id, stalled, func(d store.Delivery) error {
		var err error
		input, err = s.startCallbackSeries(ctx, d)
		return err
	})
	switch {
	case errors.Is(err, store.ErrDeliveryPending):
		failField(c, http.StatusConflict, "id", fmt.Sprintf("delivery %s is still pending (series %d is running, next attempt %s); retry once it has finished",
			id, d.Series, formatTimePtr(d.NextAttemptAt)))
		return
	case err != nil:
		s.Log.Error("jobs: cannot start a callback retry", "delivery_id", id, "error", err)
		fail(c, http.StatusServiceUnavailable, "the retry could not be started (is Temporal reachable?); nothing changed, please retry")
		return
	case d == nil:
		failField(c, http.StatusNotFound, "id", "no delivery "+id)
		return
	}
	s.Log.Info("callback retry started", "delivery_id", id, "series", d.Series, "first_attempt", input.FirstAttempt)
	c.JSON(http.StatusAccepted, gin.H{
		"delivery_id":   d.ID,
		"job_id":        d.JobID,
		"webhook_id":    d.WebhookID,
		"series":        d.Series,
		"first_attempt": input.FirstAttempt,
		"status":        d.Status,
		"workflow_id":   activities.CallbackWorkflowID(d.ID, d.Series),
	})
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "not scheduled"
	}
	return t.UTC().Format(time.RFC3339)
}
