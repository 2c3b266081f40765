package engine_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/flashdrop/flashdrop/engine"
)

// FuzzIdentifiers feeds outside input to every validator of identifiers
// that come from URLs, headers and tokens. None may panic, and what they
// accept must fit the rules the store relies on.
func FuzzIdentifiers(f *testing.F) {
	for _, s := range []string{"", "drop-1", "drop-1.abc", "a b", "é", "\x00", "k/../x", strings.Repeat("z", 300), "drop.", ".x", "drop-1.0123456789abcdef0123", "drop-1.0123456789ABCDEF0123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if engine.ValidateIdempotencyKey(s) == nil {
			if len(s) == 0 || len(s) > engine.MaxIdempotencyKeyLen || strings.ContainsAny(s, " \t\r\n") {
				t.Fatalf("accepted idempotency key %q", s)
			}
		}
		if engine.ValidateUser(s) == nil {
			if !utf8.ValidString(s) || len(s) == 0 || len(s) > engine.MaxUserLen || strings.ContainsAny(s, "\x00\n\r") {
				t.Fatalf("accepted user %q", s)
			}
		}
		if engine.ValidateDropID(s) == nil && (strings.ContainsAny(s, "{}:. ") || len(s) > engine.MaxDropIDLen) {
			t.Fatalf("accepted drop id %q: it would break the key hash tag", s)
		}
		if drop, err := engine.SplitReservationID(s); err == nil {
			if engine.ValidateDropID(drop) != nil || !strings.HasPrefix(s, drop+engine.ReservationIDSeparator) {
				t.Fatalf("split %q into drop %q", s, drop)
			}
		}
		if engine.ValidateRef(s) == nil && len(s) > engine.MaxRefLen {
			t.Fatalf("accepted ref %q", s)
		}
		// A share code carries its drop and at least 64 bits, and is a ref
		// the API accepts.
		if drop, err := engine.SplitShareCode(s); err == nil {
			own := strings.TrimPrefix(s, drop+engine.ShareCodeSeparator)
			if engine.ValidateDropID(drop) != nil || len(own)*4 < 64 || engine.ValidateRef(s) != nil {
				t.Fatalf("split share code %q into drop %q", s, drop)
			}
		}
	})
}
