package api

import "testing"

// FuzzMatchSecret: the constant-time check of every inbound secret (current
// and, during a rotation, previous) agrees with plain comparison.
func FuzzMatchSecret(f *testing.F) {
	f.Add("new", "new", "old")
	f.Add("old", "new", "old")
	f.Add("", "", "")
	f.Add("x", "", "x")
	f.Fuzz(func(t *testing.T, got, current, previous string) {
		ok, withPrevious := matchSecret(got, current, previous)
		wantOK := current != "" && (got == current || (previous != "" && got == previous))
		if ok != wantOK || withPrevious != (wantOK && got != current) {
			t.Fatalf("matchSecret(%q, %q, %q) = %v, %v", got, current, previous, ok, withPrevious)
		}
	})
}
