package simplyprint

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
)

func TestMapEventType(t *testing.T) {
	cases := []struct{ name, want string }{
		// the seed's vocabulary
		{"job.started", "job_started"},
		{"job.finished", "job_completed"},
		{"job.completed", "job_completed"},
		{"job.paused", "job_paused"},
		{"job.resumed", "job_resumed"},
		{"job.failed", "job_failed"},
		{"job.progress", "job_progress"},
		{"printer.online", "printer_online"},
		{"printer.offline", "printer_offline"},
		{"printer.state_changed", "printer_state_changed"},
		{"queue.changed", "queue_changed"},
		{"queue.item_added", "queue_changed"},
		{"queue.item_deleted", "queue_changed"},
		{"queue.item_moved", "queue_changed"},
		// the vendor's vocabulary
		{"job.done", "job_completed"},
		{"job.cancelled", "job_cancelled"},
		{"job.bed_cleared", "job_bed_cleared"},
		{"job.objects_skipped", "job_objects_skipped"},
		{"printer.autoprint_state_changed", "printer_autoprint_state_changed"},
		{"printer.ai_failure_detected", "printer_ai_failure_detected"},
		{"queue.add_item", "queue_changed"},
		{"queue.item_denied", "queue_changed"},
		{"queue.empty_queue", "queue_changed"},
		{"test", "test"},
		// never dropped, stored as unknown
		{"filament.assigned", "unknown"},
		{"job.teleported", "unknown"},
		{"printer", "unknown"},
		{"", "unknown"},
		{"test.extra", "unknown"},
	}
	for _, c := range cases {
		if got := MapEventType(c.name); got != c.want {
			t.Errorf("MapEventType(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestParseEventShapes(t *testing.T) {
	vendor := `{"webhook_id":42,"event":"job.done","timestamp":1705320000,"data":{"job":{"id":456,"uid":"pj_abc123","printer_id":123,
		"state":"completed","file":"benchy.gcode","percentage":100,"started":1705320000,"ended":1705323600,
		"printer":{"id":123,"name":"Prusa MK4 - bed 1","group":{"id":2,"name":"Production bay"}},"cost":0.42,"duration":3600}}}`
	ev, err := ParseEvent([]byte(vendor))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "job_completed" || ev.PrinterID != 123 || ev.JobID != "456" || ev.PrinterName != "Prusa MK4 - bed 1" ||
		ev.WebhookID != 42 || ev.Job.File != "benchy.gcode" || *ev.Job.Percentage != 100 || *ev.Job.Duration != 3600 ||
		ev.Job.Ended.Unix() != 1705323600 {
		t.Fatalf("vendor payload parsed as %+v (job %+v)", ev, ev.Job)
	}
	older := `{"webhook_id":"7","event":"job.finished","timestamp":"1705320000","data":{"job":{"uid":"pj_1","file_name":"a.gcode",
		"printer_name":"Bed 2","status":"finished"},"printer":{"id":"9"}}}`
	if _, err := ParseEvent([]byte(older)); err == nil {
		t.Fatal("string webhook_id accepted; the vendor sends integers")
	}
	older = `{"webhook_id":7,"event":"job.finished","timestamp":1705320000,"data":{"job":{"uid":"pj_1","file_name":"a.gcode",
		"printer_name":"Bed 2","status":"finished"},"printer":{"id":"9"}}}`
	ev, err = ParseEvent([]byte(older))
	if err != nil {
		t.Fatal(err)
	}
	if ev.JobID != "pj_1" || ev.Job.File != "a.gcode" || ev.PrinterName != "Bed 2" || ev.PrinterID != 9 || ev.Job.State != "finished" {
		t.Fatalf("older sample parsed as %+v (job %+v)", ev, ev.Job)
	}
	// Ids as the vendor sends them: integers or numeric strings, up to 64 bits.
	ev, err = ParseEvent([]byte(`{"event":"job.started","data":{"job":{"id":"pj_9","printer":{"id":"9223372036854775807"},"percentage":45.5}}}`))
	if err != nil || ev.PrinterID != 9223372036854775807 || ev.JobID != "pj_9" || *ev.Job.Percentage != 45 {
		t.Fatalf("big printer id: %+v, %v", ev, err)
	}
	ev, err = ParseEvent([]byte(`{"test": true}`))
	if err != nil || ev.Name != "test" || ev.Type != "test" {
		t.Fatalf("the seed's curl check: %+v, %v", ev, err)
	}
}

func TestParseEventRejects(t *testing.T) {
	cases := []struct{ body, field string }{
		{`not json`, "body"},
		{`[1,2]`, "body"},
		{`{"event": 5}`, "event"},
		{`{"webhook_id": 1}`, "event"},
		{`{"event":"job.started","webhook_id":"abc"}`, "webhook_id"},
		{`{"event":"job.started","webhook_id":1.5}`, "webhook_id"},
		{`{"event":"job.started","timestamp":"yesterday"}`, "timestamp"},
		{`{"event":"job.started","data":[1]}`, "data"},
		{`{"event":"job.started"} {"event":"x"}`, "body"},
		{`{"event":"job.started","webhook_id":99999999999999999999}`, "webhook_id"},
		{`{"event":"job.started","timestamp":253402300800}`, "timestamp"},
		{`{"event":"printer.online","data":{"printer":{"id":9223372036854775808}}}`, "data.printer.id"},
		{`{"event":"printer.online","data":{"printer":{"id":"9223372036854775808"}}}`, "data.printer.id"},
		{`{"event":"printer.online","data":{"printer":{"id":7.5}}}`, "data.printer.id"},
		{`{"event":"printer.online","data":{"printer":{"id":7.0}}}`, "data.printer.id"},
		{`{"event":"printer.online","data":{"printer":{"id":1e3}}}`, "data.printer.id"},
		{`{"event":"printer.online","data":{"printer":{"id":-3}}}`, "data.printer.id"},
		{`{"event":"printer.online","data":{"printer":{"id":true}}}`, "data.printer.id"},
		{`{"event":"printer.online","data":{"printer_id":"12a"}}`, "data.printer_id"},
		{`{"event":"job.started","data":{"job":{"id":1,"printer_id":18446744073709551616}}}`, "data.job.printer_id"},
		{`{"event":"job.started","data":{"job":{"id":1,"printer":{"id":1.5}}}}`, "data.job.printer.id"},
		{`{"event":"job.started","data":{"job":{"id":4.5,"printer_id":1}}}`, "data.job.id"},
		{`{"event":"job.started","data":{"job":{"id":99999999999999999999,"printer_id":1}}}`, "data.job.id"},
		{`{"event":"job.started","data":{"job":{"id":1,"printer_id":1,"percentage":99999999999}}}`, "data.job.percentage"},
		{`{"event":"job.started","data":{"job":{"id":1,"printer_id":1,"duration":1e300}}}`, "data.job.duration"},
		{`{"event":"job.started","data":{"job":{"id":1,"printer_id":1,"started":1e15}}}`, "data.job.started"},
		{`{"event":"queue.add_item","data":{"queue_item":{"id":0.5}}}`, "data.queue_item.id"},
	}
	for _, c := range cases {
		_, err := ParseEvent([]byte(c.body))
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("ParseEvent(%s) = %v, want an InputError on %q", c.body, err, c.field)
		}
	}
}

func TestDedupKey(t *testing.T) {
	a := []byte(`{"webhook_id":42,"event":"job.started","timestamp":1,"data":{"job":{"id":1,"printer_id":2}}}`)
	b := []byte(`{"webhook_id":42,"event":"job.started","timestamp":1,"data":{"job":{"id":1,"printer_id":3}}}`)
	evA, _ := ParseEvent(a)
	evB, _ := ParseEvent(b)
	if DedupKey(evA, a) == DedupKey(evB, b) {
		t.Fatal("different events of the same second share a dedup key")
	}
	again, _ := ParseEvent(a)
	if DedupKey(evA, a) != DedupKey(again, a) {
		t.Fatal("a resend of the same event has another key")
	}
	t1, t2 := []byte(`{"test": true}`), []byte(`{"test":true, "n": 2}`)
	e1, _ := ParseEvent(t1)
	e2, _ := ParseEvent(t2)
	if DedupKey(e1, t1) == DedupKey(e2, t2) {
		t.Fatal("bodies without identity must fall back to a body digest")
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{`{"test": true}`, `{"webhook_id":42,"event":"job.done","timestamp":1705320000,"data":{"job":{"id":456,"printer_id":123}}}`,
		`{"event":"printer.state_changed","data":{"printer":{"id":"5","state":"operational"}}}`, `{}`, `[]`, `{"data":null,"event":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if ev.Name == "" || ev.Type != MapEventType(ev.Name) {
			t.Fatalf("accepted event without name or with another type: %+v", ev)
		}
		if again, err := ParseEvent(body); err != nil || !reflect.DeepEqual(ev, again) {
			t.Fatalf("not deterministic: %+v / %+v, %v", ev, again, err)
		}
		// encoding/json as the reference: what is accepted is one JSON
		// object whose "event" string (or the seed's "test") is the name
		// and whose integer webhook_id and timestamp are the parsed ones.
		var ref map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&ref); err != nil || ref == nil {
			t.Fatalf("accepted a body encoding/json does not read as an object: %v", err)
		}
		if name, ok := ref["event"].(string); ok && name != "" && name != ev.Name {
			t.Fatalf("event %q, reference %q", ev.Name, name)
		}
		for field, got := range map[string]int64{"webhook_id": ev.WebhookID, "timestamp": ev.Timestamp} {
			if n, ok := ref[field].(json.Number); ok {
				if want, err := strconv.ParseInt(n.String(), 10, 64); err == nil && want != got {
					t.Fatalf("%s %d, reference %d", field, got, want)
				}
			}
		}
		if DedupKey(ev, body) == "" {
			t.Fatal("empty dedup key")
		}
		_ = ev.Effect()
	})
}

// looseStringByReflection is looseString's definition, as it was written
// before the fast paths: the value as a JSON string, else as a json.Number.
func looseStringByReflection(raw []byte) string {
	if len(raw) == 0 || isNull(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func FuzzLooseStringMatchesItsDefinition(f *testing.F) {
	for _, s := range []string{`"pj_abc123"`, `456`, `-1.5e3`, `"Prusa \u00e9"`, `"é"`, `"a\"b"`, `"\ud800"`, "\"\xff\"",
		`null`, `true`, `{"id":1}`, `[1]`, ` 12 `, `""`, `"`, `-`, `01`, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if got, want := looseString(raw), looseStringByReflection(raw); got != want {
			t.Fatalf("looseString(%q) = %q, want %q", raw, got, want)
		}
	})
}
