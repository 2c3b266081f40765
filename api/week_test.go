package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

func seriesBody(id string) map[string]any {
	return map[string]any{
		"id": id, "name": "Tuesday Sneaker", "stock": 50, "weekday": 2, "sale_time": "20:00",
		"time_zone": "Europe/Berlin", "registration_opens_before_seconds": 3 * 24 * 3600,
		"registration_closes_before_seconds": 600, "mode": "draw",
	}
}

func TestSeriesRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	rnd := dropID(t)
	id := "series-" + rnd[len(rnd)-8:] // a series id leaves room for the date
	h.clock.Set(time.Date(2027, 3, 20, 12, 0, 0, 0, time.UTC))

	r := h.do("POST", "/v1/admin/series", admin, seriesBody(id))
	h.expect(r, 201, "")
	if r.str("id") != id || r.num("weekday") != 2 || r.str("time_zone") != "Europe/Berlin" || r.num("sale_seconds") != 3600 ||
		r.num("reminder_seconds") != 900 || r.num("draw_quantity") != 1 || r.header.Get("Location") != "/v1/admin/series/"+id {
		t.Fatalf("created: %s", r.raw)
	}
	if r.str("next_drop", "id") != id+"-2027-03-23" || r.str("next_drop", "sale_starts_at") != "2027-03-23T19:00:00Z" ||
		r.at("next_drop", "created") != false || r.str("next_drop", "state") != "scheduled" {
		t.Fatalf("next drop: %s", r.raw)
	}
	// A retry of the same body is 200; another body under the id is 409.
	h.expect(h.do("POST", "/v1/admin/series", admin, seriesBody(id)), 200, "")
	other := seriesBody(id)
	other["stock"] = 51
	conflict := h.do("POST", "/v1/admin/series", admin, other)
	h.expect(conflict, 409, "series_exists")
	if !strings.Contains(conflict.str("detail"), "stock") {
		t.Fatalf("the conflict names the field: %s", conflict.raw)
	}

	for field, edit := range map[string]func(map[string]any){
		"time_zone":                          func(b map[string]any) { b["time_zone"] = "Mars/Base" },
		"weekday":                            func(b map[string]any) { b["weekday"] = 8 },
		"sale_time":                          func(b map[string]any) { b["sale_time"] = "25:00" },
		"registration_closes_before_seconds": func(b map[string]any) { b["registration_closes_before_seconds"] = -60 },
		"registration_opens_before_seconds":  func(b map[string]any) { b["registration_opens_before_seconds"] = 60 },
		"stock":                              func(b map[string]any) { b["stock"] = 0 },
		"id":                                 func(b map[string]any) { b["id"] = "bad id" },
	} {
		b := seriesBody(id + "-x")
		edit(b)
		bad := h.do("POST", "/v1/admin/series", admin, b)
		h.expect(bad, 400, "invalid")
		if bad.str("field") != field {
			t.Errorf("%s: the 400 names %q: %s", field, bad.str("field"), bad.raw)
		}
	}
	h.expect(h.do("POST", "/v1/admin/series", admin, `{"id":"x","weekdays":2}`), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/series", admin, `{"id":"x","weekday":"tuesday"}`), 400, "invalid")
	h.expect(h.do("POST", "/v1/admin/series", h.token("alice"), seriesBody(id)), 403, "forbidden")
	h.expect(h.do("POST", "/v1/admin/series", "", seriesBody(id)), 401, "unauthorized")

	list := h.do("GET", "/v1/admin/series", admin, nil)
	h.expect(list, 200, "")
	if !strings.Contains(string(list.raw), `"id":"`+id+`"`) {
		t.Fatalf("list: %s", list.raw)
	}
	h.expect(h.do("GET", "/v1/admin/series/"+id, admin, nil), 200, "")
	pub := h.do("GET", "/v1/series/"+id, "", nil)
	h.expect(pub, 200, "")
	if pub.str("name") != "Tuesday Sneaker" || pub.str("next_drop", "id") != id+"-2027-03-23" || pub.at("stock") != nil {
		t.Fatalf("public series: %s", pub.raw)
	}
	h.expect(h.do("GET", "/v1/series/nope-"+id, "", nil), 404, "not_found")
	h.expect(h.do("GET", "/v1/series/bad%20id", "", nil), 404, "not_found")
	h.expect(h.do("PUT", "/v1/admin/series/"+id, admin, nil), 405, "invalid")
	h.expect(h.do("DELETE", "/v1/admin/series/"+id, admin, nil), 204, "")
	h.expect(h.do("DELETE", "/v1/admin/series/"+id, admin, nil), 404, "not_found")
	h.expect(h.do("GET", "/v1/series/"+id, "", nil), 404, "not_found")
}

