package ordersync

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultStatusSpec is the status mapping used when none is configured:
// Bitrix's default statuses N (accepted), P (paid), F (completed) and
// Bitrix24's S (shipped), D (cancelled).
const DefaultStatusSpec = "N:new,P:paid,S:shipped,F:completed,D:cancelled"

var statusCodeRe = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)

// StatusMap maps Bitrix status ids (b_sale_status.ID, e.g. "N", "PD") to
// CRM statuses ("new", "paid") and back.
//
// Bitrix codes match case-insensitively ("n" finds "N"), CRM statuses too.
// Several Bitrix codes may map to one CRM status; the reverse direction
// then uses the first one listed. The zero value maps nothing (every code is
// unknown); use DefaultStatusMap or ParseStatusMap.
//
// StatusMap implements encoding.TextMarshaler/TextUnmarshaler with the spec
// syntax of ParseStatusMap, so it can be read straight from an env var and
// travels through JSON as its spec string.
type StatusMap struct {
	toCRM    map[string]string // upper-cased Bitrix code -> CRM status
	toBitrix map[string]string // lower-cased CRM status -> Bitrix code
	pairs    [][2]string       // in spec order, as written
}

// DefaultStatusMap returns the mapping of DefaultStatusSpec.
func DefaultStatusMap() StatusMap {
	m, err := ParseStatusMap(DefaultStatusSpec)
	if err != nil {
		panic(err) // DefaultStatusSpec is a constant known to parse
	}
	return m
}

// ParseStatusMap parses a spec of comma-separated "BITRIX_CODE:crm_status"
// pairs, e.g. "N:new,P:paid,PD:paid". Whitespace around items is ignored,
// empty items are skipped. An empty (or blank) spec yields DefaultStatusMap;
// a non-empty spec replaces the default entirely.
//
// Bitrix codes are 1-32 letters, digits or underscores; a code may appear
// once. CRM statuses are non-empty and contain neither ':' nor ','.
func ParseStatusMap(spec string) (StatusMap, error) {
	if strings.TrimSpace(spec) == "" {
		return DefaultStatusMap(), nil
	}
	m := StatusMap{toCRM: map[string]string{}, toBitrix: map[string]string{}}
	for i, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		code, status, ok := strings.Cut(item, ":")
		code, status = strings.TrimSpace(code), strings.TrimSpace(status)
		switch {
		case !ok:
			return StatusMap{}, fmt.Errorf("ordersync: status map item %d %q: want BITRIX_CODE:crm_status", i+1, item)
		case !statusCodeRe.MatchString(code):
			return StatusMap{}, fmt.Errorf("ordersync: status map item %d %q: Bitrix status code %q must be 1-32 letters, digits or underscores", i+1, item, code)
		case status == "" || strings.Contains(status, ":"):
			return StatusMap{}, fmt.Errorf("ordersync: status map item %d %q: CRM status must be non-empty and contain no ':'", i+1, item)
		}
		up := strings.ToUpper(code)
		if prev, dup := m.toCRM[up]; dup {
			return StatusMap{}, fmt.Errorf("ordersync: status map item %d %q: Bitrix status %q is already mapped to %q", i+1, item, code, prev)
		}
		m.toCRM[up] = status
		if _, seen := m.toBitrix[strings.ToLower(status)]; !seen {
			m.toBitrix[strings.ToLower(status)] = code
		}
		m.pairs = append(m.pairs, [2]string{code, status})
	}
	if len(m.pairs) == 0 {
		return StatusMap{}, fmt.Errorf("ordersync: status map %q has no BITRIX_CODE:crm_status pairs", spec)
	}
	return m, nil
}

// ToCRM maps a Bitrix status id to the CRM status. An unknown (or empty)
// code is returned unchanged with known=false, so callers keep it and flag
// the order.
func (m StatusMap) ToCRM(code string) (status string, known bool) {
	if s, ok := m.toCRM[strings.ToUpper(strings.TrimSpace(code))]; ok {
		return s, true
	}
	return code, false
}

// ToBitrix maps a CRM status back to a Bitrix status id for back sync.
// ok is false when the CRM status has no mapping; nothing should be sent to
// Bitrix then.
func (m StatusMap) ToBitrix(status string) (code string, ok bool) {
	code, ok = m.toBitrix[strings.ToLower(strings.TrimSpace(status))]
	return code, ok
}

// Len returns the number of Bitrix codes mapped.
func (m StatusMap) Len() int { return len(m.pairs) }

// String returns the spec ("N:new,P:paid,..."), in the order it was given.
func (m StatusMap) String() string {
	parts := make([]string, len(m.pairs))
	for i, p := range m.pairs {
		parts[i] = p[0] + ":" + p[1]
	}
	return strings.Join(parts, ",")
}

// MarshalText returns the spec.
func (m StatusMap) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a spec with ParseStatusMap.
func (m *StatusMap) UnmarshalText(b []byte) error {
	v, err := ParseStatusMap(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
