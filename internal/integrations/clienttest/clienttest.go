// Package clienttest has the canned HTTP servers the third-party API
// clients' tests point them at to see how they classify an answer (or its
// absence). The vendors' fakes (bitrixtest, okdesktest, ...) play whole
// APIs; these give one fixed answer.
package clienttest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Answering is a server that answers every request with status, the
// headers of header and body. It is closed when the test ends.
func Answering(t testing.TB, status int, header map[string]string, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Hanging is a server that never answers: each request waits until its
// client gives up or the test ends, for deadline tests.
func Hanging(t testing.TB) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: the server may not notice a client left
	return srv
}
