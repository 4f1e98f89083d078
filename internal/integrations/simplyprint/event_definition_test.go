package simplyprint

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// refEnvelope mirrors the top level.
type refEnvelope struct {
	WebhookID json.RawMessage `json:"webhook_id"`
	Event     json.RawMessage `json:"event"`
	Timestamp json.RawMessage `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
	Test      json.RawMessage `json:"test"`
}

// parseEventByMaps is ParseEvent's definition, as it was written before it
// read the body in place: encoding/json into a struct and maps.
func parseEventByMaps(body []byte) (Event, error) {
	var env refEnvelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return Event{}, &InputError{"body", "must be a JSON object: " + err.Error()}
	}
	if dec.More() {
		return Event{}, &InputError{"body", "has data after the JSON object"}
	}
	var ev Event
	var err error
	if ev.Name, err = optString(env.Event, "event"); err != nil {
		return ev, err
	}
	if ev.Name == "" {
		if isTrue(env.Test) {
			ev.Name = "test"
		} else {
			return ev, &InputError{"event", "is required (a string such as \"job.started\")"}
		}
	}
	if ev.WebhookID, err = optInt(env.WebhookID, "webhook_id"); err != nil {
		return ev, err
	}
	if ev.Timestamp, err = optInt(env.Timestamp, "timestamp"); err != nil {
		return ev, err
	}
	if ev.Timestamp > maxUnixSeconds || ev.Timestamp < -maxUnixSeconds {
		return ev, &InputError{"timestamp", "is out of range: not a time in unix seconds"}
	}
	ev.Type = MapEventType(ev.Name)
	if len(env.Data) > 0 && !isNull(env.Data) {
		if env.Data[0] != '{' {
			return ev, &InputError{"data", "must be a JSON object"}
		}
		ev.Data = env.Data
		if err := parseDataByMaps(&ev); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

func parseDataByMaps(ev *Event) error {
	var d struct {
		Job       map[string]json.RawMessage `json:"job"`
		Printer   map[string]json.RawMessage `json:"printer"`
		PrinterID json.RawMessage            `json:"printer_id"`
		QueueItem map[string]json.RawMessage `json:"queue_item"`
		State     json.RawMessage            `json:"state"`
		NewState  json.RawMessage            `json:"new_state"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return &InputError{"data", "cannot be read: " + err.Error()}
	}
	// Ids are checked where they are found, in the order they are looked
	// up: an id hookflow would store must be one (not a fraction, not beyond
	// 64 bits, where it used to be stored as another printer's).
	var err error
	setPrinter := func(raw json.RawMessage, field string) error {
		if ev.PrinterID != 0 || err != nil {
			return err
		}
		ev.PrinterID, err = idValue(raw, field)
		return err
	}
	if d.Printer != nil {
		if err := setPrinter(d.Printer["id"], "data.printer.id"); err != nil {
			return err
		}
		ev.PrinterName = looseString(d.Printer["name"])
		ev.PrinterState = firstNonEmpty(looseString(d.Printer["state"]), looseString(d.Printer["status"]))
	}
	if err := setPrinter(d.PrinterID, "data.printer_id"); err != nil {
		return err
	}
	ev.PrinterState = firstNonEmpty(looseString(d.NewState), looseString(d.State), ev.PrinterState)
	if d.Job != nil {
		id, err := textID(d.Job["id"], "data.job.id")
		if err != nil {
			return err
		}
		uid, err := textID(d.Job["uid"], "data.job.uid")
		if err != nil {
			return err
		}
		j := &Job{
			ID:    firstNonEmpty(id, uid),
			State: firstNonEmpty(looseString(d.Job["state"]), looseString(d.Job["status"])),
			File:  firstNonEmpty(looseString(d.Job["file"]), looseString(d.Job["file_name"]), looseString(d.Job["filename"])),
		}
		if j.Percentage, err = looseInt32Ptr(d.Job["percentage"], "data.job.percentage"); err != nil {
			return err
		}
		if j.Duration, err = looseInt32Ptr(d.Job["duration"], "data.job.duration"); err != nil {
			return err
		}
		if j.Started, err = looseTime(d.Job["started"], "data.job.started"); err != nil {
			return err
		}
		if j.Ended, err = looseTime(d.Job["ended"], "data.job.ended"); err != nil {
			return err
		}
		ev.Job, ev.JobID = j, j.ID
		if err := setPrinter(d.Job["printer_id"], "data.job.printer_id"); err != nil {
			return err
		}
		if p := map[string]json.RawMessage{}; json.Unmarshal(d.Job["printer"], &p) == nil {
			if err := setPrinter(p["id"], "data.job.printer.id"); err != nil {
				return err
			}
			if ev.PrinterName == "" {
				ev.PrinterName = looseString(p["name"])
			}
		}
		if ev.PrinterName == "" {
			ev.PrinterName = looseString(d.Job["printer_name"])
		}
	}
	if d.QueueItem != nil {
		id, err := textID(d.QueueItem["id"], "data.queue_item.id")
		if err != nil {
			return err
		}
		ev.QueueItemID = id
	}
	return nil
}

