package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CookieName is the ops console's session cookie; it covers every page of
// the console, /crm/sync included.
const CookieName = "hookflow_ops"

// SessionTTL is how long a console login lasts.
const SessionTTL = 12 * time.Hour

const sessionVersion = "v1"

// NewSession returns the session value for the token named name, valid until
// now+SessionTTL: "v1.<expiry>.<mac>.<name>", where mac is HMAC-SHA256 keyed
// with the token itself over the name and the expiry. The value names the
// token but does not carry it; a token removed or rotated away (its name
// given another token) ends every session made from it.
func (s *Set) NewSession(name string, now time.Time) (string, bool) {
	e, ok := s.byName(name)
	if !ok {
		return "", false
	}
	exp := strconv.FormatInt(now.Add(SessionTTL).Unix(), 10)
	return sessionVersion + "." + exp + "." + hex.EncodeToString(sessionMAC(e.token, name, exp)) + "." + name, true
}

// VerifySession checks a session value made by NewSession: the named token
// is still configured, the MAC is that token's (compared in constant time)
// and the session has not expired.
func (s *Set) VerifySession(value string, now time.Time) (Identity, bool) {
	parts := strings.SplitN(value, ".", 4)
	if len(parts) != 4 || parts[0] != sessionVersion {
		return Identity{}, false
	}
	exp, mac, name := parts[1], parts[2], parts[3]
	e, ok := s.byName(name)
	if !ok {
		return Identity{}, false
	}
	got, err := hex.DecodeString(mac)
	if err != nil || !hmac.Equal(got, sessionMAC(e.token, name, exp)) {
		return Identity{}, false
	}
	until, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(until, 0)) {
		return Identity{}, false
	}
	return e.Identity, true
}

func sessionMAC(token, name, exp string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("hookflow-ops-session\x00" + sessionVersion + "\x00" + name + "\x00" + exp))
	return m.Sum(nil)
}

// SessionCookie is the cookie a login with the token named name sets:
// HttpOnly, SameSite=Strict, Secure over TLS, for SessionTTL.
func (s *Set) SessionCookie(name string, secure bool, now time.Time) (*http.Cookie, bool) {
	v, ok := s.NewSession(name, now)
	if !ok {
		return nil, false
	}
	return &http.Cookie{Name: CookieName, Value: v, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure, MaxAge: int(SessionTTL / time.Second)}, true
}

// LogoutCookie clears the session cookie.
func LogoutCookie() *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode}
}

// Result says what a request's credentials turned out to be.
type Result int

const (
	// Missing: the request carries no credentials.
	Missing Result = iota
	// Unknown: it carries some, and they are no configured token's (or the
	// session is expired, forged or of a token no longer configured).
	Unknown
	// Known: a configured token's.
	Known
)

// FromRequest identifies the caller from an Authorization: Bearer header or,
// when cookie is true and no Authorization header is sent, the console's
// session cookie. An Authorization header of another scheme is Unknown.
func (s *Set) FromRequest(r *http.Request, cookie bool) (Identity, Result) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return Identity{}, Unknown
		}
		if id, ok := s.Lookup(strings.TrimLeft(token, " ")); ok {
			return id, Known
		}
		return Identity{}, Unknown
	}
	if !cookie {
		return Identity{}, Missing
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return Identity{}, Missing
	}
	if id, ok := s.VerifySession(c.Value, time.Now()); ok {
		return id, Known
	}
	return Identity{}, Unknown
}
