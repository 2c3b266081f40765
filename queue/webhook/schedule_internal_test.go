package webhook

import (
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestDefaultScheduleOutlastsTheDisabling: with the defaults an event's
// last attempt comes after the span over which failures disable a
// webhook, so a receiver that stays down while events flow is disabled
// (its events then wait for Enable) before they are dead-lettered, and one
// down for a deploy loses nothing. With 8 attempts the last came 127 s
// after the first, and an integration review lost every win of a
// 3-minute outage to dead letters.
func TestDefaultScheduleOutlastsTheDisabling(t *testing.T) {
	d := NewDeliverer(nil, nil, Options{})
	var span time.Duration
	for n := 1; n < d.o.MaxAttempts; n++ {
		span += d.retryDelay(n)
	}
	if span <= engine.DefaultDisableSpan || span < 18*time.Minute || span > 19*time.Minute {
		t.Fatalf("the last of %d attempts comes %v after the first; the docs say about 18.5 minutes, past the %v disabling span",
			d.o.MaxAttempts, span, engine.DefaultDisableSpan)
	}
}
