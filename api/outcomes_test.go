package api_test

import (
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestOutcomeHistory: the node keeps its reserve outcomes a second, so an
// ops page opened after a rush can draw it: a win and two sold-out answers
// show up in GET /v1/admin/outcomes within a couple of seconds, under the
// chart's series, in seconds with an answer only.
func TestOutcomeHistory(t *testing.T) {
	h := newHarness(t, nil)
	drop := h.createDrop(1, 1, nil)
	h.register(drop, "ann", "ben", "cid")
	h.clock.Set(t0.Add(time.Second))
	h.expect(h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("ann"), nil), 201, "")
	h.expect(h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("ben"), nil), 409, "sold_out")
	h.expect(h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("cid"), nil), 409, "sold_out")
	var r response
	testkit.Eventually(t, 10*time.Second, "the outcomes sampled", func() bool {
		r = h.do("GET", "/v1/admin/outcomes?seconds=60", admin, nil)
		if r.status != 200 {
			t.Fatalf("outcomes: %d %s", r.status, r.raw)
		}
		won, soldOut := 0.0, 0.0
		for _, s := range r.at("seconds").([]any) {
			m := s.(map[string]any)
			won += m["won"].(float64)
			soldOut += m["sold_out"].(float64)
		}
		return won == 1 && soldOut == 2
	})
	for _, s := range r.at("seconds").([]any) {
		m := s.(map[string]any)
		if m["won"].(float64)+m["sold_out"].(float64)+m["unavailable"].(float64)+m["rate_limited"].(float64)+m["other"].(float64) == 0 {
			t.Errorf("a second without any answer is listed: %v", m)
		}
	}
	h.expect(h.do("GET", "/v1/admin/outcomes?seconds=0", admin, nil), 400, "invalid")
	h.expect(h.do("GET", "/v1/admin/outcomes?seconds=901", admin, nil), 400, "invalid")
	h.expect(h.do("GET", "/v1/admin/outcomes", "", nil), 401, "unauthorized")
	h.expect(h.do("GET", "/v1/admin/outcomes", h.token("ann"), nil), 403, "forbidden")
}
