package jobs_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hookflow/hookflow/internal/jobs"
)

// The seed's curl example, byte for byte (pretty-printed).
const seedCurlBody = `{
    "signature": "your_hmac_signature",
    "version": "1.0.0", 
    "languages": ["en", "ru"],
    "webhook_url": "https://your-domain.com/webhook-handler",
    "lots": [
      {
        "lot_id": "car_001",
        "images": [
          "https://example.com/car1_front.jpg",
          "https://example.com/car1_back.jpg"
        ]
      }
    ]
  }`

func TestParseSubmissionSeedExample(t *testing.T) {
	sub, err := jobs.ParseSubmission([]byte(seedCurlBody))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Validate(jobs.DefaultLimits()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := jobs.Submission{
		Signature:  "your_hmac_signature",
		Version:    "1.0.0",
		Languages:  []string{"en", "ru"},
		WebhookURL: "https://your-domain.com/webhook-handler",
		Lots:       []jobs.Lot{{LotID: "car_001", Images: []string{"https://example.com/car1_front.jpg", "https://example.com/car1_back.jpg"}}},
	}
	if sub.Signature != want.Signature || sub.Version != want.Version || sub.WebhookURL != want.WebhookURL ||
		!slices.Equal(sub.Languages, want.Languages) || len(sub.Lots) != 1 ||
		sub.Lots[0].LotID != "car_001" || !slices.Equal(sub.Lots[0].Images, want.Lots[0].Images) {
		t.Errorf("ParseSubmission = %+v, want %+v", sub, want)
	}
	// RawLots is the exact substring of the body, whitespace included.
	start := strings.Index(seedCurlBody, `[
      {`)
	end := strings.LastIndex(seedCurlBody, "]") + 1
	if string(sub.RawLots) != seedCurlBody[start:end] {
		t.Errorf("RawLots =\n%s\nwant the body's bytes\n%s", sub.RawLots, seedCurlBody[start:end])
	}
}

func TestParseSubmissionShapeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // "field: message" substrings, in order
	}{
		{"not JSON", `{"lots": [`, []string{"body: invalid JSON"}},
		{"trailing garbage", `{"lots": []} x`, []string{"body: invalid JSON"}},
		{"array", `[1,2]`, []string{"body: must be a JSON object, got an array"}},
		{"null", `null`, []string{"body: must be a JSON object, got null"}},
		{"empty", ``, []string{"body: invalid JSON"}},
		{"types", `{"signature": 1, "version": true, "webhook_url": [], "languages": "en", "lots": {}}`, []string{
			"signature: must be a string, got a number",
			"version: must be a string, got a boolean",
			"webhook_url: must be a string, got an array",
			"languages: must be an array of strings",
			"lots: must be an array of lots",
		}},
		{"lot types", `{"lots": [1, {"lot_id": 7, "images": "https://x.example/a.jpg"}, {"lot_id": "ok", "images": [1]}]}`, []string{
			"lots[0]: must be an object with lot_id and images, got a number",
			"lots[1].lot_id: must be a string, got a number",
			"lots[1].images: must be an array of URL strings",
			"lots[2].images: must be an array of URL strings",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jobs.ParseSubmission([]byte(tt.body))
			assertFieldErrors(t, err, tt.want)
		})
	}
}

