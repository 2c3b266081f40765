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
		err := CheckURL(false)(u)
		if !errors.Is(err, errPrivateTarget) || !strings.Contains(err.Error(), "--webhooks-allow-private") ||
			!strings.HasPrefix(err.Error(), "must not be on a private, loopback or link-local address (") {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
		if err := CheckURL(true)(u); err != nil {
			t.Errorf("CheckURL(%q) allowing private = %v", u, err)
		}
	}
	if err := CheckURL(false)("https://example.com/hook"); err != nil {
		t.Errorf("a public host: %v", err)
	}
}