// FuzzParseEventMatchesItsDefinition: ParseEvent gives what
// parseEventByMaps gives (the event, or an error on the same field) for
// every body, but one the old decoder let through with a stray '}' or ']'
// after the object, which is not JSON (json.Valid) and is refused now.
func FuzzParseEventMatchesItsDefinition(f *testing.F) {
	for _, s := range []string{
		vendorJobDone, `{"test": true}`, `{"test": false}`, `{}`, `[]`, `null`, ` {"event":"x"} `, `"x"`, `5`, `true`, ``, `{`,
		`{"event":"job.started"} {"event":"x"}`, `{"event":"job.started"}]`,
		`{"Event":"job.started","WEBHOOK_ID":3,"Data":{"JOB":{"id":1,"ID":2,"printer":{"id":4}}}}`,
		`{"event":"job.done","data":{"job":{"id":1,"id":2},"job":{"uid":"u"}}}`,
		`{"event":"printer.online","data":{"printer":{"id":"5","state":"operational"},"printer_id":6,"new_state":"x","state":"y"}}`,
		`{"event":"job.started","data":{"job":{"id":"pj_9","printer":{"id":"9223372036854775807"},"percentage":45.5}}}`,
		`{"event":"job.started","data":{"job":[1]}}`, `{"event":"job.started","data":{"printer":"p"}}`, `{"event":"q","data":{"queue_item":5}}`,
		`{"event":"q","data":{"queue_item":{"id":"7"}}}`, `{"ev\u0065nt":"job.started","data":{"job":{"\u0069d":3}}}`,
		`{"event":"job.started","data":{"job":{"id":1,"printer":null,"printer_name":"n","started":"2024-01-15T12:00:00Z"}}}`,
		"{\"event\":\"job.started\",\"data\":{\"job\":{\"file\":\"\xff\"}}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := ParseEvent(body)
		want, wantErr := parseEventByMaps(body)
		var ge, we *InputError
		if !json.Valid(body) {
			// Refused on the body, as the definition does, but for the
			// stray closing bracket it let through.
			if !errors.As(gotErr, &ge) || ge.Field != "body" {
				t.Fatalf("ParseEvent(%q) of a body that is not JSON: %v", body, gotErr)
			}
			return
		}
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && (!errors.As(gotErr, &ge) || !errors.As(wantErr, &we) || ge.Field != we.Field) {
			t.Fatalf("ParseEvent(%q): %v, its definition: %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseEvent(%q) = %+v, its definition: %+v", body, got, want)
		}
	})
}

// TestParseEventAllocations: a webhook is read in place; the maps it was
// decoded into took about 100 allocations for the vendor's job event.
func TestParseEventAllocations(t *testing.T) {
	body := []byte(vendorJobDone)
	n := testing.AllocsPerRun(100, func() {
		if _, err := ParseEvent(body); err != nil {
			t.Fatal(err)
		}
	})
	if n > 30 {
		t.Errorf("ParseEvent allocates %.0f times for the vendor's job event, want at most 30", n)
	}
}
