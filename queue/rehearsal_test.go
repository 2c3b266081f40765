package queue_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/queue"
)

// TestRelayMarksRehearsals: every event of a rehearsal drop goes out with
// rehearsal: true in its data and the Flashdrop-Rehearsal header; an
// ordinary drop's events, published by the same relay (whose messages and
// headers are recycled from one publish to the next), carry neither.
func TestRelayMarksRehearsals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.clock.Set(t0.Add(-time.Hour))
	drops := map[string]bool{}
	for _, reh := range []bool{true, false, true} {
		id := fmt.Sprintf("reh-%v-%d", reh, len(drops))
		if _, err := w.eng.CreateDrop(ctx(t), engine.Drop{ID: id, Name: "Sneaker", Stock: 2, Rehearsal: reh,
			RegistrationOpensAt: t0.Add(-2 * time.Hour), RegistrationClosesAt: t0.Add(-time.Minute), SaleStartsAt: t0}); err != nil {
			t.Fatal(err)
		}
		drops[id] = reh
		for i := range 3 {
			if _, _, err := w.eng.Register(ctx(t), id, fmt.Sprint("u", i), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.clock.Set(t0.Add(time.Second))
	counts := map[string]int{}
	for id := range drops {
		w.buy(id, 0, 3) // two wins, a waitlisted shopper, sold out
		counts[id] = len(w.outboxEvents(id))
	}
	w.relay("node-a", nil)
	checker, err := contract.Events()
	if err != nil {
		t.Fatal(err)
	}
	for id, reh := range drops {
		w.waitPublished(id, counts[id])
		c := ctx(t)
		cons, err := w.js.CreateConsumer(c, queue.StreamName, jetstream.ConsumerConfig{
			FilterSubject: "flashdrop." + id + ".>", DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckNonePolicy,
		})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.Fetch(counts[id], jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n, types := 0, map[string]bool{}
		for m := range batch.Messages() {
			n++
			var ce queue.CloudEvent
			if err := json.Unmarshal(m.Data(), &ce); err != nil {
				t.Fatal(err)
			}
			types[ce.Type] = true
			// Every header as asyncapi.json documents it (NatsHeaders).
			if err := checker.CheckNATSHeaders(m.Headers()); err != nil {
				t.Error(err)
			}
			if ce.Data.Rehearsal != reh || queue.IsRehearsal(m.Headers()) != reh {
				t.Errorf("drop %s (rehearsal %v): %s has rehearsal %v in its data, header %v", id, reh, ce.Type, ce.Data.Rehearsal, m.Headers())
			}
			if ce.Type == "flashdrop.won" && ce.Data.ShareURL == "" {
				t.Errorf("a won event without share_url (SPEC §5 requires it): %s", m.Data())
			}
		}
		if n != counts[id] || !types["flashdrop.won"] || !types["flashdrop.registered"] || !types["flashdrop.sold_out"] {
			t.Errorf("drop %s: read %d of %d events, types %v", id, n, counts[id], types)
		}
	}
}
