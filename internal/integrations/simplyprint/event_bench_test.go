package simplyprint

import "testing"

// vendorJobDone is the reference job event of the vendor's documentation.
const vendorJobDone = `{"webhook_id":42,"event":"job.done","timestamp":1705320000,"data":{"job":{"id":456,"uid":"pj_abc123","printer_id":123,` +
	`"state":"completed","file":"benchy.gcode","percentage":100,"started":1705320000,"ended":1705323600,` +
	`"printer":{"id":123,"name":"Prusa MK4 - bed 1","group":{"id":2,"name":"Production bay"}},"cost":0.42,"duration":3600}}}`

// BenchmarkParseEvent: the parser runs twice per webhook (the ack and the
// printer's batch), so it is on the hot path of make bench.
func BenchmarkParseEvent(b *testing.B) {
	body := []byte(vendorJobDone)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}
