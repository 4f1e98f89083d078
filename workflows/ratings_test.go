package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/workflows"
)

// ratingActs names the ratings activities in mocks.
var ratingActs *activities.Ratings

func newRatingEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return newTestEnv(&activities.Ratings{}, ratingWorkflows...)
}

var ratingIn = activities.RatingInput{RequestID: 7, IssueID: 153, Resolution: 1, WorkflowID: "okdesk-rating-153-1",
	ReminderAfter: 24 * time.Hour, TTL: 72 * time.Hour}

// ratingLog records what the mocked activities were asked to do, and when
// (in the test environment's skipped time).
type ratingLog struct {
	mu       sync.Mutex
	start    time.Time
	env      *testsuite.TestWorkflowEnvironment
	sends    []time.Duration
	reminds  []time.Duration
	closes   []activities.RatingCloseInput
	closedAt []time.Duration
	answers  []activities.RatingAnswerInput
	records  []activities.RatingRecordInput
	failed   []string
	thanks   int
}

func (l *ratingLog) since() time.Duration { return l.env.Now().Sub(l.start) }

// note records, under the log's lock, what a mocked activity was asked.
func (l *ratingLog) note(record func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	record()
}

type sendFunc = func(context.Context, int64) (int, error)

// mockRating wires every rating activity to l; chatID 0 means no chat.
func mockRating(env *testsuite.TestWorkflowEnvironment, chatID int64) *ratingLog {
	return mockRatingSend(env, chatID, nil)
}

// mockRatingSend is mockRating with RatingSend answered by send (nil: ok).
func mockRatingSend(env *testsuite.TestWorkflowEnvironment, chatID int64, send func(l *ratingLog) sendFunc) *ratingLog {
	l := &ratingLog{env: env, start: env.Now()}
	env.OnActivity(ratingActs.RatingPrepare, mock.Anything, mock.Anything).Return(activities.RatingTarget{ChatID: chatID, State: store.RatingPending}, nil)
	if send != nil {
		env.OnActivity(ratingActs.RatingSend, mock.Anything, mock.Anything).Return(send(l))
	} else {
		env.OnActivity(ratingActs.RatingSend, mock.Anything, mock.Anything).Return(func(context.Context, int64) (int, error) {
			l.note(func() { l.sends = append(l.sends, l.since()) })
			return 42, nil
		})
	}
	env.OnActivity(ratingActs.RatingRemind, mock.Anything, mock.Anything).Return(func(context.Context, int64) error {
		l.note(func() { l.reminds = append(l.reminds, l.since()) })
		return nil
	})
	env.OnActivity(ratingActs.RatingClose, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RatingCloseInput) error {
		l.note(func() {
			l.closes = append(l.closes, in)
			l.closedAt = append(l.closedAt, l.since())
		})
		return nil
	})
	env.OnActivity(ratingActs.RatingAnswer, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RatingAnswerInput) error {
		l.note(func() { l.answers = append(l.answers, in) })
		return nil
	})
	env.OnActivity(ratingActs.RatingRecord, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RatingRecordInput) (store.Rating, error) {
		l.note(func() { l.records = append(l.records, in) })
		return store.Rating{RequestID: in.RequestID, Score: in.Press.Score}, nil
	})
	env.OnActivity(ratingActs.RatingCommentFailed, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, _ int64, reason string) error {
		l.note(func() { l.failed = append(l.failed, reason) })
		return nil
	})
	env.OnActivity(ratingActs.RatingThank, mock.Anything, mock.Anything).Return(func(context.Context, int64) error {
		l.note(func() { l.thanks++ })
		return nil
	})
	return l
}

func ratingResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.RatingResult {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.RatingResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRatingRemindsOnceThenExpires(t *testing.T) {
	env := newRatingEnv(t)
	l := mockRating(env, 5)
	env.ExecuteWorkflow("OkdeskRating", ratingIn)
	res := ratingResult(t, env)
	if res.Outcome != store.RatingExpired {
		t.Fatalf("outcome %q, want expired", res.Outcome)
	}
	if len(l.sends) != 1 || l.sends[0] != 0 {
		t.Fatalf("sends at %v, want one at once", l.sends)
	}
	if len(l.reminds) != 1 || l.reminds[0] != 24*time.Hour {
		t.Fatalf("reminders at %v, want one after 24h", l.reminds)
	}
	if len(l.closes) != 1 || l.closes[0].State != store.RatingExpired || l.closedAt[0] != 72*time.Hour {
		t.Fatalf("closed %+v at %v, want expired after 72h", l.closes, l.closedAt)
	}
	if len(l.records) != 0 || l.thanks != 0 {
		t.Fatalf("recorded %v, thanked %d: nobody pressed", l.records, l.thanks)
	}
}

func TestRatingWithoutReminder(t *testing.T) {
	env := newRatingEnv(t)
	l := mockRating(env, 5)
	in := ratingIn
	in.ReminderAfter = 0
	env.ExecuteWorkflow("OkdeskRating", in)
	if res := ratingResult(t, env); res.Outcome != store.RatingExpired || len(l.reminds) != 0 {
		t.Fatalf("outcome %q, reminders %v", res.Outcome, l.reminds)
	}
}

func TestRatingPressCommentsOnceAndThanks(t *testing.T) {
	env := newRatingEnv(t)
	l := mockRating(env, 5)
	commentCalls := 0
	env.OnActivity(ratingActs.RatingComment, mock.Anything, mock.Anything).Return(func(context.Context, int64) (int64, error) {
		commentCalls++
		if commentCalls == 1 { // Okdesk 500: retried
			return 0, temporal.NewApplicationError("okdesk: HTTP 500", activities.ErrTypeOkdesk)
		}
		return 99, nil
	})
	press := func(update int64, score int) activities.RatingPress {
		return activities.RatingPress{UpdateID: update, CallbackID: "cb" + string(rune('0'+update)), ChatID: 5, MessageID: 42, IssueID: 153, Score: score}
	}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalRatingPress, press(1, 4))
		env.SignalWorkflow(workflows.SignalRatingPress, press(2, 1)) // a second press
	}, 30*time.Hour)
	env.ExecuteWorkflow("OkdeskRating", ratingIn)
	res := ratingResult(t, env)
	if res.Outcome != store.RatingRated || res.Score != 4 {
		t.Fatalf("result %+v, want rated 4", res)
	}
	if len(l.records) != 1 || l.records[0].Press.Score != 4 || l.records[0].RequestID != 7 {
		t.Fatalf("records %+v, want only the first press", l.records)
	}
	if commentCalls != 2 {
		t.Fatalf("comment called %d times, want 2 (one retry)", commentCalls)
	}
	if l.thanks != 1 || len(l.reminds) != 1 || len(l.closes) != 0 {
		t.Fatalf("thanks %d, reminders %v, closes %+v", l.thanks, l.reminds, l.closes)
	}
	if len(l.answers) != 2 || l.answers[0].Toast != activities.ToastThanks || l.answers[1].Toast != activities.ToastAlreadyRated ||
		l.answers[1].CallbackID != "cb2" {
		t.Fatalf("answers %+v, want thanks then already rated", l.answers)
	}
}

func TestRatingCommentRefusedIsRecorded(t *testing.T) {
	env := newRatingEnv(t)
	l := mockRating(env, 5)
	env.OnActivity(ratingActs.RatingComment, mock.Anything, mock.Anything).Return(int64(0),
		temporal.NewNonRetryableApplicationError("okdesk POST issues/153/comments: HTTP 422: author_id: не может быть пустым", activities.ErrTypeOkdesk, nil))
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalRatingPress, activities.RatingPress{CallbackID: "x", ChatID: 5, Score: 2})
	}, time.Minute)
	env.ExecuteWorkflow("OkdeskRating", ratingIn)
	res := ratingResult(t, env)
	if res.Outcome != workflows.RatingOutcomeCommentFailed || len(l.failed) != 1 || l.thanks != 1 {
		t.Fatalf("result %+v, failures %v, thanks %d", res, l.failed, l.thanks)
	}
}

func TestRatingCancelledWhenReopened(t *testing.T) {
	env := newRatingEnv(t)
	l := mockRating(env, 5)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalRatingCancel, nil) }, 2*time.Hour)
	env.ExecuteWorkflow("OkdeskRating", ratingIn)
	res := ratingResult(t, env)
	if res.Outcome != store.RatingCancelled || len(l.closes) != 1 || l.closes[0].State != store.RatingCancelled ||
		l.closedAt[0] != 2*time.Hour || len(l.reminds) != 0 {
		t.Fatalf("result %+v, closes %+v at %v, reminders %v", res, l.closes, l.closedAt, l.reminds)
	}
}

func TestRatingWithoutChat(t *testing.T) {
	env := newRatingEnv(t)
	l := mockRating(env, 0)
	env.ExecuteWorkflow("OkdeskRating", ratingIn)
	res := ratingResult(t, env)
	if res.Outcome != store.RatingNoChat || len(l.sends) != 0 || len(l.closes) != 1 || l.closes[0].State != store.RatingNoChat {
		t.Fatalf("result %+v, sends %v, closes %+v", res, l.sends, l.closes)
	}
}

func TestRatingBlockedBot(t *testing.T) {
	env := newRatingEnv(t)
	l := mockRatingSend(env, 5, func(*ratingLog) sendFunc {
		return func(context.Context, int64) (int, error) {
			return 0, temporal.NewNonRetryableApplicationError("telegram sendMessage: error 403: Forbidden: bot was blocked by the user",
				activities.ErrTypeTelegramBlocked, nil)
		}
	})
	env.ExecuteWorkflow("OkdeskRating", ratingIn)
	res := ratingResult(t, env)
	if res.Outcome != store.RatingBlocked || len(l.closes) != 1 || l.closes[0].State != store.RatingBlocked || l.closes[0].Error == "" {
		t.Fatalf("result %+v, closes %+v", res, l.closes)
	}
}

