package jobs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Signature errors; the API answers all of them with 401 except
// ErrNoClients, which is the server's misconfiguration (503).
var (
	ErrNoSignature  = errors.New("no signature: send \"signature\" in the body (HMAC-SHA256 of lots) or an X-Signature header (HMAC-SHA256 of the body)")
	ErrBadSignature = errors.New("signature does not match")
	ErrNoClients    = errors.New("no job clients configured (JOBS_CLIENTS or JOBS_SHARED_SECRET)")
)

// Client is one party allowed to submit jobs. String never shows a secret.
type Client struct {
	ID     string
	Secret string
	// Previous is the secret being replaced (JOBS_CLIENTS_PREVIOUS): until
	// PreviousUntil, submissions signed with it are accepted too and
	// callbacks carry a second webhook-signature made with it.
	Previous      string
	PreviousUntil time.Time
}

// PreviousAt returns the previous secret while its overlap lasts (now before
// PreviousUntil), else "".
func (c Client) PreviousAt(now time.Time) string {
	if c.Previous == "" || !now.Before(c.PreviousUntil) {
		return ""
	}
	return c.Previous
}

func (c Client) String() string   { return "jobs.Client{ID: " + c.ID + "}" }
func (c Client) GoString() string { return c.String() }

// ClientSet is every configured client.
type ClientSet []Client

// IDs lists the client IDs, for logs.
func (cs ClientSet) IDs() []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// DefaultClientID is the ID of the client JOBS_SHARED_SECRET configures.
const DefaultClientID = "default"

// ParseClients reads JOBS_CLIENTS ("id:secret,id2:secret2"; a secret may
// contain ':' but not ',') and JOBS_SHARED_SECRET (client "default"). Both
// may be empty. Errors name the entry by position and ID, never the secret.
func ParseClients(jobsClients, sharedSecret string) (ClientSet, error) {
	return ParseClientsWithPrevious(jobsClients, sharedSecret, "")
}

