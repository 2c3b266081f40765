package engine

import (
	"context"
	"time"
)

// OutboxEntry is one entry waiting in a drop's outbox: the events one
// store call emitted, in order (one event per entry in older outboxes and
// for calls that emit one at a time). An entry is acknowledged only once
// every one of its events was published.
type OutboxEntry struct {
	// Ref is the store's handle for acknowledging the entry.
	Ref    string
	Events []Event
}

// Outbox is what the relay needs of the store: every drop's outbox, read
// through a consumer group so that many nodes share the work and an entry
// a dead node took is taken over by another.
type Outbox interface {
	// ReadOutbox returns up to n entries of drop's outbox for consumer:
	// first entries that were handed out but not acknowledged for longer
	// than minIdle (their consumer died or failed; 0: claims none), then
	// new ones, waiting up to block for new ones when there are none (0:
	// do not wait).
	ReadOutbox(ctx context.Context, drop, consumer string, n int, minIdle, block time.Duration) ([]OutboxEntry, error)
	// ReadOwnPending returns up to n entries handed out to consumer
	// earlier and not acknowledged: what a node that restarted under the
	// same name had read before it died, taken back at once instead of
	// after the claim timeout.
	ReadOwnPending(ctx context.Context, drop, consumer string, n int) ([]OutboxEntry, error)
	// AckOutbox removes entries that were published.
	AckOutbox(ctx context.Context, drop string, refs ...string) error
	// OutboxLen is how many entries are not yet acknowledged: the lag,
	// in entries (an entry may hold many events).
	OutboxLen(ctx context.Context, drop string) (int64, error)
}
