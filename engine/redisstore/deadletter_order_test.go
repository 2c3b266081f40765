package redisstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestDeadLetterEntriesNewestFirst: dead letters are listed newest first
// by the time each was dead-lettered, as documented, however their last
// attempts overlapped: each is recorded as its attempt ends, and the list
// in recording order read 52.263, 52.261, 52.262. Two in the same
// millisecond go by stream sequence, the later first; one kept before
// entries were (its id alone) comes last.
func TestDeadLetterEntriesNewestFirst(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		if err := f.rdb.LPush(ctx(t), "fd:wh:{"+w.ID+"}:dead", "ev-old").Err(); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 24, 10, 0, 52, 0, time.UTC)
		for _, d := range []struct {
			id  string
			ms  int
			seq uint64
		}{{"ev-263", 263, 13}, {"ev-261", 261, 11}, {"ev-262a", 262, 12}, {"ev-262b", 262, 14}} {
			if _, err := s.RecordDelivery(ctx(t), w.ID, engine.Delivery{EventID: d.id, At: at.Add(time.Duration(d.ms) * time.Millisecond),
				Status: 500, Err: "HTTP 500", Dead: true, Sequence: d.seq, Type: engine.EventWon}, engine.DisableRule{}); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := s.DeadLetterEntries(ctx(t), w.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range entries {
			ids = append(ids, e.EventID)
		}
		if want := []string{"ev-263", "ev-262b", "ev-262a", "ev-261", "ev-old"}; !slices.Equal(ids, want) {
			t.Fatalf("dead letters %v, want %v", ids, want)
		}
		d, err := engine.NewWebhooks(s, nil, nil).Webhook(ctx(t), engine.WebhookCaller{All: true}, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.DeadLetters, ids) {
			t.Fatalf("dead_letters %v, dead_letter_entries %v: not in the same order", d.DeadLetters, ids)
		}
	})
}
