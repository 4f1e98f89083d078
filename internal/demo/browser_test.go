package demo_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookflow/hookflow/internal/demo"
	"github.com/hookflow/hookflow/internal/testenv"
)

// TestDemoPageRatingInBrowser: in headless Chromium, an admin logs in to
// the console of a running demo, resolves an Okdesk issue from the demo
// page, presses five stars in the fake Telegram chat shown there, and sees
// the Okdesk comment hookflow posted appear on the same page.
func TestDemoPageRatingInBrowser(t *testing.T) {
	b := testenv.NewBrowser(t)
	_, a := startDemo(t)
	b.Open(a.URL() + "/ops/demo")
	b.Do("log in", chromedp.SendKeys(`input[name=token]`, adminToken), chromedp.Submit(`#login`))
	b.WaitVisible("#demo-banner")
	if got := b.Text("#okdesk-comments"); !strings.Contains(got, "No comment posted yet") {
		t.Fatalf("comments before any rating: %q", got)
	}
	b.Click("#resolve-154")
	b.WaitVisible("#demo-done")
	chat := fmt.Sprintf("#chat-%d", demo.ChatID)
	testenv.Eventually(t, 30*time.Second, func() error {
		b.Do("reload", chromedp.Navigate(a.URL()+"/ops/demo"))
		if text := b.Text(chat); !strings.Contains(text, "Нет доступа к почте") || !strings.Contains(text, "⭐⭐⭐⭐⭐") {
			return fmt.Errorf("the rating request for issue 154 is not in the chat yet: %q", text)
		}
		return nil
	})
	b.Screenshot("ops-demo-rating-request")
	b.Click(`button[data-callback="rate:154:5"]`)
	b.WaitVisible("#demo-done")
	testenv.Eventually(t, 30*time.Second, func() error {
		b.Do("reload", chromedp.Navigate(a.URL()+"/ops/demo"))
		if got := b.Text("#okdesk-comments"); !strings.Contains(got, "#154") || !strings.Contains(got, "Оценка клиента: ⭐⭐⭐⭐⭐ (5/5)") {
			return fmt.Errorf("the Okdesk comment is not on the demo page yet: %q", got)
		}
		// The comment is posted first, then the request is edited.
		if text := b.Text(chat); !strings.Contains(text, "Спасибо за оценку") {
			return fmt.Errorf("the rating request is not edited into a thank-you yet: %q", text)
		}
		return nil
	})
	b.Screenshot("ops-demo-rated")
}
