package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/internal/app"
	"github.com/hookflow/hookflow/internal/testenv"
)

// reader is the Authorization header of the read-only token testenv.Config
// configures: endpoints that return stored data need it.
var reader = testenv.ReadHeader()

// call does one HTTP request and decodes a JSON answer into out (if not nil).
// In a test that called checkContract, the request and the answer are also
// validated against api/openapi.yaml (openapi_test.go).
func call(t testing.TB, method, url string, body []byte, headers map[string]string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	checkExchange(t, req, body, resp, raw)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: answer is not JSON (%v): %s", method, url, err, raw)
		}
	}
	return resp.StatusCode
}

// writeHistory refreshes the replay fixture workflows/testdata/<id>.json
// when UPDATE_HISTORY=1.
func writeHistory(t *testing.T, a *app.App, workflowID string) {
	writeHistoryAs(t, a, workflowID, workflowID+".json")
}

// writeHistoryAs refreshes a replay fixture of workflows/testdata under a
// fixed name (ids differ between runs) when UPDATE_HISTORY=1.
func writeHistoryAs(t *testing.T, a *app.App, workflowID, file string) {
	if os.Getenv("UPDATE_HISTORY") != "1" {
		return
	}
	iter := a.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []json.RawMessage
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, raw)
	}
	out, _ := json.MarshalIndent(map[string]any{"events": events}, "", "  ")
	path := filepath.Join("..", "workflows", "testdata", file)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
