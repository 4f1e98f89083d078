package workflows_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/workflows"
)

// ordersActs names the order-sync activities in mocks.
var ordersActs *activities.Orders

// retry24h is the default schedule with the attempts uncapped (the test
// environment turns "unlimited" into 10).
var retry24h = func() workflows.BackSyncRetry {
	r := workflows.DefaultBackSyncRetry
	r.MaxAttempts = 1000
	return r
}()

func newOrdersEnv(t *testing.T, retry workflows.BackSyncRetry) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return newTestEnv(&activities.Orders{}, named{"BitrixOrder", workflows.BitrixOrder}, named{"BitrixBackSync", workflows.OrderBackSync{Retry: retry}.Run})
}

// pushRecorder mocks OrderPushToBitrix: it fails with fail(attempt) (nil:
// success) and records when each attempt ran (workflow clock).
type pushRecorder struct {
	env   *testsuite.TestWorkflowEnvironment
	at    []time.Time
	calls [][]int64
	fail  func(attempt int) error
}

func (p *pushRecorder) push(_ context.Context, ids []int64) (activities.PushResult, error) {
	p.at = append(p.at, p.env.Now())
	p.calls = append(p.calls, slices.Clone(ids))
	if err := p.fail(len(p.at)); err != nil {
		return activities.PushResult{}, err
	}
	return activities.PushResult{Pushed: len(ids)}, nil
}

func (p *pushRecorder) gaps() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(p.at); i++ {
		out = append(out, p.at[i].Sub(p.at[i-1]))
	}
	return out
}

func unavailable() error {
	return temporal.NewApplicationError("bitrix hookflow_order_update.php: HTTP 503: Service Unavailable (retryable)", "BitrixRetryable")
}

// unavailableFor fails the first n pushes with unavailable().
func unavailableFor(n int) func(attempt int) error {
	return func(attempt int) error {
		if attempt <= n {
			return unavailable()
		}
		return nil
	}
}

