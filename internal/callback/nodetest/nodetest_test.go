package nodetest_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/integrations/generator/generatortest"
	"github.com/hookflow/hookflow/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// seedSecret is the SHARED_SECRET of the seed's receiver.js.
const seedSecret = "your-shared-secret-key"

// nodeServer is a running Node receiver and what it printed.
type nodeServer struct {
	url   string
	mu    sync.Mutex
	lines []string
}

func (s *nodeServer) output() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// startNode runs `node --require ./listen-port.js script` and waits for the
// port it listens on.
func startNode(t *testing.T, node, script string, env ...string) *nodeServer {
	t.Helper()
	cmd := exec.Command(node, "--require", "./listen-port.js", script)
	cmd.Env = append(os.Environ(), append([]string{"PORT=0"}, env...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	s := &nodeServer{}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if p, ok := strings.CutPrefix(line, "NODETEST_LISTENING "); ok {
				port <- p
			}
			s.mu.Lock()
			s.lines = append(s.lines, line)
			s.mu.Unlock()
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		if !ok {
			t.Fatalf("node %s exited before listening: %s", script, stderr.String())
		}
		s.url = "http://127.0.0.1:" + p + "/webhook-handler"
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not listen within 30s: %s", script, stderr.String())
	}
	return s
}

// TestReceiverIsTheSeedsExample keeps receiver.js byte for byte the seed's
// Node.js example (when the seeds are beside the repository, as in CI).
func TestReceiverIsTheSeedsExample(t *testing.T) {
	seed, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "seeds", "job-callbacks.md"))
	if err != nil {
		t.Skipf("seed document not found beside the repository: %v", err)
	}
	m := regexp.MustCompile("(?s)### Node\\.js пример\n\n```javascript\n(.*?)```").FindSubmatch(seed)
	if m == nil {
		t.Fatal("no Node.js example in the seed")
	}
	mine, err := os.ReadFile("receiver.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m[1], mine) {
		t.Fatal("receiver.js differs from the seed's Node.js example")
	}
}

type accepted struct {
	JobID string `json:"job_id"`
}

type status struct {
	Status   string `json:"status"`
	Callback *struct {
		DeliveryID string  `json:"delivery_id"`
		WebhookID  string  `json:"webhook_id"`
		Status     string  `json:"status"`
		Attempts   int     `json:"attempts"`
		LastStatus *int    `json:"last_status"`
		LastError  *string `json:"last_error"`
	} `json:"callback"`
}

func hmacHex(secret string, data []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

func do(t *testing.T, method, url string, body []byte, headers map[string]string, out any) int {
	t.Helper()
	resp, raw := testenv.Send(t, testenv.Request(t, method, url, body, map[string]string{"Content-Type": "application/json"}, headers))
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw)
		}
	}
	return resp.StatusCode
}

// runJob submits a one-lot job signed with secret whose callback goes to
// webhookURL and waits until the callback series has ended.
func runJob(t *testing.T, a *app.App, secret, webhookURL string) (jobID string, st status) {
	t.Helper()
	lots := []byte(`[{"lot_id": "car_001", "images": ["http://127.0.0.1:9/car1_front.jpg"]}]`)
	body := []byte(fmt.Sprintf(`{"signature": %q, "version": "1.0.0", "languages": ["en", "ru"], "webhook_url": %q, "lots": %s}`,
		hmacHex(secret, lots), webhookURL, lots))
	var acc accepted
	if code := do(t, "POST", a.URL()+"/api/v1/generate-descriptions", body, nil, &acc); code != 202 {
		t.Fatalf("submission answered %d", code)
	}
	testenv.Eventually(t, 60*time.Second, func() error {
		st = status{}
		do(t, "GET", a.URL()+"/api/v1/jobs/"+acc.JobID+"/status", nil, nil, &st)
		if st.Callback == nil || st.Callback.Status == "pending" || st.Callback.Status == "waiting_for_job" {
			return fmt.Errorf("job %s, callback %+v", st.Status, st.Callback)
		}
		return nil
	})
	return acc.JobID, st
}

