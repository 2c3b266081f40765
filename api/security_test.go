package api_test

// Regression tests of the security review (issue 15) over HTTP: what a
// shopper with a valid token can try against other shoppers' holds, the
// per-user limit and the ids in paths.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSecurityOthersReservationOverHTTP: another shopper — including one
// whose id differs from the owner's only in case — can neither read,
// confirm nor cancel a hold, learns nothing about its owner from the
// refusal, and the hold is unchanged.
func TestSecurityOthersReservationOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	drop := h.createDrop(3, 1, map[string]any{"confirm_by": "shopper"})
	h.register(drop, "alice-sec", "Alice-sec", "bob-sec")
	h.clock.Set(t0.Add(time.Second))
	won := h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("alice-sec"), nil)
	h.expect(won, 201, "")
	id := won.str("reservation", "id")
	for _, thief := range []string{"Alice-sec", "bob-sec"} {
		tok := h.token(thief)
		for _, req := range [][2]string{{"GET", ""}, {"POST", "/confirm"}, {"POST", "/cancel"}} {
			r := h.do(req[0], "/v1/reservations/"+id+req[1], tok, nil)
			h.expect(r, 403, "forbidden")
			if strings.Contains(string(r.raw), "alice-sec") {
				t.Fatalf("%s %s by %s names the owner: %s", req[0], req[1], thief, r.raw)
			}
		}
		// Her own view of the drop shows her own (absent) reservation.
		if me := h.do("GET", "/v1/drops/"+drop, tok, nil); me.at("me", "reservation") != nil {
			t.Fatalf("%s sees a reservation: %s", thief, me.raw)
		}
	}
	mine := h.do("GET", "/v1/reservations/"+id, h.token("alice-sec"), nil)
	h.expect(mine, 200, "")
	if mine.str("reservation", "status") != "held" {
		t.Fatalf("the hold changed: %s", mine.raw)
	}
	st := h.do("GET", "/v1/admin/drops/"+drop+"/stats", admin, nil)
	if st.num("held") != 1 || st.num("available") != 2 || st.num("confirmed") != 0 {
		t.Fatalf("stats: %s", st.raw)
	}
}

// TestSecurityLimitOverHTTP: one shopper sending her requests at once, each
// with its own Idempotency-Key, gets no more than her limit; bad quantities
// (zero, negative, past the largest limit, past int64) are 400 and change
// nothing.
func TestSecurityLimitOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	drop := h.createDrop(50, 2, nil)
	h.register(drop, "greedy-sec")
	tok := h.token("greedy-sec")
	h.clock.Set(t0.Add(time.Second))
	for _, q := range []string{"0", "-1", "1001", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e3", "2.0"} {
		r := h.do("POST", "/v1/drops/"+drop+"/reservations", tok, `{"quantity":`+q+`}`, "Idempotency-Key", "q"+q)
		h.expect(r, 400, "invalid")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.do("POST", "/v1/drops/"+drop+"/reservations", tok, `{"quantity":1}`, "Idempotency-Key", fmt.Sprintf("key-%d", i))
			if r.status == 429 && r.header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
			mu.Lock()
			codes[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[201] != 2 || codes[201]+codes[409]+codes[429] != 8 {
		t.Fatalf("answers %v: want exactly 2 wins, the rest limit_reached (409) or rate limited", codes)
	}
	st := h.do("GET", "/v1/admin/drops/"+drop+"/stats", admin, nil)
	if st.num("held") != 2 || st.num("available") != 48 || st.num("reservations") != 2 {
		t.Fatalf("stats: %s", st.raw)
	}
}

// TestSecurityIDsInPaths: ids with hash-tag braces, colons, dots and
// encoded bytes in every id-taking path are a client error (400/404), never
// a 500 and never another drop's data.
func TestSecurityIDsInPaths(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	drop := h.createDrop(1, 1, nil)
	tok := h.token("carol-sec")
	for _, id := range []string{
		"%7B" + drop + "%7D", drop + "%7D", "%7B", "a:b", drop + ":n", "fd:%7B" + drop + "%7D:drop",
		"..", "%2e%2e", drop + "%00", "%E2%80%AE" + drop, strings.Repeat("x", 300),
	} {
		for _, p := range []struct{ method, path, token string }{
			{"GET", "/v1/drops/" + id, ""},
			{"POST", "/v1/drops/" + id + "/registrations", tok},
			{"POST", "/v1/drops/" + id + "/reservations", tok},
			{"GET", "/v1/reservations/" + id, tok},
			{"GET", "/v1/reservations/" + id + "." + id, tok},
			{"POST", "/v1/reservations/" + drop + "." + id + "/cancel", tok},
			{"GET", "/v1/admin/drops/" + id + "/stats", admin},
			{"POST", "/v1/admin/drops/" + id + "/pause", admin},
			{"GET", "/v1/admin/webhooks/" + id, admin},
			{"DELETE", "/v1/admin/webhooks/" + id, admin},
		} {
			r := h.do(p.method, p.path, p.token, nil)
			if r.status != 400 && r.status != 404 {
				t.Errorf("%s %s: %d %s, want 400 or 404", p.method, p.path, r.status, r.raw)
			}
		}
	}
	// The real drop is untouched (not paused, nothing registered).
	st := h.do("GET", "/v1/admin/drops/"+drop, admin, nil)
	if st.str("state") == "paused" || h.do("GET", "/v1/admin/drops/"+drop+"/stats", admin, nil).num("registered") != 0 {
		t.Fatalf("the drop changed: %s", st.raw)
	}
}
