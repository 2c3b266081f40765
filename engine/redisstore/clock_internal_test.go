package redisstore

import (
	"testing"
	"time"
)

// TestClockSettle: a measurement that agrees with the one in force (within
// their round trips) leaves the clock alone; one that does not moves it.
func TestClockSettle(t *testing.T) {
	ms := time.Millisecond
	cur := &ClockOffset{Offset: 100 * ms, RoundTrip: 2 * ms}
	for _, c := range []struct {
		name string
		next ClockOffset
		keep bool
	}{
		{"the same", ClockOffset{Offset: 100 * ms, RoundTrip: 2 * ms}, true},
		{"jitter within the round trips", ClockOffset{Offset: 101 * ms, RoundTrip: ms}, true},
		{"jitter the other way", ClockOffset{Offset: 99*ms - 500*time.Microsecond, RoundTrip: ms}, true},
		{"a drift past them", ClockOffset{Offset: 102 * ms, RoundTrip: ms}, false},
		{"a step back", ClockOffset{Offset: -3 * time.Second, RoundTrip: ms}, false},
	} {
		next := c.next
		got := settle(cur, &next)
		if (got == cur) != c.keep {
			t.Errorf("%s: kept %v, want %v", c.name, got == cur, c.keep)
		}
	}
	first := &ClockOffset{Offset: 7 * ms}
	if settle(nil, first) != first {
		t.Error("the first measurement is not taken")
	}
}
