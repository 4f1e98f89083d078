package jobs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Signature errors; the API answers all of them with 401 except
// ErrNoClients, which is the server's misconfiguration (503).
var (
	ErrNoSignature  = errors.New("no signature: send \"signature\" in the body (HMAC-SHA256 of lots) or an X-Signature header (HMAC-SHA256 of the body)")
	ErrBadSignature = errors.New("signature does not match")
	ErrNoClients    = errors.New("no job clients configured (JOBS_CLIENTS or JOBS_SHARED_SECRET)")
)

// Client is one party allowed to submit jobs. String never shows Secret.
type Client struct {
	ID     string
	Secret string
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
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cs, nil
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
func VerifySignature(sub Submission, rawBody []byte, headerSig string, clients ClientSet) (string, error) {
	if len(clients) == 0 {
		return "", ErrNoClients
	}
	bodySig := strings.TrimSpace(sub.Signature)
	headerSig = strings.TrimPrefix(strings.TrimSpace(headerSig), "sha256=")
	if bodySig == "" && headerSig == "" {
		return "", ErrNoSignature
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

	matched := ""
	for _, c := range clients {
		ok := false
		if bodyWant != nil {
			ok = hmac.Equal(mac(c.Secret, sub.RawLots), bodyWant) || ok
		}
		if headerWant != nil {
			ok = hmac.Equal(mac(c.Secret, rawBody), headerWant) || ok
		}
		if ok && matched == "" {
			matched = c.ID
		}
	}
	if matched != "" {
		return matched, nil
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%w: %s", ErrBadSignature, strings.Join(problems, "; "))
	}
	return "", fmt.Errorf("%w for any configured client (body signature: HMAC-SHA256 of the raw lots value; X-Signature: of the raw body)", ErrBadSignature)
}

func mac(secret string, data []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(data)
	return m.Sum(nil)
}