// describe shows a job's callback for a failure message.
func describe(st status) string {
	c := st.Callback
	if c == nil {
		return "none"
	}
	code, msg := 0, ""
	if c.LastStatus != nil {
		code = *c.LastStatus
	}
	if c.LastError != nil {
		msg = *c.LastError
	}
	return fmt.Sprintf("%s after %d attempts (last status %d, last error %q)", c.Status, c.Attempts, code, msg)
}

// waitStandardVerified waits until verify-standard.js has printed that it
// verified the callback of job jobID.
func waitStandardVerified(t *testing.T, rcv *nodeServer, jobID string, st status) {
	t.Helper()
	var verified struct {
		ID      string         `json:"id"`
		Payload map[string]any `json:"payload"`
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, line := range rcv.output() {
			if rest, ok := strings.CutPrefix(line, "STANDARD_VERIFIED "); ok {
				_ = json.Unmarshal([]byte(rest), &verified)
			}
		}
		if verified.ID != st.Callback.WebhookID || verified.Payload["job_id"] != jobID || verified.Payload["status"] != "completed" {
			return fmt.Errorf("standardwebhooks verified %+v, want webhook-id %s and job %s", verified, st.Callback.WebhookID, jobID)
		}
		return nil
	})
}

// TestNodeReceiversVerifyRealCallbacks: a job's real callback is accepted by
// the seed's own express receiver (which answers 403 unless X-Signature is
// the hex HMAC of the raw body) and by the standardwebhooks package; both
// reject a tampered request, so their acceptance means something.
func TestNodeReceiversVerifyRealCallbacks(t *testing.T) {
	node := testenv.RequireNode(t, "the Node.js receiver test")
	seedRcv := startNode(t, node, "receiver.js")
	stdRcv := startNode(t, node, "verify-standard.js", "WEBHOOK_SECRET="+seedSecret)

	gen := generatortest.New("sk-test", "gpt-4o-mini")
	t.Cleanup(gen.Close)
	dbURL, _ := testenv.Database(t)
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{
		"JOBS_CLIENTS":                    "seed:" + seedSecret,
		"GENERATOR_URL":                   gen.URL(),
		"GENERATOR_API_KEY":               "sk-test",
		"CALLBACK_ALLOW_PRIVATE_NETWORKS": "true",
		"CALLBACK_RETRY_MAX_ATTEMPTS":     "1", // a refusal shows at once instead of after retries
	})
	a := testenv.StartApp(t, cfg, app.Roles{API: true, Worker: true})

	jobID, st := runJob(t, a, seedSecret, seedRcv.url)
	if st.Status != "completed" || st.Callback.Status != "delivered" || *st.Callback.LastStatus != 200 {
		t.Fatalf("seed receiver: job %s, callback %+v (last error %v)", st.Status, st.Callback, st.Callback.LastError)
	}
	// The receiver logs before it answers; its stdout is read concurrently.
	testenv.Eventually(t, 10*time.Second, func() error {
		if out := strings.Join(seedRcv.output(), "\n"); !strings.Contains(out, "Job "+jobID+" completed:") || !strings.Contains(out, "status: 'completed'") {
			return fmt.Errorf("the seed receiver did not log the job:\n%s", out)
		}
		return nil
	})

	jobID, st = runJob(t, a, seedSecret, stdRcv.url)
	if st.Callback.Status != "delivered" {
		t.Fatalf("standardwebhooks receiver: callback %+v (last error %v)", st.Callback, st.Callback.LastError)
	}
	waitStandardVerified(t, stdRcv, jobID, st)

	// Tampered requests are refused by both.
	body := []byte(`{"job_id":"x","status":"completed"}`)
	if code := do(t, "POST", seedRcv.url, body, map[string]string{"X-Signature": hmacHex("other-secret", body)}, nil); code != 403 {
		t.Fatalf("seed receiver accepted a bad X-Signature: %d", code)
	}
	ts := fmt.Sprint(time.Now().Unix())
	if code := do(t, "POST", stdRcv.url, body, map[string]string{"webhook-id": "msg_x", "webhook-timestamp": ts,
		"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}, nil); code != 400 {
		t.Fatalf("standardwebhooks accepted a bad webhook-signature: %d", code)
	}
}

