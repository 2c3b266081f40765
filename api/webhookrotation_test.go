package api_test

import (
	"strings"
	"testing"
)

// TestWebhookRotationPendingNamesEndGrace: a rotation refused because the
// last one's grace runs (409 rotation_pending) names POST …/end-grace,
// which ends that grace and keeps the current secret, where its detail
// offered only grace_seconds -1, which also stops the current secret
// that receivers may already verify with. Ending the grace as it says
// lets the next rotation through.
func TestWebhookRotationPendingNamesEndGrace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	created := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://social.example/hooks/rotate"})
	h.expect(created, 201, "")
	id := created.str("id")
	h.expect(h.do("POST", "/v1/admin/webhooks/"+id+"/rotate", admin, map[string]any{"grace_seconds": 3600}), 200, "")
	again := h.do("POST", "/v1/admin/webhooks/"+id+"/rotate", admin, map[string]any{})
	h.expect(again, 409, "rotation_pending")
	endGrace := "POST /v1/admin/webhooks/" + id + "/end-grace"
	d := again.str("detail")
	if !strings.Contains(d, endGrace) || !strings.Contains(d, "grace_seconds -1") ||
		strings.Index(d, endGrace) > strings.Index(d, "grace_seconds -1") {
		t.Fatalf("detail %q: want %s named, before grace_seconds -1", d, endGrace)
	}
	h.expect(h.do("POST", "/v1/admin/webhooks/"+id+"/end-grace", admin, nil), 200, "")
	h.expect(h.do("POST", "/v1/admin/webhooks/"+id+"/rotate", admin, map[string]any{"grace_seconds": 3600}), 200, "")
}
