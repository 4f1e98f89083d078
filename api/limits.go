package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/internal/config"
)

// unlimitedPaths are never refused for lack of room: probes and scrapes
// must answer while the server is busy, that is when they matter.
var unlimitedPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// HeaderHardLimit is the header size http.Server itself enforces for a
// configured HTTP_MAX_HEADER_BYTES: twice the limit, so that headers up to
// there reach Limit and get its JSON 431; beyond it Go's server answers 431
// in plain text and closes the connection.
func HeaderHardLimit(cfg config.HTTPConfig) int { return 2 * cfg.MaxHeaderBytes }

// Limit wraps the API's handler with the per-listener bounds of cfg, checked
// before any handler runs: request line and headers larger than
// HTTP_MAX_HEADER_BYTES get 431; a body with a Content-Encoding gets 415 (no
// endpoint decompresses, so a limit after decompression is moot); and beyond
// HTTP_MAX_CONCURRENT requests in progress a request gets 503 with
// Retry-After at once, rather than queueing (Postgres and memory stay
// bounded; senders retry).
func Limit(next http.Handler, cfg config.HTTPConfig) http.Handler {
	var slots chan struct{}
	if cfg.MaxConcurrent > 0 {
		slots = make(chan struct{}, cfg.MaxConcurrent)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := headerSize(r); n > cfg.MaxHeaderBytes {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestHeaderFieldsTooLarge, ErrorBody{
				Error: fmt.Sprintf("request line and headers are %d bytes, more than the limit of %d (HTTP_MAX_HEADER_BYTES)", n, cfg.MaxHeaderBytes)})
			return
		}
		if enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") && r.ContentLength != 0 {
			writeError(w, http.StatusUnsupportedMediaType, ErrorBody{Field: "Content-Encoding",
				Error: "Content-Encoding " + strconv.Quote(enc) + " is not accepted: send the body uncompressed"})
			return
		}
		if slots == nil || unlimitedPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, ErrorBody{
				Error: fmt.Sprintf("the server is busy: %d requests are in progress (HTTP_MAX_CONCURRENT); retry after 1 s", cfg.MaxConcurrent)})
		}
	})
}

// headerSize is the size of the request line and headers as sent (give or
// take a space per line).
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n + 2
}

func writeError(w http.ResponseWriter, status int, body ErrorBody) {
	raw, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}
