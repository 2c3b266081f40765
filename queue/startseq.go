package queue

import (
	"context"
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
// stream, made and deleted, reading nothing.
func SeqAt(ctx context.Context, js jetstream.JetStream, t time.Time) (uint64, error) {
	start := t.UTC()
	// The server works the start out as it makes the consumer, and says it
	// in the answer (its delivered stream sequence is the one before):
	// nothing is fetched. A fetch that waits for nothing ends empty, with
	// no error, when the server takes over a second to answer, which read
	// as "nothing stored since" and started the reader at the stream's end;
	// and an ordered consumer makes itself again with no deadline.
	c, err := js.CreateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true,
		// Gone from the server soon after even if the delete below is lost.
		InactiveThreshold: time.Second,
	})
	if err != nil {
		return 0, err
	}
	info := c.CachedInfo()
	_ = js.DeleteConsumer(context.WithoutCancel(ctx), StreamName, info.Name)
	return info.Delivered.Stream + 1, nil
}
