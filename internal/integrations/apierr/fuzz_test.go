package apierr_test

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/apierr"
)

// FuzzParseRetryAfter: never panics, never a negative delay, and agrees with
// the two forms RFC 9110 allows read by the standard library: delay-seconds
// (strconv, capped where a Duration ends) and an HTTP date (http.ParseTime,
// relative to now, 0 when past).
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", " 7 ", "-1", "1.5", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT",
		"Mon, 01 Jan 2046 00:00:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "", "soon", "+5"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := apierr.ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("%q: negative delay %s", v, d)
		}
		s := strings.TrimSpace(v)
		var want time.Duration
		wantOK := false
		if n, err := strconv.ParseUint(s, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			// Beyond what a Duration holds (or uint64): the longest delay.
			const maxSeconds = uint64(1<<63-1) / uint64(time.Second)
			if err != nil || n > maxSeconds {
				n = maxSeconds
			}
			want, wantOK = time.Duration(n)*time.Second, true
		} else if at, err := http.ParseTime(s); err == nil && s != "" {
			want, wantOK = max(at.Sub(now), 0), true
		}
		if ok != wantOK || d != want {
			t.Fatalf("ParseRetryAfter(%q) = %s, %v; reference %s, %v", v, d, ok, want, wantOK)
		}
	})
}
