package activities

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/internal/config"
	"github.com/hookflow/hookflow/internal/integrations/okdesk"
	"github.com/hookflow/hookflow/internal/integrations/okdesk/okdesktest"
	"github.com/hookflow/hookflow/internal/integrations/telegram"
	"github.com/hookflow/hookflow/internal/integrations/telegram/telegramtest"
	"github.com/hookflow/hookflow/internal/store"
)

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("%v is not an ApplicationError", err)
	}
	return ae
}

// TestTelegramErrorsForTemporal classifies real answers of the fake Bot
// API: 429 retries after retry_after, 403 is permanent "blocked", other
// 4xx permanent, 5xx retried.
func TestTelegramErrorsForTemporal(t *testing.T) {
	tg := telegramtest.New("1:t")
	defer tg.Close()
	c, err := telegram.New(tg.URL(), "1:t", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tg.FailNextTooManyRequests("sendMessage", 7)
	_, err = c.SendMessage(ctx, 5, "hi", nil)
	if ae := appError(t, TelegramActivityError(err)); ae.NonRetryable() || ae.NextRetryDelay() != 7*time.Second || ae.Type() != ErrTypeTelegram {
		t.Fatalf("429: %v (delay %s)", ae, ae.NextRetryDelay())
	}
	tg.FailNextBlocked("sendMessage")
	_, err = c.SendMessage(ctx, 5, "hi", nil)
	if ae := appError(t, TelegramActivityError(err)); !ae.NonRetryable() || ae.Type() != ErrTypeTelegramBlocked {
		t.Fatalf("403: %v", ae)
	}
	tg.FailNext("sendMessage", 1, telegramtest.Failure{Status: http.StatusBadRequest})
	_, err = c.SendMessage(ctx, 5, "hi", nil)
	if ae := appError(t, TelegramActivityError(err)); !ae.NonRetryable() || ae.Type() != ErrTypeTelegram {
		t.Fatalf("400: %v", ae)
	}
	tg.FailNext("sendMessage", 1, telegramtest.Failure{Status: http.StatusBadGateway, RawBody: "<html>bad gateway</html>"})
	_, err = c.SendMessage(ctx, 5, "hi", nil)
	if ae := appError(t, TelegramActivityError(err)); ae.NonRetryable() {
		t.Fatalf("502: %v", ae)
	}
	if strings.Contains(TelegramActivityError(err).Error(), "1:t") {
		t.Fatal("the bot token leaked into the error")
	}
}

func TestOkdeskErrorsForTemporal(t *testing.T) {
	okd := okdesktest.New("tok")
	defer okd.Close()
	okd.AddIssue(okdesktest.Issue{ID: 1})
	c := okdesk.New(okd.APIURL(), "tok", nil)
	ctx := context.Background()
	comment := okdesk.Comment{Content: "x", AuthorID: 5}
	okd.FailNext("issues/1/comments", 1, 500)
	_, err := c.AddComment(ctx, 1, comment)
	if ae := appError(t, OkdeskActivityError(err)); ae.NonRetryable() {
		t.Fatalf("500: %v", ae)
	}
	okd.FailNext("issues/1/comments", 1, 429)
	_, err = c.AddComment(ctx, 1, comment)
	if ae := appError(t, OkdeskActivityError(err)); ae.NonRetryable() || ae.NextRetryDelay() != time.Second {
		t.Fatalf("429: %v", ae)
	}
	_, err = c.AddComment(ctx, 1, okdesk.Comment{Content: "x"}) // no author: 422
	if ae := appError(t, OkdeskActivityError(err)); !ae.NonRetryable() || !strings.Contains(ae.Error(), "author_id") {
		t.Fatalf("422: %v", ae)
	}
	if strings.Contains(OkdeskActivityError(err).Error(), "tok") {
		t.Fatal("the api token leaked into the error")
	}
}

func TestPhoneVariantsAndIssueTitle(t *testing.T) {
	if got := phoneVariants("79161234567"); !slices.Equal(got, []string{"79161234567", "+79161234567"}) {
		t.Fatalf("variants %v", got)
	}
	if got := phoneVariants("+7 (916) 123-45-67"); !slices.Equal(got, []string{"+7 (916) 123-45-67", "+79161234567", "79161234567"}) {
		t.Fatalf("variants %v", got)
	}
	if got := issueTitle("  \n", russianTexts); got != "Заявка из Telegram" {
		t.Fatalf("title %q", got)
	}
	long := strings.Repeat("я", 100) + "\nrest"
	if got := issueTitle(long, russianTexts); len([]rune(got)) != 80 || !strings.HasSuffix(got, "…") {
		t.Fatalf("title %q (%d runes)", got, len([]rune(got)))
	}
	if got := englishTexts.comment(3); got != "Customer rating: ⭐⭐⭐ (3/5)" {
		t.Fatalf("comment %q", got)
	}
}

func TestEnglishRatingKeyboard(t *testing.T) {
	a := NewRatings(config.RatingsConfig{Language: "en"}, nil, nil, nil)
	kb := a.ratingKeyboard(153)
	if len(kb) != 5 || kb[0][0].Text != "⭐⭐⭐⭐⭐ Excellent (5)" || kb[0][0].CallbackData != "rate:153:5" ||
		kb[4][0].Text != "⭐ Terrible (1)" || kb[4][0].CallbackData != "rate:153:1" {
		t.Fatalf("keyboard %+v", kb)
	}
	if !strings.HasPrefix(a.texts.request(store.RatingRequest{IssueID: 153, Title: "VPN"}, "https://acme.okdesk.ru/"), "Your request #153 \"VPN\" has been resolved.") {
		t.Fatalf("request text %q", a.texts.request(store.RatingRequest{IssueID: 153, Title: "VPN"}, ""))
	}
	if got := a.texts.thanks(store.RatingRequest{IssueID: 153}, 4); !strings.HasPrefix(got, "Thank you for rating request #153 ⭐⭐⭐⭐ (4/5)!") {
		t.Fatalf("thanks %q", got)
	}
	ru := NewRatings(config.RatingsConfig{}, nil, nil, nil)
	if got := ru.texts.request(store.RatingRequest{IssueID: 7}, "https://acme.okdesk.ru/"); got != "Ваша заявка №7 решена.\nПожалуйста, оцените качество работы:\nhttps://acme.okdesk.ru/issues/7" {
		t.Fatalf("russian request %q", got)
	}
}
