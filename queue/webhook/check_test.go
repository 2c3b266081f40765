package webhook

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckURLNamesTheFlag: a webhook URL refused for its private or
// loopback host says so in a sentence and names --webhooks-allow-private,
// the flag a developer needs for a receiver on their own machine; it is
// still errPrivateTarget, and allowed with the flag.
func TestCheckURLNamesTheFlag(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://localhost/hook", "https://10.0.0.7/hook"} {
		err := CheckURL(false, false)(u)
		if !errors.Is(err, errPrivateTarget) || !strings.Contains(err.Error(), "--webhooks-allow-private") ||
			!strings.HasPrefix(err.Error(), "must not be on a private, loopback or link-local address (") {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
		if err := CheckURL(true, false)(u); err != nil {
			t.Errorf("CheckURL(%q) allowing private = %v", u, err)
		}
	}
	if err := CheckURL(false, false)("https://example.com/hook"); err != nil {
		t.Errorf("a public host: %v", err)
	}
}

// TestCheckURLRefusesPlainHTTP: an http:// target on a public host or a
// name is refused, naming both flags, unless --webhooks-allow-http; with
// --webhooks-allow-private, http stays allowed for a literal private or
// loopback host (a receiver on the developer's machine), not for a name,
// which may resolve anywhere. https is never refused for its scheme.
func TestCheckURLRefusesPlainHTTP(t *testing.T) {
	cases := []struct {
		url                     string
		allowPrivate, allowHTTP bool
		refused                 bool
	}{
		{"http://example.com/hook", false, false, true},
		{"HTTP://example.com/hook", false, false, true},
		{"http://93.184.216.34/hook", false, false, true},
		{"http://example.com/hook", true, false, true},
		{"http://receiver.internal:8080/hook", true, false, true},
		{"http://example.com/hook", false, true, false},
		{"http://127.0.0.1:8080/hook", true, false, false},
		{"http://localhost:8080/hook", true, false, false},
		{"http://10.0.0.7/hook", true, false, false},
		{"https://example.com/hook", false, false, false},
		{"https://receiver.internal/hook", true, false, false},
	}
	for _, c := range cases {
		err := CheckURL(c.allowPrivate, c.allowHTTP)(c.url)
		if c.refused != (err != nil) {
			t.Errorf("CheckURL(private %v, http %v)(%q) = %v, want refused %v", c.allowPrivate, c.allowHTTP, c.url, err, c.refused)
			continue
		}
		if c.refused && (!errors.Is(err, errPlainHTTP) || !strings.Contains(err.Error(), "--webhooks-allow-http") ||
			!strings.HasPrefix(err.Error(), "must be https")) {
			t.Errorf("CheckURL(%q) = %v, want the plain-http sentence naming --webhooks-allow-http", c.url, err)
		}
	}
	// A private target without the flag is still refused for being
	// private first: that is the flag its developer needs.
	if err := CheckURL(false, false)("http://127.0.0.1/hook"); !errors.Is(err, errPrivateTarget) {
		t.Errorf("http loopback without flags: %v, want the private-address refusal", err)
	}
}
