package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestGivenZeroIsNotADefault sends a drop body and a series body with one
// field given as its zero value ("hold_seconds":0, "mode":"", the zero
// time): each is a 400 naming the field and the allowed values, where
// they were stored as the default (a sale without end for sale_ends_at),
// and nothing is made. The same bodies without the field get the default.
func TestGivenZeroIsNotADefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	base := func(id string) map[string]any {
		return map[string]any{
			"id": id, "name": "Sneaker", "stock": 5,
			"registration_opens_at":  t0.Add(-2 * time.Hour),
			"registration_closes_at": t0.Add(-time.Minute),
			"sale_starts_at":         t0,
		}
	}
	zero := "0001-01-01T00:00:00Z"
	for _, c := range []struct {
		field string
		value any
		want  string // in the detail
	}{
		{"hold_seconds", 0, "between 1 and 604800"},
		{"per_user_limit", 0, "between 1 and 1000"},
		{"reminder_seconds", 0, "between 1 and 604800"},
		{"draw_quantity", 0, `applies to mode "draw"`},
		{"mode", "", `"fcfs" or "draw"`},
		{"confirm_by", "", `"backend" or "shopper"`},
		{"product", "", "must not be empty"},
		{"sale_ends_at", zero, "must be a time"},
		{"registration_opens_at", zero, "must be a time"},
		{"registration_closes_at", zero, "must be a time"},
		{"sale_starts_at", zero, "must be a time"},
	} {
		id := dropID(t)
		b := base(id)
		b[c.field] = c.value
		r := h.do("POST", "/v1/admin/drops", admin, b)
		if r.status != 400 || r.code() != "invalid" || r.str("field") != c.field || !strings.Contains(r.str("detail"), c.want) {
			t.Errorf("%s = %v: got %d %s, want 400 naming it with %q", c.field, c.value, r.status, r.raw, c.want)
		}
		h.expect(h.do("GET", "/v1/admin/drops/"+id, admin, nil), 404, "not_found")
	}
	// A draw's draw_quantity 0 is refused with the draw's range.
	b := base(dropID(t))
	b["mode"], b["draw_quantity"] = "draw", 0
	if r := h.do("POST", "/v1/admin/drops", admin, b); r.status != 400 || !strings.Contains(r.str("detail"), "between 1 and per_user_limit") {
		t.Errorf("draw with draw_quantity 0: %d %s", r.status, r.raw)
	}
	// Absent fields still get their defaults.
	r := h.do("POST", "/v1/admin/drops", admin, base(dropID(t)))
	h.expect(r, 201, "")
	if r.num("hold_seconds") != 600 || r.num("per_user_limit") != 1 || r.num("reminder_seconds") != 900 ||
		r.str("mode") != "fcfs" || r.str("confirm_by") != "backend" || r.str("product") != "Sneaker" || r.at("sale_ends_at") != nil {
		t.Fatalf("defaults: %s", r.raw)
	}

	// The series body: the same template fields, and its two leads.
	rnd := dropID(t)
	for _, c := range []struct {
		field string
		value any
	}{
		{"hold_seconds", 0}, {"per_user_limit", 0}, {"reminder_seconds", 0}, {"draw_quantity", 0},
		{"mode", ""}, {"confirm_by", ""}, {"product", ""},
		{"registration_opens_before_seconds", 0}, {"sale_seconds", 0},
	} {
		s := seriesBody("sz-" + rnd[len(rnd)-8:])
		s[c.field] = c.value
		r := h.do("POST", "/v1/admin/series", admin, s)
		if r.status != 400 || r.str("field") != c.field {
			t.Errorf("series %s = %v: got %d %s, want 400 naming it", c.field, c.value, r.status, r.raw)
		}
	}
	// registration_closes_before_seconds 0 is a value (at the sale's start), not refused.
	s := seriesBody("sz-" + rnd[len(rnd)-8:])
	s["registration_closes_before_seconds"] = 0
	h.expect(h.do("POST", "/v1/admin/series", admin, s), 201, "")
}

