package api_test

import (
	"testing"
)

// TestEmptyIdempotencyKeyIsRefused: an Idempotency-Key header sent with an
// empty value is a 400 naming the header, on a reserve and on an admin
// POST, where it was taken as no key at all: the client lost the replay
// safety it meant to have without a word. Without the header, both go on
// as before.
func TestEmptyIdempotencyKeyIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	drop := h.createDrop(5, 1, nil)
	h.register(drop, "ann")
	h.clock.Set(t0)
	r := h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("ann"), map[string]any{"quantity": 1}, "Idempotency-Key", "")
	h.expect(r, 400, "invalid")
	if r.str("field") != "Idempotency-Key" {
		t.Fatalf("the refusal names %q: %s", r.str("field"), r.raw)
	}
	h.expect(h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("ann"), map[string]any{"quantity": 1}), 201, "")

	r = h.do("POST", "/v1/admin/drops/"+drop+"/pause", admin, nil, "Idempotency-Key", "")
	h.expect(r, 400, "invalid")
	if r.str("field") != "Idempotency-Key" {
		t.Fatalf("the admin refusal names %q: %s", r.str("field"), r.raw)
	}
	h.expect(h.do("POST", "/v1/admin/drops/"+drop+"/pause", admin, nil), 200, "")
}
