package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestRedisDownAnswers503: with its Redis gone, every route that needs it
// answers 503 unavailable with Retry-After, the answer a client retries,
// never 500 (which says "a bug"). Before, only reserve, register and the
// drop's public views did: a shop backend confirming a paid reservation
// through a Redis blip got a 500.
func TestRedisDownAnswers503(t *testing.T) {
	redis := testkit.OwnRedis(t)
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--admin-token", "down-admin-token-0123456789")
	base, admin := "http://"+m.Addr, m.Config.AdminToken
	now := clock.Now()
	if r := call(t, "POST", base+"/v1/admin/drops", admin, fmt.Sprintf(`{"id":"down","name":"Down","stock":5,
		"registration_opens_at":%q,"registration_closes_at":%q,"sale_starts_at":%q}`, now.Add(-time.Minute).Format(time.RFC3339),
		now.Add(time.Minute).Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339))); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	tok := mint(t, m, "ann")
	if r := call(t, "POST", base+"/v1/drops/down/registrations", tok, ""); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	clock.Advance(2 * time.Minute)
	r := call(t, "POST", base+"/v1/drops/down/reservations", tok, `{"quantity":1}`)
	if r.status != 201 {
		t.Fatalf("reserve: %d %s", r.status, r.raw)
	}
	res, _ := r.body["reservation"].(map[string]any)
	id, _ := res["id"].(string)
	if id == "" {
		t.Fatalf("no reservation id in %s", r.raw)
	}

	redis.Kill()
	// /readyz, which answers anyone, says what is not ready but not where
	// Redis lives.
	if r := call(t, "GET", base+"/readyz", "", ""); r.status != 503 || !strings.Contains(r.raw, "redis") ||
		strings.Contains(r.raw, redis.Addr) || strings.Contains(r.raw, "127.0.0.1") {
		t.Errorf("readyz with Redis down: %d %s", r.status, r.raw)
	}
	for _, c := range []struct{ method, path, token, body string }{
		{"GET", "/v1/reservations/" + id, tok, ""},
		{"POST", "/v1/reservations/" + id + "/confirm", admin, ""},
		{"POST", "/v1/reservations/" + id + "/cancel", tok, ""},
		{"GET", "/v1/admin/drops/down", admin, ""},
		{"GET", "/v1/admin/drops/down/stats", admin, ""},
		{"POST", "/v1/admin/drops/down/pause", admin, ""},
		{"GET", "/v1/admin/drops", admin, ""},
	} {
		r := call(t, c.method, base+c.path, c.token, c.body)
		if r.status != 503 || r.body["code"] != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with Redis down: %d (Retry-After %q) %s, want 503 unavailable with Retry-After",
				c.method, c.path, r.status, r.header.Get("Retry-After"), r.raw)
		}
	}
}
