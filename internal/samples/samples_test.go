package samples_test

import (
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/simplyprint"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/jobs"
	"github.com/hookflow/hookflow/internal/ordersync"
	"github.com/hookflow/hookflow/internal/samples"
)

// Every sample is read back by the parser the API uses for it, with the
// values it was built from.
func TestSamplesParseAsTheAPIReadsThem(t *testing.T) {
	for _, ev := range []string{"job.started", "job.done", "job.failed", "job.cancelled"} {
		e, err := simplyprint.ParseEvent(samples.SimplyPrintJobEvent(ev, 0, 3, 4567, 1705320000))
		if err != nil || e.Name != ev || e.PrinterID != 3 || e.JobID != "4567" || e.Timestamp != 1705320000 || e.Type == "unknown" {
			t.Fatalf("%s: %+v %v", ev, e, err)
		}
	}
	for _, f := range []samples.OkdeskFormat{samples.OkdeskFormatVendor, samples.OkdeskFormatSeed} {
		w, err := okdesk.ParseWebhook(samples.OkdeskStatusChangePayload(f, samples.OkdeskStatusChange{
			Issue: samples.OkdeskIssue{ID: 153, ContactID: 21, CompanyID: 15},
			Old:   samples.OkdeskStatus("opened"), New: samples.OkdeskStatus("completed"),
		}))
		if err != nil || w.Kind != okdesk.KindStatusChanged || w.IssueID != 153 || w.ContactID != 21 ||
			w.NewStatus.Code != "completed" || w.OldStatus.Code != "opened" {
			t.Fatalf("okdesk %s: %+v %v", f, w, err)
		}
	}
	u, err := telegram.ParseUpdate(samples.TelegramCallbackUpdate(10001, 42, 7, samples.TelegramRateData(153, 5)))
	if err != nil {
		t.Fatal(err)
	}
	cb, ok := telegram.CallbackOf(u)
	issue, stars, rerr := telegram.ParseRateCallback(cb.Data)
	if !ok || cb.ChatID != 42 || rerr != nil || issue != 153 || stars != 5 || u.ID != 10001 {
		t.Fatalf("telegram: %+v %v %d %d", cb, rerr, issue, stars)
	}
	order := samples.BitrixSiteOrder(236, "P")
	se, err := ordersync.ParseSiteOrder(samples.BitrixSiteEvent{Event: "order.saved", IsNew: true, Order: order, SentAt: time.Now()}.JSON())
	if err != nil || se.Order.ID != 236 || se.Order.StatusID != "P" || !se.IsNew {
		t.Fatalf("bitrix: %+v %v", se, err)
	}
	body := samples.JobSubmission("acme-secret-0123456789", "https://example.com/cb", []string{"en"},
		samples.JobLot("https://img.example", "lot-1", 2), samples.JobLot("https://img.example", "lot-2", 1))
	sub, err := jobs.ParseSubmission(body)
	if err != nil || len(sub.Lots) != 2 || len(sub.Lots[0].Images) != 2 {
		t.Fatalf("job: %+v %v", sub, err)
	}
	clients, _ := jobs.ParseClients("acme:acme-secret-0123456789,other:other-secret-0123456789", "")
	if id, err := jobs.VerifySignature(sub, body, "", clients); err != nil || id != "acme" {
		t.Fatalf("job signature: %q %v", id, err)
	}
}
