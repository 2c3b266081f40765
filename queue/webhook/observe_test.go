package webhook_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// outcomes counts Options.OnAttempt's reports by webhook and outcome.
type outcomes struct {
	mu sync.Mutex
	n  map[string]map[webhook.Outcome]int
}

func (o *outcomes) add(id string, out webhook.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n[id] == nil {
		o.n[id] = map[webhook.Outcome]int{}
	}
	o.n[id][out]++
}

func (o *outcomes) get(id string, out webhook.Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[id][out]
}

// TestAttemptOutcomesAndDeadLetterLog: every ordinary attempt is reported
// to OnAttempt by its webhook and outcome (delivered; failed, to be
// retried; dead-lettered), matching the stored status; tests are not. A
// receiver that fails everything dead-letters each event, and the log
// says the first whole and then a count per interval, not a line per
// event, with every dead letter counted in some line by the time the
// Deliverer is closed.
func TestAttemptOutcomesAndDeadLetterLog(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "receiver broken", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(healthy.Close)
	bad := e.webhook("bad", failing.URL, engine.EventWon)
	good := e.webhook("good", healthy.URL, engine.EventWon)

	logs := &testkit.LockedBuffer{}
	seen := &outcomes{n: map[string]map[webhook.Outcome]int{}}
	d := e.deliverer(webhook.Options{AllowPrivate: true, MaxAttempts: 2, OnAttempt: seen.add,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), DeadLetterLogEvery: 300 * time.Millisecond})

	const events = 30
	for range events {
		e.publish("tuesday", engine.EventWon)
	}
	testkit.Eventually(t, 20*time.Second, "every event dead-lettered at the failing receiver, delivered at the healthy one", func() bool {
		return seen.get(bad.ID, webhook.DeadLettered) == events && seen.get(good.ID, webhook.Delivered) == events
	})
	if _, err := d.Test(e.ctx(), good); err != nil {
		t.Fatal(err)
	}
	if got := seen.get(bad.ID, webhook.Failed); got != events {
		t.Errorf("%d failed attempts to be retried reported, want %d (MaxAttempts 2)", got, events)
	}
	if got := seen.get(good.ID, webhook.Delivered); got != events {
		t.Errorf("%d deliveries reported, want %d (the test delivery is not one)", got, events)
	}
	if n := seen.get(good.ID, webhook.Failed) + seen.get(good.ID, webhook.DeadLettered) + seen.get(bad.ID, webhook.Delivered); n != 0 {
		t.Errorf("%d outcomes reported that did not happen", n)
	}
	// OnAttempt hears of an attempt before its record is stored: the
	// last dead letters' records may still be on their way. A failed
	// attempt is recorded before its retry, so once every dead letter is
	// in, the status is whole.
	var st engine.WebhookStatus
	testkit.Eventually(t, 10*time.Second, "every dead letter recorded", func() bool {
		st = e.status(bad.ID)
		return st.DeadLettered >= events
	})
	if st.Failed != 2*events || st.DeadLettered != events {
		t.Errorf("stored status %+v; the reports were %d failed + %d dead-lettered", st, events, events)
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	text := logs.String()
	whole := strings.Count(text, `msg="webhooks: event dead-lettered"`)
	if whole != 1 {
		t.Errorf("%d whole dead-letter lines, want 1 (the first)", whole)
	}
	counted := 0
	summaries := regexp.MustCompile(`msg="webhooks: more events dead-lettered" webhook=`+regexp.QuoteMeta(bad.ID)+` count=(\d+) .*first_event=\S+ last_event=\S+ status=500 err="HTTP 500`).FindAllStringSubmatch(text, -1)
	for _, m := range summaries {
		n, _ := strconv.Atoi(m[1])
		counted += n
	}
	if whole+counted != events || len(summaries) == 0 || len(summaries) > events/2 {
		t.Errorf("%d whole line(s) and %d summaries counting %d: want the %d dead letters all told, in a few lines:\n%s",
			whole, len(summaries), counted, events, text)
	}
}
