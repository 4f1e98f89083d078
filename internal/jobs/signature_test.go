package jobs_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/jobs"
)

const pySecret = "your-shared-secret"

func hmacHex(secret string, data []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// pythonBodies returns submissions made by the seed's Python client: the
// committed fixture always, and a fresh one when python3 is installed.
func pythonBodies(t *testing.T) map[string][2][]byte {
	t.Helper()
	read := func(dir string) [2][]byte {
		body, err := os.ReadFile(filepath.Join(dir, "python_submission.json"))
		if err != nil {
			t.Fatal(err)
		}
		sig, err := os.ReadFile(filepath.Join(dir, "python_submission.x-signature"))
		if err != nil {
			t.Fatal(err)
		}
		return [2][]byte{body, bytes.TrimSpace(sig)}
	}
	out := map[string][2][]byte{"fixture": read("testdata")}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 not installed: using the committed fixture only")
		return out
	}
	dir := t.TempDir()
	cmd := exec.Command(py, filepath.Join("testdata", "python_submission.py"), dir, pySecret)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3 python_submission.py: %v\n%s", err, msg)
	}
	out["python3"] = read(dir)
	if !bytes.Equal(out["python3"][0], out["fixture"][0]) {
		t.Errorf("testdata/python_submission.json is stale: regenerate with python3 testdata/python_submission.py testdata %s", pySecret)
	}
	return out
}

func TestVerifySignaturePythonClient(t *testing.T) {
	clients, err := jobs.ParseClients("acme:other-secret", pySecret)
	if err != nil {
		t.Fatal(err)
	}
	for name, pb := range pythonBodies(t) {
		t.Run(name, func(t *testing.T) {
			body, xsig := pb[0], string(pb[1])
			sub, err := jobs.ParseSubmission(body)
			if err != nil {
				t.Fatalf("ParseSubmission: %v", err)
			}
			if err := sub.Validate(jobs.DefaultLimits()); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !bytes.HasPrefix(sub.RawLots, []byte(`[{"lot_id": "car_001", "images": [`)) || !bytes.Contains(sub.RawLots, []byte(`\u043b\u043e\u0442_002`)) {
				t.Fatalf("RawLots is not the bytes Python sent: %s", sub.RawLots)
			}
			if sub.Lots[1].LotID != "лот_002 «Волга»" {
				t.Errorf("decoded lot_id = %q", sub.Lots[1].LotID)
			}

			// Body signature alone.
			id, err := jobs.VerifySignature(sub, body, "", clients)
			if err != nil || id != jobs.DefaultClientID {
				t.Errorf("body signature: VerifySignature = %q, %v; want %q", id, err, jobs.DefaultClientID)
			}
			// Header signature alone.
			noBodySig := sub
			noBodySig.Signature = ""
			id, err = jobs.VerifySignature(noBodySig, body, xsig, clients)
			if err != nil || id != jobs.DefaultClientID {
				t.Errorf("X-Signature: VerifySignature = %q, %v", id, err)
			}

			// The point of RawLots: a Go re-encoding of the same lots has
			// other bytes and would not verify.
			reencoded, _ := json.Marshal(sub.Lots)
			if hmacHex(pySecret, reencoded) == sub.Signature {
				t.Fatal("re-encoded lots verify too; this test would not catch a re-encoding implementation")
			}
		})
	}
}

