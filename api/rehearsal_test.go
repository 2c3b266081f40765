package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
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
	st, hdr, body := h.get("/d/" + reh)
	page := string(body)
	if st != 200 || !strings.Contains(page, `id="rehearsal"`) || !strings.Contains(page, "This is a rehearsal") ||
		!strings.Contains(page, `<meta name="robots" content="noindex">`) || hdr.Get("X-Robots-Tag") != "noindex" {
		t.Fatalf("the rehearsal's page (%d, %v) does not say what it is:\n%s", st, hdr, page)
	}
	if _, hdr, body := h.get("/d/" + real); strings.Contains(string(body), `id="rehearsal"`) || strings.Contains(string(body), "noindex") ||
		hdr.Get("X-Robots-Tag") != "" {
		t.Fatal("an ordinary drop's page says rehearsal or noindex")
	}
	if st, hdr, ics := h.get("/d/" + reh + ".ics"); st != 200 || hdr.Get("X-Robots-Tag") != "noindex" ||
		!strings.Contains(strings.ReplaceAll(string(ics), "\r\n ", ""), "SUMMARY:Rehearsal (not a sale): Load Rehearsal: the sale starts") {
		t.Errorf("the rehearsal's calendar (%d, %v):\n%s", st, hdr, ics)
	}

	// The same create again but as an ordinary drop: not the same drop.
	again := map[string]any{"id": reh, "name": "Load Rehearsal", "stock": 3, "per_user_limit": 1,
		"registration_opens_at": t0.Add(-2 * time.Hour), "registration_closes_at": t0.Add(-time.Minute),
		"sale_starts_at": t0, "sale_ends_at": t0.Add(time.Hour)}
	r := h.do("POST", "/v1/admin/drops", admin, again)
	if fields, _ := r.at("fields").([]any); r.status != 409 || len(fields) != 1 || fields[0] != "rehearsal" {
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

// TestShareCardSkipsARehearsalSibling: a hand-made drop under the series
// id convention links its card to the next sibling open for registration,
// but never to a rehearsal named like one.
func TestShareCardSkipsARehearsalSibling(t *testing.T) {
	h := newHarness(t, nil)
	prefix := dropID(t)
	mk := func(date string, saleAt time.Time, extra map[string]any) string {
		id := prefix + "-" + date
		body := map[string]any{"id": id, "name": "Tee " + date, "stock": 2, "per_user_limit": 1,
			"registration_opens_at": t0.Add(-2 * time.Hour), "registration_closes_at": saleAt.Add(-time.Minute),
			"sale_starts_at": saleAt, "sale_ends_at": saleAt.Add(time.Hour)}
		for k, v := range extra {
			body[k] = v
		}
		h.expect(h.do("POST", "/v1/admin/drops", admin, body), 201, "")
		return id
	}
	h.clock.Set(t0.Add(-time.Hour))
	this := mk("2026-11-24", t0, nil)
	mk("2026-12-01", t0.Add(7*24*time.Hour), map[string]any{"rehearsal": true})
	code := h.winner(this, "sibling-winner")
	_, _, page := h.get("/s/" + code)
	if !strings.Contains(string(page), `href="/d/`+this+`?ref=`) || strings.Contains(string(page), "2026-12-01") {
		t.Fatalf("the card links a rehearsal as the next drop:\n%s", page)
	}
	next := mk("2026-12-08", t0.Add(14*24*time.Hour), nil)
	// Once the card's second of cache has passed.
	testkit.Eventually(t, 10*time.Second, "the card to link the next ordinary sibling", func() bool {
		_, _, page = h.get("/s/" + code)
		return strings.Contains(string(page), `href="/d/`+next+`?ref=`)
	})
}

// TestWebhookRehearsalsOption: a webhook made with "rehearsals": true
// shows it; one made without shows false (it gets no rehearsal events).
func TestWebhookRehearsalsOption(t *testing.T) {
	h := newHarness(t, nil)
	opted := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/all", "rehearsals": true})
	plain := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/cards", "types": []string{"won"}})
	h.expect(opted, 201, "")
	h.expect(plain, 201, "")
	for _, c := range []struct {
		id   string
		want bool
	}{{opted.str("id"), true}, {plain.str("id"), false}} {
		r := h.do("GET", "/v1/admin/webhooks/"+c.id, admin, nil)
		if r.status != 200 || r.at("rehearsals") != c.want {
			t.Errorf("webhook %s: %d %s, want rehearsals %v", c.id, r.status, r.raw, c.want)
		}
	}
	if r := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/x", "rehearsals": "yes"}); r.status != 400 {
		t.Errorf("rehearsals as a string: %d %s", r.status, r.raw)
	}
}
