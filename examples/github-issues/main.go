// Command github-issues is the example user worker of docs/sources.md: it
// runs the per-issue workflow that hookflow feeds with GitHub's issues and
// issue_comment webhooks (sources.yaml), and reports each event's outcome
// back to hookflow. See README.md here.
package main

import (
	"log"
	"os"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/examples/github-issues/issues"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	tc, err := client.Dial(client.Options{
		HostPort:  getenv("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		Namespace: getenv("TEMPORAL_NAMESPACE", "default"),
	})
	if err != nil {
		log.Fatalf("temporal: %v", err)
	}
	defer tc.Close()
	token := os.Getenv("HOOKFLOW_ADMIN_TOKEN")
	if token == "" {
		log.Fatal("HOOKFLOW_ADMIN_TOKEN is not set: the worker reports outcomes with an admin token of hookflow")
	}
	sdk := &hookflowsdk.Client{BaseURL: getenv("HOOKFLOW_URL", "http://localhost:8080"), Token: token}
	w := worker.New(tc, getenv("TASK_QUEUE", "github-issues"), worker.Options{})
	w.RegisterWorkflowWithOptions(issues.Workflow, workflow.RegisterOptions{Name: issues.WorkflowType})
	w.RegisterActivityWithOptions(sdk.MarkProcessed, activity.RegisterOptions{Name: hookflowsdk.ActivityMarkProcessed})
	if err := w.Run(worker.InterruptCh()); err != nil {
		log.Fatal(err)
	}
}
