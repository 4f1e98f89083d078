package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/integrations/simplyprint/simplyprinttest"
	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/internal/testenv"
)

// Small server timeouts keep these tests fast; the defaults are 10 s, 30 s
// and 60 s.
var fastTimeouts = map[string]string{
	"HTTP_READ_HEADER_TIMEOUT": "1s",
	"HTTP_READ_TIMEOUT":        "2s",
	"HTTP_WRITE_TIMEOUT":       "3s",
	"HTTP_IDLE_TIMEOUT":        "5s",
}

func withVars(base map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// rawRequest opens a connection and sends a request's head and the first
// part of its body; the rest is the caller's to send (or not).
func rawRequest(t *testing.T, addr, path string, contentLength int, first string, headers ...string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, addr, contentLength)
	for _, h := range headers {
		head += h + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"+first); err != nil {
		t.Fatal(err)
	}
	return conn
}

func spEvent(printerID int64) []byte {
	return simplyprinttest.Payload("job.started", 1, time.Now().Unix(), simplyprinttest.JobData(simplyprinttest.Job{ID: printerID*10 + 1, Printer: simplyprinttest.Printer{ID: printerID}}))
}

func countEvents(t *testing.T, st *store.Store, source string) int {
	t.Helper()
	var n int
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM inbound_events WHERE source = $1`, source).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSlowBodyIsCutOff: a client that sends its body one byte a second is
// cut off once HTTP_READ_TIMEOUT (2 s here) has passed since its request
// began, with 408 or a closed connection; nothing is recorded, and the
// server goes on serving.
func TestSlowBodyIsCutOff(t *testing.T) {
	a, st, _ := startSimplyPrint(t, fastTimeouts)
	body := spEvent(1_000_000 + rand.Int64N(1_000_000))
	conn := rawRequest(t, a.Addr(), spPath, len(body), string(body[:1]))
	start := time.Now()
	got := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			got <- "closed: " + err.Error()
			return
		}
		raw, _ := io.ReadAll(resp.Body)
		got <- fmt.Sprintf("%d %s", resp.StatusCode, raw)
	}()
	var answer string
	for i := 1; answer == "" && i < len(body); i++ {
		select {
		case answer = <-got:
		case <-time.After(time.Second):
			if _, err := conn.Write(body[i : i+1]); err != nil {
				answer = "closed on write: " + err.Error()
			}
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the slow client was still connected after %s", time.Since(start))
		}
	}
	if answer == "" {
		select {
		case answer = <-got:
		case <-time.After(30 * time.Second):
			t.Fatal("the whole body went through one byte a second: no read timeout")
		}
	}
	took := time.Since(start)
	t.Logf("after %s: %s", took.Round(100*time.Millisecond), answer)
	if took > 30*time.Second {
		t.Fatalf("cut off only after %s", took)
	}
	if !strings.HasPrefix(answer, "closed") && !(strings.HasPrefix(answer, "408 ") && strings.Contains(answer, "HTTP_READ_TIMEOUT")) {
		t.Fatalf("answer %q, want 408 or a closed connection", answer)
	}
	if n := countEvents(t, st, store.SimplyPrintSource); n != 0 {
		t.Fatalf("%d events recorded from the cut-off request", n)
	}
	if code := call(t, "POST", a.URL()+spPath, spEvent(2_000_000+rand.Int64N(1_000_000)), nil, nil); code != 200 {
		t.Fatalf("a normal request after the slow one: %d", code)
	}
}

// TestConcurrencyBound: with HTTP_MAX_CONCURRENT=2 and two requests in
// progress (their bodies not sent yet), a third gets 503 JSON with
// Retry-After; health probes still answer; once the two end, requests are
// served again.
func TestConcurrencyBound(t *testing.T) {
	checkContract(t) // the busy 503 is an answer api/openapi.yaml lists
	a, _, _ := startSimplyPrint(t, map[string]string{"HTTP_MAX_CONCURRENT": "2", "HTTP_READ_TIMEOUT": "60s", "HTTP_WRITE_TIMEOUT": "60s"})
	c1 := rawRequest(t, a.Addr(), spPath, 100, "{")
	c2 := rawRequest(t, a.Addr(), spPath, 100, "{")
	body := spEvent(3_000_000 + rand.Int64N(1_000_000))
	// Until both slow requests are in the handler: on a loaded machine
	// (CI under -race beside a benchmark) accepting them took over 10 s.
	testenv.Eventually(t, time.Minute, func() error {
		req, _ := http.NewRequest("POST", a.URL()+spPath, strings.NewReader(string(body)))
		resp, err := contractClient(t).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var e struct{ Error string }
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 {
			return fmt.Errorf("status %d (the two slow requests may not have reached the handler yet)", resp.StatusCode)
		}
		if err := json.Unmarshal(raw, &e); err != nil || !strings.Contains(e.Error, "HTTP_MAX_CONCURRENT") || resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("503 answer %s (Retry-After %q)", raw, resp.Header.Get("Retry-After"))
		}
		return nil
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := call(t, "GET", a.URL()+path, nil, nil, nil); code != 200 {
			t.Fatalf("%s while saturated: %d", path, code)
		}
	}
	_ = c1.Close()
	_ = c2.Close()
	testenv.Eventually(t, 10*time.Second, func() error {
		if code := call(t, "POST", a.URL()+spPath, body, nil, nil); code != 200 {
			return fmt.Errorf("status %d after the slow requests ended", code)
		}
		return nil
	})
}

// TestStreamOutlivesServerTimeouts: the live stream is exempt from the read
// and write timeouts (2 s and 3 s here): still open 6 s later, it delivers
// the next processed event.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	a, _, _ := startSimplyPrint(t, withVars(fastTimeouts, map[string]string{"ADMIN_TOKEN": "stream-admin"}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.URL()+"/api/v1/simpleprint/stream", nil)
	req.Header.Set("Authorization", "Bearer stream-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // ": connected"
	time.Sleep(6 * time.Second)
	if code := call(t, "POST", a.URL()+spPath, spEvent(4_000_000+rand.Int64N(1_000_000)), nil, nil); code != 200 {
		t.Fatalf("webhook: %d", code)
	}
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "data: ") {
			return
		}
	}
	t.Fatalf("the stream ended before the event: %v", lines.Err())
}
