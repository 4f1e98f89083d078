// Package issues is the example's workflow: one run per GitHub issue, fed
// by hookflow in order (SOURCES_FILE target mode signal), that keeps the
// issue's state from issues and issue_comment events and reports each
// event's outcome back to hookflow.
package issues

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

// Names shared with sources.yaml.
const (
	WorkflowType = "GitHubIssue"
	SignalName   = "events"
	QueryState   = "state"
)

// Issue is what the workflow knows of its issue.
type Issue struct {
	Number     int      `json:"number"`
	Title      string   `json:"title"`
	State      string   `json:"state"` // open, closed
	Labels     []string `json:"labels"`
	Comments   int      `json:"comments"`
	LastAction string   `json:"last_action"`
	Events     int      `json:"events"`        // events applied, over every run
	LastEvent  int64    `json:"last_event_id"` // hookflow's id of the latest one
}

// Input is what a run starts with: hookflow's hookflowsdk.Start (source,
// key) and, after a continue-as-new, the state so far.
type Input struct {
	Source string `json:"source"`
	Key    string `json:"key"`
	State  *Issue `json:"state,omitempty"`
}

// eventsPerRun bounds a run's history: after this many events it continues
// as new, state carried over.
const eventsPerRun = 500

// Workflow applies the issue's events in the order they come.
func Workflow(ctx workflow.Context, in Input) error {
	st := Issue{}
	if in.State != nil {
		st = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (Issue, error) { return st, nil }); err != nil {
		return err
	}
	ch := workflow.GetSignalChannel(ctx, SignalName)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumInterval: time.Minute},
	})
	applied := 0
	for {
		var b hookflowsdk.Batch
		ch.Receive(ctx, &b)
		events := b.Events
		for { // take what else is waiting: one report for all of it
			var more hookflowsdk.Batch
			if !ch.ReceiveAsync(&more) {
				break
			}
			events = append(events, more.Events...)
		}
		var report []hookflowsdk.Outcome
		for _, ev := range events {
			if ev.ID <= st.LastEvent {
				if ev.IsReplay() {
					// An operator's replay of an event the state is past:
					// applying it again would take the issue back (a replayed
					// "opened" after "closed") or count a comment twice, so it
					// is reported skipped, which shows the replay arrived.
					report = append(report, hookflowsdk.Outcome{ID: ev.ID, Outcome: "skipped",
						Error: fmt.Sprintf("replay %d: the issue's state is past this event (applied up to event %d)", ev.Replay, st.LastEvent)})
				}
				continue // else handed over again after a failed hand-over: applied already
			}
			// Apply decodes JSON into a struct, which workflowcheck flags
			// (encoding/json's reflection) but is deterministic.
			//workflowcheck:ignore
			o := Apply(&st, ev)
			report = append(report, o)
			applied++
		}
		if len(report) > 0 {
			if err := workflow.ExecuteActivity(actx, hookflowsdk.ActivityMarkProcessed, hookflowsdk.Processed{Events: report}).Get(ctx, nil); err != nil {
				return err
			}
		}
		if applied >= eventsPerRun && ch.Len() == 0 {
			return workflow.NewContinueAsNewError(ctx, WorkflowType, Input{Source: in.Source, Key: in.Key, State: &st})
		}
	}
}

// githubEvent is the part of GitHub's issues and issue_comment payloads
// the example reads.
type githubEvent struct {
	Action string `json:"action"`
	Issue  struct {
		Number int    `json:"number"`
		Title  string `json:"title"`
		State  string `json:"state"`
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
	} `json:"issue"`
}

// Apply updates the state with one event and says what it did.
func Apply(st *Issue, ev hookflowsdk.Event) hookflowsdk.Outcome {
	st.LastEvent = ev.ID
	if len(ev.Body) == 0 {
		return hookflowsdk.Outcome{ID: ev.ID, Outcome: "skipped", Error: "body over max_inline_body: fetch " + ev.BodyRef}
	}
	var g githubEvent
	if err := json.Unmarshal(ev.Body, &g); err != nil || g.Issue.Number == 0 {
		return hookflowsdk.Outcome{ID: ev.ID, Outcome: "failed", Error: fmt.Sprintf("not a GitHub issue event: %v", err)}
	}
	st.Number, st.Title, st.LastAction = g.Issue.Number, g.Issue.Title, ev.EventType+"."+g.Action
	if g.Issue.State != "" {
		st.State = g.Issue.State
	}
	st.Labels = st.Labels[:0]
	for _, l := range g.Issue.Labels {
		st.Labels = append(st.Labels, l.Name)
	}
	slices.Sort(st.Labels)
	if ev.EventType == "issue_comment" {
		switch g.Action {
		case "created":
			st.Comments++
		case "deleted":
			st.Comments = max(0, st.Comments-1)
		}
	}
	st.Events++
	return hookflowsdk.Outcome{ID: ev.ID, Outcome: "applied"}
}
