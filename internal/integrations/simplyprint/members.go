package simplyprint

import (
	"encoding/json"
	"strings"
)

// member is one "key": value of a JSON object, both slices of the body:
// key is the string token with its quotes, value the value's bytes exactly
// as sent (what a json.RawMessage would hold: the dedup key hashes data's).
type member struct {
	key, value []byte
}

// members lists the members of the JSON object raw, in order, without
// copying or decoding them; ok is false when raw is not an object. raw must
// be valid JSON (json.Valid): the walk trusts its structure. This is what
// ParseEvent decoded into map[string]json.RawMessage before, at a few
// allocations instead of one per member (every webhook, twice).
func members(raw []byte, into []member) (out []member, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return into, false
	}
	out = into
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] != '}' {
		k := i
		i = skipString(raw, i)
		key := raw[k:i]
		i = skipSpace(raw, i)
		i = skipSpace(raw, i+1) // the ':'
		v := i
		i = skipValue(raw, i)
		out = append(out, member{key, raw[v:i]})
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return out, true
}

// get is the value of the last member named name exactly, as a map keeps
// it; nil when there is none.
func get(ms []member, name string) json.RawMessage { return last(ms, name, false) }

// field is the value a struct field tagged name receives from encoding/json:
// the last member whose key matches it exactly or, as encoding/json
// accepts, but for case.
func field(ms []member, name string) json.RawMessage { return last(ms, name, true) }

func last(ms []member, name string, foldCase bool) json.RawMessage {
	var v json.RawMessage
	for _, m := range ms {
		if keyIs(m.key, name, foldCase) {
			v = m.value
		}
	}
	return v
}

// keyIs compares a key token with name; a key with escapes is decoded first.
func keyIs(token []byte, name string, foldCase bool) bool {
	if k := token[1 : len(token)-1]; plainASCII(k) {
		if foldCase {
			return strings.EqualFold(string(k), name)
		}
		return string(k) == name
	}
	var key string
	if json.Unmarshal(token, &key) != nil {
		return false
	}
	if foldCase {
		return strings.EqualFold(key, name)
	}
	return key == name
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string token starting at i.
func skipString(raw []byte, i int) int {
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value starting at i.
func skipValue(raw []byte, i int) int {
	if i >= len(raw) {
		return i
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for ; i < len(raw); i++ {
			switch raw[i] {
			case '"':
				i = skipString(raw, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(raw) && raw[i] != ',' && raw[i] != '}' && raw[i] != ']' && raw[i] != ' ' && raw[i] != '\t' && raw[i] != '\n' && raw[i] != '\r' {
		i++
	}
	return i
}
