package queue

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
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

	// flags is read on every reserve request after a sell-out, by every
	// core at once, so reads take no lock: a new drop's flag replaces the
	// map with a copy (under mu), and a flag's answer is one atomic word.
	mu    sync.Mutex
	flags atomic.Pointer[map[string]*soldOutFlag]
	// base is the origin of soldOutFlag.fresh: times are kept as
	// f.o.Now().Sub(base), monotonic like the time.Time they replace.
	base time.Time

	run run.Lifecycle
}

type soldOutFlag struct {
	mu sync.Mutex // writers, and one refresh at a time
	// version is of the news the flag holds (0: unversioned). Written
	// under mu; read without it by LearnSoldOut, called after every
	// reserve call that found the drop without stock, which returns
	// without the lock when it has nothing newer.
	version atomic.Int64
	// fresh is the whole answer: 0 while the drop is not sold out, else
	// when the flag was last set or checked (nanoseconds since base, at
	// least 1).
	fresh atomic.Int64
	// doubt is set when the sale may be halted (paused, or over): the
	// store said so (the drop has no stock but its sale is halted), or
	// this node paused or resumed it (RecheckSoldOut). While it is set,
	// sold-out news (a reserve call that was in flight at the pause, an
	// event delivered again after a reconnect, or the first call of a
	// resumed sale) flags the drop only to be checked against the store
	// at the next press, never trusted as it stands; a refresh that finds
	// the sale running clears it. Written under mu.
	doubt atomic.Bool
}

// since is now as a fresh value.
func (f *SoldOutFlags) since() int64 { return max(int64(f.o.Now().Sub(f.base)), 1) }

// state reads fl: whether the drop is sold out, and if so whether that
// news is within TTL.
func (f *SoldOutFlags) state(fl *soldOutFlag) (soldOut, trusted bool) {
	c := fl.fresh.Load()
	return c != 0, c != 0 && f.since()-c < int64(f.o.TTL)
}

// record sets the flag's state; fl.mu is held.
func (f *SoldOutFlags) record(fl *soldOutFlag, soldOut bool, version int64) {
	fl.doubt.Store(false)
	fl.version.Store(version)
	if soldOut {
		fl.fresh.Store(f.since())
	} else {
		fl.fresh.Store(0)
	}
}

// RefreshSoldOut reads from the store whether drop's presses are answered
// sold_out and the version of that news (engine.Engine.SoldOutNow: no
// stock and the sale running). A drop without stock whose sale is paused
// or over is halted: not sold out in this sense, with the version the
// store holds.
type RefreshSoldOut func(ctx context.Context, drop string) (soldOut, halted bool, version int64, err error)

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
	// base lies 2×TTL back, so that fresh 1 is always older than TTL:
	// RecheckSoldOut's mark of a flag to check at the next press.
	f := &SoldOutFlags{js: js, refresh: refresh, o: o, base: o.Now().Add(-2 * o.TTL)}
	f.flags.Store(&map[string]*soldOutFlag{})
	return f
}

// SoldOut reports whether drop is known to be sold out. Only a true
// answer lets a caller skip the store.
func (f *SoldOutFlags) SoldOut(drop string) bool {
	fl := (*f.flags.Load())[drop]
	if fl == nil {
		return false
	}
	if soldOut, trusted := f.state(fl); !soldOut || trusted {
		return soldOut
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if soldOut, trusted := f.state(fl); !soldOut || trusted {
		return soldOut // news or a refresh came while this request waited
	}
	// The flag is old: ask the store once, on behalf of everyone waiting.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sold, halted, version, err := f.refresh(ctx, drop)
	if err != nil {
		return false // unsure: let the store decide the request
	}
	if halted {
		// Every press goes to the store, which answers sale_paused or
		// sale_closed; news up to the store's version is from before
		// (the store had it), and news of any version is checked first.
		f.doubtful(fl, version)
		return false
	}
	// The store is the truth at this moment, whatever the version.
	f.record(fl, sold, version)
	return sold
}

// LearnSoldOut flags drop sold out with the news of version, which this
// node's own reserve call saw (engine.SoldOutLearner): the crowd is then
// answered from memory without waiting for the sold_out event, which
// carries the same version and changes nothing when it comes. A restocked
// event, newer, clears the flag as usual; news older than the flag's is
// ignored.
//
// It never waits: it is called on a reserve lane, before the batch's
// shoppers get their answers. When the flag is busy (a refresh asking the
// store, which knows the drop is sold out, or an event being applied), the
// news is left to them and to the next call.
func (f *SoldOutFlags) LearnSoldOut(drop string, version int64) {
	if version <= 0 {
		return
	}
	fl := f.flag(drop)
	if held := fl.version.Load(); held > version || held == version && !fl.doubt.Load() || !fl.mu.TryLock() {
		return // the flag has this news or newer, or is busy
	}
	defer fl.mu.Unlock()
	f.apply(fl, true, version)
}

// RecheckSoldOut makes a sold-out flag of drop be checked against the
// store at the next press, as if its TTL had passed, and any sold-out news
// until then too (engine.SoldOutRechecker): this node paused or resumed
// the drop, and a paused sale's presses are answered sale_paused by the
// store, not sold_out from memory, even when a reserve call in flight at
// the pause reports the last unit taken. Other nodes see the pause at
// their flag's next check, within TTL.
func (f *SoldOutFlags) RecheckSoldOut(drop string) {
	fl := f.flag(drop)
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.doubt.Store(true)
	if fl.fresh.Load() != 0 {
		fl.fresh.Store(1)
	}
}

// doubtful records that the store found the sale halted, holding news of
// version; fl.mu is held.
func (f *SoldOutFlags) doubtful(fl *soldOutFlag, version int64) {
	fl.doubt.Store(true)
	fl.version.Store(max(fl.version.Load(), version))
	fl.fresh.Store(0)
}

// set applies one event's news about drop, unless the flag already holds
// newer news.
func (f *SoldOutFlags) set(drop string, soldOut bool, version int64) {
	fl := f.flag(drop)
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f.apply(fl, soldOut, version)
}

// apply records news in fl unless it holds newer news; fl.mu is held.
// Unversioned news (0, from before versions existed) applies only to a
// flag that has no version either. While the flag is in doubt, sold-out
// news of its version or newer marks the drop for a check at the next
// press (fresh 1, older than TTL), which finds the sale still halted or,
// resumed, flags it.
func (f *SoldOutFlags) apply(fl *soldOutFlag, soldOut bool, version int64) {
	held := fl.version.Load()
	if soldOut && version >= held && fl.doubt.Load() {
		fl.version.Store(version)
		fl.fresh.Store(1)
		return
	}
	if version < held || version == held && version != 0 {
		return // older news, or the same news again
	}
	f.record(fl, soldOut, version)
}

// flag is drop's flag, made (not sold out) if it has none.
func (f *SoldOutFlags) flag(drop string) *soldOutFlag {
	fl := (*f.flags.Load())[drop]
	if fl == nil {
		f.mu.Lock()
		old := *f.flags.Load()
		if fl = old[drop]; fl == nil {
			m := make(map[string]*soldOutFlag, len(old)+1)
			maps.Copy(m, old)
			fl = &soldOutFlag{}
			m[drop] = fl
			f.flags.Store(&m)
		}
		f.mu.Unlock()
	}
	return fl
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