func TestVerifySignature(t *testing.T) {
	lots := `[{"lot_id":"car_001","images":["https://example.com/a.jpg"]}]`
	body := func(sig string) []byte {
		return []byte(fmt.Sprintf(`{"signature":%q,"languages":["en"],"lots":%s}`, sig, lots))
	}
	clients := jobs.ClientSet{{ID: "acme", Secret: "acme-secret"}, {ID: "globex", Secret: "globex-secret"}}
	tests := []struct {
		name    string
		body    []byte
		header  string
		clients jobs.ClientSet
		wantID  string
		wantErr error
		errHas  string
	}{
		{"first client", body(hmacHex("acme-secret", []byte(lots))), "", clients, "acme", nil, ""},
		{"second client", body(hmacHex("globex-secret", []byte(lots))), "", clients, "globex", nil, ""},
		{"upper-case hex", body(strings.ToUpper(hmacHex("globex-secret", []byte(lots)))), "", clients, "globex", nil, ""},
		{"unknown secret", body(hmacHex("nope", []byte(lots))), "", clients, "", jobs.ErrBadSignature, "for any configured client"},
		{"signature over something else", body(hmacHex("acme-secret", []byte(lots+" "))), "", clients, "", jobs.ErrBadSignature, ""},
		{"not hex", body("zz"), "", clients, "", jobs.ErrBadSignature, "body signature is not 64 hex digits"},
		{"truncated", body(hmacHex("acme-secret", []byte(lots))[:40]), "", clients, "", jobs.ErrBadSignature, "not 64 hex digits"},
		{"none", body(""), "", clients, "", jobs.ErrNoSignature, ""},
		{"no clients", body(hmacHex("acme-secret", []byte(lots))), "", nil, "", jobs.ErrNoClients, ""},
		{"header only", body(""), hmacHex("globex-secret", body("")), clients, "globex", nil, ""},
		{"header with sha256= prefix", body(""), "sha256=" + hmacHex("acme-secret", body("")), clients, "acme", nil, ""},
		{"bad header", body(""), hmacHex("acme-secret", []byte("other")), clients, "", jobs.ErrBadSignature, ""},
		{"bad body sig, good header", body(strings.Repeat("0", 64)), "", clients, "", jobs.ErrBadSignature, ""},
	}
	// The last case gets a header signed over its own body.
	last := &tests[len(tests)-1]
	last.header = hmacHex("acme-secret", last.body)
	last.wantID, last.wantErr = "acme", nil

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := jobs.ParseSubmission(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			id, err := jobs.VerifySignature(sub, tt.body, tt.header, tt.clients)
			if id != tt.wantID || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("VerifySignature = %q, %v; want %q, %v", id, err, tt.wantID, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q does not contain %q", err, tt.errHas)
			}
			for _, c := range tt.clients {
				if err != nil && strings.Contains(err.Error(), c.Secret) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
		})
	}
}

