package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestBrowserOpsDeleteRehearsal: a rehearsal's row on /ops offers Delete,
// asked once more; the answer takes the row away and the drop with
// everything of it (shoppers took part: a real drop like it is refused).
// A real drop's row offers no Delete. One rehearsal per flashdrop load run
// would otherwise stay in Redis and in the table for good.
func TestBrowserOpsDeleteRehearsal(t *testing.T) {
	t.Parallel()
	rs := testkit.OwnRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	m, clock, _ := startServe(t, "--redis-url", rs.Addr, "--admin-token", "browser-admin-token-0123456789")
	base := "http://" + m.Addr
	b := newBrowser(t, base)
	admin := m.Config.AdminToken
	now := clock.Now()
	sale := now.Add(30 * time.Minute)
	for _, d := range []struct {
		id        string
		rehearsal bool
	}{{"load-run-1", true}, {"real-drop", false}} {
		if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, map[string]any{"id": d.id, "name": "Air Max 1", "stock": 3,
			"per_user_limit": 1, "registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale,
			"sale_starts_at": sale, "sale_ends_at": sale.Add(2 * time.Hour), "rehearsal": d.rehearsal})); r.status != 201 {
			t.Fatalf("create %s: %d %s", d.id, r.status, r.raw)
		}
		if r := call(t, "POST", base+"/v1/drops/"+d.id+"/registrations", mint(t, m, "shopper-1"), "{}"); r.status != 201 {
			t.Fatalf("register for %s: %d %s", d.id, r.status, r.raw)
		}
	}
	clock.Set(sale.Add(time.Second))
	if r := call(t, "POST", base+"/v1/drops/load-run-1/reservations", mint(t, m, "shopper-1"), ""); r.status != 201 {
		t.Fatalf("a win in the rehearsal: %d %s", r.status, r.raw)
	}

	ops := b.tab("ops", 1200, 900)
	b.signInOps(ops, admin)
	row := func(id string) string { return `document.querySelector('#drops tr[data-drop="` + id + `"]')` }
	b.until(ops, "both rows", row("load-run-1")+` !== null && `+row("real-drop")+` !== null`)
	// The rehearsals are folded under their own row while a real drop is
	// listed: unfold them.
	b.run(ops, chromedp.Click(chromedp.CSS("#rehearsals-toggle")))
	if eval[bool](b, ops, row("real-drop")+`.querySelector('button[data-role="delete"]') !== null`) {
		t.Error("a real drop's row offers Delete")
	}
	b.until(ops, "the rehearsal's Delete", row("load-run-1")+`.querySelector('button[data-role="delete"]') !== null`)
	b.run(ops, chromedp.Click(chromedp.CSS(`#drops tr[data-drop="load-run-1"] button[data-role="delete"]`)))
	b.until(ops, "the question", row("load-run-1")+`.querySelector('.confirm-q').textContent === 'Delete rehearsal load-run-1 and everything of it?'`)
	b.shot(ops, "delete-rehearsal-question")
	// Its events must be published first: the relay does it within moments.
	testkit.Eventually(t, 20*time.Second, "the rehearsal's events published", func() bool {
		n, err := rdb.XLen(context.Background(), "fd:{load-run-1}:outbox").Result()
		return err == nil && n == 0
	})
	b.run(ops, chromedp.Click(chromedp.CSS(`#drops tr[data-drop="load-run-1"] button[data-role="yes"]`)))
	b.until(ops, "the row gone and the deletion said", row("load-run-1")+` === null && document.getElementById('ops-message').textContent === 'Deleted rehearsal load-run-1.'`)
	if r := call(t, "GET", base+"/v1/admin/drops/load-run-1", admin, ""); r.status != 404 {
		t.Errorf("the deleted rehearsal reads %d %s", r.status, r.raw)
	}
	if r := call(t, "DELETE", base+"/v1/admin/drops/real-drop", admin, ""); r.status != 409 || r.body["code"] != "drop_in_use" {
		t.Errorf("a real drop with a shopper registered: %d %s", r.status, r.raw)
	}
	// The next refreshes do not bring the row back.
	b.until(ops, "a refresh without it", `document.getElementById('updated').textContent !== '' && `+row("load-run-1")+` === null`)
}
