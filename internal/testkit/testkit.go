// Package testkit is what every package's tests share: waiting for a
// condition instead of sleeping, a log buffer safe for concurrent writers,
// and the one way tests start their real Redis and NATS servers.
//
// It is for tests only; nothing outside _test.go files imports it.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

// DefaultWait is how long Eventually waits unless told otherwise: long
// enough for a loaded 2-core CI machine, short enough to fail a hung test.
const DefaultWait = 20 * time.Second

// Eventually polls cond until it holds, failing the test with what after
// timeout (DefaultWait if 0). It is how tests wait for something to
// happen elsewhere (a relay, a consumer, a server); never a fixed sleep.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	if timeout <= 0 {
		timeout = DefaultWait
	}
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(wait) // polling interval, not a wait for the condition
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
}

// LockedBuffer collects output (logs) written from many goroutines.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Redis returns the test binary's shared redis-server (started on first
// use, closed by redistest.Main in TestMain). Tests sharing it use their
// own drop ids. Under CI=true a missing redis-server fails the test.
func Redis(tb testing.TB) *redistest.Server { return redistest.Shared(tb) }

// OwnRedis starts a redis-server for this test alone (for tests whose
// background workers scan every drop of a server), closed at the end.
func OwnRedis(tb testing.TB) *redistest.Server {
	tb.Helper()
	redistest.Require(tb)
	s, err := redistest.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// NATS starts an in-process NATS server with JetStream for this test,
// which can be stopped and restarted on the same port and store.
func NATS(tb testing.TB) *natstest.Server { return natstest.Start(tb) }
