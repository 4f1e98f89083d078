package api_test

import (
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestSecretsNeverLogged runs requests that carry secrets (right and wrong
// SimplyPrint tokens, a signed job, admin calls) with debug logging on, and
// checks that no secret appears in the logs.
func TestSecretsNeverLogged(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	const spSecret, spPrevious = "sp-secret-value-4711", "sp-previous-value-0815"
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{
		"SIMPLYPRINT_WEBHOOK_SECRET": spSecret, "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS": spPrevious, "LOG_LEVEL": "debug",
	})
	a := e.api
	body := simplyprinttest.Payload("job.started", 1, 1705320000, simplyprinttest.JobData(simplyprinttest.Job{ID: 3, Printer: simplyprinttest.Printer{ID: 4}}))
	call(t, "POST", a.URL()+spPath, body, map[string]string{"X-SP-Token": spSecret}, nil)
	call(t, "POST", a.URL()+spPath, body, map[string]string{"X-SP-Token": spSecret + "-wrong"}, nil)
	call(t, "POST", a.URL()+spPath, body, map[string]string{"X-SP-Token": spPrevious}, nil)
	acc := submit(t, a, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1)), nil)
	waitStatus(t, a, acc.JobID, callbackIs("delivered", 1))
	call(t, "POST", a.URL()+"/api/v1/webhook-deliveries/nope/retry", nil, map[string]string{"Authorization": "Bearer " + adminToken}, nil)
	call(t, "GET", a.URL()+"/ops/simplyprint", nil, map[string]string{"Authorization": "Bearer " + adminToken}, nil)

	text := logs.String()
	if !strings.Contains(text, "simplyprint webhook received") {
		t.Fatalf("the logs were not captured: %q", text)
	}
	if !strings.Contains(text, "request authenticated with the previous secret") || !strings.Contains(text, "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS") {
		t.Errorf("the use of the previous secret is not logged by its variable's name")
	}
	for name, secret := range map[string]string{
		"SIMPLYPRINT_WEBHOOK_SECRET": spSecret, "SIMPLYPRINT_WEBHOOK_SECRET_PREVIOUS": spPrevious, "the job client's secret": acmeSecret,
		"ADMIN_TOKEN": adminToken, "GENERATOR_API_KEY": genKey, "JOBS_SHARED_SECRET": seedSecret,
	} {
		if strings.Contains(text, secret) {
			t.Errorf("%s appears in the logs", name)
		}
	}
}
