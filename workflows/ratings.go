package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/store"
)

// Signals of the rating workflow.
const (
	// SignalRatingPress carries an activities.RatingPress from the chat
	// workflow.
	SignalRatingPress = "rating-press"
	// SignalRatingCancel (no payload) cancels the request: the issue was
	// reopened.
	SignalRatingCancel = "rating-cancel"
)

// Outcomes of a rating run (HookflowOutcome), besides the request states
// of the store (rated, expired, cancelled, no_chat, blocked, failed).
const (
	// RatingOutcomeCommentFailed: rated, but Okdesk refused the comment
	// for good (recorded on the rating).
	RatingOutcomeCommentFailed = "comment_failed"
)

// RatingResult is how a rating run ended.
type RatingResult struct {
	Outcome string `json:"outcome"`
	Score   int    `json:"score,omitempty"`
}

// OkdeskIssue applies one Okdesk issue's webhooks in the order they were
// received (workflow ID okdesk-issue-<id>). A transition into a
// RATING_STATUSES status starts the child okdesk-rating-<issue>-<n> (n
// counts resolutions); a transition out of them signals the running one to
// cancel.
func OkdeskIssue(ctx workflow.Context, in EntityInput) error {
	var a *activities.Ratings
	actx := entityActivityOptions(ctx)
	owner := workflow.GetInfo(ctx).WorkflowExecution.ID
	return RunEntityLoop(ctx, in, func(ctx workflow.Context, ids []int64) error {
		var res activities.EntityActions
		if err := workflow.ExecuteActivity(actx, a.OkdeskApplyEvents, activities.EntityApply{Owner: owner, IDs: ids}).Get(ctx, &res); err != nil {
			return err
		}
		var done []int64
		for _, act := range res.Actions {
			switch act.Kind {
			case activities.ActionStartRating:
				if act.Rating == nil {
					break
				}
				if err := startRating(ctx, in.EntityID, *act.Rating); err != nil {
					return err
				}
			case activities.ActionCancelRating:
				// A run that ended already (rated, expired) has nothing to
				// cancel: the failed signal is the expected answer.
				_ = workflow.SignalExternalWorkflow(ctx, act.WorkflowID, "", SignalRatingCancel, nil).Get(ctx, nil)
			}
			done = append(done, act.ID)
		}
		if len(done) == 0 {
			return nil
		}
		return workflow.ExecuteActivity(actx, a.RatingActionsDone, done, "").Get(ctx, nil)
	})
}

// startRating starts a resolution's rating workflow as a child that
// outlives this run (ABANDON), once: a second start of the same ID (the
// action redone after a lost result) is refused by Temporal and ignored.
func startRating(ctx workflow.Context, issueID string, in activities.RatingInput) error {
	return startChildOnce(ctx, in.WorkflowID, temporal.NewSearchAttributes(
		SearchSource.ValueSet(store.OkdeskSource),
		SearchEntity.ValueSet(issueID),
	), OkdeskRating, in)
}

// TelegramChat applies one chat's updates in order (workflow ID
// telegram-chat-<chat id>): the conversation's replies are sent in order,
// and rating presses are forwarded to the rating workflow they belong to.
func TelegramChat(ctx workflow.Context, in EntityInput) error {
	var a *activities.Ratings
	actx := entityActivityOptions(ctx)
	tgctx := telegramActivityOptions(ctx, time.Hour)
	owner := workflow.GetInfo(ctx).WorkflowExecution.ID
	return RunEntityLoop(ctx, in, func(ctx workflow.Context, ids []int64) error {
		var res activities.EntityActions
		if err := workflow.ExecuteActivity(actx, a.TelegramApplyUpdates, activities.EntityApply{Owner: owner, IDs: ids}).Get(ctx, &res); err != nil {
			return err
		}
		for _, act := range res.Actions {
			var err error
			if act.Kind == activities.ActionForwardPress && act.Press != nil {
				err = workflow.SignalExternalWorkflow(ctx, act.WorkflowID, "", SignalRatingPress, *act.Press).Get(ctx, nil)
				if err == nil {
					err = workflow.ExecuteActivity(actx, a.RatingActionsDone, []int64{act.ID}, "").Get(ctx, nil)
				} else {
					// The rating run ended meanwhile: answer from its state.
					err = workflow.ExecuteActivity(tgctx, a.TelegramAnswerStale, act.ID).Get(ctx, nil)
				}
			} else {
				err = workflow.ExecuteActivity(tgctx, a.TelegramRunAction, act.ID).Get(ctx, nil)
			}
			if err != nil {
				// Permanent (or out of retries): recorded on the action, and
				// the conversation goes on.
				if derr := workflow.ExecuteActivity(actx, a.RatingActionsDone, []int64{act.ID}, errorText(err)).Get(ctx, nil); derr != nil {
					return derr
				}
			}
		}
		return nil
	})
}

