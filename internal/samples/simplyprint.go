package samples

import "fmt"

// SimplyPrintEnvelope is the body SimplyPrint POSTs to a webhook URL.
type SimplyPrintEnvelope struct {
	WebhookID int64  `json:"webhook_id"` // 0 for sample payloads
	Event     string `json:"event"`
	Timestamp int64  `json:"timestamp"` // unix seconds
	Data      any    `json:"data"`      // depends on the event; {} for "test"
}

// SimplyPrintPayload builds a delivery body in the vendor's format:
// {"webhook_id":..,"event":..,"timestamp":..,"data":..}. nil data becomes
// {}.
func SimplyPrintPayload(event string, webhookID, ts int64, data any) []byte {
	if data == nil {
		data = struct{}{}
	}
	return mustJSON("SimplyPrintPayload("+event+")", SimplyPrintEnvelope{WebhookID: webhookID, Event: event, Timestamp: ts, Data: data})
}

// SimplyPrintGroup is a printer group.
type SimplyPrintGroup struct {
	ID   int64
	Name string
}

// SimplyPrintPrinter is the printer a job runs on.
type SimplyPrintPrinter struct {
	ID    int64
	Name  string
	Group *SimplyPrintGroup // nil is sent as null
}

// SimplyPrintJob is a print job as the builders render it.
type SimplyPrintJob struct {
	ID         int64
	UID        string // e.g. "pj_abc123"
	PrinterID  int64  // defaults to Printer.ID
	State      string // e.g. "printing", "completed", "failed", "cancelled"
	File       string
	Percentage int
	Started    int64 // unix seconds; 0 is sent as null
	Ended      int64 // unix seconds; 0 is sent as null
	Printer    SimplyPrintPrinter
	Cost       float64
	Duration   int64 // seconds
}

// SimplyPrintJobData is a job event's data in the reference shape:
//
//	{"job":{"id":456,"uid":"pj_abc123","printer_id":123,"state":"completed",
//	 "file":"benchy.gcode","percentage":100,"started":1705320000,"ended":1705323600,
//	 "printer":{"id":123,"name":"Prusa MK4 - bed 1","group":{"id":2,"name":"Production bay"}},
//	 "cost":0.42,"duration":3600}}
//
// Add "user" / "started_by" keys to the returned map for job.started.
func SimplyPrintJobData(j SimplyPrintJob) map[string]any {
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
		"printer":    simplyPrintPrinterObject(p),
		"cost":       j.Cost,
		"duration":   j.Duration,
	}}
}

// SimplyPrintLegacyJobData is a job event's data in the older sample's
// variant, which names the fields file_name, printer_name and status:
//
//	{"job":{"id":456,"printer_id":123,"printer_name":"Prusa MK4 - bed 1",
//	 "file_name":"benchy.gcode","status":"completed","percentage":100}}
func SimplyPrintLegacyJobData(j SimplyPrintJob) map[string]any {
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

// SimplyPrintPrinterData is a printer event's data:
// {"printer":{"id":..,"name":..,"group":..}}. Add event-specific keys to
// the returned map.
func SimplyPrintPrinterData(p SimplyPrintPrinter) map[string]any {
	return map[string]any{"printer": simplyPrintPrinterObject(p)}
}

// SimplyPrintJobState is the job state an event of a job's life reports.
func SimplyPrintJobState(event string) string {
	switch event {
	case "job.started", "job.resumed":
		return "printing"
	case "job.paused":
		return "paused"
	case "job.cancelled":
		return "cancelled"
	case "job.failed":
		return "failed"
	default:
		return "completed"
	}
}

// SimplyPrintJobEvent is a whole job event (job.started, job.done, ...) of
// job jobID on printer printerID at unix time ts, the job having run for
// an hour: the body `hookflow trigger simplyprint` sends.
func SimplyPrintJobEvent(event string, webhookID, printerID, jobID, ts int64) []byte {
	state := SimplyPrintJobState(event)
	j := SimplyPrintJob{
		ID: jobID, UID: fmt.Sprintf("pj_%x", jobID), State: state, File: "benchy.gcode",
		Started: ts - 3600, Duration: 3600, Cost: 0.42,
		Printer: SimplyPrintPrinter{ID: printerID, Name: fmt.Sprintf("Prusa MK4 - bed %d", printerID),
			Group: &SimplyPrintGroup{ID: 2, Name: "Production bay"}},
	}
	switch state {
	case "completed":
		j.Percentage, j.Ended = 100, ts
	case "printing":
		j.Started, j.Duration, j.Cost = ts, 0, 0
	default:
		j.Percentage, j.Ended = 37, ts
	}
	data := SimplyPrintJobData(j)
	if event == "job.started" {
		user := map[string]any{"id": 7, "name": "Operator"}
		data["user"], data["started_by"] = user, "user"
	}
	return SimplyPrintPayload(event, webhookID, ts, data)
}

func simplyPrintPrinterObject(p SimplyPrintPrinter) map[string]any {
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