// TestRoutesWithoutBodyRefuseOne sends a body to each route that takes
// none: a JSON object with a key, or garbage, is a 400 naming the key (or
// "body") and nothing happens; none, {} and { } with whitespace are
// accepted as before; a bad credential is still a 401 first.
func TestRoutesWithoutBodyRefuseOne(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.createDrop(5, 1, nil)
	h.register(id, "alice")
	h.clock.Set(t0)
	alice := h.token("alice")
	won := h.do("POST", "/v1/drops/"+id+"/reservations", alice, nil)
	h.expect(won, 201, "")
	res := won.str("reservation", "id")

	for _, c := range []struct {
		method, path, token, body, field string
	}{
		{"POST", "/v1/reservations/" + res + "/confirm", admin, `{"order_ref":"SO-1234"}`, "order_ref"},
		{"POST", "/v1/reservations/" + res + "/cancel", alice, `garbage{`, "body"},
		{"POST", "/v1/reservations/" + res + "/cancel", alice, `null`, "body"},
		{"POST", "/v1/admin/drops/" + id + "/pause", admin, `{"reason":"x"}`, "reason"},
		{"POST", "/v1/admin/drops/" + id + "/resume", admin, `[]`, "body"},
		{"POST", "/v1/admin/webhooks/wh-none/test", admin, `{"event":"won"}`, "event"},
		{"POST", "/v1/admin/webhooks/wh-none/enable", admin, `{"enabled":true}`, "enabled"},
		{"DELETE", "/v1/admin/webhooks/wh-none", admin, `{"force":true}`, "force"},
		{"DELETE", "/v1/admin/keys/key-none", admin, `{"force":true}`, "force"},
		{"DELETE", "/v1/admin/series/none", admin, `{"force":true}`, "force"},
		{"DELETE", "/v1/admin/drops/" + id, admin, `{"force":true}`, "force"},
	} {
		r := h.do(c.method, c.path, c.token, c.body)
		if r.status != 400 || r.code() != "invalid" || r.str("field") != c.field || !strings.Contains(r.str("detail"), "takes no body") {
			t.Errorf("%s %s %s: got %d %s, want 400 naming %q", c.method, c.path, c.body, r.status, r.raw, c.field)
		}
	}
	// Nothing of it took effect.
	if r := h.do("GET", "/v1/reservations/"+res, alice, nil); r.str("reservation", "status") != "held" {
		t.Fatalf("a refused body settled the hold: %s", r.raw)
	}
	if r := h.do("GET", "/v1/admin/drops/"+id, admin, nil); r.at("paused") != false {
		t.Fatalf("a refused body paused the drop: %s", r.raw)
	}
	// A bad credential is answered first.
	h.expect(h.do("POST", "/v1/reservations/"+res+"/cancel", "nope", `garbage{`), 401, "unauthorized")

	// What clients send: nothing, {}, or { } with whitespace.
	h.expect(h.do("POST", "/v1/admin/drops/"+id+"/pause", admin, nil), 200, "")
	h.expect(h.do("POST", "/v1/admin/drops/"+id+"/resume", admin, "{}"), 200, "")
	h.expect(h.do("POST", "/v1/reservations/"+res+"/cancel", alice, " {\n } "), 200, "")
}

// TestIdempotencyKeyProblemNamesTheHeader sends an Idempotency-Key over
// the length limit, and one with a space, to a reserve and to an admin
// POST: the 400 names the header, Idempotency-Key, where it said
// "idempotency_key", which is no field of any body.
func TestIdempotencyKeyProblemNamesTheHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.createDrop(5, 1, nil)
	h.register(id, "alice")
	h.clock.Set(t0)
	for _, key := range []string{strings.Repeat("k", 256), "a key"} {
		for _, c := range []struct{ path, token string }{
			{"/v1/drops/" + id + "/reservations", h.token("alice")},
			{"/v1/admin/drops/" + id + "/pause", admin},
		} {
			r := h.do("POST", c.path, c.token, nil, "Idempotency-Key", key)
			if r.status != 400 || r.str("field") != "Idempotency-Key" || !strings.HasPrefix(r.str("detail"), "Idempotency-Key must be") {
				t.Errorf("POST %s with a key of %d bytes: got %d %s, want 400 naming Idempotency-Key", c.path, len(key), r.status, r.raw)
			}
		}
	}
}