// telegramActivityOptions retry Telegram calls (429 after its retry_after)
// for up to `within`; 403 and other 4xx are not retried.
func telegramActivityOptions(ctx workflow.Context, within time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: within,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
		},
	})
}

// okdeskCommentOptions retry the comment until Okdesk takes it: no limit
// on attempts or time; 4xx other than 408/429 is permanent.
func okdeskCommentOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	})
}

// OkdeskRating asks the customer to rate one resolution of an issue
// (workflow ID okdesk-rating-<issue>-<n>): it sends the message with five
// buttons to the chat linked to the customer, then waits durably for a
// press, a cancellation (the issue reopened), the reminder timer and the
// expiry timer. A press is answered, recorded, posted to Okdesk as a
// comment (retried until Okdesk takes it) and thanked for; later presses
// only get a toast, so a second press never makes a second comment.
func OkdeskRating(ctx workflow.Context, in activities.RatingInput) (RatingResult, error) {
	var a *activities.Ratings
	presses := workflow.GetSignalChannel(ctx, SignalRatingPress)
	cancels := workflow.GetSignalChannel(ctx, SignalRatingCancel)
	dbctx := entityActivityOptions(ctx)
	r := ratingRun{in: in, presses: presses, cancels: cancels, dbctx: dbctx}

	var target activities.RatingTarget
	if err := workflow.ExecuteActivity(dbctx, a.RatingPrepare, in.RequestID).Get(ctx, &target); err != nil {
		return RatingResult{}, err
	}
	if target.State != store.RatingPending && target.State != store.RatingWaiting && target.State != "" {
		return r.end(ctx, target.State) // ended before (a run redone for a closed request)
	}
	if target.ChatID == 0 {
		return r.close(ctx, store.RatingNoChat, "no Telegram chat is linked to the issue's contact")
	}
	if cancels.ReceiveAsync(nil) {
		return r.close(ctx, store.RatingCancelled, "the issue was reopened before the message was sent")
	}
	if err := workflow.ExecuteActivity(telegramActivityOptions(ctx, in.TTL), a.RatingSend, in.RequestID).Get(ctx, nil); err != nil {
		state := store.RatingFailed
		if isBlocked(err) {
			state = store.RatingBlocked
		}
		return r.close(ctx, state, errorText(err))
	}

	timerCtx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()
	var reminder workflow.Future
	if in.ReminderAfter > 0 && in.ReminderAfter < in.TTL {
		reminder = workflow.NewTimer(timerCtx, in.ReminderAfter)
	}
	expiry := workflow.NewTimer(timerCtx, in.TTL)
	for {
		var press *activities.RatingPress
		cancelled, reminded, expired := false, false, false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(presses, func(c workflow.ReceiveChannel, _ bool) {
			var p activities.RatingPress
			c.Receive(ctx, &p)
			press = &p
		})
		sel.AddReceive(cancels, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			cancelled = true
		})
		if reminder != nil {
			sel.AddFuture(reminder, func(workflow.Future) { reminded = true })
		}
		sel.AddFuture(expiry, func(workflow.Future) { expired = true })
		sel.Select(ctx)
		switch {
		case press != nil:
			cancelTimers()
			return r.rated(ctx, *press)
		case cancelled:
			return r.close(ctx, store.RatingCancelled, "the issue was reopened")
		case expired:
			return r.close(ctx, store.RatingExpired, "")
		case reminded:
			reminder = nil
			err := workflow.ExecuteActivity(telegramActivityOptions(ctx, time.Hour), a.RatingRemind, in.RequestID).Get(ctx, nil)
			if isBlocked(err) {
				return r.close(ctx, store.RatingBlocked, errorText(err))
			}
			if err != nil {
				workflow.GetLogger(ctx).Warn("reminder not sent", "error", err)
			}
		}
	}
}

