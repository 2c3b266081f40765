package engine

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// safeIDByRunes is safeID's definition, rune by rune: what ValidateUser
// checked before its ASCII fast path.
func safeIDByRunes(id string) bool {
	return utf8.ValidString(id) && strings.IndexFunc(id, unsafeInID) < 0
}

// TestSafeIDMatchesTheRuneCheck: the fast path answers as the rune check
// does, for every rune alone and after an ASCII prefix (where the fast
// path hands over), for invalid UTF-8, and for the ASCII controls.
func TestSafeIDMatchesTheRuneCheck(t *testing.T) {
	check := func(id string) {
		t.Helper()
		if got, want := safeID(id), safeIDByRunes(id); got != want {
			t.Fatalf("safeID(%q) = %v, the rune check says %v", id, got, want)
		}
	}
	refused := 0
	for r := rune(0); r <= utf8.MaxRune; r++ {
		s := string(r) // surrogates become U+FFFD, which is refused too
		check(s)
		check("shopper-" + s + "-1")
		if r < 0x3000 || r%97 == 0 {
			check("é" + s) // a multi-byte rune first, then r
		}
		if !safeID(s) {
			refused++
		}
	}
	for _, s := range []string{"", "plain", "with space", "tab\there", "del\x7f", "nul\x00", "\xff", "ok\xc3", "ok\xc3(", "\xed\xa0\x80", "a\u2028b", "Zoë"} {
		check(s)
	}
	// Not a vacuous comparison: the controls, format, private-use and
	// separator runes are thousands.
	if refused < 1000 {
		t.Fatalf("only %d runes refused", refused)
	}
}
