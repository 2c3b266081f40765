package queue_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/queue"
)

// TestEnvelopeWeekEvents: the week's events carry what an integration
// needs, and decode back into the same engine.Event: the drop's page and start for drop_created, invited, reminder and
// sale_opened; the seed, the digest and the counts on drawn; the series
// and the draw's commitment on every event of such a drop.
func TestEnvelopeWeekEvents(t *testing.T) {
	start := time.Date(2027, 3, 23, 19, 0, 0, 0, time.UTC)
	d := engine.Drop{ID: "weekly-2027-03-23", Name: "Sneaker", Product: "Sneaker", Series: "weekly",
		SeedHash: "ab12", SaleStartsAt: start, Mode: engine.ModeDraw}
	data := func(ev engine.Event) map[string]any {
		t.Helper()
		ev.ID, ev.Drop, ev.Time = "e-1", d.ID, start
		ev.Enrich(d)
		body, err := queue.Envelope(ev, "https://shop.example/").Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var ce struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &ce); err != nil {
			t.Fatal(err)
		}
		if ce.Type != "flashdrop."+string(ev.Type) {
			t.Fatalf("type %s", ce.Type)
		}
		return ce.Data
	}
	for _, typ := range []engine.EventType{engine.EventInvited, engine.EventReminder, engine.EventDropCreated, engine.EventSaleOpened} {
		got := data(engine.Event{Type: typ, User: "alice"})
		if got["url"] != "https://shop.example/d/weekly-2027-03-23" || got["series"] != "weekly" ||
			got["sale_starts_at"] != "2027-03-23T19:00:00Z" || got["seed_hash"] != "ab12" {
			t.Errorf("%s data: %v", typ, got)
		}
	}
	n := func(v int64) *int64 { return &v }
	drawn := data(engine.Event{Type: engine.EventDrawn, Seed: "cafe", FrozenDigest: "f00d", Registrants: n(300),
		Winners: n(30), Waitlisted: n(270), Quantity: 1})
	if drawn["seed"] != "cafe" || drawn["frozen_digest"] != "f00d" || drawn["registrants"] != float64(300) ||
		drawn["winners"] != float64(30) || drawn["waitlisted"] != float64(270) || drawn["url"] != nil {
		t.Errorf("drawn data: %v", drawn)
	}
	none := data(engine.Event{Type: engine.EventDrawn, Registrants: n(0), Winners: n(0), Waitlisted: n(0)})
	if none["winners"] != float64(0) || none["registrants"] != float64(0) {
		t.Errorf("a draw with nobody still says so: %v", none)
	}
	// One shape from the outbox to the wire and back.
	ev := engine.Event{ID: "e-9", Type: engine.EventDrawn, Drop: d.ID, Time: start, Seed: "cafe", Winners: n(0)}
	body, _ := queue.Envelope(ev, "").Marshal()
	var ce queue.CloudEvent
	if err := json.Unmarshal(body, &ce); err != nil || ce.Event().Seed != "cafe" || ce.Event().Winners == nil ||
		*ce.Event().Winners != 0 || ce.Event().ID != "e-9" {
		t.Errorf("round trip: %+v %v", ce.Event(), err)
	}
	won := data(engine.Event{Type: engine.EventWon, Reservation: "r.1", User: "alice", Quantity: 1, ShareCode: "c"})
	if won["seed_hash"] != "ab12" || won["series"] != "weekly" || won["sale_starts_at"] != nil || won["url"] != nil {
		t.Errorf("won data of a draw drop: %v", won)
	}
	for _, typ := range []engine.EventType{engine.EventInvited, engine.EventReminder, engine.EventDropCreated,
		engine.EventSaleOpened, engine.EventSaleClosed, engine.EventDrawn} {
		if err := engine.ValidateWebhook(engine.Webhook{ID: "w", URL: "https://x.example", Types: []engine.EventType{typ}}); err != nil {
			t.Errorf("a webhook cannot filter on %s: %v", typ, err)
		}
	}
}
