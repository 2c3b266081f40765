package main

import (
	"net/url"
	"strconv"
	"testing"
	"time"
)

// TestListReservationsOverHTTP: the shop lists a drop's reservations to
// fulfil and reconcile, on the real stack: every win, page by page, the
// confirmed ones alone with status=confirmed, with the shop backend's
// scope and not with a reading key's, never cached, and plain 400s and
// 404s for what it got wrong.
func TestListReservationsOverHTTP(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	drop := uniqueDrop("list-reservations") // the Redis is shared, and -count=N runs the test again on it
	now := s.clock.Now()
	s.must(t, 201, "POST", "/v1/admin/drops", map[string]any{"id": drop, "name": "Sneaker", "stock": 200, "per_user_limit": 1,
		"registration_opens_at": now.Add(-time.Hour), "registration_closes_at": now.Add(time.Minute),
		"sale_starts_at": now.Add(time.Minute)})
	const n = 150
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = mint(t, s.m, "shopper-"+strconv.Itoa(i))
		if r := call(t, "POST", s.base+"/v1/drops/"+drop+"/registrations", tokens[i], ""); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
	}
	s.clock.Set(now.Add(time.Minute))
	won := map[string]bool{}
	confirmed := map[string]bool{}
	for i, tok := range tokens {
		r := call(t, "POST", s.base+"/v1/drops/"+drop+"/reservations", tok, `{"quantity":1}`)
		if r.status != 201 {
			t.Fatalf("reserve: %d %s", r.status, r.raw)
		}
		id := r.body["reservation"].(map[string]any)["id"].(string)
		won[id] = true
		if i%4 == 0 {
			s.must(t, 200, "POST", "/v1/reservations/"+id+"/confirm", nil)
			confirmed[id] = true
		}
	}
	list := func(query string) map[string]map[string]any {
		t.Helper()
		got := map[string]map[string]any{}
		cursor := ""
		for pages := 0; ; pages++ {
			q := query
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			r := s.must(t, 200, "GET", "/v1/admin/drops/"+drop+"/reservations?"+q, nil)
			if r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("a list of shoppers without no-store: %q", r.header.Get("Cache-Control"))
			}
			for _, x := range r.body["reservations"].([]any) {
				res := x.(map[string]any)
				got[res["id"].(string)] = res
			}
			next, _ := r.body["next_cursor"].(string)
			if next == "" {
				return got
			}
			if pages > 100 {
				t.Fatal("the pages never end")
			}
			cursor = next
		}
	}
	all := list("limit=20")
	if len(all) != len(won) {
		t.Fatalf("%d listed, %d won", len(all), len(won))
	}
	for id := range won {
		if all[id] == nil {
			t.Fatalf("%s won but is not listed", id)
		}
	}
	paid := list("status=confirmed")
	if len(paid) != len(confirmed) {
		t.Fatalf("status=confirmed listed %d, %d were confirmed", len(paid), len(confirmed))
	}
	for id, r := range paid {
		if !confirmed[id] || r["status"] != "confirmed" {
			t.Fatalf("status=confirmed listed %v", r)
		}
	}
	if held := list("status=held,confirmed"); len(held) != n {
		t.Fatalf("status=held,confirmed listed %d of %d", len(held), n)
	}

	reader := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "reader", "scopes": []string{"drops:read"}}).body["secret"].(string)
	if r := call(t, "GET", s.base+"/v1/admin/drops/"+drop+"/reservations", reader, ""); r.status != 403 {
		t.Fatalf("a drops:read key lists shoppers: %d %s", r.status, r.raw)
	}
	shop := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "shop", "scopes": []string{"reservations:confirm"}}).body["secret"].(string)
	if r := call(t, "GET", s.base+"/v1/admin/drops/"+drop+"/reservations?limit=1", shop, ""); r.status != 200 {
		t.Fatalf("the shop's key: %d %s", r.status, r.raw)
	}
	if r := call(t, "GET", s.base+"/v1/admin/drops/"+drop+"/reservations", tokens[0], ""); r.status != 403 {
		t.Fatalf("a shopper lists the drop: %d %s", r.status, r.raw)
	}
	for q, field := range map[string]string{"limit=0": "limit", "limit=1001": "limit", "limit=x": "limit", "status=won": "status", "cursor=abc": "cursor"} {
		r := s.call(t, "GET", "/v1/admin/drops/"+drop+"/reservations?"+q, nil)
		if r.status != 400 || r.body["field"] != field {
			t.Errorf("?%s: %d %s, want 400 naming %s", q, r.status, r.raw, field)
		}
	}
	if r := s.call(t, "GET", "/v1/admin/drops/no-such-drop/reservations", nil); r.status != 404 {
		t.Errorf("a missing drop: %d %s", r.status, r.raw)
	}
}
