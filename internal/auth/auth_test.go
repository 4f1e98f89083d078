package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	opsToken     = "ops-token-0123456789abcdef"
	grafanaToken = "grafana-token-0123456789"
	ciToken      = "ci-token-0123456789abcdef"
)

func mustParse(t *testing.T, admin, admins, reads string) *Set {
	t.Helper()
	s, err := Parse(admin, admins, reads)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLookup(t *testing.T) {
	s := mustParse(t, "short", "ops:"+opsToken+", ci : "+ciToken, "grafana:"+grafanaToken)
	for _, c := range []struct {
		token string
		want  Identity
		ok    bool
	}{
		{"short", Identity{"admin", Admin}, true},
		{opsToken, Identity{"ops", Admin}, true},
		{ciToken, Identity{"ci", Admin}, true},
		{grafanaToken, Identity{"grafana", Read}, true},
		{"", Identity{}, false},
		{"shor", Identity{}, false},
		{opsToken + "x", Identity{}, false},
		{"ops", Identity{}, false},
		{"ops:" + opsToken, Identity{}, false},
	} {
		got, ok := s.Lookup(c.token)
		if got != c.want || ok != c.ok {
			t.Errorf("Lookup(%q) = %v %v, want %v %v", c.token, got, ok, c.want, c.ok)
		}
	}
	if !s.HasAdmin() || s.Empty() {
		t.Fatal("the set has admin tokens")
	}
	if ids := s.Identities(); len(ids) != 4 || ids[0].Name != "admin" || ids[3] != (Identity{"grafana", Read}) {
		t.Fatalf("identities %v", ids)
	}
	if tok, ok := s.Token("ci"); !ok || tok != ciToken {
		t.Fatalf("Token(ci) = %q %v", tok, ok)
	}
	if !(Identity{"g", Read}).Can(Read) || (Identity{"g", Read}).Can(Admin) || !(Identity{"a", Admin}).Can(Read) || (Identity{}).Can(None) {
		t.Fatal("Can")
	}
}

func TestEmptySets(t *testing.T) {
	for _, s := range []*Set{nil, mustParse(t, "", "", " ")} {
		if !s.Empty() || s.HasAdmin() {
			t.Fatalf("%v is not empty", s)
		}
		if _, ok := s.Lookup("anything"); ok {
			t.Fatal("an empty set knows a token")
		}
	}
	if s := mustParse(t, "", "", "grafana:"+grafanaToken); s.HasAdmin() || s.Empty() {
		t.Fatal("a read-only set")
	}
}

// TestParseErrors: each error names the variable and the entry, and never
// prints a token.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		admin, admins, reads string
		want                 []string
	}{
		{"", "ops", "", []string{"ADMIN_TOKENS entry 1 is not name:token"}},
		{"", "ops:" + opsToken + ",", "", []string{"ADMIN_TOKENS entry 2 is empty"}},
		{"", "", "grafana:" + grafanaToken + ",dash:tooshort-secret", []string{"READ_TOKENS entry 2", `"dash"`, "15 characters", "at least 16"}},
		{"", "", "grafana:", []string{"READ_TOKENS entry 1", "empty token"}},
		{"", "bad name!:" + opsToken, "", []string{"ADMIN_TOKENS entry 1: the name must be"}},
		{"", ":" + opsToken, "", []string{"ADMIN_TOKENS entry 1: the name must be"}},
		{"", "ops:" + opsToken + ",ops:" + ciToken, "", []string{`ADMIN_TOKENS entry 2 ("ops")`, `name "ops" is already used by ADMIN_TOKENS entry 1`}},
		{"", "ops:" + opsToken, "ops:" + grafanaToken, []string{`READ_TOKENS entry 1 ("ops")`, "already used by ADMIN_TOKENS entry 1"}},
		{"x", "admin:" + opsToken, "", []string{`ADMIN_TOKENS entry 1 ("admin")`, "already used by ADMIN_TOKEN"}},
		{"", "ops:" + opsToken, "grafana:" + opsToken, []string{`READ_TOKENS entry 1 ("grafana")`, "the same as that of ADMIN_TOKENS entry 1"}},
		{opsToken, "", "grafana:" + opsToken, []string{`READ_TOKENS entry 1 ("grafana")`, "the same as that of ADMIN_TOKEN"}},
	} {
		_, err := Parse(c.admin, c.admins, c.reads)
		if err == nil {
			t.Errorf("%q %q %q: no error", c.admin, c.admins, c.reads)
			continue
		}
		msg := err.Error()
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q %q %q: error %q lacks %q", c.admin, c.admins, c.reads, msg, w)
			}
		}
		for _, secret := range []string{opsToken, grafanaToken, ciToken, "tooshort-secret"} {
			if strings.Contains(msg, secret) {
				t.Errorf("error %q prints a token", msg)
			}
		}
	}
}

