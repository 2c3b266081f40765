package api

import "testing"

// TestQuotedName: a drop's name is quoted once; a name with quotes of its
// own is not wrapped in more (“Air Max 1 “Release Day”” nested them).
func TestQuotedName(t *testing.T) {
	for name, want := range map[string]string{
		"Tuesday Drop":             "“Tuesday Drop”",
		"Air Max 1 “Release Day”":  "Air Max 1 “Release Day”",
		`Air Max 1 "Release Day"`:  `Air Max 1 "Release Day"`,
		"Luftkissen „Erstausgabe“": "Luftkissen „Erstausgabe“",
		"Édition «Jour de sortie»": "Édition «Jour de sortie»",
	} {
		if got := quotedName(name); got != want {
			t.Errorf("quotedName(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestHoldText: a hold's length in words, as a draw's winner is told it.
func TestHoldText(t *testing.T) {
	for s, want := range map[int64]string{600: "10 minutes", 60: "1 minute", 3600: "1 hour", 7200: "2 hours", 90: "90 seconds", 1: "1 second", 5400: "90 minutes"} {
		if got := holdText(s); got != want {
			t.Errorf("holdText(%d) = %q, want %q", s, got, want)
		}
	}
}
