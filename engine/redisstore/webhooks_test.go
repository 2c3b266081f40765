package redisstore_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
)

// newWebhookStore is a store on rdb with one new webhook.
func newWebhookStore(t *testing.T, rdb redis.UniversalClient) (*redisstore.Store, engine.Webhook) {
	t.Helper()
	s := redisstore.New(rdb, redisstore.Options{})
	w := engine.Webhook{ID: uniqueID(t), URL: "https://hooks.example/x", Types: []engine.EventType{}, Secret: "whsec_x",
		CreatedAt: time.Now().UTC()}
	if err := s.CreateWebhook(ctx(t), w); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DeleteWebhook(ctx(t), w.ID) })
	return s, w
}

// TestDisabledReasonIsReadable: a disabled webhook's reason states the rule
// that disabled it, as the webhook_disabled event does, not a raw epoch.
func TestDisabledReasonIsReadable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		rule := engine.DisableRule{After: 3, Span: 2 * time.Second}
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		for i := range 4 {
			disabled, err := s.RecordDelivery(ctx(t), w.ID, engine.Delivery{EventID: "ev-" + itoa(i), At: at.Add(time.Duration(i) * time.Second),
				Status: 500, Err: "500 Internal Server Error"}, rule)
			if err != nil {
				t.Fatal(err)
			}
			if want := i == 2; disabled != want {
				t.Fatalf("attempt %d: disabled %v, want %v", i+1, disabled, want)
			}
		}
		got, err := s.Webhook(ctx(t), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		const want = "3 consecutive failed deliveries over at least 2s"
		if !got.Disabled || got.DisabledReason != want || !got.DisabledAt.Equal(at.Add(2*time.Second)) {
			t.Fatalf("disabled %v at %v, reason %q; want %q", got.Disabled, got.DisabledAt, got.DisabledReason, want)
		}
		if regexp.MustCompile(`\d{10,}`).MatchString(got.DisabledReason) {
			t.Fatalf("reason shows a raw epoch: %q", got.DisabledReason)
		}
	})
}

// TestDeliveryLogNewestFirst: attempts are logged when they end, but the
// log is newest first by the time each started: a slow attempt recorded
// after a quicker one that started later comes after it.
func TestDeliveryLogNewestFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		for _, d := range []engine.Delivery{
			{EventID: "a", At: at, Status: 204, Latency: time.Second},
			{EventID: "c", At: at.Add(3 * time.Second), Status: 204, Kind: engine.DeliveryKindReplay},
			{EventID: "test-b", At: at.Add(time.Second), Status: 204, Latency: 4 * time.Second, Kind: engine.DeliveryKindTest},
		} {
			if _, err := s.RecordDelivery(ctx(t), w.ID, d, engine.DisableRule{}); err != nil {
				t.Fatal(err)
			}
		}
		log, err := s.DeliveryLog(ctx(t), w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range log {
			ids = append(ids, r.EventID)
		}
		if len(ids) != 3 || ids[0] != "c" || ids[1] != "test-b" || ids[2] != "a" {
			t.Fatalf("log %v, want [c test-b a]", ids)
		}
	})
}

// TestWebhookStatusKeepsTheLatestAttempt: attempts are timed at their
// start and recorded as they end, so a slow attempt can be recorded after
// a later one; the status's last attempt and last success never move back.
func TestWebhookStatusKeepsTheLatestAttempt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		for _, d := range []engine.Delivery{
			{EventID: "b", At: at.Add(2 * time.Second), Status: 204},
			{EventID: "c", At: at.Add(3 * time.Second), Status: 500, Err: "500 Internal Server Error"},
			{EventID: "a", At: at, Status: 204, Latency: 5 * time.Second}, // started first, ended last
		} {
			if _, err := s.RecordDelivery(ctx(t), w.ID, d, engine.DisableRule{}); err != nil {
				t.Fatal(err)
			}
		}
		st, err := s.WebhookStatus(ctx(t), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !st.LastAttemptAt.Equal(at.Add(3*time.Second)) || st.LastStatus != 500 || !st.LastSuccessAt.Equal(at.Add(2*time.Second)) || st.Delivered != 2 || st.Failed != 1 {
			t.Fatalf("status %+v: want the last attempt at +3s (500) and the last success at +2s", st)
		}
	})
}

// TestSlowSuccessDoesNotEndALaterStreak: a success that started before a
// streak of failures but was recorded after them does not reset the
// streak, and a failure that started before the last success is not in
// it: the disabling rule is judged by when the attempts started.
func TestSlowSuccessDoesNotEndALaterStreak(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		rule := engine.DisableRule{After: 3, Span: 2 * time.Second}
		at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
		fail := func(id string, d time.Duration) engine.Delivery {
			return engine.Delivery{EventID: id, At: at.Add(d), Status: 500, Err: "500 Internal Server Error"}
		}
		steps := []struct {
			d    engine.Delivery
			off  bool // the webhook is disabled by this attempt
			runs int64
		}{
			{fail("f1", time.Second), false, 1},
			{fail("f2", 2*time.Second), false, 2},
			{engine.Delivery{EventID: "slow", At: at, Status: 204, Latency: 5 * time.Second}, false, 2},
			{fail("f3", 3*time.Second), true, 3},
		}
		for i, st := range steps {
			off, err := s.RecordDelivery(ctx(t), w.ID, st.d, rule)
			if err != nil {
				t.Fatal(err)
			}
			status, err := s.WebhookStatus(ctx(t), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if off != st.off || status.ConsecutiveFailures != st.runs {
				t.Fatalf("step %d (%s): disabled %v, streak %d; want %v, %d", i+1, st.d.EventID, off, status.ConsecutiveFailures, st.off, st.runs)
			}
		}
		if st, _ := s.WebhookStatus(ctx(t), w.ID); !st.FailingSince.Equal(at.Add(time.Second)) {
			t.Fatalf("failing since %v, want the streak's first failure at +1s", st.FailingSince)
		}
		// Enabled again, a success: then a failure that started before it
		// and is recorded after it is not a new streak.
		s2, w2 := newWebhookStore(t, f.rdb)
		if _, err := s2.RecordDelivery(ctx(t), w2.ID, engine.Delivery{EventID: "ok", At: at.Add(2 * time.Second), Status: 204}, rule); err != nil {
			t.Fatal(err)
		}
		if _, err := s2.RecordDelivery(ctx(t), w2.ID, fail("old", time.Second), rule); err != nil {
			t.Fatal(err)
		}
		if st, _ := s2.WebhookStatus(ctx(t), w2.ID); st.ConsecutiveFailures != 0 || st.Failed != 1 {
			t.Fatalf("a failure older than the last success: streak %d, failed %d; want 0, 1", st.ConsecutiveFailures, st.Failed)
		}
	})
}
