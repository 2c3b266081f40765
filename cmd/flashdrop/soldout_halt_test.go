package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestHaltedSoldOutDropIsNotAnsweredFromMemory: SPEC §2 answers every
// press of a paused drop sale_paused, and a sale past its end is closed,
// sold out or not. A node's sold-out flag must not answer such presses
// sold_out from memory: the pausing node re-checks at once, a node's
// flag re-check finds the pause or the end (within --sold-out-ttl), and a
// resumed sale that is still out of stock is answered from memory again.
func TestHaltedSoldOutDropIsNotAnsweredFromMemory(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil, "--sold-out-ttl", "200ms")
	drop := fmt.Sprintf("halt%d", time.Now().UnixNano())
	s.sale(t, drop, 2, "alice", "bob") // bob's win takes the last unit
	alice := mint(t, s.m, "alice")
	press := func() httpResult {
		t.Helper()
		return call(t, "POST", s.base+"/v1/drops/"+drop+"/reservations", alice, "")
	}
	fromMemory := func() string {
		t.Helper()
		m := call(t, "GET", s.base+"/metrics", s.admin, "")
		for _, l := range strings.Split(m.raw, "\n") {
			if strings.HasPrefix(l, "flashdrop_reserve_sold_out_from_memory_total ") {
				return l
			}
		}
		return ""
	}
	expect := func(step string, r httpResult, status int, code string) {
		t.Helper()
		if r.status != status || r.body["code"] != code {
			t.Fatalf("%s: %d %s, want %d %s", step, r.status, r.raw, status, code)
		}
	}

	expect("a press after the sell-out", press(), 409, "sold_out")
	if got := fromMemory(); got != "flashdrop_reserve_sold_out_from_memory_total 1" {
		t.Fatalf("the press was not answered from memory: %q", got)
	}

	s.must(t, 200, "POST", "/v1/admin/drops/"+drop+"/pause", nil)
	expect("a press while paused", press(), 409, "sale_paused")
	expect("another press while paused", press(), 409, "sale_paused")

	s.must(t, 200, "POST", "/v1/admin/drops/"+drop+"/resume", nil)
	// The store answers alice (she won one unit already) and tells the
	// node the sale is still out of stock; the next press is memory's.
	expect("the first press after the resume", press(), 409, "limit_reached")
	expect("the second press after the resume", press(), 409, "sold_out")
	if got := fromMemory(); got != "flashdrop_reserve_sold_out_from_memory_total 2" {
		t.Fatalf("after the resume the node did not answer from memory again: %q", got)
	}

	// Past the sale's end (the sale runs an hour from its start): within
	// the flag's TTL, the press is the store's sale_closed.
	s.clock.Advance(2 * time.Hour)
	var last httpResult
	testkit.Eventually(t, 0, "a press after the sale's end to be answered sale_closed", func() bool {
		last = press()
		return last.status == 409 && last.body["code"] == "sale_closed"
	})
	if strings.Contains(last.raw, "alice") {
		t.Errorf("the problem names the shopper: %s", last.raw)
	}
}
