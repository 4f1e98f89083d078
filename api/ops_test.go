package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestOpsConsoleSimplyPrint drives the console in headless Chromium: the
// login form, the print-farm page, and the "send test event" button, which
// must go through the real webhook endpoint (with the configured secret) and
// show up processed.
func TestOpsConsoleSimplyPrint(t *testing.T) {
	a, _, _ := startSimplyPrint(t, map[string]string{
		"ADMIN_TOKEN": "ops-token", "SIMPLYPRINT_WEBHOOK_SECRET": "sp-secret",
		"TEMPORAL_UI_URL": "http://temporal-ui.example:8233",
	})
	// A wrong bearer token lands on the login form; the right one gets the page.
	for token, want := range map[string]string{"wrong": `id="login"`, "ops-token": `id="send-test-event"`} {
		if page := getPage(t, a.URL()+"/ops/simplyprint", token); !strings.Contains(page, want) {
			t.Fatalf("bearer %q: page lacks %s", token, want)
		}
	}

	b := testenv.NewBrowser(t)
	b.Open(a.URL() + "/ops/simplyprint")
	if loc := b.Location(); !strings.Contains(loc, "/ops/login") {
		t.Fatalf("not sent to the login form: %s", loc)
	}
	b.Do("log in with a wrong token", chromedp.SendKeys(`input[name=token]`, "nope"), chromedp.Submit(`#login`))
	b.WaitVisible("#login-error")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, "ops-token"), chromedp.Submit(`#login`))
	b.WaitVisible("#send-test-event")
	b.Click("#send-test-event")
	b.WaitVisible("#sent")
	testenv.Eventually(t, 20*time.Second, func() error {
		b.Do("reload", chromedp.Navigate(a.URL()+"/ops/simplyprint"))
		row := b.Text("#events")
		if !strings.Contains(row, "test") || !strings.Contains(row, "yes") || !strings.Contains(row, "recorded") {
			return fmt.Errorf("the test event is not shown processed yet: %q", row)
		}
		return nil
	})
	link := testenv.Get(b, "read the Temporal link", chromedp.AttributeValue(chromedp.CSS(`#events a`), "href"))
	if link.Value != "http://temporal-ui.example:8233/namespaces/default/workflows/simplyprint-company" {
		t.Fatalf("Temporal UI link %q", link.Value)
	}
	b.Screenshot("ops-simplyprint")
}

func getPage(t *testing.T, url, bearer string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// TestOpsConsoleJobsRetry: a callback the receiver refused (400, permanent)
// is listed as failed; the Retry button goes through the admin retry API and
// the callback then arrives.
func TestOpsConsoleJobsRetry(t *testing.T) {
	e := startJobs(t, app.Roles{API: true, Worker: true}, map[string]string{"TEMPORAL_UI_URL": "http://temporal-ui.example:8233"})
	e.rcv.FailNext(1, 400)
	acc := submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot("car_001", 1)), nil)
	waitStatus(t, e.api, acc.JobID, callbackIs("failed", 1))

	b := testenv.NewBrowser(t)
	b.Open(e.api.URL() + "/ops/jobs")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, adminToken), chromedp.Submit(`#login`))
	b.WaitVisible("#failed button.retry")
	if row := b.Text("#failed"); !strings.Contains(row, acc.JobID) || !strings.Contains(row, "400") {
		t.Fatalf("failed callbacks table: %q", row)
	}
	if jobsRow := b.Text("#jobs"); !strings.Contains(jobsRow, acc.JobID) || !strings.Contains(jobsRow, "completed") {
		t.Fatalf("jobs table: %q", jobsRow)
	}
	b.Screenshot("ops-jobs-failed")
	b.Click("#failed button.retry")
	b.WaitVisible("#retried")
	waitStatus(t, e.api, acc.JobID, callbackIs("delivered", 2))
	b.Do("reload", chromedp.Navigate(e.api.URL()+"/ops/jobs"))
	if row := b.Text("#failed"); !strings.Contains(row, "No failed callbacks") {
		t.Fatalf("after the retry the failure is still listed: %q", row)
	}
	b.Screenshot("ops-jobs-retried")
}
