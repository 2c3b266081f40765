package api

import (
	"errors"
	"log/slog"
	"sync"
	"time"
)

// failLogEvery is how often a kind of 5xx failure is logged line by line.
// One second: a single failure still gets its own line at once, and a
// sustained outage logs two lines a second per kind (the first failure
// of each second, and the count of the rest), where one line per request
// was tens of thousands a second on release day. It is also the
// Retry-After of a 503 and the metrics' sampling tick, so a summary
// covers about one round of retries.
const failLogEvery = time.Second

// failLogKinds bounds the kinds of failure tracked at once. A failure of
// a kind past it is logged on its own line, as before: nothing is lost,
// and memory stays bounded whatever the errors' texts hold.
const failLogKinds = 64

// failLog writes the error lines of 5xx answers. In each interval the
// first failure of a kind (status and error class) is logged in full
// with its request id; the rest are counted and summarized in one
// "requests failed" line when the interval ends (a timer) or at the next
// failure after it, whichever comes first, and at Shutdown.
type failLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time
	// after runs f after d and returns a stop; time.AfterFunc outside
	// tests. A timer is armed only while some failure is uncounted in a
	// log line, and no goroutine waits on it.
	after func(d time.Duration, f func()) (stop func() bool)

	mu    sync.Mutex
	kinds map[failKind]*failWindow
}

type failKind struct {
	status int
	err    string // the error's class (failClass)
}

// failWindow is one kind's interval: from its logged failure, with the
// failures since then that no line has counted.
type failWindow struct {
	start time.Time
	count int
	last  error // the last counted failure's error, for its detail
	stop  func() bool
}

func newFailLog(log *slog.Logger) *failLog {
	return &failLog{
		log: log, every: failLogEvery, now: time.Now,
		after: func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop },
		kinds: make(map[failKind]*failWindow),
	}
}

// failClass is what failures of a kind share: the sentinel of a known
// 5xx (a store's errors carry addresses and ports that differ from one
// request to the next), or else the error's text.
func failClass(err error) string {
	for _, m := range errorMapping {
		if m.status >= 500 && errors.Is(err, m.err) {
			return m.err.Error()
		}
	}
	return err.Error()
}

// failed logs, or counts, a request answered with status because of err.
func (f *failLog) failed(requestID, route string, status int, err error) {
	kind := failKind{status: status, err: failClass(err)}
	now := f.now()
	f.mu.Lock()
	w := f.kinds[kind]
	if w != nil && now.Sub(w.start) < f.every {
		w.count++
		w.last = err
		if w.count == 1 {
			w.stop = f.after(f.every-now.Sub(w.start), func() { f.expire(kind, w) })
		}
		f.mu.Unlock()
		return
	}
	var ended failWindow
	if w != nil {
		ended = *w
		if w.stop != nil {
			w.stop()
		}
	} else if len(f.kinds) >= failLogKinds {
		f.sweepLocked(now)
	}
	if w != nil || len(f.kinds) < failLogKinds {
		f.kinds[kind] = &failWindow{start: now}
	}
	f.mu.Unlock()
	f.summary(kind, ended)
	f.log.Error("request failed", "request_id", requestID, "route", route, "status", status, "err", err.Error())
}

// expire ends w's interval, from its timer: the failures it counted are
// logged, and the kind's next failure gets a line of its own.
func (f *failLog) expire(kind failKind, w *failWindow) {
	f.mu.Lock()
	if f.kinds[kind] != w {
		f.mu.Unlock()
		return // a failure after the interval ended it first
	}
	delete(f.kinds, kind)
	ended := *w
	f.mu.Unlock()
	f.summary(kind, ended)
}

// flush logs every count not logged yet and forgets every interval
// (Shutdown calls it, as no timer should outlive the server).
func (f *failLog) flush() {
	f.mu.Lock()
	var ended []failKind
	var wins []failWindow
	for kind, w := range f.kinds {
		if w.stop != nil {
			w.stop()
		}
		if w.count > 0 {
			ended = append(ended, kind)
			wins = append(wins, *w)
		}
	}
	clear(f.kinds)
	f.mu.Unlock()
	for i := range ended {
		f.summary(ended[i], wins[i])
	}
}

// sweepLocked forgets the intervals that are over and left nothing to
// log (those that did have a timer that logs them).
func (f *failLog) sweepLocked(now time.Time) {
	for kind, w := range f.kinds {
		if w.count == 0 && now.Sub(w.start) >= f.every {
			delete(f.kinds, kind)
		}
	}
}

// summary logs the failures w counted, if any: how many since its logged
// failure, and the last one's error when it says more than the class.
func (f *failLog) summary(kind failKind, w failWindow) {
	if w.count == 0 {
		return
	}
	args := []any{"count", w.count, "status", kind.status, "err", kind.err, "since", w.start}
	if last := w.last.Error(); last != kind.err {
		args = append(args, "last_err", last)
	}
	f.log.Error("requests failed", args...)
}
