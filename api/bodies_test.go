package api_test

import (
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/api"
)

// TestStrictBodies sends every kind of bad body to every route that reads
// one, over HTTP on real Redis: each is a 400 invalid naming the field (or
// "body"), and none of them changes anything. The empty body keeps its
// documented meaning.
func TestStrictBodies(t *testing.T) {
	t.Parallel()
	// Many requests per shopper here: the per-shopper limit is not under test.
	h := newHarness(t, func(c *api.Config) { c.Limits.UserRate = -1 })
	id := h.createDrop(5, 3, nil)
	alice := h.token("alice")
	h.register(id, "alice")
	h.clock.Set(t0)

	// Ids and URLs of this test only: the Redis and its webhooks are shared.
	newID, hook := id+"-new", "https://"+id+".example"
	drop := `{"id":"` + newID + `","name":"n","stock":1,"registration_opens_at":"2026-01-01T00:00:00Z",` +
		`"registration_closes_at":"2026-01-02T00:00:00Z","sale_starts_at":"2026-01-02T00:00:00Z"`
	for _, c := range []struct {
		path, token, body, field string
	}{
		{"/v1/drops/" + id + "/reservations", alice, `null`, "body"},
		{"/v1/drops/" + id + "/reservations", alice, ` null `, "body"},
		{"/v1/drops/" + id + "/reservations", alice, `{"quantity":null}`, "quantity"},
		{"/v1/drops/" + id + "/reservations", alice, `{"waitlist":null}`, "waitlist"},
		{"/v1/drops/" + id + "/reservations", alice, `[]`, "body"},
		{"/v1/drops/" + id + "/reservations", alice, `[{"quantity":1}]`, "body"},
		{"/v1/drops/" + id + "/reservations", alice, `"quantity"`, "body"},
		{"/v1/drops/" + id + "/reservations", alice, `1`, "body"},
		{"/v1/drops/" + id + "/reservations", alice, `true`, "body"},
		{"/v1/drops/" + id + "/reservations", alice, `{"quantity":1,"quantity":2}`, "quantity"},
		{"/v1/drops/" + id + "/reservations", alice, `{"quantity":1,"bogus":2}`, "bogus"},
		{"/v1/drops/" + id + "/reservations", alice, `{"Quantity":2}`, "Quantity"},
		{"/v1/drops/" + id + "/reservations", alice, `{"quantity":"one"}`, "quantity"},
		{"/v1/drops/" + id + "/reservations", alice, `{"quantity":1.5}`, "quantity"},
		{"/v1/drops/" + id + "/reservations", alice, `{"quantity":1} {}`, "body"},
		{"/v1/drops/" + id + "/registrations", alice, `null`, "body"},
		{"/v1/drops/" + id + "/registrations", alice, `{"ref":null}`, "ref"},
		{"/v1/drops/" + id + "/registrations", alice, `{"ref":"a","ref":"b"}`, "ref"},
		{"/v1/drops/" + id + "/registrations", alice, `{"code":"x"}`, "code"},
		{"/v1/drops/" + id + "/registrations", alice, `["abc"]`, "body"},
		{"/v1/admin/drops", admin, `null`, "body"},
		{"/v1/admin/drops", admin, drop + `,"stock":null}`, "stock"},
		{"/v1/admin/drops", admin, drop + `,"sale_ends_at":null}`, "sale_ends_at"},
		{"/v1/admin/drops", admin, drop + `,"id":"` + newID + `-2"}`, "id"},
		{"/v1/admin/drops", admin, drop + `,"stok":1}`, "stok"},
		{"/v1/admin/drops", admin, drop + `,"sale_ends_at":"tomorrow"}`, "sale_ends_at"},
		{"/v1/admin/drops", admin, `"` + newID + `"`, "body"},
		{"/v1/admin/webhooks", admin, `null`, "body"},
		{"/v1/admin/webhooks", admin, `{"url":null}`, "url"},
		{"/v1/admin/webhooks", admin, `{"url":"` + hook + `/x","types":null}`, "types"},
		{"/v1/admin/webhooks", admin, `{"url":"` + hook + `/x","types":["won",null]}`, "types"},
		{"/v1/admin/webhooks", admin, `{"url":"` + hook + `/x","url":"` + hook + `/y"}`, "url"},
		{"/v1/admin/webhooks", admin, `{"url":"` + hook + `/x","secret":"mine"}`, "secret"},
		{"/v1/admin/webhooks", admin, `12`, "body"},
	} {
		r := h.do("POST", c.path, c.token, c.body)
		if r.status != 400 || r.code() != "invalid" || r.str("field") != c.field {
			t.Errorf("POST %s %s: got %d %s, want 400 invalid naming %q", c.path, c.body, r.status, r.raw, c.field)
		}
	}

	// Nothing above took effect: no hold, no drop, no webhook.
	st := h.do("GET", "/v1/admin/drops/"+id+"/stats", admin, nil)
	if st.num("held") != 0 || st.num("reservations") != 0 {
		t.Fatalf("a refused body changed the drop: %s", st.raw)
	}
	h.expect(h.do("GET", "/v1/admin/drops/"+newID, admin, nil), 404, "not_found")
	if hooks := h.do("GET", "/v1/admin/webhooks", admin, nil); strings.Contains(string(hooks.raw), hook) {
		t.Fatalf("a refused body made a webhook: %s", hooks.raw)
	}

	// The empty body keeps the documented defaults: quantity 1, no waitlist.
	h.expect(h.do("POST", "/v1/drops/"+id+"/registrations", alice, ""), 200, "")
	won := h.do("POST", "/v1/drops/"+id+"/reservations", alice, "")
	h.expect(won, 201, "")
	if won.num("reservation", "quantity") != 1 {
		t.Fatalf("an empty body reserves one unit: %s", won.raw)
	}
	h.expect(h.do("POST", "/v1/drops/"+id+"/reservations", alice, `{"quantity":2,"waitlist":false}`), 201, "")
	h.expect(h.do("POST", "/v1/admin/drops", admin, ""), 400, "invalid")
}