// TestDrawOverHTTP: 30 units drawn among 300 registrants. Exactly 30 holds
// and 270 waitlisted; the public record recomputes independently; every
// shopper's `me` and her press of Buy agree with it.
func TestDrawOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	id := h.createDrop(30, 1, map[string]any{"mode": "draw", "reminder_seconds": 300})
	fcfs := h.createDrop(30, 1, nil)
	shoppers := make([]string, 300)
	for i := range shoppers {
		shoppers[i] = fmt.Sprintf("shopper-%03d", i)
	}
	h.register(id, shoppers...)
	pub := h.do("GET", "/v1/drops/"+id, h.token(shoppers[0]), nil)
	h.expect(pub, 200, "")
	if len(pub.str("seed_hash")) != 64 || len(pub.str("me", "ticket")) != 32 || pub.num("reminder_seconds") != 0 {
		t.Fatalf("public view of a draw drop: %s", pub.raw)
	}
	if fv := h.do("GET", "/v1/drops/"+fcfs, h.token(shoppers[0]), nil); fv.at("seed_hash") != nil || strings.Contains(string(fv.raw), "ticket") {
		t.Fatalf("an fcfs drop has no draw: %s", fv.raw)
	}
	h.expect(h.do("GET", "/v1/drops/"+fcfs+"/draw", "", nil), 404, "not_found")
	rec := h.do("GET", "/v1/drops/"+id+"/draw", "", nil)
	h.expect(rec, 200, "")
	if rec.str("state") != "committed" || rec.str("seed_hash") != pub.str("seed_hash") || rec.at("seed") != nil {
		t.Fatalf("record before the draw: %s", rec.raw)
	}
	for _, q := range []string{"limit=0", "limit=10001", "offset=-1", "limit=abc", "offset=1e3"} {
		bad := h.do("GET", "/v1/drops/"+id+"/draw?"+q, "", nil)
		h.expect(bad, 400, "invalid")
		if want := strings.Split(q, "=")[0]; bad.str("field") != want {
			t.Errorf("%s: field %q", q, bad.str("field"))
		}
	}

	h.clock.Set(t0.Add(-time.Minute)) // registration closes
	if _, err := h.eng.RunDraw(context.Background(), id, engine.DrawOptions{Owner: "n"}); err != nil {
		t.Fatal(err)
	}
	h.expect(h.do("POST", "/v1/drops/"+id+"/reservations", h.token(shoppers[0]), nil), 409, "sale_not_open")
	h.clock.Set(t0)
	h.expect(h.do("POST", "/v1/drops/"+id+"/reservations", h.token(shoppers[0]), nil), 409, "sale_not_open")
	if st, err := h.eng.RunDraw(context.Background(), id, engine.DrawOptions{Owner: "n", Step: 50}); err != nil || st.Phase != engine.DrawDrawn {
		t.Fatalf("draw: %+v %v", st, err)
	}
	st := h.do("GET", "/v1/admin/drops/"+id+"/stats", admin, nil)
	if st.num("held") != 30 || st.num("waitlisted") != 270 || st.num("available") != 0 {
		t.Fatalf("stats: %s", st.raw)
	}

	// The whole record, in pages of 64.
	var tickets []string
	var head response
	for off := 0; ; {
		page := h.do("GET", fmt.Sprintf("/v1/drops/%s/draw?offset=%d&limit=64", id, off), "", nil)
		h.expect(page, 200, "")
		if off == 0 {
			head = page
		}
		var body struct {
			Tickets    []string `json:"tickets"`
			NextOffset *int     `json:"next_offset"`
		}
		if err := json.Unmarshal(page.raw, &body); err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, body.Tickets...)
		if body.NextOffset == nil {
			break
		}
		off = *body.NextOffset
	}
	if why := verifyDraw(head.str("seed"), head.str("seed_hash"), head.str("frozen_digest"), tickets,
		int(head.num("winners")), int(head.num("stock")), int(head.num("quantity"))); why != "" {
		t.Fatalf("independent recomputation: %s", why)
	}
	if len(tickets) != 300 || head.num("winners") != 30 || head.str("algorithm") != engine.DrawAlgorithm {
		t.Fatalf("record: %d tickets, head %s", len(tickets), head.raw)
	}
	rank := map[string]int{}
	for i, tk := range tickets {
		rank[tk] = i
	}
	for _, u := range shoppers {
		tok := h.token(u)
		me := h.do("GET", "/v1/drops/"+id, tok, nil)
		r, ok := rank[me.str("me", "ticket")]
		if !ok {
			t.Fatalf("%s's ticket is not in the record: %s", u, me.raw)
		}
		buy := h.do("POST", "/v1/drops/"+id+"/reservations", tok, nil)
		if r < 30 {
			if me.str("me", "reservation", "status") != "held" || me.at("me", "waitlist_position") != nil {
				t.Fatalf("winner at rank %d sees %s", r, me.raw)
			}
			h.expect(buy, 201, "")
			if buy.str("reservation", "id") != me.str("me", "reservation", "id") {
				t.Fatalf("winner's Buy answers another reservation: %s", buy.raw)
			}
		} else {
			if me.at("me", "reservation") != nil || me.num("me", "waitlist_position") != float64(r-30+1) {
				t.Fatalf("rank %d sees %s", r, me.raw)
			}
			h.expect(buy, 409, "sold_out")
			if buy.num("waitlist_position") != float64(r-30+1) {
				t.Fatalf("rank %d pressing Buy: %s", r, buy.raw)
			}
		}
	}
	if st := h.do("GET", "/v1/admin/drops/"+id+"/stats", admin, nil); st.num("held") != 30 || st.num("reservations") != 30 {
		t.Fatalf("pressing Buy changed the draw: %s", st.raw)
	}
}

