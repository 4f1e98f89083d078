package inbound

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		name, body  string
		field, want string // want: part of the problem; "" expects nil
	}{
		{"plain", `{"event":"job.started","data":{"job":{"id":1,"file":"a.gcode"}}}`, "", ""},
		{"unicode", `{"title":"Заявка №153 ✓","esc":"\u0416\ud83d\ude00"}`, "", ""},
		{"escaped backslash before u0000 is not a NUL", `{"a":"\\u0000"}`, "", ""},
		{"malformed is the parser's", `{"event":`, "", ""},
		{"trailing data is the parser's", `{} x`, "", ""},
		{"empty", ``, "", ""},
		{"depth at the limit", deep(MaxJSONDepth), "", ""},
		{"same key in two objects", `{"a":{"id":1},"b":{"id":2}}`, "", ""},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "body", "not valid UTF-8 (byte 0xff at offset 6)"},
		{"truncated UTF-8", "{\"a\":\"\xd0\"}", "body", "not valid UTF-8"},
		{"NUL byte", "{\"a\":\"x\x00\"}", "body", "NUL byte (offset 7)"},
		{"NUL escape", `{"data":{"job":{"file":"a\u0000b"}}}`, "data.job.file", `NUL character (\u0000)`},
		{"NUL escape upper case", `{"x":["ok","\U0000"]}`, "", ""}, // \U is not an escape: malformed, the parser's
		{"NUL escape in an array", `{"lots":[{"lot_id":"a"},{"lot_id":"\u0000"}]}`, "lots[1].lot_id", "NUL"},
		{"NUL escape in a key", `{"issue":{"ti\u0000tle":"x"}}`, `issue.ti\u0000tle`, "key contains a NUL"},
		{"too deep", `{"data":` + deep(10000) + `}`, "data" + strings.Repeat("[0]", MaxJSONDepth-1), "nested deeper than 64"},
		{"one too deep", deep(MaxJSONDepth + 1), strings.TrimPrefix(strings.Repeat("[0]", MaxJSONDepth), ""), "nested deeper"},
		{"duplicate key", `{"event":"job.started","event":"job.done"}`, "event", `key "event" appears more than once`},
		{"duplicate nested key", `{"issue":{"id":"1","title":"a","id":"2"}}`, "issue.id", "more than once"},
		{"duplicate key spelled with an escape", `{"id":1,"\u0069d":2}`, "id", "more than once"},
		{"duplicate among many keys", `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":3}`, "k3", "more than once"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckJSON([]byte(c.body))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "":
			case err == nil:
				t.Fatalf("accepted, want %q", c.want)
			case err.Field != c.field || !strings.Contains(err.Problem, c.want):
				t.Fatalf("got %q: %q, want %q: ...%q...", err.Field, err.Problem, c.field, c.want)
			}
		})
	}
}

// FuzzCheckJSON: CheckJSON never panics, and it refuses nothing that is
// valid JSON without a reason encoding/json can confirm (invalid UTF-8, a
// NUL, depth, a repeated key).
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[{"a":"\u0000"}]`, `{"a":{"a":[1,2,{"b":null}]}}`, `"x"`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSON(b)
		if err == nil || !json.Valid(b) {
			return
		}
		p := err.Problem
		if !strings.Contains(p, "UTF-8") && !strings.Contains(p, "NUL") && !strings.Contains(p, "nested deeper") && !strings.Contains(p, "more than once") {
			t.Fatalf("valid JSON %q refused: %v", b, err)
		}
	})
}

func BenchmarkCheckJSON(b *testing.B) {
	body := []byte(`{"webhook_id":42,"event":"job.done","timestamp":1705320000,"data":{"job":{"id":456,"uid":"pj_abc123","printer_id":123,"state":"completed","file":"benchy.gcode","percentage":100,"started":1705320000,"ended":1705323600,"printer":{"id":123,"name":"Prusa MK4 - bed 1","group":{"id":2,"name":"Production bay"}},"cost":0.42,"duration":3600}}}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := CheckJSON(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzScanJSONWellFormed: where ScanJSON finds nothing to refuse, it says
// well-formed exactly when encoding/json does (the SimplyPrint handler then
// skips json.Valid); where it refuses, it never says well-formed.
func FuzzScanJSONWellFormed(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1} x`, `{"a":-0.5e+3}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
		`{"a":1e}`, `[1,2]`, `[1,]`, `{"a":1,"a":2}`, `"x"`, `  {"a":[true,false,null]}  `, `{"a":"\u00e9"}`, `{"a":"\x"}`, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		wf, err := ScanJSON(b)
		if err != nil {
			if wf {
				t.Fatalf("%q: refused (%v) and well-formed", b, err)
			}
			return
		}
		if wf != json.Valid(b) {
			t.Fatalf("%q: ScanJSON says well-formed %v, json.Valid %v", b, wf, json.Valid(b))
		}
	})
}
