package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamName and the subjects it holds (SPEC §5).
const (
	StreamName     = "FLASHDROP"
	StreamSubjects = "flashdrop.>"
)

// StreamOptions configure the stream. Zero values mean the defaults.
type StreamOptions struct {
	// Replicas of the stream: 1 for a single server (default), 3 in a
	// production cluster.
	Replicas int
	// Duplicates is JetStream's deduplication window (default 2 minutes):
	// a publish repeated within it, with the same Nats-Msg-Id, is dropped.
	// It must exceed the longest time an outbox entry can wait between its
	// first publish and its acknowledgement (the relay's claim timeout).
	Duplicates time.Duration
	// MaxAge bounds how long events are kept (default 7 days).
	MaxAge time.Duration
	// Embedded says the stream lives on serve's embedded NATS server, in
	// a directory made at start and deleted at exit that no later process
	// reads: its messages last exactly as long as the process, whether
	// each is written to the file at once or a moment later. Such a
	// stream is flushed asynchronously (JetStream's async persist mode),
	// which saves a write per event on the node's own CPU. An external
	// server's stream keeps the default: acknowledged means written.
	// (The duplicate window stays 2 minutes: a relay whose publishes keep
	// failing sends an entry again for as long as they do, so a shorter
	// window would turn a shorter stall into duplicates. Its message ids,
	// about 120 bytes each in the node's heap, are the price.)
	Embedded bool
}

// EnsureStream creates the FLASHDROP stream, or updates it to these
// options, with file storage.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Duplicates <= 0 {
		o.Duplicates = 2 * time.Minute
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	cfg := jetstream.StreamConfig{
		Name:        StreamName,
		Description: "flashdrop events (CloudEvents 1.0 JSON)",
		Subjects:    []string{StreamSubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  o.Duplicates,
		MaxAge:      o.MaxAge,
		Retention:   jetstream.LimitsPolicy,
	}
	if o.Embedded {
		cfg.PersistMode = jetstream.AsyncPersistMode
	}
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamName, err)
	}
	return s, nil
}
