package queue

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/run"
)

// DefaultSoldOutTTL is how long a sold-out flag is trusted unless told
// otherwise.
const DefaultSoldOutTTL = 2 * time.Second

// SoldOutOptions configure SoldOutFlags. Zero values mean the defaults.
type SoldOutOptions struct {
	// TTL is how long a sold-out flag is trusted before it is checked
	// against the store again (default 2s). It bounds how long a node
	// that missed a restocked event keeps answering sold_out.
	TTL    time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// SoldOutFlags is every node's memory of which drops are sold out, learned
// from sold_out and restocked events on the stream, so that after a
// sell-out the crowd's reserve requests are answered without Redis.
//
// The flag errs only on the safe side for long: a drop not flagged goes to
// Redis, which answers correctly; a flag that outlived a missed restocked
// event is re-checked against the store after TTL.
//
// Events can arrive out of order (two nodes' relays, a consumer that
// restarts from the last event per subject), so each flag keeps the
// version of the news it holds: sold_out and restocked events carry a
// version that grows with each (from Redis, beside the counters), and a
// flag applies only news newer than its own.
type SoldOutFlags struct {
	js      jetstream.JetStream
	refresh RefreshSoldOut
	o       SoldOutOptions

	mu    sync.Mutex
	flags map[string]*soldOutFlag

	run run.Lifecycle
}

type soldOutFlag struct {
	mu      sync.Mutex // one refresh at a time
	soldOut bool
	version int64 // of the news the flag holds; 0: unversioned
	checked time.Time
}

// RefreshSoldOut reads from the store whether drop is sold out and the
// version of that news (engine.Stats: Available == 0, SoldOutVersion).
type RefreshSoldOut func(ctx context.Context, drop string) (soldOut bool, version int64, err error)

// NewSoldOutFlags returns stopped flags. refresh reads whether a drop is
// sold out from the store.
func NewSoldOutFlags(js jetstream.JetStream, refresh RefreshSoldOut, o SoldOutOptions) *SoldOutFlags {
	if o.TTL <= 0 {
		o.TTL = DefaultSoldOutTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &SoldOutFlags{js: js, refresh: refresh, o: o, flags: map[string]*soldOutFlag{}}
}

// SoldOut reports whether drop is known to be sold out. Only a true
// answer lets a caller skip the store.
func (f *SoldOutFlags) SoldOut(drop string) bool {
	f.mu.Lock()
	fl, ok := f.flags[drop]
	f.mu.Unlock()
	if !ok {
		return false
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if !fl.soldOut {
		return false
	}
	if f.o.Now().Sub(fl.checked) < f.o.TTL {
		return true
	}
	// The flag is old: ask the store once, on behalf of everyone waiting.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sold, version, err := f.refresh(ctx, drop)
	if err != nil {
		return false // unsure: let the store decide the request
	}
	// The store is the truth at this moment, whatever the version.
	fl.soldOut, fl.version, fl.checked = sold, version, f.o.Now()
	return sold
}

// set applies one event's news about drop, unless the flag already holds
// newer news. Unversioned news (0, from before versions existed) applies
// only to a flag that has no version either.
func (f *SoldOutFlags) set(drop string, soldOut bool, version int64) {
	f.mu.Lock()
	fl, ok := f.flags[drop]
	if !ok {
		fl = &soldOutFlag{}
		f.flags[drop] = fl
	}
	f.mu.Unlock()
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if version < fl.version || version == fl.version && version != 0 {
		return // older news, or the same news again
	}
	fl.soldOut, fl.version, fl.checked = soldOut, version, f.o.Now()
}

// Start follows the stream in the background: first the last sold_out and
// restocked event of every drop (the current state), then each new one. An
// ordered consumer resumes where it was after a reconnect, so a node that
// was cut off catches up. Starting twice does nothing.
func (f *SoldOutFlags) Start(ctx context.Context) { f.run.Start(ctx, f.follow) }

func (f *SoldOutFlags) follow(ctx context.Context) {
	retry := run.NewBackoff(100*time.Millisecond, 5*time.Second)
	for ctx.Err() == nil {
		if err := f.consume(ctx); err != nil && ctx.Err() == nil {
			f.o.Logger.Warn("sold-out flags: following the stream failed; retrying", "err", err.Error())
			retry.Wait(ctx)
			continue
		}
		retry.Reset()
	}
}

func (f *SoldOutFlags) consume(ctx context.Context) error {
	c, err := f.js.OrderedConsumer(ctx, StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"flashdrop.*." + string(engine.EventSoldOut), "flashdrop.*." + string(engine.EventRestocked)},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return err
	}
	it, err := c.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// flashdrop.<drop>.<type>
		parts := strings.Split(msg.Subject(), ".")
		if len(parts) != 3 {
			continue
		}
		var ce struct {
			Data struct {
				Version int64 `json:"version"`
			} `json:"data"`
		}
		_ = json.Unmarshal(msg.Data(), &ce) // unreadable: version 0, applied only to unversioned flags
		f.set(parts[1], parts[2] == string(engine.EventSoldOut), ce.Data.Version)
	}
}

// Close stops following the stream. Safe to call twice.
func (f *SoldOutFlags) Close() error {
	f.run.Stop()
	return nil
}
