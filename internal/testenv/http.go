package testenv

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// Request is a request to url with body (none when nil) and the headers
// of each map set in turn, a later map's over an earlier one's.
func Request(t testing.TB, method, url string, body []byte, headers ...map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		for k, v := range h {
			req.Header.Set(k, v)
		}
	}
	return req
}

// NoRedirect is a client that answers with a redirect itself instead of
// following it, within a minute.
var NoRedirect = &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Send does req and reads the whole answer (its body is closed); a
// request that gets no answer fails the test.
func Send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	return SendBy(t, http.DefaultClient, req)
}

// SendBy is Send through hc.
func SendBy(t testing.TB, hc *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}