func TestParseSubmissionKeysAreExact(t *testing.T) {
	// encoding/json would map "Lots" and "SIGNATURE" onto the fields; a
	// Python server would not. Neither do we.
	sub, err := jobs.ParseSubmission([]byte(`{"Lots": [{"lot_id": "x"}], "SIGNATURE": "ab", "lots": [{"lot_id": "a", "images": ["https://x.example/1.jpg"]}], "extra": {"ignored": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	if sub.Signature != "" || len(sub.Lots) != 1 || sub.Lots[0].LotID != "a" {
		t.Errorf("ParseSubmission = %+v", sub)
	}
	// A repeated key: the last one counts, for both Lots and RawLots.
	sub, err = jobs.ParseSubmission([]byte(`{"lots": [{"lot_id": "first"}], "lots": [{"lot_id": "second"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if sub.Lots[0].LotID != "second" || string(sub.RawLots) != `[{"lot_id": "second"}]` {
		t.Errorf("repeated key: Lots %+v RawLots %s", sub.Lots, sub.RawLots)
	}
}

func TestValidate(t *testing.T) {
	img := `"https://example.com/a.jpg"`
	lot := func(id string, images ...string) string {
		if len(images) == 0 {
			images = []string{img}
		}
		return fmt.Sprintf(`{"lot_id": %q, "images": [%s]}`, id, strings.Join(images, ","))
	}
	body := func(extra string, lots ...string) string {
		if extra != "" {
			extra += ", "
		}
		if !strings.Contains(extra, `"languages"`) {
			extra += `"languages": ["en"], `
		}
		return fmt.Sprintf(`{%s"lots": [%s]}`, extra, strings.Join(lots, ","))
	}
	lim := jobs.Limits{MaxLots: 3, MaxImagesPerLot: 2}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"valid", body("", lot("a"), lot("b")), nil},
		{"valid without webhook", body(`"languages": ["ru", "en", "uk"]`, lot("a")), nil},
		{"lots missing", `{"languages": ["en"]}`, []string{"lots: required"}},
		{"lots null", `{"languages": ["en"], "lots": null}`, []string{"lots: required"}},
		{"lots empty", body("", ""), []string{"lots: must contain at least one lot"}},
		{"too many lots", body("", lot("a"), lot("b"), lot("c"), lot("d")), []string{"lots: 4 lots, at most 3 allowed"}},
		{"duplicate lot_id", body("", lot("car_001"), lot("car_002"), lot("car_001")), []string{`lots[2].lot_id: duplicate "car_001" (first at lots[0])`}},
		{"lot_id missing and blank", body("", `{"images": [`+img+`]}`, lot("  ")), []string{"lots[0].lot_id: required", "lots[1].lot_id: required"}},
		{"lot_id too long", body("", lot(strings.Repeat("x", 257))), []string{"lots[0].lot_id: longer than 256 characters"}},
		{"no images", body("", `{"lot_id": "a"}`, `{"lot_id": "b", "images": []}`), []string{
			"lots[0].images: at least one image URL is required",
			"lots[1].images: at least one image URL is required",
		}},
		{"too many images", body("", lot("a", img, img, img)), []string{"lots[0].images: 3 images, at most 2 allowed"}},
		{"bad image URLs", body("", lot("a", `"ftp://example.com/a.jpg"`, `"/relative.jpg"`), lot("b", `"https:///nohost.jpg"`, `"data:image/png;base64,AAAA"`)), []string{
			`lots[0].images[0]: must be an http(s) URL, got "ftp://example.com/a.jpg"`,
			`lots[0].images[1]: must be an http(s) URL, got "/relative.jpg"`,
			`lots[1].images[0]: must be an http(s) URL with a host, got "https:///nohost.jpg"`,
			`lots[1].images[1]: must be an http(s) URL, got "data:image/png;base64,AAAA"`,
		}},
		{"unparsable image URL", body("", lot("a", `"http://exa mple.com/%zz"`)), []string{`lots[0].images[0]: must be an http(s) URL, got "http://exa mple.com/%zz"`}},
		{"webhook_url scheme", body(`"webhook_url": "ftp://x.example/hook"`, lot("a")), []string{`webhook_url: must be an http(s) URL, got "ftp://x.example/hook"`}},
		{"webhook_url relative", body(`"webhook_url": "/hook"`, lot("a")), []string{`webhook_url: must be an http(s) URL`}},
		{"webhook_url too long", body(`"webhook_url": "https://x.example/`+strings.Repeat("a", 2100)+`"`, lot("a")), []string{"webhook_url: URL longer than 2048 bytes"}},
		{"languages missing", `{"lots": [` + lot("a") + `]}`, []string{"languages: at least one language is required"}},
		{"languages empty", body(`"languages": []`, lot("a")), []string{"languages: at least one language is required"}},
		{"languages unknown, upper, duplicate", body(`"languages": ["en", "xx", "RU", "english", "en"]`, lot("a")), []string{
			`languages[1]: unknown language "xx", want an ISO 639-1 code`,
			`languages[2]: "RU" must be written "ru"`,
			`languages[3]: unknown language "english"`,
			`languages[4]: duplicate "en" (first at languages[0])`,
		}},
		{"everything at once", `{"languages": ["zz"], "webhook_url": "mailto:x@y", "lots": [` + lot("") + `]}`, []string{
			"languages[0]: unknown language",
			"webhook_url: must be an http(s) URL",
			"lots[0].lot_id: required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := jobs.ParseSubmission([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseSubmission: %v", err)
			}
			assertFieldErrors(t, sub.Validate(lim), tt.want)
		})
	}
}

func TestValidateZeroLimitsMeanUnlimited(t *testing.T) {
	var lots []string
	for i := range 1500 {
		lots = append(lots, fmt.Sprintf(`{"lot_id": "l%d", "images": ["https://x.example/%d.jpg"]}`, i, i))
	}
	sub, err := jobs.ParseSubmission([]byte(`{"languages": ["en"], "lots": [` + strings.Join(lots, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Validate(jobs.Limits{}); err != nil {
		t.Errorf("Validate(Limits{}) = %v", err)
	}
	if err := sub.Validate(jobs.DefaultLimits()); err == nil || !strings.Contains(err.Error(), "1500 lots, at most 1000") {
		t.Errorf("Validate(DefaultLimits) = %v", err)
	}
}

func TestValidateCapsErrorList(t *testing.T) {
	var lots []string
	for range 80 {
		lots = append(lots, `{"lot_id": "", "images": ["https://x.example/a.jpg"]}`)
	}
	sub, _ := jobs.ParseSubmission([]byte(`{"languages": ["en"], "lots": [` + strings.Join(lots, ",") + `]}`))
	var verr *jobs.ValidationError
	if !errors.As(sub.Validate(jobs.Limits{}), &verr) {
		t.Fatal("want a *ValidationError")
	}
	if n := len(verr.Errors); n != 51 {
		t.Errorf("%d errors listed, want 50 and a count", n)
	}
	if last := verr.Errors[len(verr.Errors)-1]; last.Message != "and 30 more errors" {
		t.Errorf("last entry = %+v", last)
	}
}

func TestKnownLanguages(t *testing.T) {
	for _, code := range []string{"en", "ru", "de", "fr", "es", "zh", "ja", "ar", "uk", "kk", "uz", "he", "pt", "it", "tr"} {
		sub := jobs.Submission{Languages: []string{code}, RawLots: []byte("[]"), Lots: []jobs.Lot{{LotID: "a", Images: []string{"https://x.example/a.jpg"}}}}
		if err := sub.Validate(jobs.Limits{}); err != nil {
			t.Errorf("language %q: %v", code, err)
		}
	}
}

func TestRequestHash(t *testing.T) {
	a := jobs.RequestHash([]byte(`{"lots": []}`))
	if a != jobs.RequestHash([]byte(`{"lots": []}`)) {
		t.Error("RequestHash is not deterministic")
	}
	if a == jobs.RequestHash([]byte(`{"lots":[]}`)) {
		t.Error("RequestHash ignores a byte difference")
	}
	// sha256 of `{"lots": []}`, computed with Python hashlib.
	if want := "bcb814a86f67ebf1c241451ad2de126bb100723de2573a91959c69ea58429745"; a != want {
		t.Errorf("RequestHash = %q, want %q", a, want)
	}
}

// assertFieldErrors checks err is a *ValidationError whose entries, rendered
// "field: message", contain want[i] in order (and no more entries).
func assertFieldErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var verr *jobs.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error = %v (%T), want *ValidationError with %q", err, err, want)
	}
	var got []string
	for _, fe := range verr.Errors {
		got = append(got, fe.String())
	}
	if len(got) != len(want) {
		t.Fatalf("errors =\n  %s\nwant %d:\n  %s", strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("error %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
}

// FuzzParseSubmission: never panics, and whatever parses keeps RawLots as a
// verbatim piece of the input.
func FuzzParseSubmission(f *testing.F) {
	f.Add([]byte(seedCurlBody))
	f.Add([]byte(`{"lots": [{"lot_id": "a", "images": ["https://x.example/a.jpg"]}], "languages": ["en"]}`))
	f.Add([]byte(`{"lots": [1, {"lot_id": 7}], "lots": null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		sub, err := jobs.ParseSubmission(raw)
		if err != nil {
			var verr *jobs.ValidationError
			if !errors.As(err, &verr) || len(verr.Errors) == 0 {
				t.Fatalf("error %v is not a non-empty *ValidationError", err)
			}
			return
		}
		if sub.RawLots != nil && !strings.Contains(string(raw), string(sub.RawLots)) {
			t.Fatalf("RawLots %q is not part of the input", sub.RawLots)
		}
		_ = sub.Validate(jobs.DefaultLimits())
	})
}
