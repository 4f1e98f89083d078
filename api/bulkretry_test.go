package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/testenv"
)

// A bulk retry of 100 failed callbacks: the receiver refused each once
// (400, a permanent answer), now answers 200; two calls with a filter retry
// them all (60, then the 40 left), and each is delivered exactly once more,
// with its webhook-id. A dry run counts first; other filters match nothing;
// each call is one audit entry with its filter and count.
func TestBulkRetryOfFailedCallbacks(t *testing.T) {
	checkContract(t) // every call() is validated against api/openapi.yaml
	e := startJobs(t, app.Roles{API: true, Worker: true}, nil)
	const jobs = 100
	e.rcv.FailNext(jobs, 400)
	for i := range jobs {
		submit(t, e.api, jobBody(acmeSecret, e.rcv.URL(), []string{"en"}, lot(fmt.Sprintf("car_%03d", i), 1)), nil)
	}
	ctx := context.Background()
	testenv.Eventually(t, 3*time.Minute, func() error {
		var failed int
		if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM callback_deliveries WHERE status = 'failed' AND last_status_code = 400`).Scan(&failed); err != nil || failed != jobs {
			return fmt.Errorf("%d of %d callbacks failed so far (%v)", failed, jobs, err)
		}
		return nil
	})
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	url := e.api.URL() + "/api/v1/webhook-deliveries/retry"

	var ans api.BulkRetryAnswer
	if code := call(t, "POST", url, []byte(`{"client_id": "acme", "status_code": 400, "dry_run": true}`), admin, &ans); code != 200 ||
		!ans.DryRun || ans.Matched != jobs || ans.Retried != 0 {
		t.Fatalf("dry run: %d %+v", code, ans)
	}
	for body, what := range map[string]string{`{"client_id": "globex"}`: "another client", `{"status_code": 503}`: "another status",
		`{"since": "2999-01-01T00:00:00Z"}`: "a time range after them all"} {
		if code := call(t, "POST", url, []byte(body), admin, &ans); code != 200 || ans.Matched != 0 || ans.Retried != 0 {
			t.Fatalf("%s: %d %+v", what, code, ans)
		}
	}
	var bad map[string]any
	for body, field := range map[string]string{`{"max": 5000}`: "max", `{"status_code": 42}`: "status_code", `{"clients": "acme"}`: "clients",
		`{"since": "2025-01-09T00:00:00Z", "until": "2025-01-08T00:00:00Z"}`: "until"} {
		if code := call(t, "POST", url, []byte(body), admin, &bad); code != 400 || bad["field"] != field {
			t.Fatalf("%s: %d %v, want 400 naming %s", body, code, bad, field)
		}
	}
	if code := call(t, "POST", url, nil, reader, &bad); code != 403 {
		t.Fatalf("a read token: %d %v", code, bad)
	}

	retried := map[string]bool{}
	for _, want := range []struct {
		max, retried int
		more         bool
	}{{60, 60, true}, {60, 40, false}} {
		if code := call(t, "POST", url, []byte(fmt.Sprintf(`{"client_id": "acme", "status_code": 400, "max": %d}`, want.max)), admin, &ans); code != 200 ||
			ans.Retried != want.retried || ans.More != want.more || ans.NotStarted != 0 || len(ans.DeliveryIDs) != want.retried {
			t.Fatalf("retry of at most %d: %d %+v", want.max, code, ans)
		}
		for _, id := range ans.DeliveryIDs {
			if retried[id] {
				t.Fatalf("delivery %s retried twice", id)
			}
			retried[id] = true
		}
	}

	// Each callback arrives once more, answered 200, with its first webhook-id.
	if _, err := e.rcv.Wait(ctx, 2*jobs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // nothing more may come
	ds := e.rcv.Deliveries()
	byID := map[string][]int{}
	for _, d := range ds {
		byID[d.Header.Get("webhook-id")] = append(byID[d.Header.Get("webhook-id")], d.Status)
	}
	if len(ds) != 2*jobs || len(byID) != jobs {
		t.Fatalf("%d deliveries of %d webhook-ids, want %d of %d", len(ds), len(byID), 2*jobs, jobs)
	}
	for id, statuses := range byID {
		if len(statuses) != 2 || statuses[0] != 400 || statuses[1] != 200 {
			t.Fatalf("webhook-id %s answered %v, want [400 200]", id, statuses)
		}
	}
	testenv.Eventually(t, time.Minute, func() error {
		var delivered int
		if err := e.st.Pool.QueryRow(ctx, `SELECT count(*) FROM callback_deliveries WHERE status = 'delivered' AND series = 2`).Scan(&delivered); err != nil || delivered != jobs {
			return fmt.Errorf("%d of %d delivered by their second series (%v)", delivered, jobs, err)
		}
		return nil
	})

	var audit string
	if err := e.st.Pool.QueryRow(ctx, `SELECT string_agg(actor || ':' || count || ':' || result || ':' || coalesce(filter->>'max', '-'), ',' ORDER BY id)
		FROM audit_log WHERE action = 'delivery.retry_bulk' AND result = 'ok'`).Scan(&audit); err != nil {
		t.Fatal(err)
	}
	// The dry run and the filters that matched nothing are audited too
	// (count 0, their effective max), as the two that retried 60 and 40.
	if want := "admin:0:ok:100,admin:0:ok:100,admin:0:ok:100,admin:0:ok:100,admin:60:ok:60,admin:40:ok:60"; audit != want {
		t.Fatalf("audit %s, want %s", audit, want)
	}
}
