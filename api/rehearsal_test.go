package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestRehearsalDrop: a drop made to rehearse release day sells like any
// other, but shoppers are not shown it: the index leaves it out (an
// ordinary drop beside it stays), its page says it is a rehearsal and asks
// search engines not to list it, and its win has no share card, page or
// image. The admin and public views say it is one; a retried create that
// differs only in the flag is refused naming it.
func TestRehearsalDrop(t *testing.T) {
	h := newHarness(t, nil)
	real := h.createDrop(3, 1, map[string]any{"name": "Real Drop"})
	reh := h.createDrop(3, 1, map[string]any{"name": "Load Rehearsal", "rehearsal": true})

	if r := h.do("GET", "/v1/admin/drops/"+reh, admin, nil); r.status != 200 || r.at("rehearsal") != true {
		t.Fatalf("admin view of the rehearsal: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/v1/admin/drops/"+real, admin, nil); r.status != 200 || r.at("rehearsal") != nil {
		t.Fatalf("admin view of an ordinary drop carries rehearsal: %s", r.raw)
	}
	if r := h.do("GET", "/v1/drops/"+reh, "", nil); r.status != 200 || r.at("rehearsal") != true {
		t.Fatalf("public view of the rehearsal: %d %s", r.status, r.raw)
	}

	_, _, body := h.get("/")
	if front := string(body); !strings.Contains(front, `href="/d/`+real+`"`) || strings.Contains(front, reh) {
		t.Fatalf("the index should list %s and not the rehearsal %s:\n%s", real, reh, front)
	}
	st, _, body := h.get("/d/" + reh)
	page := string(body)
	if st != 200 || !strings.Contains(page, `id="rehearsal"`) || !strings.Contains(page, "This is a rehearsal") ||
		!strings.Contains(page, `<meta name="robots" content="noindex">`) {
		t.Fatalf("the rehearsal's page (%d) does not say what it is:\n%s", st, page)
	}
	if _, _, body := h.get("/d/" + real); strings.Contains(string(body), `id="rehearsal"`) || strings.Contains(string(body), "noindex") {
		t.Fatal("an ordinary drop's page says rehearsal or noindex")
	}

	// The same create again but as an ordinary drop: not the same drop.
	again := map[string]any{"id": reh, "name": "Load Rehearsal", "stock": 3, "per_user_limit": 1,
		"registration_opens_at": t0.Add(-2 * time.Hour), "registration_closes_at": t0.Add(-time.Minute),
		"sale_starts_at": t0, "sale_ends_at": t0.Add(time.Hour)}
	r := h.do("POST", "/v1/admin/drops", admin, again)
	if r.status != 409 || !strings.Contains(string(r.raw), "rehearsal") {
		t.Fatalf("a create differing in rehearsal alone: %d %s", r.status, r.raw)
	}
	again["rehearsal"] = true
	h.expect(h.do("POST", "/v1/admin/drops", admin, again), 200, "")

	h.register(real, "real-shopper")
	code := h.winner(reh, "rehearsal-shopper")
	if code == "" {
		t.Fatal("a rehearsal win has no share code: the reservation's shape is the same as any other")
	}
	for _, p := range []string{"/s/" + code, "/s/" + code + ".png"} {
		if st, _, _ := h.get(p); st != 404 {
			t.Errorf("%s: %d, want 404 (a rehearsal's win has no card)", p, st)
		}
	}
	r = h.do("POST", "/v1/drops/"+real+"/reservations", h.token("real-shopper"), nil)
	h.expect(r, 201, "")
	realCode := r.str("reservation", "share_code")
	if st, _, _ := h.get("/s/" + realCode); st != 200 {
		t.Errorf("an ordinary win's card: %d", st)
	}
}
