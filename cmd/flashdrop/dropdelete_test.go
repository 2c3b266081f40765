package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestDeleteDrop: a drop made with a mistake, which nobody has taken part
// in, is deleted and made again under its id once its tombstone is gone
// (a minute; here ended by hand), with its new configuration on every
// read; one a shopper registered for is refused saying so and offering
// the pause, as is one its weekly series would make again; a missing drop
// is 404, a reading key 403.
func TestDeleteDrop(t *testing.T) {
	t.Parallel()
	s := startInteg(t, nil)
	now := s.clock.Now()
	// Ids of this run's own: the Redis is shared, and -count=N runs the
	// test again on it, where the first run's drops (and tombstones) are.
	typo, inUse, series, againID := uniqueDrop("typo"), uniqueDrop("in-use"), uniqueDrop("wk"), uniqueDrop("again")
	body := func(id string, stock int) map[string]any {
		return map[string]any{"id": id, "name": "Sneaker", "stock": stock,
			"registration_opens_at": now.Add(time.Hour), "registration_closes_at": now.Add(2 * time.Hour),
			"sale_starts_at": now.Add(2 * time.Hour)}
	}
	s.must(t, 201, "POST", "/v1/admin/drops", body(typo, 10000))
	s.must(t, 204, "DELETE", "/v1/admin/drops/"+typo, nil)
	s.must(t, 404, "GET", "/v1/admin/drops/"+typo, nil)
	if r := call(t, "GET", s.base+"/v1/drops/"+typo, "", ""); r.status != 404 {
		t.Fatalf("the public view of a deleted drop: %d %s", r.status, r.raw)
	}
	for _, d := range s.must(t, 200, "GET", "/v1/admin/drops", nil).body["drops"].([]any) {
		if d.(map[string]any)["id"] == typo {
			t.Fatal("a deleted drop is still listed")
		}
	}
	// Its id is not made again while every node may still know the old one.
	if r := s.call(t, "POST", "/v1/admin/drops", body(typo, 100)); r.status != 409 || r.body["code"] != "drop_exists" ||
		!strings.Contains(r.body["detail"].(string), "deleted") {
		t.Fatalf("made again at once: %d %s", r.status, r.raw)
	}
	if n, err := s.m.rdb.Del(context.Background(), "fd:{"+typo+"}:deleted").Result(); err != nil || n != 1 {
		t.Fatalf("the tombstone: %d %v", n, err)
	}
	s.must(t, 201, "POST", "/v1/admin/drops", body(typo, 100))
	testkit.Eventually(t, 10*time.Second, "the new stock on every read", func() bool {
		st := s.must(t, 200, "GET", "/v1/admin/drops/"+typo+"/stats", nil).body
		pub := call(t, "GET", s.base+"/v1/drops/"+typo, "", "")
		return st["stock"] == float64(100) && pub.status == 200 && pub.body["stock"] == float64(100)
	})

	s.must(t, 201, "POST", "/v1/admin/drops", map[string]any{"id": inUse, "name": "Sneaker", "stock": 5,
		"registration_opens_at": now.Add(-time.Hour), "registration_closes_at": now.Add(time.Hour), "sale_starts_at": now.Add(time.Hour)})
	if r := call(t, "POST", s.base+"/v1/drops/"+inUse+"/registrations", mint(t, s.m, "alice"), ""); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	r := s.call(t, "DELETE", "/v1/admin/drops/"+inUse, nil)
	if d, _ := r.body["detail"].(string); r.status != 409 || r.body["code"] != "drop_in_use" || !strings.Contains(d, "1 shopper registered") || !strings.Contains(d, "pause") {
		t.Fatalf("deleting a drop a shopper registered for: %d %s", r.status, r.raw)
	}
	s.must(t, 200, "GET", "/v1/admin/drops/"+inUse, nil)

	s.must(t, 201, "POST", "/v1/admin/series", map[string]any{"id": series, "name": "Weekly", "stock": 2, "weekday": 2,
		"sale_time": "09:02", "time_zone": "UTC", "hold_seconds": 600,
		"registration_opens_before_seconds": 518400, "registration_closes_before_seconds": 60})
	made := ""
	testkit.Eventually(t, 20*time.Second, "the series' drop", func() bool {
		for _, d := range s.must(t, 200, "GET", "/v1/admin/drops", nil).body["drops"].([]any) {
			if m := d.(map[string]any); m["series"] == series {
				made = m["id"].(string)
			}
		}
		return made != ""
	})
	if r := s.call(t, "DELETE", "/v1/admin/drops/"+made, nil); r.status != 409 || r.body["code"] != "drop_in_use" || !strings.Contains(r.raw, "delete the series first") {
		t.Fatalf("deleting a drop its series would make again: %d %s", r.status, r.raw)
	}

	// Once the series is deleted its drop, which nobody registered for,
	// goes, and the series made again with another stock makes it again
	// (after the tombstone) with that stock.
	s.must(t, 204, "DELETE", "/v1/admin/series/"+series, nil)
	// Its announcements (created, invited) may still be on their way to
	// NATS: the delete says so, and goes through once they are out.
	testkit.Eventually(t, 20*time.Second, "the series' drop deleted", func() bool {
		r := s.call(t, "DELETE", "/v1/admin/drops/"+made, nil)
		if r.status == 409 && !strings.Contains(r.raw, "not yet published") {
			t.Fatalf("deleting the drop of a deleted series: %s", r.raw)
		}
		return r.status == 204
	})
	s.must(t, 201, "POST", "/v1/admin/series", map[string]any{"id": series, "name": "Weekly", "stock": 3, "weekday": 2,
		"sale_time": "09:02", "time_zone": "UTC", "hold_seconds": 600,
		"registration_opens_before_seconds": 518400, "registration_closes_before_seconds": 60})
	if n, err := s.m.rdb.Del(context.Background(), "fd:{"+made+"}:deleted").Result(); err != nil || n != 1 {
		t.Fatalf("the tombstone: %d %v", n, err)
	}
	testkit.Eventually(t, 20*time.Second, "the series' drop made again with its new stock", func() bool {
		r := s.call(t, "GET", "/v1/admin/drops/"+made+"/stats", nil)
		return r.status == 200 && r.body["stock"] == float64(3)
	})

	// A rehearsal deleted and made again as a real drop: its events are
	// the real drop's, not the rehearsal's worker's (which would flag them
	// rehearsal, and a webhook without rehearsals would never get them).
	var mu sync.Mutex
	var got []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer rcv.Close()
	s.must(t, 201, "POST", "/v1/admin/webhooks", map[string]any{"url": rcv.URL, "types": []string{"registered"}})
	again := body(againID, 5)
	again["registration_opens_at"] = now.Add(-time.Hour)
	again["rehearsal"] = true
	s.must(t, 201, "POST", "/v1/admin/drops", again)
	// Its relay worker runs once it has made the outbox's group.
	testkit.Eventually(t, 20*time.Second, "the rehearsal's relay worker", func() bool {
		n, _ := s.m.rdb.Exists(context.Background(), "fd:{"+againID+"}:outbox").Result()
		return n == 1
	})
	s.must(t, 204, "DELETE", "/v1/admin/drops/"+againID, nil)
	// The tombstone's minute is for this: the node's list of drops sees
	// the drop go before another comes under its id. Here the test waits
	// for that, then ends the tombstone.
	testkit.Eventually(t, 20*time.Second, "the node's list and relay without the deleted drop", func() bool {
		if s.m.relay.Working(againID) {
			return false
		}
		ds, err := s.m.drops.Drops(context.Background())
		if err != nil {
			return false
		}
		for _, d := range ds {
			if d.ID == againID {
				return false
			}
		}
		return true
	})
	if n, err := s.m.rdb.Del(context.Background(), "fd:{"+againID+"}:deleted").Result(); err != nil || n != 1 {
		t.Fatalf("the tombstone: %d %v", n, err)
	}
	delete(again, "rehearsal")
	s.must(t, 201, "POST", "/v1/admin/drops", again)
	if r := call(t, "POST", s.base+"/v1/drops/"+againID+"/registrations", mint(t, s.m, "bob"), ""); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	testkit.Eventually(t, 20*time.Second, "bob's registration delivered as a real drop's", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range got {
			if strings.Contains(b, `"`+againID+`"`) && strings.Contains(b, `"bob"`) {
				return true
			}
		}
		return false
	})

	s.must(t, 404, "DELETE", "/v1/admin/drops/no-such-drop", nil)
	reader := s.must(t, 201, "POST", "/v1/admin/keys", map[string]any{"name": "reader", "scopes": []string{"drops:read"}}).body["secret"].(string)
	if r := call(t, "DELETE", s.base+"/v1/admin/drops/"+typo, reader, ""); r.status != 403 {
		t.Fatalf("a reading key deletes a drop: %d %s", r.status, r.raw)
	}
}
