package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// arrivals is a slow receiver: it notes when each delivery of an event id
// arrived, then answers 204 after its delay.
type arrivals struct {
	mu    sync.Mutex
	times map[string][]time.Time
	seen  chan string
	delay func(id string) time.Duration
}

func newArrivals(t *testing.T, delay func(id string) time.Duration) (*arrivals, string) {
	a := &arrivals{times: map[string][]time.Time{}, seen: make(chan string, 16), delay: delay}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		id := r.Header.Get("Flashdrop-Event-Id")
		a.mu.Lock()
		a.times[id] = append(a.times[id], now)
		a.mu.Unlock()
		select {
		case a.seen <- id:
		default:
		}
		select {
		case <-time.After(a.delay(id)):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return a, srv.URL
}

// startedAt reports whether one delivery of id reached the receiver at or
// after at, within a second: at was that attempt's start, not its end
// (which comes 150 ms or more after it reached the receiver, so after
// the arrival, which the lower bound refuses). The upper bound only
// keeps an unrelated, much earlier time out; at 100 ms a loaded machine's
// connection setup could pass it.
func (a *arrivals) startedAt(id string, at time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.times[id] {
		if !t.Before(at) && t.Sub(at) < time.Second {
			return true
		}
	}
	return false
}

// TestDeliveryLogTimesAreStarts: every attempt (test, ordinary, replay)
// is logged with the time it started, and the log is newest first by that
// time even when a slow test ends after a delivery that started later.
func TestDeliveryLogTimesAreStarts(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	slow := 600 * time.Millisecond
	rcv, url := newArrivals(t, func(id string) time.Duration {
		if len(id) > 5 && id[:5] == "test-" {
			return slow
		}
		return 150 * time.Millisecond
	})
	w := e.webhook("log", url)
	d := e.deliverer(webhook.Options{AllowPrivate: true, Timeout: 2 * time.Second})
	since := time.Now().Add(-time.Second)

	// A slow test; while it waits for its answer, an event is delivered.
	tested := make(chan engine.WebhookTestResult, 1)
	go func() {
		res, err := d.Test(context.Background(), w)
		if err != nil {
			t.Error(err)
		}
		tested <- res
	}()
	testID := <-rcv.seen
	evID := e.publish("tuesday", engine.EventWon)
	testkit.Eventually(t, 10*time.Second, "the event delivered", func() bool {
		st := e.status(w.ID)
		return st.Delivered == 1
	})
	if res := <-tested; !res.OK || res.EventID != testID {
		t.Fatalf("test: %+v (receiver saw %s)", res, testID)
	}
	// Limit 1, the stream's one event: its fetch ends with it, and leaves
	// no pull waiting out its expiry after the test.
	if _, err := d.Replay(e.ctx(), w, engine.ReplayRequest{Since: since, Limit: 1}); err != nil {
		t.Fatal(err)
	}

	log, err := e.store.DeliveryLog(e.ctx(), w.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for i, r := range log {
		kinds[r.Kind]++
		if i > 0 && r.At.After(log[i-1].At) {
			t.Errorf("log not newest first: %+v after %+v", r, log[i-1])
		}
		if !rcv.startedAt(r.EventID, r.At) {
			rcv.mu.Lock()
			t.Errorf("%s %s logged at %s, not when it started (it reached the receiver at %v): the attempt's end?",
				r.Kind, r.EventID, r.At.Format(time.StampMilli), rcv.times[r.EventID])
			rcv.mu.Unlock()
		}
	}
	if kinds[engine.DeliveryKindTest] != 1 || kinds[engine.DeliveryKindEvent] != 1 || kinds[engine.DeliveryKindReplay] != 1 {
		t.Fatalf("log kinds %v, want one test, one delivery, one replay: %+v", kinds, log)
	}
	if log[len(log)-1].EventID != testID || log[0].EventID != evID {
		t.Fatalf("the test started first and ends the log, the replay started last: %+v", log)
	}
}
