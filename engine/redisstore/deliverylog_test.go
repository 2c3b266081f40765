package redisstore_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// TestDeliveryLogShowsSequenceAndMilliseconds: a delivery log entry
// carries its event's stream sequence (none on a test delivery), and its
// time to the millisecond, as every time the API gives: it showed
// nanoseconds and no sequence, so a receiver's log could not be matched
// with it. An entry logged before keeps its place and loses its extra
// digits on the way out.
func TestDeliveryLogShowsSequenceAndMilliseconds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s, w := newWebhookStore(t, f.rdb)
		at := time.Date(2026, 11, 24, 10, 0, 52, 263_456_789, time.UTC)
		old := `{"at":"2026-11-24T10:00:51.123456789Z","event_id":"ev-old","kind":"delivery","status":204,"latency_ms":3}`
		if err := f.rdb.LPush(ctx(t), "fd:wh:{"+w.ID+"}:log", old).Err(); err != nil {
			t.Fatal(err)
		}
		for _, d := range []engine.Delivery{
			{EventID: "ev-1", At: at, Status: 500, Err: "HTTP 500", Sequence: 41, Type: engine.EventWon},
			{EventID: "ev-2", At: at.Add(time.Millisecond), Status: 204, Sequence: 42, Kind: engine.DeliveryKindReplay},
			{EventID: "test-1", At: at.Add(2 * time.Millisecond), Status: 204, Kind: engine.DeliveryKindTest},
		} {
			if _, err := s.RecordDelivery(ctx(t), w.ID, d, engine.DisableRule{}); err != nil {
				t.Fatal(err)
			}
		}
		log, err := s.DeliveryLog(ctx(t), w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(log)
		want := strings.Join([]string{
			`{"at":"2026-11-24T10:00:52.265Z","event_id":"test-1","kind":"test","status":204,"latency_ms":0}`,
			`{"at":"2026-11-24T10:00:52.264Z","event_id":"ev-2","sequence":42,"kind":"replay","status":204,"latency_ms":0}`,
			`{"at":"2026-11-24T10:00:52.263Z","event_id":"ev-1","sequence":41,"kind":"delivery","status":500,"latency_ms":0,"error":"HTTP 500"}`,
			`{"at":"2026-11-24T10:00:51.123Z","event_id":"ev-old","kind":"delivery","status":204,"latency_ms":3}`,
		}, ",")
		if string(got) != "["+want+"]" {
			t.Fatalf("delivery log:\n%s\nwant\n[%s]", got, want)
		}
	})
}
