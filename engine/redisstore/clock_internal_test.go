package redisstore

import (
	"testing"
	"time"
)

// TestClockSettle: a measurement that agrees with the one in force
// (Redis's time it predicts, within their round trips) and is no more
// precise leaves the clock alone; a more precise one, a drift or a step
// past the uncertainties moves it.
func TestClockSettle(t *testing.T) {
	ms := time.Millisecond
	base := time.Now()
	redis0 := base.Add(100 * ms).Round(0) // Redis 100 ms ahead; a wall time, as TIME's
	// at is a measurement taken later on the monotonic clock, Redis then
	// off by drift from what the first one predicts.
	at := func(later, drift, rtt time.Duration) *ClockOffset {
		return &ClockOffset{RoundTrip: rtt, At: base.Add(later), RedisAt: redis0.Add(later + drift)}
	}
	cur := at(0, 0, 2*ms)
	for _, c := range []struct {
		name string
		next *ClockOffset
		keep bool
	}{
		{"the same, 30 s on", at(30*time.Second, 0, 2*ms), true},
		{"jitter within the round trips", at(30*time.Second, ms, 2*ms), true},
		{"jitter the other way", at(30*time.Second, -1500*time.Microsecond, 3*ms), true},
		{"a drift past them", at(30*time.Second, 3*ms, 2*ms), false},
		{"a step of Redis's clock", at(time.Second, -3*time.Second, 2*ms), false},
		{"a more precise one", at(time.Second, 500*time.Microsecond, ms/2), false},
	} {
		if got := settle(cur, c.next); (got == cur) != c.keep {
			t.Errorf("%s: kept %v, want %v", c.name, got == cur, c.keep)
		}
	}
	// A rough first measurement (taken during a rush) gives way to the
	// first precise one after it, however well they agree.
	rough := at(0, 0, 80*ms)
	if settle(rough, at(time.Second, 35*ms, ms/10)) == rough {
		t.Error("a rough measurement kept over a precise one")
	}
	if first := at(0, 0, ms); settle(nil, first) != first {
		t.Error("the first measurement is not taken")
	}
}