type ratingRun struct {
	in      activities.RatingInput
	presses workflow.ReceiveChannel
	cancels workflow.ReceiveChannel
	dbctx   workflow.Context
}

// rated handles the first press.
func (r ratingRun) rated(ctx workflow.Context, p activities.RatingPress) (RatingResult, error) {
	var a *activities.Ratings
	r.answer(ctx, p.CallbackID, activities.ToastThanks)
	if err := workflow.ExecuteActivity(r.dbctx, a.RatingRecord, activities.RatingRecordInput{RequestID: r.in.RequestID, Press: p}).Get(ctx, nil); err != nil {
		return RatingResult{}, err
	}
	outcome := store.RatingRated
	if err := workflow.ExecuteActivity(okdeskCommentOptions(ctx), a.RatingComment, r.in.RequestID).Get(ctx, nil); err != nil {
		outcome = RatingOutcomeCommentFailed
		if ferr := workflow.ExecuteActivity(r.dbctx, a.RatingCommentFailed, r.in.RequestID, errorText(err)).Get(ctx, nil); ferr != nil {
			return RatingResult{}, ferr
		}
	}
	if err := workflow.ExecuteActivity(telegramActivityOptions(ctx, time.Hour), a.RatingThank, r.in.RequestID).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("thank-you edit failed", "error", err)
	}
	r.drain(ctx, activities.ToastAlreadyRated)
	return RatingResult{Outcome: outcome, Score: p.Score}, RecordOutcome(ctx, outcome)
}

// close ends the request without a rating.
func (r ratingRun) close(ctx workflow.Context, state, reason string) (RatingResult, error) {
	var a *activities.Ratings
	// Editing the message may need Telegram; the state is recorded anyway.
	closeCtx := telegramActivityOptions(ctx, time.Hour)
	err := workflow.ExecuteActivity(closeCtx, a.RatingClose, activities.RatingCloseInput{RequestID: r.in.RequestID, State: state, Error: reason}).Get(ctx, nil)
	if err != nil {
		if err := workflow.ExecuteActivity(r.dbctx, a.RatingClose, activities.RatingCloseInput{RequestID: r.in.RequestID, State: state,
			Error: reason + " (message not edited: " + errorText(err) + ")", SkipEdit: true}).Get(ctx, nil); err != nil {
			return RatingResult{}, err
		}
	}
	return r.end(ctx, state)
}

func (r ratingRun) end(ctx workflow.Context, outcome string) (RatingResult, error) {
	r.drain(ctx, activities.ToastInactive)
	return RatingResult{Outcome: outcome}, RecordOutcome(ctx, outcome)
}

// drain answers the presses that arrived meanwhile, until none is left, so
// the run never ends with a press unanswered.
func (r ratingRun) drain(ctx workflow.Context, toast string) {
	for {
		var p activities.RatingPress
		if !r.presses.ReceiveAsync(&p) {
			for r.cancels.ReceiveAsync(nil) {
			}
			return
		}
		r.answer(ctx, p.CallbackID, toast)
	}
}

// answer stops a button's spinner; Telegram drops queries after a short
// while, so it is tried briefly and a failure only logged.
func (r ratingRun) answer(ctx workflow.Context, callbackID, toast string) {
	var a *activities.Ratings
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2},
	})
	if err := workflow.ExecuteActivity(actx, a.RatingAnswer, activities.RatingAnswerInput{CallbackID: callbackID, Toast: toast}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("callback query not answered", "error", err)
	}
}

func isBlocked(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeTelegramBlocked
}

// errorText is the most useful message of an activity error.
func errorText(err error) string {
	return activityErrorText(err, func(toErr *temporal.TimeoutError) string {
		return "no success in time: " + toErr.Error()
	})
}

// activityErrorText is the message of an activity's failure: an
// application error's own, timedOut's for a timeout, else the error's text.
func activityErrorText(err error, timedOut func(*temporal.TimeoutError) string) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var toErr *temporal.TimeoutError
	if errors.As(err, &toErr) {
		return timedOut(toErr)
	}
	return err.Error()
}
