package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestValidateWebhookPort: a target's port is 1 to 65535, written without
// leading zeros; a URL with a port that can never be delivered to is
// refused at creation, not accepted and failed forever after.
func TestValidateWebhookPort(t *testing.T) {
	for url, ok := range map[string]bool{
		"https://hooks.example/a":        true,
		"https://hooks.example:8443/a":   true,
		"http://hooks.example:1/":        true,
		"http://hooks.example:65535/":    true,
		"http://hooks.example:0/":        false,
		"http://hooks.example:65536/":    false,
		"http://hooks.example:99999/":    false,
		"http://hooks.example:00080/":    false,
		"http://[2001:db8::1]:8080/hook": true,
	} {
		err := engine.ValidateWebhook(engine.Webhook{ID: "w", URL: url})
		var ve *engine.ValidationError
		if ok != (err == nil) || (err != nil && (!errors.As(err, &ve) || ve.Field != "url")) {
			t.Errorf("%s: %v, want ok %v", url, err, ok)
		}
	}
}

// TestValidateWebhookURLRequiredNoFragment: a missing url says it is
// required (not that it must be absolute), and a fragment, never sent
// to the receiver, is refused; both name url.
func TestValidateWebhookURLRequiredNoFragment(t *testing.T) {
	for url, want := range map[string]string{
		"":                          "is required",
		"https://hooks.example/a#x": "must not have a fragment",
		"https://hooks.example/a#":  "must not have a fragment",
	} {
		err := engine.ValidateWebhook(engine.Webhook{ID: "w", URL: url})
		var ve *engine.ValidationError
		if !errors.As(err, &ve) || ve.Field != "url" || !strings.HasPrefix(ve.Reason, want) {
			t.Errorf("%q: %v, want url %s", url, err, want)
		}
	}
}

// TestReplaySinceBounds: a replay's since is from 2000-01-01 to before
// 2200. JetStream reads a start time as int64 nanoseconds since 1970, and
// a since in the year 9999 wrapped and replayed the whole stream. Refused
// before the store is asked (the service here has none).
func TestReplaySinceBounds(t *testing.T) {
	s := engine.NewWebhooks(nil, engine.NewManualClock(time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)), nil)
	for _, since := range []time.Time{
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		_, err := s.ReplayWebhook(context.Background(), engine.WebhookCaller{}, "w", engine.ReplayRequest{Since: since})
		var ve *engine.ValidationError
		if !errors.As(err, &ve) || ve.Field != "since" {
			t.Errorf("since %s: %v, want a validation error on since", since.Format(time.RFC3339), err)
		}
	}
}
