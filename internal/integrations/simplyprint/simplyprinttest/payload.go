package simplyprinttest

import (
	"encoding/json"
	"fmt"
)

// Envelope is the body SimplyPrint POSTs to a webhook URL.
type Envelope struct {
	WebhookID int64  `json:"webhook_id"` // 0 for sample payloads
	Event     string `json:"event"`
	Timestamp int64  `json:"timestamp"` // unix seconds
	Data      any    `json:"data"`      // depends on the event; {} for "test"
}

// Payload builds a delivery body in the vendor's format:
// {"webhook_id":..,"event":..,"timestamp":..,"data":..}. nil data becomes
// {}. It panics if data cannot be marshalled (a bug in the test).
func Payload(event string, webhookID, ts int64, data any) []byte {
	if data == nil {
		data = struct{}{}
	}
	b, err := json.Marshal(Envelope{WebhookID: webhookID, Event: event, Timestamp: ts, Data: data})
	if err != nil {
		panic(fmt.Sprintf("simplyprinttest.Payload(%q): %v", event, err))
	}
	return b
}

// TestPayload is the body of the vendor's "test" event:
// {"webhook_id":<id>,"event":"test","timestamp":<ts>,"data":{}}.
func TestPayload(webhookID, ts int64) []byte {
	return Payload("test", webhookID, ts, nil)
}

// Group is a printer group.
type Group struct {
	ID   int64
	Name string
}

// Printer is the printer a job runs on.
type Printer struct {
	ID    int64
	Name  string
	Group *Group // nil is sent as null
}

// Job is a print job as the builders render it.
type Job struct {
	ID         int64
	UID        string // e.g. "pj_abc123"
	PrinterID  int64  // defaults to Printer.ID
	State      string // e.g. "printing", "completed", "failed", "cancelled"
	File       string
	Percentage int
	Started    int64 // unix seconds; 0 is sent as null
	Ended      int64 // unix seconds; 0 is sent as null
	Printer    Printer
	Cost       float64
	Duration   int64 // seconds
}

// JobData is a job event's data in the reference shape:
//
//	{"job":{"id":456,"uid":"pj_abc123","printer_id":123,"state":"completed",
//	 "file":"benchy.gcode","percentage":100,"started":1705320000,"ended":1705323600,
//	 "printer":{"id":123,"name":"Prusa MK4 - bed 1","group":{"id":2,"name":"Production bay"}},
//	 "cost":0.42,"duration":3600}}
//
// Add "user" / "started_by" keys to the returned map for job.started.
func JobData(j Job) map[string]any {
	printerID := j.PrinterID
	if printerID == 0 {
		printerID = j.Printer.ID
	}
	p := j.Printer
	if p.ID == 0 {
		p.ID = printerID
	}
	return map[string]any{"job": map[string]any{
		"id":         j.ID,
		"uid":        j.UID,
		"printer_id": printerID,
		"state":      j.State,
		"file":       j.File,
		"percentage": j.Percentage,
		"started":    unixOrNull(j.Started),
		"ended":      unixOrNull(j.Ended),
		"printer":    printerObject(p),
		"cost":       j.Cost,
		"duration":   j.Duration,
	}}
}

// LegacyJobData is a job event's data in the older sample's variant, which
// names the fields file_name, printer_name and status:
//
//	{"job":{"id":456,"printer_id":123,"printer_name":"Prusa MK4 - bed 1",
//	 "file_name":"benchy.gcode","status":"completed","percentage":100}}
func LegacyJobData(j Job) map[string]any {
	printerID := j.PrinterID
	if printerID == 0 {
		printerID = j.Printer.ID
	}
	return map[string]any{"job": map[string]any{
		"id":           j.ID,
		"printer_id":   printerID,
		"printer_name": j.Printer.Name,
		"file_name":    j.File,
		"status":       j.State,
		"percentage":   j.Percentage,
	}}
}

// PrinterData is a printer event's data: {"printer":{"id":..,"name":..,"group":..}}.
// Add event-specific keys to the returned map.
func PrinterData(p Printer) map[string]any {
	return map[string]any{"printer": printerObject(p)}
}

func printerObject(p Printer) map[string]any {
	var group any // null
	if p.Group != nil {
		group = map[string]any{"id": p.Group.ID, "name": p.Group.Name}
	}
	return map[string]any{"id": p.ID, "name": p.Name, "group": group}
}

func unixOrNull(ts int64) any {
	if ts == 0 {
		return nil
	}
	return ts
}
