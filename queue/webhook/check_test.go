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
		// A fragment is refused for itself, not for the scheme.
		{"https://example.com/hook#frag", false, true, true},
	}
	for _, c := range cases {
		err := CheckURL(c.allowPrivate, c.allowHTTP)(c.url)
		if c.refused != (err != nil) {
			t.Errorf("CheckURL(private %v, http %v)(%q) = %v, want refused %v", c.allowPrivate, c.allowHTTP, c.url, err, c.refused)
			continue
		}
		if c.refused && strings.Contains(c.url, "#") {
			if !strings.HasPrefix(err.Error(), "must not have a fragment") {
				t.Errorf("CheckURL(%q) = %v, want the fragment refused", c.url, err)
			}
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

// TestCheckURLWordsItsProblems: what CheckURL refuses for the URL's shape
// reads as a sentence after "url " (the API's problem), not as Go's parse
// error ("webhook url: parse \"…\": …") or "no host" for a missing url;
// a fragment, which is never sent to the receiver, is refused (it was
// accepted). The shape is judged before the address, and whatever the
// flags.
func TestCheckURLWordsItsProblems(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"", "is required"},
		{"  ", "is required"},
		{"https://example.com/h#frag", "must not have a fragment"},
		{"https://example.com/h#", "must not have a fragment"},
		{"http://127.0.0.1:8080/h#frag", "must not have a fragment"},
		{"hooks.example.org/x", "must be an absolute URL with a host"},
		{"https:///flashdrop", "must be an absolute URL with a host"},
		{"https://exa mple.com/", `is not a valid URL: its host has " ", which a host name cannot have`},
		{"https://[::1/", "is not a valid URL: only an IPv6 address goes between [ and ]"},
		{"https://[10.0.0.1]/", "is not a valid URL: only an IPv6 address goes between [ and ]"},
		{"://hooks.example.com", "is not a valid URL: it must start with https://"},
		{"https://hooks.example.com/%zz", "is not a valid URL: a % must be followed by two hex digits"},
		{"https://hooks.example.com:x/", "is not a valid URL: its port must be a number from 1 to 65535"},
		{"https://hooks.example.com/\n", "is not a valid URL: it has a control character"},
	} {
		for _, flags := range [][2]bool{{false, false}, {true, true}} {
			err := CheckURL(flags[0], flags[1])(c.url)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("CheckURL(%v)(%q) = %v, want %q…", flags, c.url, err, c.want)
				continue
			}
			if msg := err.Error(); strings.Contains(msg, "parse") || strings.Contains(msg, "webhook url") ||
				(len(strings.TrimSpace(c.url)) > 3 && strings.Contains(msg, c.url)) {
				t.Errorf("CheckURL(%q) = %q: Go's wording, or the URL quoted back", c.url, msg)
			}
		}
	}
	// The legacy IPv4 forms are refused at creation as the private
	// addresses they are, on https as on http.
	for _, u := range []string{"https://0x7f.1/", "https://0x7F.1/hook", "https://127.1/", "https://0177.1:8443/"} {
		if err := CheckURL(false, false)(u); !errors.Is(err, errPrivateTarget) ||
			!strings.HasPrefix(err.Error(), "must not be on a private, loopback or link-local address (127.0.0.1 is loopback)") {
			t.Errorf("CheckURL(%q) = %v, want the private-address refusal", u, err)
		}
	}
}
