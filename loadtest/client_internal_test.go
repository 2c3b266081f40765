package loadtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestShortTransportError: an answer that is not HTTP is said as such,
// quoting at most 120 bytes of it on one line; any other long error is
// cut short; errors.Is still finds what it wraps.
func TestShortTransportError(t *testing.T) {
	base := errors.New("invalid response status code \"{\\\"server_id\\\":\\\"" + strings.Repeat("N", 1500) + "\"\r\nmore")
	err := shortTransportError(fmt.Errorf("error when reading response headers: %w", base))
	if msg := err.Error(); !strings.HasPrefix(msg, "the target did not answer HTTP: invalid response status code") ||
		len(msg) > len("the target did not answer HTTP: ")+maxErrorBytes+len("…") || strings.ContainsAny(msg, "\r\n") || !errors.Is(err, base) {
		t.Errorf("%d bytes: %q", len(msg), msg)
	}
	long := shortTransportError(errors.New(strings.Repeat("é", 500)))
	if msg := long.Error(); len(msg) > 2*maxErrorBytes+len("…") || !strings.HasSuffix(msg, "é…") {
		t.Errorf("a long error, %d bytes: %q", len(msg), msg)
	}
	if short := errors.New("dial tcp: connection refused"); shortTransportError(short) != short {
		t.Errorf("a short error was changed")
	}
}
