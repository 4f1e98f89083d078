package issues_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/examples/github-issues/issues"
	"github.com/hookflow/hookflow/internal/sources"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

func event(id int64, typ, body string) hookflowsdk.Event {
	return hookflowsdk.Event{ID: id, Source: "github", Key: "7", EventType: typ, Body: json.RawMessage(body)}
}

// The workflow keeps the issue's state from its events in order, skips an
// event handed over again, reports a replay of an event it is past as
// skipped, and reports every outcome.
func TestWorkflowKeepsIssueState(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	var reported []hookflowsdk.Outcome
	env.RegisterActivityWithOptions(func(ctx context.Context, p hookflowsdk.Processed) error {
		reported = append(reported, p.Events...)
		return nil
	}, activity.RegisterOptions{Name: hookflowsdk.ActivityMarkProcessed})
	opened := `{"action":"opened","issue":{"number":7,"title":"Crash on start","state":"open","labels":[]}}`
	labeled := `{"action":"labeled","issue":{"number":7,"title":"Crash on start","state":"open","labels":[{"name":"bug"},{"name":"p1"}]}}`
	comment := `{"action":"created","issue":{"number":7,"title":"Crash on start","state":"open","labels":[{"name":"bug"},{"name":"p1"}]},"comment":{"body":"same here"}}`
	closed := `{"action":"closed","issue":{"number":7,"title":"Crash on start (fixed)","state":"closed","labels":[{"name":"bug"}]}}`
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(issues.SignalName, hookflowsdk.Batch{Source: "github", Key: "7", Events: []hookflowsdk.Event{
			event(1, "issues", opened), event(2, "issues", labeled)}})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(issues.SignalName, hookflowsdk.Batch{Source: "github", Key: "7", Events: []hookflowsdk.Event{
			event(2, "issues", labeled), // again: a retried hand-over
			event(3, "issue_comment", comment), event(4, "issue_comment", comment), event(5, "issues", closed),
			event(6, "issues", `{"zen":"not an issue"}`), {ID: 7, EventType: "issues", BodyRef: "/api/v1/events/7", BodySize: 2 << 20}}})
	}, 2*time.Second)
	env.RegisterDelayedCallback(func() {
		replayed := event(3, "issue_comment", comment)
		replayed.Replay = 1 // an operator's replay: reported, not applied again
		env.SignalWorkflow(issues.SignalName, hookflowsdk.Batch{Source: "github", Key: "7", Events: []hookflowsdk.Event{replayed}})
	}, 2500*time.Millisecond)
	var st issues.Issue
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(issues.QueryState)
		if err != nil {
			t.Error(err)
		} else if err := v.Get(&st); err != nil {
			t.Error(err)
		}
		env.CancelWorkflow()
	}, 3*time.Second)
	env.ExecuteWorkflow(issues.Workflow, issues.Input{Source: "github", Key: "7"})

	if st.Number != 7 || st.Title != "Crash on start (fixed)" || st.State != "closed" || len(st.Labels) != 1 || st.Labels[0] != "bug" ||
		st.Comments != 2 || st.Events != 5 || st.LastAction != "issues.closed" || st.LastEvent != 7 {
		t.Errorf("state: %+v", st)
	}
	want := []string{"1 applied", "2 applied", "3 applied", "4 applied", "5 applied", "6 failed", "7 skipped", "3 skipped"}
	if len(reported) != len(want) {
		t.Fatalf("reported %+v", reported)
	}
	for i, o := range reported {
		if got := fmt.Sprintf("%d %s", o.ID, o.Outcome); got != want[i] {
			t.Errorf("report %d: %+v, want %s", i, o, want[i])
		}
	}
	if last := reported[len(reported)-1]; !strings.HasPrefix(last.Error, "replay 1: ") {
		t.Errorf("the replay's report: %+v", last)
	}
}

// sources.yaml is a valid file whose target is this workflow.
func TestSourcesFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "sources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srcs, err := sources.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	tg := srcs[0].Target
	if tg.Workflow != issues.WorkflowType || tg.Signal != issues.SignalName || tg.Mode != sources.ModeSignal || srcs[0].Key == nil {
		t.Fatalf("target %+v", tg)
	}
}
