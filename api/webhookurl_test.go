package api_test

import (
	"strings"
	"testing"
)

// TestWebhookURLProblems: a new webhook's url is refused in words for a
// person: a body without one says the url is required (it said "url
// must be an absolute http or https URL", and serve's check "url webhook
// url: no host"), and one with a fragment is refused, since a fragment is
// never sent to the receiver (it was accepted, 201). Both name the field
// url, so a form shows the sentence beside it.
func TestWebhookURLProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, tc := range []struct {
		body   map[string]any
		detail string
	}{
		{map[string]any{}, "url is required"},
		{map[string]any{"types": []string{"won"}}, "url is required"},
		{map[string]any{"url": ""}, "url is required"},
		{map[string]any{"url": "https://social.example/hooks#frag"}, "url must not have a fragment"},
		{map[string]any{"url": "https://social.example/hooks#"}, "url must not have a fragment"},
	} {
		r := h.do("POST", "/v1/admin/webhooks", admin, tc.body)
		h.expect(r, 400, "invalid")
		if r.str("field") != "url" || !strings.HasPrefix(r.str("detail"), tc.detail) {
			t.Errorf("%v: field %q detail %q, want url and %q…", tc.body, r.str("field"), r.str("detail"), tc.detail)
		}
	}
	// The same URL without its fragment is a webhook.
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks?to=frag"}), 201, "")
}
