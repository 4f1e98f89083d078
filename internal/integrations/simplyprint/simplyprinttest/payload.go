package simplyprinttest

import "github.com/hookflow/hookflow/internal/samples"

// The bodies are built by internal/samples, the one source of SimplyPrint
// sample payloads (hookflow trigger sends the same); these names keep the
// fake's API.

// Envelope is the body SimplyPrint POSTs to a webhook URL.
type Envelope = samples.SimplyPrintEnvelope

// Group is a printer group.
type Group = samples.SimplyPrintGroup

// Printer is the printer a job runs on.
type Printer = samples.SimplyPrintPrinter

// Job is a print job as the builders render it.
type Job = samples.SimplyPrintJob

// Payload builds a delivery body in the vendor's format:
// {"webhook_id":..,"event":..,"timestamp":..,"data":..}. nil data becomes
// {}. It panics if data cannot be marshalled (a bug in the test).
func Payload(event string, webhookID, ts int64, data any) []byte {
	return samples.SimplyPrintPayload(event, webhookID, ts, data)
}

// TestPayload is the body of the vendor's "test" event:
// {"webhook_id":<id>,"event":"test","timestamp":<ts>,"data":{}}.
func TestPayload(webhookID, ts int64) []byte {
	return Payload("test", webhookID, ts, nil)
}

// JobData is a job event's data in the reference shape (see
// samples.SimplyPrintJobData).
func JobData(j Job) map[string]any { return samples.SimplyPrintJobData(j) }

// LegacyJobData is a job event's data in the older sample's variant
// (file_name, printer_name, status).
func LegacyJobData(j Job) map[string]any { return samples.SimplyPrintLegacyJobData(j) }

// PrinterData is a printer event's data: {"printer":{"id":..,"name":..,"group":..}}.
func PrinterData(p Printer) map[string]any { return samples.SimplyPrintPrinterData(p) }
