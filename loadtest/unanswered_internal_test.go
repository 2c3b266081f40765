package loadtest

import (
	"errors"
	"testing"
	"time"
)

// TestKeyedPressIsUnansweredOnlyWhileTheKeyWasNotConsulted: a keyed press
// one of whose attempts got no answer is recorded as unanswered only if
// its last answer was given without consulting the key (none, a 5xx, a
// 429, a 408). Any other answer to the key says no win was stored under
// it: a stored win would have been replayed, so a press last answered
// sale_paused or sale_closed did not win (it was recorded as one that
// might have). Without a key each lost attempt may have won whatever the
// last answer. A press that asked for the waitlist is recorded as such,
// with when its last attempt ended, and its shopper is watched for a
// promotion.
func TestKeyedPressIsUnansweredOnlyWhileTheKeyWasNotConsulted(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	lostErr := errors.New("timeout")
	for _, c := range []struct {
		key    string
		status int
		code   string
		want   int // requests recorded, 0 for none
	}{
		{"k", 409, "sale_paused", 0},
		{"k", 409, "sale_closed", 0},
		{"k", 409, "sale_not_open", 0},
		{"k", 403, "not_registered", 0},
		{"k", 201, OutcomeWon, 0},
		{"k", 409, "sold_out", 0},
		{"k", 409, "limit_reached", 0},
		{"k", 0, OutcomeTimeout, 1},
		{"k", 0, OutcomeTransport, 1},
		{"k", 503, "unavailable", 1},
		{"k", 502, "http_502", 1},
		{"k", 429, "rate_limited", 1},
		{"k", 408, "invalid", 1},
		{"", 409, "sale_paused", 2},
		{"", 409, "limit_reached", 2},
	} {
		r := &runner{waitlisters: map[string]*shopper{}, offset: time.Second}
		s := &shopper{user: "u1"}
		last := answer{status: c.status, code: c.code, sent: t0.Add(3 * time.Second), done: t0.Add(4 * time.Second)}
		if c.status == 0 {
			last.err = lostErr
		}
		r.noteUnanswered(s, 0, c.key, []byte(`{"quantity":1}`), last, 2, t0)
		switch u := r.rec.Unanswered; {
		case c.want == 0 && len(u) != 0:
			t.Errorf("key %q, last answer %d %s: recorded as unanswered %+v", c.key, c.status, c.code, u)
		case c.want == 0:
		case len(u) != 1 || u[0].Requests != c.want || u[0].Last != c.code || u[0].Waitlist:
			t.Errorf("key %q, last answer %d %s: unanswered %+v, want %d requests", c.key, c.status, c.code, u, c.want)
		}
	}

	r := &runner{waitlisters: map[string]*shopper{}, offset: time.Second}
	s := &shopper{user: "u1", waitlist: true}
	last := answer{err: lostErr, code: OutcomeTimeout, sent: t0.Add(3 * time.Second), done: t0.Add(4 * time.Second)}
	r.noteUnanswered(s, 1, "k", []byte(`{"quantity":1,"waitlist":true}`), last, 3, t0)
	want := Unanswered{User: "u1", Press: 1, Key: "k", Quantity: 1, Waitlist: true, Requests: 1,
		Sent: t0.Add(time.Second), Done: t0.Add(5 * time.Second), Last: OutcomeTimeout}
	if u := r.rec.Unanswered; len(u) != 1 || u[0] != want {
		t.Errorf("a waitlist press: unanswered %+v, want %+v", u, want)
	}
	if r.waitlisters["u1"] != s || !s.unsure {
		t.Errorf("a shopper whose waitlist press got no answer is not watched for a promotion")
	}
}
