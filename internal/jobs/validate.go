package jobs

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits bound a submission. A zero field means no limit.
type Limits struct {
	MaxLots         int // lots per submission
	MaxImagesPerLot int // images per lot
}

// DefaultLimits are generous for the seed's use (a catalogue upload) while
// keeping one job's fan-out bounded.
func DefaultLimits() Limits { return Limits{MaxLots: 1000, MaxImagesPerLot: 20} }

// Fixed sanity bounds, not worth configuring.
const (
	maxLotIDLen = 256
	maxURLLen   = 2048
)

// Validate checks the content of a parsed submission and returns a
// *ValidationError listing every problem, or nil.
func (s Submission) Validate(lim Limits) error {
	var errs errorList
	s.validateLanguages(&errs)
	if s.WebhookURL != "" {
		if msg := checkHTTPURL(s.WebhookURL); msg != "" {
			errs.add("webhook_url", "%s", msg)
		}
	}
	s.validateLots(lim, &errs)
	return errs.err()
}

func (s Submission) validateLanguages(errs *errorList) {
	if len(s.Languages) == 0 {
		errs.add("languages", "at least one language is required (ISO 639-1 codes such as \"en\", \"ru\")")
		return
	}
	seen := make(map[string]int, len(s.Languages))
	for i, code := range s.Languages {
		field := fmt.Sprintf("languages[%d]", i)
		if _, ok := languageNames[code]; !ok {
			if lower := strings.ToLower(strings.TrimSpace(code)); languageNames[lower] != "" {
				errs.add(field, "%s must be written %q (lower-case ISO 639-1)", quote(code), lower)
			} else {
				errs.add(field, "unknown language %s, want an ISO 639-1 code such as \"en\" or \"ru\"", quote(code))
			}
			continue
		}
		if first, dup := seen[code]; dup {
			errs.add(field, "duplicate %q (first at languages[%d])", code, first)
			continue
		}
		seen[code] = i
	}
}

func (s Submission) validateLots(lim Limits, errs *errorList) {
	if s.RawLots == nil {
		errs.add("lots", "required")
		return
	}
	if s.Lots == nil {
		return // not an array: ParseSubmission already said so
	}
	if len(s.Lots) == 0 {
		errs.add("lots", "must contain at least one lot")
		return
	}
	if lim.MaxLots > 0 && len(s.Lots) > lim.MaxLots {
		errs.add("lots", "%d lots, at most %d allowed per submission", len(s.Lots), lim.MaxLots)
	}
	seen := make(map[string]int, len(s.Lots))
	for i, lot := range s.Lots {
		field := fmt.Sprintf("lots[%d]", i)
		switch id := lot.LotID; {
		case strings.TrimSpace(id) == "":
			errs.add(field+".lot_id", "required")
		case utf8.RuneCountInString(id) > maxLotIDLen:
			errs.add(field+".lot_id", "longer than %d characters", maxLotIDLen)
		default:
			if first, dup := seen[id]; dup {
				errs.add(field+".lot_id", "duplicate %q (first at lots[%d])", id, first)
			} else {
				seen[id] = i
			}
		}
		switch {
		case len(lot.Images) == 0:
			errs.add(field+".images", "at least one image URL is required")
		case lim.MaxImagesPerLot > 0 && len(lot.Images) > lim.MaxImagesPerLot:
			errs.add(field+".images", "%d images, at most %d allowed per lot", len(lot.Images), lim.MaxImagesPerLot)
		}
		for j, img := range lot.Images {
			if msg := checkHTTPURL(img); msg != "" {
				errs.add(fmt.Sprintf("%s.images[%d]", field, j), "%s", msg)
			}
		}
	}
}

// checkHTTPURL returns why u is not an absolute http(s) URL with a host, or "".
// It does not resolve anything: whether the host may be reached is
// netguard's decision at submission and again at connect time.
func checkHTTPURL(u string) string {
	if len(u) > maxURLLen {
		return fmt.Sprintf("URL longer than %d bytes", maxURLLen)
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Sprintf("must be an http(s) URL, got %s (%v)", quote(u), unwrapURLError(err))
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return fmt.Sprintf("must be an http(s) URL, got %s", quote(u))
	}
	if p.Host == "" || p.Hostname() == "" {
		return fmt.Sprintf("must be an http(s) URL with a host, got %s", quote(u))
	}
	return ""
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// quote shortens what a client sent before echoing it in an error.
func quote(s string) string {
	const max = 80
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return fmt.Sprintf("%q…", string(r[:max]))
	}
	return fmt.Sprintf("%q", s)
}