// ParseClientsWithPrevious is ParseClients plus JOBS_CLIENTS_PREVIOUS, the
// secrets being replaced: "id:previous-secret@until,..." where until is an
// RFC 3339 time (2027-06-30T00:00:00Z) and the secret is everything between
// the first ':' and the last '@' (it may contain both, not ','). Each entry
// names a client of JOBS_CLIENTS (or "default") at most once, and its
// previous secret differs from the current one. An until-time already past
// is valid: the entry is inert. Errors never show a secret.
func ParseClientsWithPrevious(jobsClients, sharedSecret, previous string) (ClientSet, error) {
	var cs ClientSet
	seen := map[string]bool{}
	var errs []error
	if strings.TrimSpace(jobsClients) != "" {
		for i, entry := range strings.Split(jobsClients, ",") {
			entry = strings.TrimSpace(entry)
			id, secret, ok := strings.Cut(entry, ":")
			id, secret = strings.TrimSpace(id), strings.TrimSpace(secret)
			switch {
			case entry == "":
				errs = append(errs, fmt.Errorf("JOBS_CLIENTS entry %d is empty", i+1))
			case !ok || id == "":
				errs = append(errs, fmt.Errorf("JOBS_CLIENTS entry %d is not id:secret", i+1))
			case secret == "":
				errs = append(errs, fmt.Errorf("JOBS_CLIENTS entry %d (%q) has an empty secret", i+1, id))
			case seen[id]:
				errs = append(errs, fmt.Errorf("JOBS_CLIENTS entry %d repeats client %q", i+1, id))
			default:
				seen[id] = true
				cs = append(cs, Client{ID: id, Secret: secret})
			}
		}
	}
	if sharedSecret != "" {
		if seen[DefaultClientID] {
			errs = append(errs, fmt.Errorf("JOBS_SHARED_SECRET and JOBS_CLIENTS both define client %q", DefaultClientID))
		} else {
			cs = append(cs, Client{ID: DefaultClientID, Secret: sharedSecret})
		}
	}
	errs = append(errs, cs.addPrevious(previous)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cs, nil
}

func (cs ClientSet) addPrevious(previous string) []error {
	if strings.TrimSpace(previous) == "" {
		return nil
	}
	const form = "id:previous-secret@2027-06-30T00:00:00Z"
	var errs []error
	seen := map[string]bool{}
	for i, entry := range strings.Split(previous, ",") {
		entry = strings.TrimSpace(entry)
		id, rest, ok := strings.Cut(entry, ":")
		id = strings.TrimSpace(id)
		at := strings.LastIndex(rest, "@")
		if entry == "" {
			errs = append(errs, fmt.Errorf("JOBS_CLIENTS_PREVIOUS entry %d is empty", i+1))
			continue
		}
		if !ok || id == "" || at < 0 {
			errs = append(errs, fmt.Errorf("JOBS_CLIENTS_PREVIOUS entry %d is not %s", i+1, form))
			continue
		}
		secret := strings.TrimSpace(rest[:at])
		// The part after '@' is not repeated: with a mistyped entry it may
		// be a piece of the secret.
		until, err := time.Parse(time.RFC3339, strings.TrimSpace(rest[at+1:]))
		k := -1
		for j := range cs {
			if cs[j].ID == id {
				k = j
			}
		}
		switch {
		case secret == "":
			errs = append(errs, fmt.Errorf("JOBS_CLIENTS_PREVIOUS entry %d (%q) has an empty secret", i+1, id))
		case err != nil:
			errs = append(errs, fmt.Errorf("JOBS_CLIENTS_PREVIOUS entry %d (%q): what follows the last @ is not an RFC 3339 time (%s)", i+1, id, form))
		case seen[id]:
			errs = append(errs, fmt.Errorf("JOBS_CLIENTS_PREVIOUS entry %d repeats client %q", i+1, id))
		case k < 0:
			errs = append(errs, fmt.Errorf("JOBS_CLIENTS_PREVIOUS entry %d names client %q, which neither JOBS_CLIENTS nor JOBS_SHARED_SECRET (client %q) defines", i+1, id, DefaultClientID))
		case cs[k].Secret == secret:
			errs = append(errs, fmt.Errorf("JOBS_CLIENTS_PREVIOUS entry %d (%q): the previous secret equals the current one", i+1, id))
		default:
			cs[k].Previous, cs[k].PreviousUntil = secret, until
		}
		seen[id] = true
	}
	return errs
}

// VerifySignature finds the client that signed the submission and returns its
// ID. Two schemes are accepted, each tried with every client:
//
//   - the seed's body "signature": hex HMAC-SHA256(secret, lots) where lots is
//     the raw "lots" value as sent (sub.RawLots). A Python client signing
//     json.dumps(lots) and posting json.dumps(body) (requests' json=) sends
//     exactly those bytes, so this verifies without re-encoding anything;
//   - an X-Signature header: hex HMAC-SHA256(secret, whole raw body), which
//     also covers webhook_url and languages. "sha256=" in front is accepted.
//
// Either valid signature is enough. Comparisons are constant time and every
// client is tried (no early exit that would time which one matched).
// A client's previous secret is tried too while its overlap lasts.
func VerifySignature(sub Submission, rawBody []byte, headerSig string, clients ClientSet) (string, error) {
	id, _, err := VerifySignatureAt(sub, rawBody, headerSig, clients, time.Now())
	return id, err
}

// VerifySignatureAt is VerifySignature at time now (which decides whether a
// previous secret is still accepted); withPrevious reports that only the
// client's previous secret matched.
func VerifySignatureAt(sub Submission, rawBody []byte, headerSig string, clients ClientSet, now time.Time) (clientID string, withPrevious bool, err error) {
	if len(clients) == 0 {
		return "", false, ErrNoClients
	}
	bodySig := strings.TrimSpace(sub.Signature)
	headerSig = strings.TrimPrefix(strings.TrimSpace(headerSig), "sha256=")
	if bodySig == "" && headerSig == "" {
		return "", false, ErrNoSignature
	}
	var problems []string
	want := func(sig, what string) []byte {
		if sig == "" {
			return nil
		}
		b, err := hex.DecodeString(sig)
		if err != nil || len(b) != sha256.Size {
			problems = append(problems, what+" is not 64 hex digits")
			return nil
		}
		return b
	}
	bodyWant := want(bodySig, "body signature")
	headerWant := want(headerSig, "X-Signature")
	if bodyWant != nil && sub.RawLots == nil {
		problems = append(problems, "body signature given but there is no lots value to check it against")
		bodyWant = nil
	}

	signedWith := func(secret string) bool {
		ok := false
		if bodyWant != nil {
			ok = hmac.Equal(mac(secret, sub.RawLots), bodyWant) || ok
		}
		if headerWant != nil {
			ok = hmac.Equal(mac(secret, rawBody), headerWant) || ok
		}
		return ok
	}
	matched, previous := "", false
	for _, c := range clients {
		cur, prev := signedWith(c.Secret), false
		if p := c.PreviousAt(now); p != "" {
			prev = signedWith(p) // tried even when the current one matched
		}
		if (cur || prev) && matched == "" {
			matched, previous = c.ID, !cur
		}
	}
	if matched != "" {
		return matched, previous, nil
	}
	if len(problems) > 0 {
		return "", false, fmt.Errorf("%w: %s", ErrBadSignature, strings.Join(problems, "; "))
	}
	return "", false, fmt.Errorf("%w for any configured client (body signature: HMAC-SHA256 of the raw lots value; X-Signature: of the raw body)", ErrBadSignature)
}

func mac(secret string, data []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(data)
	return m.Sum(nil)
}
