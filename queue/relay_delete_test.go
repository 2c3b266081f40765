package queue_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
)

// TestRelayQuietWhenItsDropIsDeleted: deleting a drop while its worker
// waits in a blocked read of its outbox (flashdrop load deletes the
// rehearsal drop it made) stops the worker without a warning, where it
// logged WARN "UNBLOCKED the stream key no longer exists" and then
// "NOGROUP No such key", which read as errors to ops. An outbox that
// vanishes under a drop that still exists is still a warning, and that
// drop's worker goes on.
func TestRelayQuietWhenItsDropIsDeleted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	logs := &testkit.LockedBuffer{}
	gone, live := "load-gone", "live-stays"
	w.clock.Set(t0.Add(-time.Hour))
	for _, id := range []string{gone, live} {
		if _, err := w.eng.CreateDrop(ctx(t), engine.Drop{ID: id, Name: "Sneaker", Stock: 2, Rehearsal: id == gone,
			RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute), SaleStartsAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// Reads block for a while (a relay's Close waits for one), and the
	// list of drops is not read again: each worker learns of its drop's
	// end from its read.
	r := queue.NewRelay(w.store, w.store, w.js, queue.RelayOptions{
		Consumer: "node-a", Block: 2 * time.Second, Refresh: time.Hour, ClaimAfter: time.Minute, Clock: w.clock,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	r.Start(ctx(t))
	t.Cleanup(func() { _ = r.Close() })
	blocked := func(n int) func() bool {
		return func() bool {
			info, err := w.rdb.Info(ctx(t), "clients").Result()
			return err == nil && strings.Contains(info, fmt.Sprintf("blocked_clients:%d\r", n))
		}
	}
	// Both outboxes published and empty, both workers waiting on them.
	testkit.Eventually(t, 10*time.Second, "both workers blocked on empty outboxes", func() bool {
		for _, id := range []string{gone, live} {
			if n, err := w.store.OutboxLen(ctx(t), id); err != nil || n != 0 {
				return false
			}
		}
		return blocked(2)()
	})

	if err := w.eng.DeleteDrop(ctx(t), gone); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the deleted drop's worker stopped", func() bool { return !r.Working(gone) })
	if !r.Working(live) {
		t.Fatal("the live drop's worker stopped with the deleted drop's")
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "NOGROUP") || strings.Contains(line, "UNBLOCKED") {
			t.Fatalf("a deliberate deletion logged %q:\n%s", line, logs.String())
		}
	}

	// The live drop's outbox deleted under its blocked read: a warning,
	// and its worker makes the outbox again and waits on it.
	if err := w.rdb.Del(ctx(t), "fd:{"+live+"}:outbox").Err(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "a warning for the live drop's vanished outbox", func() bool {
		return strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "drop="+live)
	})
	testkit.Eventually(t, 10*time.Second, "the live drop's worker blocked again", blocked(1))
	if !r.Working(live) {
		t.Fatal("the live drop's worker stopped")
	}
}
