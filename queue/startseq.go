package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// SeqAt returns the stream sequence of the first event the stream stored
// at or after t, or one past the stream's last sequence when it stored
// none since: where a reader that starts at a time starts. Every reader
// of the stream by time (a replay since an outage, `listen --since`, the
// admin event stream's since, a webhook's consumer made from its
// creation) starts by this sequence, never by time.
//
// A consumer started by time with more than one subject filter loses
// events: nats-server (2.15 and before; consumer.go's
// selectStartingSeqNo) moves its start ahead to the first filter whose
// first-ever message comes after that time, past the other filters'
// events in between. A replay of won and drawn since an outage sent the
// draw's drawn alone, and the wins before it never. With one filter, or
// none, there is no gap to close: this probe is a consumer of the whole
// stream, reading one message.
func SeqAt(ctx context.Context, js jetstream.JetStream, t time.Time) (uint64, error) {
	st, err := js.Stream(ctx, StreamName)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	// Read before the probe: an event stored after this read is at or
	// after t, so one past this last is right when the probe finds none.
	last := info.State.LastSeq
	start := t.UTC()
	cons, err := js.OrderedConsumer(ctx, StreamName, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		// Headers only: the probe wants a sequence, not the event.
		HeadersOnly: true,
		// Gone from the server soon after, not the ordered consumer's
		// default 5 minutes.
		InactiveThreshold: time.Second,
	})
	if err != nil {
		return 0, err
	}
	batch, err := cons.FetchNoWait(1)
	if err != nil {
		return 0, err
	}
	for msg := range batch.Messages() {
		md, err := msg.Metadata()
		if err != nil {
			return 0, fmt.Errorf("the stream's message at %s: %w", start.Format(time.RFC3339Nano), err)
		}
		return md.Sequence.Stream, nil
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
		return 0, err
	}
	return last + 1, nil
}
