package api_test

// Regression tests of issue 9 at the HTTP layer: each failed on the code
// before its fix.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConfirmByOverHTTP: the owner of a hold cannot confirm it unless the
// drop says shoppers confirm; the public view tells the shopper page which
// it is, and where the shop's checkout is (issue 9 §6).
func TestConfirmByOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	shop := h.createDrop(2, 1, map[string]any{"checkout_url": "https://shop.example/checkout?r={reservation}"})
	free := h.createDrop(2, 1, map[string]any{"confirm_by": "shopper"})
	alice := h.token("alice")
	for _, id := range []string{shop, free} {
		h.register(id, "alice")
	}
	pub := h.do("GET", "/v1/drops/"+shop, "", nil)
	if pub.str("confirm_by") != "backend" || pub.str("checkout_url") != "https://shop.example/checkout?r={reservation}" {
		t.Fatalf("public view of a shop drop: %s", pub.raw)
	}
	if pub := h.do("GET", "/v1/drops/"+free, "", nil); pub.str("confirm_by") != "shopper" || pub.at("checkout_url") != nil {
		t.Fatalf("public view of a free drop: %s", pub.raw)
	}
	h.clock.Set(t0.Add(time.Second))
	a := h.do("POST", "/v1/drops/"+shop+"/reservations", alice, nil)
	b := h.do("POST", "/v1/drops/"+free+"/reservations", alice, nil)
	h.expect(a, 201, "")
	h.expect(b, 201, "")
	refused := h.do("POST", "/v1/reservations/"+a.str("reservation", "id")+"/confirm", alice, nil)
	h.expect(refused, 403, "forbidden")
	if !strings.Contains(refused.str("detail"), "shop confirms") {
		t.Fatalf("the refusal should say why: %s", refused.raw)
	}
	h.expect(h.do("POST", "/v1/reservations/"+a.str("reservation", "id")+"/confirm", admin, nil), 200, "")
	h.expect(h.do("POST", "/v1/reservations/"+b.str("reservation", "id")+"/confirm", alice, nil), 200, "")
	// Bad confirm_by and checkout_url values are refused, naming the field.
	h.expect(h.do("POST", "/v1/admin/drops", admin, map[string]any{
		"id": dropID(t), "name": "x", "stock": 1, "confirm_by": "anyone",
		"registration_opens_at": t0, "registration_closes_at": t0.Add(time.Hour), "sale_starts_at": t0.Add(time.Hour),
	}), 400, "invalid")
	bad := h.do("POST", "/v1/admin/drops", admin, map[string]any{
		"id": dropID(t), "name": "x", "stock": 1, "checkout_url": "https://shop.example/pay",
		"registration_opens_at": t0, "registration_closes_at": t0.Add(time.Hour), "sale_starts_at": t0.Add(time.Hour),
	})
	h.expect(bad, 400, "invalid")
	if bad.str("field") != "checkout_url" {
		t.Fatalf("a checkout URL without {reservation}: %s", bad.raw)
	}
}

// TestCreateDropRetry: the same create again answers 200 with the drop; a
// different body under the same id 409 naming the fields (issue 9 §10).
func TestCreateDropRetry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := dropID(t)
	body := map[string]any{
		"id": id, "name": "Sneaker", "stock": 5,
		"registration_opens_at": t0.Add(-2 * time.Hour), "registration_closes_at": t0.Add(-time.Minute),
		"sale_starts_at": t0,
	}
	first := h.do("POST", "/v1/admin/drops", admin, body)
	h.expect(first, 201, "")
	again := h.do("POST", "/v1/admin/drops", admin, body)
	h.expect(again, 200, "")
	if again.str("created_at") != first.str("created_at") || again.str("id") != id {
		t.Fatalf("a retried create must answer the stored drop:\n%s\n%s", first.raw, again.raw)
	}
	body["stock"], body["hold_seconds"] = 6, 60
	conflict := h.do("POST", "/v1/admin/drops", admin, body)
	h.expect(conflict, 409, "drop_exists")
	if fmt.Sprint(conflict.at("fields")) != "[stock hold_seconds]" && fmt.Sprint(conflict.at("fields")) != "[hold_seconds stock]" {
		t.Fatalf("the conflict must name the differing fields: %s", conflict.raw)
	}
}

// TestAdminIdempotencyKey: every admin POST honours Idempotency-Key: a
// retried webhook creation returns the first webhook (one secret), the
// same key with another body is refused, concurrent repeats apply once.
func TestAdminIdempotencyKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	key := "hook-" + dropID(t)
	first := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/a"}, "Idempotency-Key", key)
	h.expect(first, 201, "")
	again := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/a"}, "Idempotency-Key", key)
	h.expect(again, 201, "")
	if again.str("id") != first.str("id") || again.str("secret") != first.str("secret") ||
		again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a retried create made a second webhook:\n%s\n%s", first.raw, again.raw)
	}
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/b"}, "Idempotency-Key", key),
		422, "idempotency_mismatch")
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, nil, "Idempotency-Key", "bad key"), 400, "invalid")

	// Concurrent repeats of one pause: one effect, every answer the same
	// or a retryable 503 while the first runs.
	id := h.createDrop(1, 1, nil)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = h.do("POST", "/v1/admin/drops/"+id+"/pause", admin, nil, "Idempotency-Key", "pause-"+id).status
		}(i)
	}
	wg.Wait()
	for _, s := range statuses {
		if s != 200 && s != 503 {
			t.Fatalf("concurrent keyed pauses answered %v", statuses)
		}
	}
	// A shopper's POST to an admin route is refused before any key is
	// claimed, and claims nothing.
	h.expect(h.do("POST", "/v1/admin/webhooks", h.token("mallory"), map[string]any{"url": "https://x.example"}, "Idempotency-Key", key+"-m"), 403, "forbidden")
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://x.example"}, "Idempotency-Key", key+"-m"), 201, "")
}