func TestParseClients(t *testing.T) {
	tests := []struct {
		name, clients, shared string
		want                  []string
		errHas                string
	}{
		{"both", "acme:s1, globex:s2", "s3", []string{"acme", "globex", "default"}, ""},
		{"only shared", "", "s3", []string{"default"}, ""},
		{"only list", "acme:s1", "", []string{"acme"}, ""},
		{"none", "", "", []string{}, ""},
		{"secret with colon", "acme:a:b:c", "", []string{"acme"}, ""},
		{"no colon", "acme", "", nil, "entry 1 is not id:secret"},
		{"empty secret", "acme:s1,globex:", "", nil, `entry 2 ("globex") has an empty secret`},
		{"empty id", ":s1", "", nil, "entry 1 is not id:secret"},
		{"trailing comma", "acme:s1,", "", nil, "entry 2 is empty"},
		{"duplicate", "acme:s1,acme:s2", "", nil, `entry 2 repeats client "acme"`},
		{"default twice", "default:s1", "s2", nil, `both define client "default"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := jobs.ParseClients(tt.clients, tt.shared)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("ParseClients error = %v, want it to contain %q", err, tt.errHas)
				}
				for _, s := range []string{"s1", "s2"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q shows a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cs.IDs(); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("IDs = %v, want %v", got, tt.want)
			}
		})
	}
	cs, _ := jobs.ParseClients("acme:a:b:c", "")
	if cs[0].Secret != "a:b:c" {
		t.Errorf("secret = %q, want everything after the first colon", cs[0].Secret)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", cs, cs[0], cs[0], cs); strings.Contains(s, "a:b:c") {
		t.Errorf("formatting a client shows its secret: %s", s)
	}
}

func TestParseClientsWithPrevious(t *testing.T) {
	now := time.Now()
	until := now.Add(24 * time.Hour).UTC().Truncate(time.Second)
	at := "@" + until.Format(time.RFC3339)
	cs, err := jobs.ParseClientsWithPrevious("acme:new-s1,globex:g:x@y", "shared-new",
		" acme : p@ss:old-s1 "+at+", default:shared-old@"+now.Add(-time.Hour).Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	acme, globex, def := cs[0], cs[1], cs[2]
	if acme.Secret != "new-s1" || acme.Previous != "p@ss:old-s1" || !acme.PreviousUntil.Equal(until) {
		t.Errorf("acme: secret %q, previous %q until %v; the previous secret is everything between the first ':' and the last '@'",
			acme.Secret, acme.Previous, acme.PreviousUntil)
	}
	if acme.PreviousAt(now) != "p@ss:old-s1" || acme.PreviousAt(until) != "" || acme.PreviousAt(until.Add(time.Hour)) != "" {
		t.Error("the previous secret must count until (not at or after) its until-time")
	}
	if globex.Secret != "g:x@y" || globex.Previous != "" || globex.PreviousAt(now) != "" {
		t.Errorf("globex (no rotation) %q %q", globex.Secret, globex.Previous)
	}
	if def.Previous != "shared-old" || def.PreviousAt(now) != "" {
		t.Errorf("default: an until-time in the past is valid and inert: %q %v", def.Previous, def.PreviousAt(now))
	}
	if s := fmt.Sprintf("%v %+v %#v", cs, acme, acme); strings.Contains(s, "old-s1") || strings.Contains(s, "new-s1") {
		t.Errorf("formatting a client shows a secret: %s", s)
	}

	for _, tt := range []struct{ name, clients, previous, errHas string }{
		{"no until", "acme:s1", "acme:s0", "entry 1 is not id:previous-secret@"},
		{"no id", "acme:s1", "s0" + at, "entry 1 is not id:previous-secret@"},
		{"empty id", "acme:s1", ":s0" + at, "entry 1 is not id:previous-secret@"},
		{"date only", "acme:s1", "acme:s0@2027-06-30", `entry 1 ("acme"): what follows the last @ is not an RFC 3339 time`},
		{"secret after the time", "acme:s1", "acme:s0" + at + "x", "is not an RFC 3339 time"},
		{"empty secret", "acme:s1", "acme:" + at, `entry 1 ("acme") has an empty secret`},
		{"unknown client", "acme:s1", "globex:s0" + at, `entry 1 names client "globex", which neither JOBS_CLIENTS nor JOBS_SHARED_SECRET`},
		{"twice", "acme:s1", "acme:s0" + at + ",acme:s2" + at, `entry 2 repeats client "acme"`},
		{"same as current", "acme:s1", "acme:s1" + at, `entry 1 ("acme"): the previous secret equals the current one`},
		{"trailing comma", "acme:s1", "acme:s0" + at + ",", "JOBS_CLIENTS_PREVIOUS entry 2 is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jobs.ParseClientsWithPrevious(tt.clients, "", tt.previous)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want it to contain %q", err, tt.errHas)
			}
			for _, s := range []string{"s0", "s1", "s2"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
	if cs, err := jobs.ParseClientsWithPrevious("acme:s1", "", " "); err != nil || cs[0].Previous != "" {
		t.Errorf("blank JOBS_CLIENTS_PREVIOUS: %v %v", cs, err)
	}
}

// TestVerifySignatureDuringRotation: until the until-time a submission
// signed with either secret (body or header scheme) is accepted, and
// withPrevious says which; at and after it only the new one.
func TestVerifySignatureDuringRotation(t *testing.T) {
	lots := `[{"lot_id":"car_001","images":["https://example.com/a.jpg"]}]`
	body := func(sig string) []byte {
		return []byte(fmt.Sprintf(`{"signature":%q,"languages":["en"],"lots":%s}`, sig, lots))
	}
	until := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	clients, err := jobs.ParseClientsWithPrevious("acme:acme-new,globex:globex-secret", "", "acme:acme-old@"+until.Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	during, after := until.Add(-time.Second), until
	for _, tt := range []struct {
		name         string
		secret       string
		header       bool
		now          time.Time
		wantID       string
		wantPrevious bool
	}{
		{"new secret during", "acme-new", false, during, "acme", false},
		{"old secret during", "acme-old", false, during, "acme", true},
		{"old secret in X-Signature during", "acme-old", true, during, "acme", true},
		{"other client during", "globex-secret", false, during, "globex", false},
		{"new secret after", "acme-new", false, after, "acme", false},
		{"old secret after", "acme-old", false, after, "", false},
		{"old secret in X-Signature after", "acme-old", true, after, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, header := body(hmacHex(tt.secret, []byte(lots))), ""
			if tt.header {
				b = body("")
				header = hmacHex(tt.secret, b)
			}
			sub, err := jobs.ParseSubmission(b)
			if err != nil {
				t.Fatal(err)
			}
			id, withPrevious, err := jobs.VerifySignatureAt(sub, b, header, clients, tt.now)
			if id != tt.wantID || withPrevious != tt.wantPrevious || (tt.wantID == "") != errors.Is(err, jobs.ErrBadSignature) {
				t.Fatalf("VerifySignatureAt = %q, %v, %v; want %q, %v", id, withPrevious, err, tt.wantID, tt.wantPrevious)
			}
		})
	}
}