// verifyDraw recomputes a draw from its public record alone, sharing no
// code with the engine; "" when it holds together.
func verifyDraw(seedHex, seedHash, digest string, tickets []string, winners, stock, quantity int) string {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) == 0 {
		return "no seed"
	}
	if h := sha256.Sum256(seed); hex.EncodeToString(h[:]) != seedHash {
		return "seed does not match its hash"
	}
	sorted := slices.Clone(tickets)
	sort.Strings(sorted)
	h := sha256.New()
	for _, tk := range sorted {
		h.Write([]byte(tk + "\n"))
	}
	if hex.EncodeToString(h.Sum(nil)) != digest {
		return "tickets are not the frozen list"
	}
	key := func(tk string) []byte { m := hmac.New(sha256.New, seed); m.Write([]byte(tk)); return m.Sum(nil) }
	order := slices.Clone(tickets)
	sort.SliceStable(order, func(i, j int) bool { return bytes.Compare(key(order[i]), key(order[j])) < 0 })
	if !slices.Equal(order, tickets) {
		return "order differs"
	}
	if want := min(len(tickets), stock/max(quantity, 1)); winners != want {
		return "winner count differs"
	}
	return ""
}

// TestWebhookFiltersOnWeekTypes: a subscription can filter on the week's
// event types.
func TestWebhookFiltersOnWeekTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	types := []string{"invited", "reminder", "drop_created", "sale_opened", "sale_closed", "drawn"}
	r := h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/in", "types": types})
	h.expect(r, 201, "")
	got, _ := r.at("types").([]any)
	if fmt.Sprint(got) != fmt.Sprint(types) {
		t.Fatalf("types: %s", r.raw)
	}
	h.do("DELETE", "/v1/admin/webhooks/"+r.str("id"), admin, nil)
	h.expect(h.do("POST", "/v1/admin/webhooks", admin, map[string]any{"url": "https://hooks.example/in", "types": []string{"invite"}}), 400, "invalid")
}
