package queue

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/flashdrop/flashdrop/internal/run"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect dials NATS without ever failing for a server that is down: the
// connection keeps retrying in the background, so a node serves
// reservations (and events wait in the outbox) until NATS is back.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected; events wait in the outbox", "err", err.Error())
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("NATS reconnected") }),
	)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// StreamKeeper creates the stream as soon as NATS answers, retrying in the
// background, so start-up never waits for NATS.
type StreamKeeper struct {
	js  jetstream.JetStream
	o   StreamOptions
	log *slog.Logger

	run     run.Lifecycle
	mu      sync.Mutex
	ready   bool
	lastErr error         // the last creation's failure, until one succeeds
	readyCh chan struct{} // closed once the stream exists
}

// NewStreamKeeper returns a stopped keeper.
func NewStreamKeeper(js jetstream.JetStream, o StreamOptions, log *slog.Logger) *StreamKeeper {
	return &StreamKeeper{js: js, o: o, log: log, readyCh: make(chan struct{})}
}

// WaitReady waits up to d for the stream to exist and reports whether it
// does; start-up uses it to avoid racing consumers against the creation.
func (k *StreamKeeper) WaitReady(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-k.readyCh:
		return true
	case <-t.C:
		return false
	}
}

// Start tries EnsureStream until it succeeds. Starting twice does nothing.
func (k *StreamKeeper) Start(ctx context.Context) { k.run.Start(ctx, k.keep) }

func (k *StreamKeeper) keep(ctx context.Context) {
	b := run.NewBackoff(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := EnsureStream(cctx, k.js, k.o)
		cancel()
		if err == nil {
			k.mu.Lock()
			k.ready = true
			k.mu.Unlock()
			close(k.readyCh)
			return
		}
		if ctx.Err() == nil {
			k.mu.Lock()
			k.lastErr = err
			k.mu.Unlock()
			if refused, ok := StreamRefused(err); ok {
				// NATS answers, and says no: a setting, not an outage.
				k.log.Error("NATS refuses the JetStream stream as configured; retrying, but this needs a change: " + refused +
					" (is --stream-replicas more than the NATS cluster's servers, or is JetStream off?)")
			} else {
				k.log.Warn("creating the JetStream stream failed; retrying", "err", err.Error())
			}
			b.Wait(ctx)
		}
	}
}

// Err is why the stream does not exist yet: the last creation's error,
// nil once it exists (or before the first try).
func (k *StreamKeeper) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ready {
		return nil
	}
	return k.lastErr
}

// StreamRefused tells a refusal by a NATS server that answered (a
// JetStream API error: replicas it cannot place, JetStream disabled, a
// stream of that name configured otherwise) from an outage, and words it.
func StreamRefused(err error) (string, bool) {
	var api *jetstream.APIError
	if errors.As(err, &api) && api.Code != 503 {
		// 503 is JetStream's "temporarily unavailable" (a cluster
		// electing its leader): an outage, not a setting.
		return api.Description, true
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return err.Error(), true
	}
	return "", false
}

// Ready reports whether the stream exists.
func (k *StreamKeeper) Ready() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ready
}

// Close stops retrying. Safe to call twice.
func (k *StreamKeeper) Close() error {
	k.run.Stop()
	return nil
}
