package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/workflows"
)

// mockAny matches any argument of an activity mock.
var mockAny = mock.Anything

// named is a workflow and the name it is registered under: the one the
// API starts it by and its recorded histories carry.
type named struct {
	name string
	fn   any
}

// The workflows of each domain, as the worker registers them.
var (
	jobWorkflows    = []named{{"DescriptionJob", workflows.DescriptionJob}, {"CallbackDelivery", workflows.CallbackDelivery}}
	ratingWorkflows = []named{{"OkdeskRating", workflows.OkdeskRating}, {"OkdeskIssue", workflows.OkdeskIssue}, {"TelegramChat", workflows.TelegramChat}}
	printerWorkflow = named{"SimplyPrintPrinter", workflows.SimplyPrintPrinter}
)

// registrar is what workflows are registered with: a test environment or
// a replayer.
type registrar interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

func register(r registrar, ws ...named) {
	for _, w := range ws {
		r.RegisterWorkflowWithOptions(w.fn, workflow.RegisterOptions{Name: w.name})
	}
}

// newTestEnv is a test environment with the workflows ws and the
// activities acts registered.
func newTestEnv(acts any, ws ...named) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	register(env, ws...)
	env.RegisterActivity(acts)
	return env
}

// replay replays each recorded history with the workflows ws registered: a
// change that breaks determinism fails.
func replay(t *testing.T, files []string, ws ...named) {
	t.Helper()
	for _, file := range files {
		r := worker.NewWorkflowReplayer()
		register(r, ws...)
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
}

// spActs is the activity set the printer workflow calls (a nil receiver is
// enough to name its methods in mocks).
var spActs *activities.SimplyPrint