// TestRatingSendHonoursRetryAfter: a 429 with retry_after 30 delays the
// next attempt by 30 s, not by the policy's first interval.
func TestRatingSendHonoursRetryAfter(t *testing.T) {
	env := newRatingEnv(t)
	var attempts []time.Duration
	mockRatingSend(env, 5, func(l *ratingLog) sendFunc {
		return func(context.Context, int64) (int, error) {
			attempts = append(attempts, l.since())
			if len(attempts) == 1 {
				return 0, temporal.NewApplicationErrorWithOptions("telegram sendMessage: error 429", activities.ErrTypeTelegram,
					temporal.ApplicationErrorOptions{NextRetryDelay: 30 * time.Second})
			}
			return 42, nil
		}
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(workflows.SignalRatingCancel, nil) }, time.Hour)
	env.ExecuteWorkflow("OkdeskRating", ratingIn)
	ratingResult(t, env)
	if len(attempts) != 2 || attempts[1]-attempts[0] != 30*time.Second {
		t.Fatalf("attempts at %v, want two 30s apart", attempts)
	}
}

func TestOkdeskIssueStartsAndCancelsRatings(t *testing.T) {
	env := newRatingEnv(t)
	in := ratingIn
	calls := 0
	env.OnActivity(ratingActs.OkdeskApplyEvents, mock.Anything, mock.Anything).Return(func(_ context.Context, a activities.EntityApply) (activities.EntityActions, error) {
		calls++
		if a.Owner != "okdesk-issue-153" {
			return activities.EntityActions{}, errors.New("owner " + a.Owner)
		}
		if calls == 1 {
			return activities.EntityActions{Actions: []activities.RatingAction{
				{ID: 1, Kind: activities.ActionStartRating, Rating: &in},
				{ID: 2, Kind: activities.ActionCancelRating, WorkflowID: in.WorkflowID},
			}}, nil
		}
		return activities.EntityActions{}, nil
	})
	var done [][]int64
	env.OnActivity(ratingActs.RatingActionsDone, mock.Anything, mock.Anything, mock.Anything).Return(func(_ context.Context, ids []int64, _ string) error {
		done = append(done, ids)
		return nil
	})
	// The child is the real rating workflow (its activities mocked): the
	// parent's cancel signal reaches it.
	l := mockRating(env, 5)
	env.SetStartWorkflowOptions(testStartOptions("okdesk-issue-153"))
	env.ExecuteWorkflow("OkdeskIssue", workflows.EntityInput{Source: "okdesk", EntityID: "153", Pending: []int64{10}})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if len(l.closes) != 1 || l.closes[0].State != store.RatingCancelled || l.closes[0].RequestID != 7 {
		t.Fatalf("child closed %+v: want cancelled by the parent's signal", l.closes)
	}
	if len(done) != 1 || len(done[0]) != 2 {
		t.Fatalf("actions done %v", done)
	}
}

func TestTelegramChatAnswersPressForEndedRating(t *testing.T) {
	env := newRatingEnv(t)
	press := activities.RatingPress{CallbackID: "q", ChatID: 5, IssueID: 153, Score: 5}
	env.OnActivity(ratingActs.TelegramApplyUpdates, mock.Anything, mock.Anything).Return(activities.EntityActions{Actions: []activities.RatingAction{
		{ID: 1, Kind: activities.ActionSend},
		{ID: 2, Kind: activities.ActionForwardPress, WorkflowID: "okdesk-rating-153-1", Press: &press},
	}}, nil).Once()
	env.OnActivity(ratingActs.TelegramApplyUpdates, mock.Anything, mock.Anything).Return(activities.EntityActions{}, nil)
	var order []string
	env.OnActivity(ratingActs.TelegramRunAction, mock.Anything, mock.Anything).Return(func(_ context.Context, id int64) error {
		order = append(order, "run")
		return nil
	})
	env.OnSignalExternalWorkflow(mock.Anything, "okdesk-rating-153-1", "", workflows.SignalRatingPress, mock.Anything).Return(
		errors.New("workflow execution already completed"))
	env.OnActivity(ratingActs.TelegramAnswerStale, mock.Anything, mock.Anything).Return(func(_ context.Context, id int64) error {
		order = append(order, "stale")
		return nil
	})
	env.SetStartWorkflowOptions(testStartOptions("telegram-chat-5"))
	env.ExecuteWorkflow("TelegramChat", workflows.EntityInput{Source: "telegram", EntityID: "5", Pending: []int64{1}})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if len(order) != 2 || order[0] != "run" || order[1] != "stale" {
		t.Fatalf("order %v", order)
	}
}

func testStartOptions(id string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: id, TaskQueue: "test"}
}

// TestRatingsReplay replays histories recorded from a real run (the api
// tests write them with UPDATE_HISTORY=1): a change that breaks
// determinism fails.
func TestRatingsReplay(t *testing.T) {
	replay(t, []string{"testdata/okdesk-rating-153-1.json", "testdata/okdesk-issue-153.json", "testdata/telegram-chat-5001.json"}, ratingWorkflows...)
}
