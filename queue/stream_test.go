package queue_test

import (
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/natstest"

	"github.com/nats-io/nats.go/jetstream"
)

// TestStreamPersistence: a stream on serve's embedded server is flushed
// asynchronously (its directory dies with the process either way); a
// stream on an external server keeps JetStream's default, where a publish
// is acknowledged once written. Both keep 2 minutes of message ids. (JetStream refuses to change an
// existing stream's mode; the embedded server's stream is always new.)
func TestStreamPersistence(t *testing.T) {
	for _, c := range []struct {
		embedded bool
		want     jetstream.PersistModeType
		window   time.Duration
	}{{false, jetstream.DefaultPersistMode, 2 * time.Minute}, {true, jetstream.AsyncPersistMode, 2 * time.Minute}} {
		// A server per case: JetStream removes a deleted stream's store
		// in the background, and a stream of the same name created right
		// after can fail with "error creating store for stream".
		_, js := natstest.Start(t).Connect(t)
		s, err := queue.EnsureStream(ctx(t), js, queue.StreamOptions{Embedded: c.embedded})
		if err != nil {
			t.Fatalf("embedded=%v: %v", c.embedded, err)
		}
		info, err := s.Info(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.PersistMode != c.want || info.Config.Storage != jetstream.FileStorage || info.Config.Duplicates != c.window {
			t.Fatalf("embedded=%v: persist mode %v, storage %v, duplicate window %v; want %v on file storage, %v",
				c.embedded, info.Config.PersistMode, info.Config.Storage, info.Config.Duplicates, c.want, c.window)
		}
	}
}
