package api_test

import (
	"context"
	"encoding/json"
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

// jsonType is the Content-Type header of a JSON body.
var jsonType = map[string]string{"Content-Type": "application/json"}

// bearer is the Authorization header of a token.
func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// call does one HTTP request and decodes a JSON answer into out (if not nil).
// In a test that called checkContract, the request and the answer are also
// validated against api/openapi.yaml (openapi_test.go).
func call(t testing.TB, method, url string, body []byte, headers map[string]string, out any) int {
	t.Helper()
	req := testenv.Request(t, method, url, body, jsonType, headers)
	resp, raw := testenv.Send(t, req)
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
