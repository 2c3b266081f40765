package api

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkDisplayName refuses a name that a shopper reads on the public
// pages and share cards yet that does not show what it holds: a control
// or format character (Unicode Cc, Cf, and the line and paragraph
// separators Zl, Zp), such as U+202E, which turns the text after it
// around, or U+200B, which shows nothing; or space at either end, which
// a page shows as nothing too and which makes two names that look alike
// differ. An empty or blank name is the engine's to refuse ("is
// required"). The engine's own rule (no control characters) is kept as
// it was for Go callers: a weekly series stored before this check still
// makes its drops.
func checkDisplayName(field, s string) error {
	if strings.TrimSpace(s) == "" || !utf8.ValidString(s) {
		return nil // the engine's message
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return givenInvalid(field, "must not begin or end with a space")
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return givenInvalid(field, "must not contain control or format characters (such as U+202E, which reverses the text after it, or U+200B, which shows nothing); it holds U+%04X", r)
		}
	}
	return nil
}

// checkDisplayNames checks the name and product of a drop or series body.
func checkDisplayNames(name, product string) error {
	if err := checkDisplayName("name", name); err != nil {
		return err
	}
	return checkDisplayName("product", product)
}
