package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// downStore is a store that cannot be reached: every drop lookup fails
// as a Redis client's would, with a text that differs per request.
type downStore struct {
	stubStore
	n atomic.Int64
}

func (s *downStore) Drop(context.Context, string) (engine.Drop, error) {
	return engine.Drop{}, engine.AsUnavailable(fmt.Errorf("read tcp 127.0.0.1:%d->127.0.0.1:6379: i/o timeout", 40000+s.n.Add(1)))
}

// fakeTimers stands in for time.AfterFunc: the test fires what was armed.
type fakeTimers struct {
	mu      sync.Mutex
	armed   []time.Duration
	fns     []func()
	stopped []bool
}

func (ft *fakeTimers) after(d time.Duration, f func()) func() bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	i := len(ft.fns)
	ft.armed, ft.fns, ft.stopped = append(ft.armed, d), append(ft.fns, f), append(ft.stopped, false)
	return func() bool {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		was := !ft.stopped[i]
		ft.stopped[i] = true
		return was
	}
}

// fire runs timer i as time.AfterFunc would, unless it was stopped.
func (ft *fakeTimers) fire(t *testing.T, i int) {
	t.Helper()
	ft.mu.Lock()
	if i >= len(ft.fns) {
		ft.mu.Unlock()
		t.Fatalf("timer %d was never armed (%d were)", i, len(ft.fns))
	}
	f, stopped := ft.fns[i], ft.stopped[i]
	ft.stopped[i] = true
	ft.mu.Unlock()
	if !stopped {
		f()
	}
}

func (ft *fakeTimers) count() int {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return len(ft.fns)
}

