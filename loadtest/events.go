package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamName is the stream serve publishes every event to; subjects are
// flashdrop.<drop>.<type>.
const streamName = "FLASHDROP"

// cloudEvent is the envelope, decoded leniently: new fields and new event
// types are ignored rather than refused.
type cloudEvent struct {
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	Data struct {
		Reservation  string `json:"reservation"`
		User         string `json:"user"`
		Quantity     int64  `json:"quantity"`
		FromWaitlist bool   `json:"from_waitlist"`
	} `json:"data"`
}

// auditedTypes are the event types the audit reads; others are skipped.
var auditedTypes = map[string]bool{"won": true, "confirmed": true, "cancelled": true, "expired": true}

// checkStream fails fast, before any load, when the event audit could not
// run: NATS unreachable or no FLASHDROP stream there.
func checkStream(ctx context.Context, natsURL string) error {
	nc, err := nats.Connect(natsURL, nats.Name("flashdrop-load"), nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("--nats-url %s unreachable: %w", RedactNATS(natsURL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.Stream(cctx, streamName); err != nil {
		return fmt.Errorf("--nats-url %s: stream %s: %w", RedactNATS(natsURL), streamName, err)
	}
	return nil
}

// readEvents reads the drop's reservation events from the start of the
// stream until it has caught up and every id in want has its won event,
// or until wait passes (the relay may lag behind the answers).
func readEvents(ctx context.Context, natsURL, drop string, want map[string]bool, wait time.Duration, clock Clock) ([]EventRecord, error) {
	nc, err := nats.Connect(natsURL, nats.Name("flashdrop-load"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("--nats-url: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, wait+5*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(cctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"flashdrop." + drop + ".>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", streamName, err)
	}
	missing := map[string]bool{}
	for id := range want {
		missing[id] = true
	}
	var out []EventRecord
	seen := map[string]bool{}
	deadline := time.Now().Add(wait)
	caughtUp := false
	for {
		if caughtUp && len(missing) == 0 {
			return out, nil
		}
		if time.Now().After(deadline) {
			return out, nil
		}
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(250*time.Millisecond))
		if err != nil {
			if cctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, _ := msg.Metadata()
			if meta != nil && meta.NumPending == 0 {
				caughtUp = true
			}
			var ce cloudEvent
			if json.Unmarshal(msg.Data(), &ce) != nil {
				continue
			}
			typ := strings.TrimPrefix(ce.Type, "flashdrop.")
			if !auditedTypes[typ] || seen[ce.ID] {
				continue
			}
			seen[ce.ID] = true
			out = append(out, EventRecord{ID: ce.ID, Type: typ, Reservation: ce.Data.Reservation, User: ce.Data.User,
				Quantity: ce.Data.Quantity, FromWaitlist: ce.Data.FromWaitlist, Time: ce.Time})
			if meta != nil {
				out[len(out)-1].Stored = meta.Timestamp
			}
			if typ == "won" {
				delete(missing, ce.Data.Reservation)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return out, err
		}
		if n == 0 {
			caughtUp = true // nothing pending now
		}
	}
}