// TestStandardWebhooksVerifiesEitherSecretDuringRotation: client "seed" is
// rotating from a raw secret to a whsec_ one, its overlap lasting until
// tomorrow; client "late" ended its overlap an hour ago. The standardwebhooks
// package verifies seed's callbacks with the old secret and with the new
// one (webhook-signature carries both), and late's only with the new one:
// a receiver still on late's old secret rejects it.
func TestStandardWebhooksVerifiesEitherSecretDuringRotation(t *testing.T) {
	node := testenv.RequireNode(t, "the Node.js receiver test")
	const (
		seedOld = seedSecret
		seedNew = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the spec's example secret
		lateOld = "late-old-secret"
		lateNew = "late-new-secret"
	)
	seedOnOld := startNode(t, node, "verify-standard.js", "WEBHOOK_SECRET="+seedOld)
	seedOnNew := startNode(t, node, "verify-standard.js", "WEBHOOK_SECRET="+seedNew)
	lateOnOld := startNode(t, node, "verify-standard.js", "WEBHOOK_SECRET="+lateOld)
	lateOnNew := startNode(t, node, "verify-standard.js", "WEBHOOK_SECRET="+lateNew)

	gen := generatortest.New("sk-test", "gpt-4o-mini")
	t.Cleanup(gen.Close)
	dbURL, _ := testenv.Database(t)
	now := time.Now()
	cfg := testenv.Config(t, dbURL, testenv.Temporal(t), map[string]string{
		"JOBS_CLIENTS": "seed:" + seedNew + ",late:" + lateNew,
		"JOBS_CLIENTS_PREVIOUS": "seed:" + seedOld + "@" + now.Add(24*time.Hour).Format(time.RFC3339) +
			",late:" + lateOld + "@" + now.Add(-time.Hour).Format(time.RFC3339),
		"GENERATOR_URL":                   gen.URL(),
		"GENERATOR_API_KEY":               "sk-test",
		"CALLBACK_ALLOW_PRIVATE_NETWORKS": "true",
		"CALLBACK_RETRY_MAX_ATTEMPTS":     "1", // a refusal shows at once instead of after retries
	})
	a := testenv.StartApp(t, cfg, app.Roles{API: true, Worker: true})

	// During the overlap: submitted with the old secret and with the new
	// one, verified by receivers on either.
	for _, c := range []struct {
		signWith string
		rcv      *nodeServer
	}{{seedOld, seedOnNew}, {seedNew, seedOnOld}} {
		jobID, st := runJob(t, a, c.signWith, c.rcv.url)
		if st.Callback.Status != "delivered" {
			t.Fatalf("seed: callback %s", describe(st))
		}
		waitStandardVerified(t, c.rcv, jobID, st)
	}

	// After it: the new secret verifies, the old one does not (and a
	// submission signed with it is refused).
	jobID, st := runJob(t, a, lateNew, lateOnNew.url)
	if st.Callback.Status != "delivered" {
		t.Fatalf("late on the new secret: callback %s", describe(st))
	}
	waitStandardVerified(t, lateOnNew, jobID, st)
	_, st = runJob(t, a, lateNew, lateOnOld.url)
	if st.Callback.Status != "failed" || st.Callback.LastStatus == nil || *st.Callback.LastStatus != 400 {
		t.Fatalf("late on the old secret: callback %s, want failed with the receiver's 400", describe(st))
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if out := strings.Join(lateOnOld.output(), "\n"); !strings.Contains(out, "STANDARD_REJECTED") || strings.Contains(out, "STANDARD_VERIFIED") {
			return fmt.Errorf("the receiver on the old secret did not reject the callback:\n%s", out)
		}
		return nil
	})
	lots := []byte(`[{"lot_id": "car_001", "images": ["http://127.0.0.1:9/car1_front.jpg"]}]`)
	body := []byte(fmt.Sprintf(`{"signature": %q, "languages": ["en"], "lots": %s}`, hmacHex(lateOld, lots), lots))
	if code := do(t, "POST", a.URL()+"/api/v1/generate-descriptions", body, nil, nil); code != 401 {
		t.Fatalf("a submission signed with late's old secret answered %d, want 401", code)
	}
}
