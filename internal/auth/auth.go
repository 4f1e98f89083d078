// Package auth says who is calling hookflow's API and ops console: named
// Bearer tokens (ADMIN_TOKEN, ADMIN_TOKENS, READ_TOKENS) with a level, read
// or admin, and the console's session cookie, which names the token it was
// made from and is signed with it.
//
// A token never leaves this package in a log line, an error or a cookie:
// what the rest of hookflow sees, logs, traces and records is the token's
// name.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Level is what a token may do.
type Level int

const (
	// None is no access (an unknown or missing token).
	None Level = iota
	// Read may call every endpoint that returns stored data and view the
	// ops pages, but act on nothing.
	Read
	// Admin may do everything Read may, and act: retries, order changes,
	// contact links, the console's buttons.
	Admin
)

func (l Level) String() string {
	switch l {
	case Read:
		return "read"
	case Admin:
		return "admin"
	}
	return "none"
}

// Identity is a known token: its name and level. It never holds the token.
type Identity struct {
	Name  string
	Level Level
}

// Can reports whether the identity has at least the level need.
func (id Identity) Can(need Level) bool { return id.Level >= need && id.Level != None }

// AdminTokenName is the name ADMIN_TOKEN goes by.
const AdminTokenName = "admin"

// MinLength is the shortest token ADMIN_TOKENS and READ_TOKENS accept.
// (ADMIN_TOKEN keeps accepting any non-empty value, as it always has.)
const MinLength = 16

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

type entry struct {
	Identity
	token  string
	digest [sha256.Size]byte
}

// Set is the configured tokens. The zero value and nil hold none.
type Set struct {
	entries []entry
}

// Parse reads ADMIN_TOKEN (one token, named "admin"), ADMIN_TOKENS and
// READ_TOKENS (name:token,name2:token2). Errors name the variable and the
// entry's position (and the name, once it is known to be one), never a
// token. Names and tokens must be unique across all three.
func Parse(adminToken, adminTokens, readTokens string) (*Set, error) {
	s := &Set{}
	var errs []error
	names := map[string]string{}  // name → where it was defined
	tokens := map[string]string{} // token → where it was defined
	add := func(where, name, token string, level Level) {
		if prev, dup := names[name]; dup {
			errs = append(errs, fmt.Errorf("%s: the name %q is already used by %s", where, name, prev))
			return
		}
		if prev, dup := tokens[token]; dup {
			errs = append(errs, fmt.Errorf("%s: the token is the same as that of %s; every token must be different", where, prev))
			return
		}
		names[name], tokens[token] = where, where
		s.entries = append(s.entries, entry{Identity: Identity{Name: name, Level: level}, token: token,
			digest: sha256.Sum256([]byte(token))})
	}
	if adminToken != "" {
		add("ADMIN_TOKEN", AdminTokenName, adminToken, Admin)
	}
	for _, list := range []struct {
		variable, value string
		level           Level
	}{{"ADMIN_TOKENS", adminTokens, Admin}, {"READ_TOKENS", readTokens, Read}} {
		if strings.TrimSpace(list.value) == "" {
			continue
		}
		for i, raw := range strings.Split(list.value, ",") {
			where := fmt.Sprintf("%s entry %d", list.variable, i+1)
			name, token, ok := strings.Cut(strings.TrimSpace(raw), ":")
			name, token = strings.TrimSpace(name), strings.TrimSpace(token)
			switch {
			case strings.TrimSpace(raw) == "":
				errs = append(errs, fmt.Errorf("%s is empty (entries are name:token, separated by commas)", where))
			case !ok:
				errs = append(errs, fmt.Errorf("%s is not name:token", where))
			case !namePattern.MatchString(name):
				errs = append(errs, fmt.Errorf("%s: the name must be 1 to 64 letters, digits, '_', '.' or '-' (starting with a letter or digit)", where))
			case token == "":
				errs = append(errs, fmt.Errorf("%s (%q) has an empty token", where, name))
			case len(token) < MinLength:
				errs = append(errs, fmt.Errorf("%s (%q): the token is %d characters long; at least %d are needed (e.g. openssl rand -hex 24)", where, name, len(token), MinLength))
			default:
				add(fmt.Sprintf("%s (%q)", where, name), name, token, list.level)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Empty reports whether no token is configured.
func (s *Set) Empty() bool { return s == nil || len(s.entries) == 0 }

// HasAdmin reports whether an admin token is configured.
func (s *Set) HasAdmin() bool {
	if s == nil {
		return false
	}
	for _, e := range s.entries {
		if e.Level == Admin {
			return true
		}
	}
	return false
}

// Identities lists the configured tokens' names and levels, in the order
// they were configured.
func (s *Set) Identities() []Identity {
	if s == nil {
		return nil
	}
	out := make([]Identity, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e.Identity)
	}
	return out
}

// Lookup finds the token presented. It compares SHA-256 digests (so a
// token's length is not timed either) against every configured token in
// constant time, without stopping at a match.
func (s *Set) Lookup(presented string) (Identity, bool) {
	if s.Empty() || presented == "" {
		return Identity{}, false
	}
	digest := sha256.Sum256([]byte(presented))
	found, index := 0, 0
	for i := range s.entries {
		eq := subtle.ConstantTimeCompare(digest[:], s.entries[i].digest[:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		found |= eq
	}
	if found == 0 {
		return Identity{}, false
	}
	return s.entries[index].Identity, true
}

// Token returns the token configured under name: the ops console calls the
// API's own admin endpoints as the session's token, so that those calls are
// logged under the same name.
func (s *Set) Token(name string) (string, bool) {
	e, ok := s.byName(name)
	return e.token, ok
}

func (s *Set) byName(name string) (entry, bool) {
	if s == nil {
		return entry{}, false
	}
	for _, e := range s.entries {
		if e.Name == name {
			return e, true
		}
	}
	return entry{}, false
}
