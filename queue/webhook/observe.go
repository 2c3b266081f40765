package webhook

import (
	"log/slog"
	"sync"
	"time"
)

// Outcome is what became of one ordinary delivery attempt (not a test or
// a replay), for Options.OnAttempt. Each attempt has exactly one.
type Outcome string

const (
	// Delivered: the receiver answered 2xx.
	Delivered Outcome = "delivered"
	// Failed: the attempt failed and the event will be tried again.
	Failed Outcome = "failed"
	// DeadLettered: the event's last attempt failed (or never finished,
	// its node having stopped in it) and the event was dead-lettered.
	// Failed and DeadLettered together are the status's failed_attempts.
	DeadLettered Outcome = "dead_lettered"
)

// observe reports an attempt's outcome to Options.OnAttempt, if set.
func (d *Deliverer) observe(webhook string, o Outcome) {
	if d.o.OnAttempt != nil {
		d.o.OnAttempt(webhook, o)
	}
}

// deadLetterLog words the dead letters in the log without a line per
// event: a receiver down for a sale dead-letters thousands. The first
// dead letter of a webhook is logged whole; those after it within
// Options.DeadLetterLogEvery are counted, and one line at the end of the
// interval says how many, with the first and last of their event ids and
// the last error. An interval with none ends the summary, so the next dead
// letter is logged whole again. The ids are in the store: the webhook's
// dead_letters (GET /v1/admin/webhooks/{id}) shows the newest 100, and a
// replay since the first line's time resends them all.
type deadLetterLog struct {
	log   *slog.Logger
	every time.Duration

	mu     sync.Mutex
	hooks  map[string]*deadLetterSpan
	closed bool
}

// deadLetterSpan is one webhook's dead letters since its last line.
type deadLetterSpan struct {
	n           int
	since       time.Time
	first, last string // event ids
	status      int
	err         string
	timer       *time.Timer
}

func newDeadLetterLog(log *slog.Logger, every time.Duration) *deadLetterLog {
	return &deadLetterLog{log: log, every: every, hooks: map[string]*deadLetterSpan{}}
}

// add logs, or counts, a dead letter of webhook, event. msg and args are
// its whole line.
func (l *deadLetterLog) add(webhook, event string, status int, errText, msg string, args ...any) {
	l.mu.Lock()
	if s, ok := l.hooks[webhook]; ok && !l.closed {
		if s.n == 0 {
			s.first, s.since = event, time.Now()
		}
		s.n++
		s.last, s.status, s.err = event, status, errText
		l.mu.Unlock()
		return
	}
	if !l.closed {
		s := &deadLetterSpan{}
		l.hooks[webhook] = s
		s.timer = time.AfterFunc(l.every, func() { l.flush(webhook, s) })
	}
	l.mu.Unlock()
	l.log.Warn(msg, append([]any{"webhook", webhook, "event", event}, args...)...)
}

// flush ends an interval of webhook's: the count of the dead letters in
// it, if any, and a new interval; else the summary ends.
func (l *deadLetterLog) flush(webhook string, s *deadLetterSpan) {
	l.mu.Lock()
	if l.hooks[webhook] != s {
		l.mu.Unlock()
		return
	}
	n, first, last, status, errText, since := s.n, s.first, s.last, s.status, s.err, s.since
	if n == 0 || l.closed {
		delete(l.hooks, webhook)
	} else {
		s.n = 0
		s.timer = time.AfterFunc(l.every, func() { l.flush(webhook, s) })
	}
	l.mu.Unlock()
	if n > 0 {
		l.log.Warn("webhooks: more events dead-lettered", "webhook", webhook, "count", n,
			"since", since.UTC().Format(time.RFC3339), "first_event", first, "last_event", last,
			"status", status, "err", errText, "dead_letters", "GET /v1/admin/webhooks/"+webhook)
	}
}

// close says the counts not yet said, and logs every later dead letter
// whole.
func (l *deadLetterLog) close() {
	l.mu.Lock()
	l.closed = true
	spans := make(map[string]*deadLetterSpan, len(l.hooks))
	for id, s := range l.hooks {
		s.timer.Stop()
		spans[id] = s
	}
	l.mu.Unlock()
	for id, s := range spans {
		l.flush(id, s)
	}
}

// Outcomes are every Outcome, for metrics to start each at 0.
func Outcomes() []Outcome { return []Outcome{Delivered, Failed, DeadLettered} }
