package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSoldOutSaysWhatIsLeft: a reserve is all or nothing, so a press for
// more units than are left is sold_out; the answer says how many are left,
// so a shop's own client can offer that many instead of "sold out" while
// units remain. A smaller press then wins them; the press after that is a
// plain sold_out.
func TestSoldOutSaysWhatIsLeft(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	drop := fmt.Sprintf("left%d", time.Now().UnixNano())
	// alice and bob win one each: 2 of 4 left, and each may hold 3 more.
	s.saleWith(t, drop, 4, map[string]any{"per_user_limit": 4}, "alice", "bob")
	press := func(who, body string) httpResult {
		t.Helper()
		return call(t, "POST", s.base+"/v1/drops/"+drop+"/reservations", mint(t, s.m, who), body)
	}
	r := press("alice", `{"quantity":3}`)
	if r.status != 409 || r.body["code"] != "sold_out" || r.body["available"] != float64(2) {
		t.Fatalf("a press for 3 with 2 left: %d %s, want 409 sold_out with available 2", r.status, r.raw)
	}
	if d, _ := r.body["detail"].(string); !strings.Contains(d, "only 2 left") {
		t.Errorf("the detail %q does not say how many are left", d)
	}
	if r := press("alice", `{"quantity":2}`); r.status != 201 {
		t.Fatalf("a press for the 2 left: %d %s", r.status, r.raw)
	}
	r = press("bob", `{"quantity":1}`)
	if r.status != 409 || r.body["code"] != "sold_out" {
		t.Fatalf("a press after the last units: %d %s", r.status, r.raw)
	}
	if _, ok := r.body["available"]; ok {
		t.Errorf("a sold-out drop's answer carries available: %s", r.raw)
	}
}
