package inbound

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/store"
	"github.com/hookflow/hookflow/pkg/hookflowsdk"
)

func TestSplitBatches(t *testing.T) {
	ev := func(id int64, size int) hookflowsdk.Event {
		return hookflowsdk.Event{ID: id, Body: json.RawMessage(`"` + strings.Repeat("x", size-2) + `"`)}
	}
	// 256 bytes of overhead each: 1000-byte bodies are 1256 bytes.
	events := []hookflowsdk.Event{ev(1, 1000), ev(2, 1000), ev(3, 5000), ev(4, 1000), ev(5, 100)}
	parts := splitBatches(events, 2600)
	var got [][]int64
	for _, p := range parts {
		var ids []int64
		for _, e := range p {
			ids = append(ids, e.ID)
		}
		got = append(got, ids)
	}
	want := "[[1 2] [3] [4 5]]"
	if s := fmt.Sprint(got); s != want {
		t.Fatalf("batches %s, want %s", s, want)
	}
	if len(splitBatches(nil, 10)) != 0 {
		t.Fatal("no events, no batch")
	}
}

func TestSDKEvent(t *testing.T) {
	row := store.InboundEvent{ID: 9, Source: "gh", EntityID: "7", EventType: DeclaredNoType, Payload: json.RawMessage(`{"a":1}`),
		ReceivedAt: time.Unix(1, 0), Attrs: map[string]any{AttrDedup: "d", AttrHeaders: map[string]any{"X-A": "b"}}}
	ev := SDKEvent(row, 100)
	if ev.EventType != "" || ev.Dedup != "d" || ev.Key != "7" || ev.Headers["X-A"] != "b" || string(ev.Body) != `{"a":1}` || ev.BodyRef != "" || ev.BodySize != 7 {
		t.Fatalf("inline: %+v", ev)
	}
	ev = SDKEvent(row, 6)
	if ev.Body != nil || ev.BodyRef != "/api/v1/events/9" || ev.BodySize != 7 {
		t.Fatalf("by reference: %+v", ev)
	}
}

func TestSDKEventReplay(t *testing.T) {
	row := store.InboundEvent{ID: 9, Source: "gh", Payload: json.RawMessage(`{}`), Attrs: map[string]any{AttrDedup: "d"}}
	if ev := SDKEvent(row, 100); ev.Replay != 0 || ev.IsReplay() {
		t.Fatalf("as acked: %+v", ev)
	}
	row.Attrs[store.AttrReplay] = float64(2) // as jsonb decodes
	if ev := SDKEvent(row, 100); ev.Replay != 2 || !ev.IsReplay() {
		t.Fatalf("second replay: %+v", ev)
	}
	if b, _ := json.Marshal(SDKEvent(row, 100)); !strings.Contains(string(b), `"replay":2`) {
		t.Fatalf("JSON %s", b)
	}
}

func TestStartModeID(t *testing.T) {
	for replay, want := range map[int]string{0: "gh-d1", 1: "gh-d1-replay-1", 12: "gh-d1-replay-12"} {
		if got := StartModeID("gh-d1", replay); got != want {
			t.Errorf("replay %d: %s, want %s", replay, got, want)
		}
	}
}