func TestSession(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	s := mustParse(t, "", "ops:"+opsToken, "grafana:"+grafanaToken)
	v, ok := s.NewSession("grafana", now)
	if !ok || strings.Contains(v, grafanaToken) || !strings.HasSuffix(v, ".grafana") {
		t.Fatalf("session %q", v)
	}
	if id, ok := s.VerifySession(v, now.Add(time.Hour)); !ok || id != (Identity{"grafana", Read}) {
		t.Fatalf("verify: %v %v", id, ok)
	}
	if _, ok := s.VerifySession(v, now.Add(SessionTTL)); ok {
		t.Fatal("an expired session is accepted")
	}
	// Another name, expiry or MAC: refused.
	parts := strings.SplitN(v, ".", 4)
	for _, forged := range []string{
		strings.Join([]string{parts[0], parts[1], parts[2], "ops"}, "."),
		strings.Join([]string{parts[0], "9999999999", parts[2], parts[3]}, "."),
		strings.Join([]string{parts[0], parts[1], strings.Repeat("0", 64), parts[3]}, "."),
		strings.Join([]string{"v2", parts[1], parts[2], parts[3]}, "."),
		"", "v1", "grafana",
	} {
		if _, ok := s.VerifySession(forged, now); ok {
			t.Errorf("forged session %q accepted", forged)
		}
	}
	// The token behind the name rotated: the session dies.
	rotated := mustParse(t, "", "ops:"+opsToken, "grafana:"+grafanaToken+"-new")
	if _, ok := rotated.VerifySession(v, now); ok {
		t.Fatal("a session outlived its token")
	}
	// The token removed: the session dies.
	if _, ok := mustParse(t, "", "ops:"+opsToken, "").VerifySession(v, now); ok {
		t.Fatal("a session outlived its token's removal")
	}
	if _, ok := s.NewSession("nobody", now); ok {
		t.Fatal("a session for an unknown name")
	}
	c, ok := s.SessionCookie("ops", true, now)
	if !ok || c.Name != CookieName || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.MaxAge != 12*3600 ||
		strings.Contains(c.Value, opsToken) {
		t.Fatalf("cookie %+v", c)
	}
}

func TestFromRequest(t *testing.T) {
	s := mustParse(t, "", "ops:"+opsToken, "grafana:"+grafanaToken)
	session, _ := s.NewSession("grafana", time.Now())
	for _, c := range []struct {
		name        string
		header      string
		cookie      string
		allowCookie bool
		want        Result
		wantName    string
	}{
		{"nothing", "", "", true, Missing, ""},
		{"bearer", "Bearer " + opsToken, "", false, Known, "ops"},
		{"bearer lower case", "bearer " + grafanaToken, "", false, Known, "grafana"},
		{"unknown bearer", "Bearer nope", "", true, Unknown, ""},
		{"basic", "Basic b3BzOnNlY3JldA==", "", true, Unknown, ""},
		{"cookie", "", session, true, Known, "grafana"},
		{"cookie not allowed", "", session, false, Missing, ""},
		{"bad cookie", "", "v1.1.00.grafana", true, Unknown, ""},
		{"header wins over cookie", "Bearer nope", session, true, Unknown, ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: CookieName, Value: c.cookie})
		}
		id, res := s.FromRequest(r, c.allowCookie)
		if res != c.want || id.Name != c.wantName {
			t.Errorf("%s: %v %v, want %v %q", c.name, id, res, c.want, c.wantName)
		}
	}
}

// FuzzParse: whatever the variables hold, Parse does not panic, an error
// never prints a token, and every token of a parsed set is found under its
// own name. The fuzzed tokens are rewritten into DEL characters (same
// length), which no error message contains otherwise: names are validated
// or quoted before they are printed.
func FuzzParse(f *testing.F) {
	f.Add("short", "ops:"+opsToken, "grafana:"+grafanaToken)
	f.Add("", "ops:"+opsToken+",ops:"+ciToken, "")
	f.Add("", ",:,", "a:b:c:d")
	f.Add("x", "admin:"+opsToken, "dash:tooshort-secret")
	hide := func(list string) string {
		entries := strings.Split(list, ",")
		for i, e := range entries {
			if name, token, ok := strings.Cut(e, ":"); ok {
				entries[i] = name + ":" + strings.Repeat("\x7f", len(token))
			}
		}
		return strings.Join(entries, ",")
	}
	f.Fuzz(func(t *testing.T, admin, admins, reads string) {
		admin = strings.Repeat("\x7f", len(admin))
		s, err := Parse(admin, hide(admins), hide(reads))
		if err != nil {
			if strings.Contains(err.Error(), "\x7f") {
				t.Fatalf("error %q prints a token", err)
			}
			return
		}
		for _, id := range s.Identities() {
			token, ok := s.Token(id.Name)
			if !ok {
				t.Fatalf("no token named %q", id.Name)
			}
			if got, ok := s.Lookup(token); !ok || got != id {
				t.Fatalf("Lookup of %q's token = %v %v", id.Name, got, ok)
			}
		}
	})
}