// logLines parses a JSON log and returns its lines with message msg.
func logLines(t *testing.T, logs *testkit.LockedBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestStoreOutageLogsAFewLines: while the store is down every request is
// answered 503 and counted in the metrics, but the log has the first
// failure of each second in full, and one line counting the rest, where
// it had a line per request: a Redis blip at release-day rates swamped
// the log pipeline. The count comes out when the interval ends (its
// timer), at the next failure after it, or at Shutdown.
func TestStoreOutageLogsAFewLines(t *testing.T) {
	logs := &testkit.LockedBuffer{}
	s, client := stubServer(t, &downStore{}, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	clock := time.Unix(2e9, 0)
	var clockMu sync.Mutex
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	advance := func(d time.Duration) { clockMu.Lock(); clock = clock.Add(d); clockMu.Unlock() }
	timers := &fakeTimers{}
	s.failLog.now, s.failLog.after = now, timers.after

	sent := 0
	press := func(n int) {
		t.Helper()
		for range n {
			req, _ := http.NewRequest("GET", "http://x/v1/admin/drops/stub", nil)
			req.Header.Set("Authorization", "Bearer "+testAdmin)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 503 {
				t.Fatalf("got %d, want 503", resp.StatusCode)
			}
			sent++
		}
	}
	check := func(what string, detailed, summaries int) []map[string]any {
		t.Helper()
		d, sum := logLines(t, logs, "request failed"), logLines(t, logs, "requests failed")
		if len(d) != detailed || len(sum) != summaries {
			t.Fatalf("%s: %d \"request failed\" and %d \"requests failed\" lines, want %d and %d:\n%s",
				what, len(d), len(sum), detailed, summaries, logs.String())
		}
		var m dto.Metric
		if err := s.metrics.storeErrs.Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != float64(sent) {
			t.Fatalf("%s: store errors metric %v, want one per request (%d)", what, got, sent)
		}
		return sum
	}

	// A single failure logs as it always did.
	press(1)
	check("one failure", 1, 0)
	first := logLines(t, logs, "request failed")[0]
	if first["level"] != "ERROR" || first["request_id"] == "" || first["route"] != "/v1/admin/drops/{drop}" ||
		first["status"] != 503.0 || !strings.Contains(first["err"].(string), "i/o timeout") {
		t.Fatalf("the first failure's line lacks its detail: %v", first)
	}

	// A burst in the same second: counted, and one timer armed to the
	// interval's end.
	advance(200 * time.Millisecond)
	press(9)
	check("a burst", 1, 0)
	if timers.count() != 1 || timers.armed[0] != 800*time.Millisecond {
		t.Fatalf("timers armed %v, want one of 800ms", timers.armed)
	}

	// The next failure after the interval: the count, then it in full.
	advance(time.Second)
	press(1)
	sum := check("after the interval", 2, 1)[0]
	if sum["level"] != "ERROR" || sum["count"] != 9.0 || sum["status"] != 503.0 || sum["err"] != engine.ErrUnavailable.Error() ||
		!strings.Contains(sum["last_err"].(string), "i/o timeout") || sum["since"] == nil {
		t.Fatalf("summary line: %v", sum)
	}
	timers.fire(t, 0) // stopped: nothing more
	check("the old timer", 2, 1)

	// Failures stop: the interval's timer logs the count.
	press(3)
	timers.fire(t, 1)
	if sum := check("a quiet period", 2, 2)[1]; sum["count"] != 3.0 {
		t.Fatalf("summary line after a quiet period: %v", sum)
	}
	// and the next failure, in the same second or not, is logged in full.
	press(1)
	check("after the timer", 3, 2)

	// A count pending at Shutdown is logged then.
	press(2)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sum := check("shutdown", 3, 3)[2]; sum["count"] != 2.0 {
		t.Fatalf("summary line at shutdown: %v", sum)
	}
}

// TestFailLogKinds: each kind of failure (status and error class) has
// its own interval, a flood of one 500 is thinned as a store outage is,
// and past failLogKinds kinds a failure is logged on its own line.
func TestFailLogKinds(t *testing.T) {
	logs := &testkit.LockedBuffer{}
	f := newFailLog(slog.New(slog.NewJSONHandler(logs, nil)))
	timers := &fakeTimers{}
	at := time.Unix(2e9, 0)
	f.now, f.after = func() time.Time { return at }, timers.after
	bug := fmt.Errorf("redisstore: unexpected reply")
	for range 5 {
		f.failed("r", "/x", 500, bug)
		f.failed("r", "/x", 503, engine.ErrUnavailable)
	}
	if n := len(logLines(t, logs, "request failed")); n != 2 {
		t.Fatalf("%d lines for two kinds, want 2:\n%s", n, logs.String())
	}
	f.flush()
	sums := logLines(t, logs, "requests failed")
	if len(sums) != 2 || sums[0]["count"] != 4.0 || sums[1]["count"] != 4.0 {
		t.Fatalf("summaries %v", sums)
	}
	for _, s := range sums {
		if _, ok := s["last_err"]; ok {
			t.Fatalf("last_err repeats the class: %v", s)
		}
	}

	logs = &testkit.LockedBuffer{}
	f.log = slog.New(slog.NewJSONHandler(logs, nil))
	for i := range failLogKinds + 10 {
		f.failed("r", "/x", 500, fmt.Errorf("bug %d", i))
	}
	for i := range 10 {
		f.failed("r", "/x", 500, fmt.Errorf("bug %d", failLogKinds+i))
	}
	if n := len(logLines(t, logs, "request failed")); n != failLogKinds+20 {
		t.Fatalf("%d lines for %d kinds past the bound, want %d", n, failLogKinds+10, failLogKinds+20)
	}
	if len(f.kinds) != failLogKinds {
		t.Fatalf("%d kinds tracked, want at most %d", len(f.kinds), failLogKinds)
	}
	// Once the intervals are over, new kinds take their places.
	at = at.Add(failLogEvery)
	f.failed("r", "/x", 500, fmt.Errorf("a new bug"))
	f.failed("r", "/x", 500, fmt.Errorf("a new bug"))
	if f.kinds[failKind{500, "a new bug"}] == nil || f.kinds[failKind{500, "a new bug"}].count != 1 {
		t.Fatalf("a new kind was not tracked once old ones ended: %v", f.kinds)
	}
}