// TestBackSyncRetrySchedule proves the default schedule: 10 s doubling up
// to 1 h, then hourly; the request is not failed while it succeeds in time.
func TestBackSyncRetrySchedule(t *testing.T) {
	env := newOrdersEnv(t, retry24h)
	rec := &pushRecorder{env: env, fail: unavailableFor(12)}
	env.OnActivity(ordersActs.OrderPushToBitrix, mockAny, mockAny).Return(rec.push)
	failed := false
	env.OnActivity(ordersActs.OrderFailBackSync, mockAny, mockAny, mockAny).Return(func(context.Context, []int64, string) error {
		failed = true
		return nil
	})
	env.ExecuteWorkflow("BitrixBackSync", workflows.EntityInput{Source: "bitrix-backsync", EntityID: "9", Pending: []int64{41}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	s := time.Second
	want := []time.Duration{10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 320 * s, 640 * s, 1280 * s, 2560 * s, time.Hour, time.Hour, time.Hour}
	if got := rec.gaps(); !slices.Equal(got, want) {
		t.Fatalf("waits between attempts %v, want %v", got, want)
	}
	if failed {
		t.Fatal("a push that succeeded within 24 h was recorded as failed")
	}
}

// TestBackSyncGivesUpAfterRetryWindow: a push that never succeeds is
// retried for 24 h, then recorded as failed with the last error.
func TestBackSyncGivesUpAfterRetryWindow(t *testing.T) {
	env := newOrdersEnv(t, retry24h)
	rec := &pushRecorder{env: env, fail: func(int) error { return unavailable() }}
	env.OnActivity(ordersActs.OrderPushToBitrix, mockAny, mockAny).Return(rec.push)
	var reason string
	var failedAt time.Time
	env.OnActivity(ordersActs.OrderFailBackSync, mockAny, mockAny, mockAny).Return(func(_ context.Context, ids []int64, r string) error {
		reason, failedAt = r, env.Now()
		if !slices.Equal(ids, []int64{41}) {
			t.Errorf("failed ids %v", ids)
		}
		return nil
	})
	start := env.Now()
	env.ExecuteWorkflow("BitrixBackSync", workflows.EntityInput{Source: "bitrix-backsync", EntityID: "9", Pending: []int64{41}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(reason, "no success within 24h0m0s") || !strings.Contains(reason, "HTTP 503") {
		t.Fatalf("failure reason %q must carry the last error", reason)
	}
	last := rec.at[len(rec.at)-1]
	if last.Sub(start) > 24*time.Hour || last.Add(time.Hour).Sub(start) <= 24*time.Hour {
		t.Fatalf("last attempt at +%s: attempts must go on until the next one would pass 24 h", last.Sub(start))
	}
	// 10 s .. 2560 s (9 waits, 5110 s), then hourly until 24 h: 22 more.
	if len(rec.at) != 1+9+22 {
		t.Fatalf("%d attempts, want 32", len(rec.at))
	}
	if failedAt.Before(last) || failedAt.Sub(start) > 24*time.Hour {
		t.Fatalf("recorded as failed at +%s", failedAt.Sub(start))
	}
}

// TestBackSyncPermanentAndRetryAfter: a permanent refusal is not retried;
// a Retry-After hint sets the next wait.
func TestBackSyncPermanentAndRetryAfter(t *testing.T) {
	t.Run("permanent", func(t *testing.T) {
		env := newOrdersEnv(t, retry24h)
		rec := &pushRecorder{env: env, fail: func(int) error {
			return temporal.NewNonRetryableApplicationError("bitrix hookflow_order_update.php: HTTP 422: unknown_status (permanent)", "BitrixPermanent", nil)
		}}
		env.OnActivity(ordersActs.OrderPushToBitrix, mockAny, mockAny).Return(rec.push)
		var reason string
		env.OnActivity(ordersActs.OrderFailBackSync, mockAny, mockAny, mockAny).Return(func(_ context.Context, _ []int64, r string) error {
			reason = r
			return nil
		})
		env.ExecuteWorkflow("BitrixBackSync", workflows.EntityInput{Source: "bitrix-backsync", EntityID: "9", Pending: []int64{41}})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if len(rec.at) != 1 || !strings.Contains(reason, "unknown_status") {
			t.Fatalf("%d attempts, reason %q", len(rec.at), reason)
		}
	})
	t.Run("retry-after", func(t *testing.T) {
		env := newOrdersEnv(t, retry24h)
		rec := &pushRecorder{env: env, fail: func(n int) error {
			if n == 1 {
				return temporal.NewApplicationErrorWithOptions("QUERY_LIMIT_EXCEEDED", "BitrixRetryable",
					temporal.ApplicationErrorOptions{NextRetryDelay: 7 * time.Minute})
			}
			return nil
		}}
		env.OnActivity(ordersActs.OrderPushToBitrix, mockAny, mockAny).Return(rec.push)
		env.ExecuteWorkflow("BitrixBackSync", workflows.EntityInput{Source: "bitrix-backsync", EntityID: "9", Pending: []int64{41}})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		if got := rec.gaps(); !slices.Equal(got, []time.Duration{7 * time.Minute}) {
			t.Fatalf("waits %v, want the 7 min Retry-After", got)
		}
	})
}

// TestBackSyncCoalescesAndKeepsOrder: requests signalled while a push is
// retried wait for it and go out together, in order.
func TestBackSyncCoalescesAndKeepsOrder(t *testing.T) {
	env := newOrdersEnv(t, retry24h)
	rec := &pushRecorder{env: env, fail: unavailableFor(3)}
	env.OnActivity(ordersActs.OrderPushToBitrix, mockAny, mockAny).Return(rec.push)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{42}})
		env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{43}})
	}, 5*time.Second)
	env.ExecuteWorkflow("BitrixBackSync", workflows.EntityInput{Source: "bitrix-backsync", EntityID: "9", Pending: []int64{41}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{41}, {41}, {41}, {41}, {42, 43}}
	if !slices.EqualFunc(rec.calls, want, slices.Equal[[]int64]) {
		t.Fatalf("pushes %v, want %v", rec.calls, want)
	}
}

func TestBitrixOrderAppliesInOrder(t *testing.T) {
	env := newOrdersEnv(t, retry24h)
	var applied []int64
	tries := 0
	env.OnActivity(ordersActs.OrderApplyEvents, mockAny, mockAny).Return(func(_ context.Context, ids []int64) (activities.ApplyResult, error) {
		tries++
		if tries == 1 {
			return activities.ApplyResult{}, errors.New("sale.order.get: HTTP 503 (retryable)")
		}
		applied = append(applied, ids...)
		return activities.ApplyResult{Processed: len(ids)}, nil
	})
	runOrderWithLateEvents(t, env)
	if !slices.Equal(applied, []int64{1, 2, 3}) {
		t.Fatalf("applied %v", applied)
	}
}

// runOrderWithLateEvents runs order 236's workflow with event 1 pending
// and events 2 and 3 signalled a minute in; it must end without error.
func runOrderWithLateEvents(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
	t.Helper()
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalEvents, workflows.EventBatch{IDs: []int64{2, 3}})
	}, time.Minute)
	env.ExecuteWorkflow("BitrixOrder", workflows.EntityInput{Source: "bitrix", EntityID: "236", Pending: []int64{1}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
}

// TestOrderWorkflowsReplay replays histories recorded from real runs (the
// api tests write them with UPDATE_HISTORY=1).
func TestOrderWorkflowsReplay(t *testing.T) {
	for file, w := range map[string]named{
		"testdata/bitrix-order.json":    {"BitrixOrder", workflows.BitrixOrder},
		"testdata/bitrix-backsync.json": {"BitrixBackSync", workflows.OrderBackSync{}.Run},
	} {
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("%s: %v (record it: UPDATE_HISTORY=1 go test ./api/ -run TestOrdersBackSyncToSite)", file, err)
		}
		replay(t, []string{file}, w)
	}
}
