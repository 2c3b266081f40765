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
