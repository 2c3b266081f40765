package engine

import (
	"context"
	"time"
)

// EventFilter selects events of an event log: of Types (none: all) and
// Drop (empty: all), from where it starts: after the log position
// AfterSeq when Resume (0: from the first event the log still holds, and
// a non-zero AfterSeq resumes without Resume too); else from the first
// event the log stored at or after Since when that is set; else only
// new ones.
type EventFilter struct {
	Types    []EventType
	Drop     string
	AfterSeq uint64
	Resume   bool
	Since    time.Time
	// Rehearsals keeps rehearsal drops' events (Drop.Rehearsal), which a
	// follower does not get otherwise, as a webhook does not.
	Rehearsals bool
}

// StoredEvent is one event as its log holds it: the position (which a
// follower resumes after), type, drop, and the CloudEvent JSON as
// published.
//
// One with no Data is a position only: the follower has read the stream
// up to Seq (where it opened, or past events the filter passed over), so
// a reconnect can resume after it without reading them again.
type StoredEvent struct {
	Seq  uint64
	Type EventType
	Drop string
	Data []byte
}

// EventLog is the durable log of published events (the JetStream stream),
// for the admin event stream.
type EventLog interface {
	// Follow sends the matching events, in order, on the channel until
	// stop is called (which the caller must do) or ctx ends. The channel
	// is never closed: the caller stops reading when it stops.
	Follow(ctx context.Context, f EventFilter) (events <-chan StoredEvent, stop func(), err error)
}
