package queue

import (
	"sync"

	"github.com/nats-io/nats.go"
)

// scratchWatchers are the tests watching publish scratches go back to the
// pool: each is told the messages of every scratch put back, by any relay
// of the test binary (the pool is the process's).
var scratchWatchers sync.Map // *func([]nats.Msg) -> struct{}

func init() {
	// Installed once, before any test runs, so that no test writes the
	// variable while another's relay reads it.
	put := putScratch
	putScratch = func(s *pubScratch) {
		scratchWatchers.Range(func(k, _ any) bool {
			(*k.(*func([]nats.Msg)))(s.msgs)
			return true
		})
		put(s)
	}
}

// WatchScratchPuts calls f with the messages of every publish scratch put
// back for reuse, until the returned function is called.
func WatchScratchPuts(f func(msgs []nats.Msg)) (stop func()) {
	k := &f
	scratchWatchers.Store(k, struct{}{})
	return func() { scratchWatchers.Delete(k) }
}