// TestNotFoundSaysWhat asks for drops, reservations, webhooks, keys and
// series that do not exist, on reads and acts, the hot routes too: each
// 404's detail names what is missing, where it had none.
func TestNotFoundSaysWhat(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	alice := h.token("alice")
	missing := dropID(t)
	for _, c := range []struct{ method, path, token, want string }{
		{"GET", "/v1/admin/drops/" + missing, admin, `no drop "` + missing + `"`},
		{"GET", "/v1/admin/drops/" + missing + "/stats", admin, `no drop "` + missing + `"`},
		{"POST", "/v1/admin/drops/" + missing + "/pause", admin, `no drop "` + missing + `"`},
		{"GET", "/v1/drops/" + missing, "", `no drop "` + missing + `"`},
		{"POST", "/v1/drops/" + missing + "/registrations", alice, `no drop "` + missing + `"`},
		{"POST", "/v1/drops/" + missing + "/reservations", alice, `no drop "` + missing + `"`},
		{"GET", "/v1/reservations/" + missing + ".x", alice, `no reservation "` + missing + `.x"`},
		{"POST", "/v1/reservations/" + missing + ".x/confirm", admin, `no reservation "` + missing + `.x"`},
		{"POST", "/v1/reservations/" + missing + ".x/cancel", admin, `no reservation "` + missing + `.x"`},
		{"GET", "/v1/admin/webhooks/wh-" + missing, admin, `no webhook "wh-` + missing + `"`},
		{"DELETE", "/v1/admin/keys/" + missing, admin, `no API key "` + missing + `"`},
	} {
		r := h.do(c.method, c.path, c.token, nil)
		if r.status != 404 || r.str("detail") != c.want {
			t.Errorf("%s %s: got %d %s, want 404 saying %s", c.method, c.path, r.status, r.raw, c.want)
		}
	}
}

// TestNamesShowWhatTheyHold creates drops and a series whose name or
// product holds a bidi override, a zero-width space, another control or
// format character, or space at either end: each is a 400 naming the
// field, where they were stored and shown on the public pages. Names
// with accents and emoji are still fine.
func TestNamesShowWhatTheyHold(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	body := func(id string) map[string]any {
		return map[string]any{
			"id": id, "name": "Sneaker", "stock": 5,
			"registration_opens_at":  t0.Add(-2 * time.Hour),
			"registration_closes_at": t0.Add(-time.Minute),
			"sale_starts_at":         t0,
		}
	}
	rnd := dropID(t)
	series := "sn-" + rnd[len(rnd)-8:]
	for _, field := range []string{"name", "product"} {
		for _, bad := range []string{"\u202eevil", "Sne\u200baker", "\ufeffSneaker", "line\u2028two", "tab\there",
			" Sneaker", "Sneaker ", "Sneaker\u00a0", "bell\x07"} {
			id := dropID(t)
			b := body(id)
			b[field] = bad
			r := h.do("POST", "/v1/admin/drops", admin, b)
			if r.status != 400 || r.str("field") != field {
				t.Errorf("drop %s %q: got %d %s, want 400 naming it", field, bad, r.status, r.raw)
			}
			s := seriesBody(series)
			s[field] = bad
			if r := h.do("POST", "/v1/admin/series", admin, s); r.status != 400 || r.str("field") != field {
				t.Errorf("series %s %q: got %d %s, want 400 naming it", field, bad, r.status, r.raw)
			}
		}
	}
	b := body(dropID(t))
	b["name"], b["product"] = "Café Édition 🏃", "Air Max 1 — ❤️"
	h.expect(h.do("POST", "/v1/admin/drops", admin, b), 201, "")
}

// TestWebhookCreatedAtAsStored creates a webhook at a time with
// nanoseconds: the answer's created_at is the one GET shows, to the
// millisecond the store keeps, where it had the clock's nanoseconds.
func TestWebhookCreatedAtAsStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.clock.Set(t0.Add(147936429 * time.Nanosecond))
	c := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://" + dropID(t) + ".example/hook"})
	h.expect(c, 201, "")
	g := h.do("GET", "/v1/admin/webhooks/"+c.str("id"), admin, nil)
	h.expect(g, 200, "")
	if c.str("created_at") != g.str("created_at") || c.str("created_at") != "2026-11-24T10:00:00.147Z" {
		t.Fatalf("created_at: created %q, read %q", c.str("created_at"), g.str("created_at"))
	}
}

// TestProblemsReadAsSentences: an empty body and an unknown time zone are
// refused in sentences ("body must be a JSON object", "time_zone must
// be an IANA time zone name …"), where they read "body a JSON object is
// required" and "time_zone unknown time zone …".
func TestProblemsReadAsSentences(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	r := h.do("POST", "/v1/admin/drops", admin, nil)
	if r.status != 400 || r.str("detail") != "body must be a JSON object" {
		t.Errorf("empty body: %d %s", r.status, r.raw)
	}
	rnd := dropID(t)
	s := seriesBody("tz-" + rnd[len(rnd)-8:])
	s["time_zone"] = "Mars/Base"
	r = h.do("POST", "/v1/admin/series", admin, s)
	if r.status != 400 || r.str("detail") != `time_zone must be an IANA time zone name such as Europe/Berlin; "Mars/Base" is not one this server knows` {
		t.Errorf("unknown zone: %d %s", r.status, r.raw)
	}
}
