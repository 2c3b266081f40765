package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/run"
)

// RelayOptions configure a Relay. Zero values mean the defaults.
type RelayOptions struct {
	// Consumer names this node in the outbox consumer groups. Give it a
	// name that survives a restart (serve's --node-id): a node restarted
	// under its name takes back at once what it had read and not
	// published. Default: host name, pid and a random suffix, which a
	// restart does not keep (its entries then wait for ClaimAfter).
	Consumer string
	// Batch is the most entries read and published at once (default 256).
	Batch int
	// ClaimAfter is how long an entry another node took may stay
	// unacknowledged before this node takes it over (default
	// DefaultClaimAfter): the longest a dead node that never comes back
	// delays its events. It must stay well below the stream's duplicate
	// window, so that an entry a slow node publishes late as well is
	// dropped as a duplicate.
	ClaimAfter time.Duration
	// Block is how long a read waits for new entries (default 1s).
	Block time.Duration
	// Refresh is how often the list of drops is re-read (default 2s).
	Refresh time.Duration
	// SettledPoll is how often the outbox of a settled drop
	// (engine.Drop.Settled) is read while it is empty (default 30s).
	// Only an admin's act adds to such an outbox; a worker reading every
	// Block for each of the drops of past weeks was two round trips a
	// second per drop, for nothing.
	SettledPoll time.Duration
	// Clock is the clock the drops' times are read by (whether a drop is
	// settled): the engine's. Default: the system clock.
	Clock engine.Clock
	// PublishTimeout bounds the wait for JetStream's acks (default 5s).
	PublishTimeout time.Duration
	// PublicURL makes share URLs in won events absolute.
	PublicURL string
	Logger    *slog.Logger
}

// claimChecks is how many times per claim timeout a worker looks for
// entries to claim. One look per read was a round trip per read (about 140
// a second in the bench's all-wins run, each an XAUTOCLAIM that found
// nothing), where a dead node's entries only need finding within a tenth
// of the timeout of becoming due.
const claimChecks = 10

// lagEvery bounds how often a worker reads its outbox's length for the lag
// gauge while it is busy: once per read was another round trip per read.
// An idle worker's read returns within Block and reads it then.
const lagEvery = 250 * time.Millisecond

// DefaultClaimAfter is RelayOptions.ClaimAfter's default: a tenth of the
// stream's 2-minute duplicate window.
const DefaultClaimAfter = 10 * time.Second

// Relay publishes every drop's outbox to JetStream and acknowledges an
// entry only after JetStream acknowledged it. A crash anywhere in between
// makes some node publish the entry again, with the same Nats-Msg-Id, which
// JetStream drops as a duplicate: every event is published effectively once
// (I4). While NATS is down, entries wait in Redis; reservations go on.
type Relay struct {
	store  Drops
	outbox engine.Outbox
	js     jetstream.JetStream
	o      RelayOptions

	run     run.Lifecycle
	mu      sync.Mutex
	workers map[string]relayWorker
	gen     uint64
	lag     map[string]int64
	// lagLost is when each drop's outbox was first found unreadable since
	// its length was last read: while a drop is in it, its lag is a look
	// from before, which may read 0 with events waiting (LagUnknownFor).
	lagLost map[string]time.Time
}

// relayWorker is the worker of one drop: the drop it started with (its
// configuration, driftKey) and how to stop it.
type relayWorker struct {
	drop string
	stop context.CancelFunc
	gen  uint64 // which worker of the drop, so one ending takes out only itself
}

// driftKey is d's configuration as the relay uses it: everything but the
// pause, which a worker does not read (and a list of drops rereads).
func driftKey(d engine.Drop) string {
	d.Paused = false
	b, _ := json.Marshal(d)
	return string(b)
}

// Drops is what the relay needs of the store besides the outbox: which
// drops exist (each gets a worker), and what their won events derive from.
// A node passes its shared engine.DropList.
type Drops = engine.DropLister

// NewRelay returns a stopped Relay.
func NewRelay(store Drops, outbox engine.Outbox, js jetstream.JetStream, o RelayOptions) *Relay {
	if o.Consumer == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.ClaimAfter <= 0 {
		o.ClaimAfter = DefaultClaimAfter
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 5 * time.Second
	}
	if o.SettledPoll <= 0 {
		o.SettledPoll = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = engine.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Relay{store: store, outbox: outbox, js: js, o: o, workers: map[string]relayWorker{}, lag: map[string]int64{}, lagLost: map[string]time.Time{}}
}

// Start runs the relay in the background: one worker per drop, started as
// drops appear. Starting twice does nothing.
func (r *Relay) Start(ctx context.Context) {
	r.run.Start(ctx, func(ctx context.Context) { run.Every(ctx, r.o.Refresh, r.startWorkers) })
}

// Close stops every worker and waits for them. Entries read but not yet
// acknowledged stay pending and are claimed by another node (or this one
// after a restart). Safe to call twice.
func (r *Relay) Close() error {
	r.run.Stop()
	return nil
}

// Working reports whether a worker relays drop's outbox on this node.
func (r *Relay) Working(drop string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.workers[drop]
	return ok
}

// Lag is the number of outbox entries not yet published (an entry holds
// the events of one store call), summed over drops, as of each worker's
// last look.
func (r *Relay) Lag() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, l := range r.lag {
		n += l
	}
	return n
}

// LagUnknownFor is how long the oldest of this node's unread outboxes has
// been unreadable: 0 while every worker's last read of its outbox worked.
// Past 0, Lag holds a look from before Redis went away, which can be 0
// with events waiting: ops must read "unknown", not "all published".
func (r *Relay) LagUnknownFor(now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d time.Duration
	for _, since := range r.lagLost {
		d = max(d, now.Sub(since))
	}
	return d
}

// lostLag marks drop's lag unknown from now, unless it already is.
func (r *Relay) lostLag(drop string) {
	r.mu.Lock()
	if _, ok := r.lagLost[drop]; !ok {
		r.lagLost[drop] = time.Now()
	}
	r.mu.Unlock()
}

// startWorkers starts a worker for every drop that has none yet, and
// stops the worker of a drop that is gone (deleted, engine.DeleteDrop) or
// was made again under its id with another configuration: a worker keeps
// the drop it started with,
// whose product, times and rehearsal flag go into every event it
// publishes. The new drop's worker takes back what the old one read and
// did not acknowledge (its own pending entries, under the same consumer
// name); JetStream drops a repeat of an event by its id.
func (r *Relay) startWorkers(ctx context.Context) {
	drops, err := r.store.Drops(ctx)
	if err != nil && ctx.Err() == nil {
		r.o.Logger.Warn("relay: listing drops failed", "err", err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	listed := make(map[string]bool, len(drops))
	for _, d := range drops {
		listed[d.ID] = true
		key := driftKey(d)
		w, ok := r.workers[d.ID]
		if ok && w.drop == key {
			continue
		}
		if ok {
			w.stop()
		}
		wctx, stop := context.WithCancel(ctx)
		r.gen++
		gen := r.gen
		r.workers[d.ID] = relayWorker{drop: key, stop: stop, gen: gen}
		r.run.Spawn(func() {
			defer stop()
			r.work(wctx, d)
			// A worker that ended by itself (its drop was deleted) is
			// started again if the drop comes back.
			r.mu.Lock()
			if w, ok := r.workers[d.ID]; ok && w.gen == gen {
				delete(r.workers, d.ID)
				delete(r.lagLost, d.ID)
			}
			r.mu.Unlock()
		})
	}
	if err != nil {
		return // a failed listing says nothing of which drops are gone
	}
	for id, w := range r.workers {
		if !listed[id] {
			w.stop()
			delete(r.workers, id)
			delete(r.lag, id)
			delete(r.lagLost, id)
		}
	}
}

// work relays one drop's outbox until ctx ends.
func (r *Relay) work(ctx context.Context, d engine.Drop) {
	backoff := run.NewBackoff(50*time.Millisecond, 2*time.Second)
	var pending []engine.OutboxEntry // read, not yet acknowledged
	// First what this node (under this name) read before a restart and
	// never acknowledged: it is taken back at once, in order.
	own := true
	// No entries of other nodes are claimed while this worker fails to
	// reach Redis, nor for a claim timeout after it reaches it again
	// (noClaimUntil). An outage ages every entry read before it: without
	// the pause, the first read after it would claim what another node
	// published just before and is about to acknowledge (its retry waits
	// at most the backoff's 2 s), and publish it again.
	var outboxDown bool
	var noClaimUntil time.Time
	// nextClaim is when the next read looks for entries to claim; lagAt
	// when the lag was last read.
	var nextClaim, lagAt time.Time
	// empty says the outbox held no entry at the last lag read and no
	// read has returned one since: an acknowledged entry is deleted, so
	// no node holds one to claim. An idle worker then makes two round
	// trips per Block (its read and the lag) instead of three. An entry
	// another node reads after that lag read shows in the next one, at
	// most Block later, long before it can be claimed (ClaimAfter).
	var empty bool
	outboxBack := func() {
		if outboxDown {
			outboxDown = false
			noClaimUntil = time.Now().Add(r.o.ClaimAfter)
		}
	}
	for ctx.Err() == nil {
		if len(pending) == 0 && empty && d.Settled(r.o.Clock.Now()) {
			if run.Sleep(ctx, r.o.SettledPoll); ctx.Err() != nil {
				return
			}
		}
		if len(pending) == 0 {
			var entries []engine.OutboxEntry
			var err error
			if own {
				entries, err = r.outbox.ReadOwnPending(ctx, d.ID, r.o.Consumer, r.o.Batch)
				if err == nil && len(entries) < r.o.Batch {
					own = false
				}
			} else {
				var minIdle time.Duration // claims nothing
				if now := time.Now(); !empty && !outboxDown && !now.Before(noClaimUntil) && !now.Before(nextClaim) {
					minIdle = r.o.ClaimAfter
					nextClaim = now.Add(r.o.ClaimAfter / claimChecks)
				}
				entries, err = r.outbox.ReadOutbox(ctx, d.ID, r.o.Consumer, r.o.Batch, minIdle, r.o.Block)
				if err == nil && minIdle > 0 && len(entries) == r.o.Batch {
					// A full batch may have left more to claim (a dead
					// node's backlog): the next read looks again.
					nextClaim = time.Time{}
				}
			}
			if err != nil {
				if ctx.Err() == nil {
					outboxDown = true
					if errors.Is(err, engine.ErrNotFound) {
						// Deleted (engine.DeleteDrop, which waits for an
						// empty outbox): nothing is left to publish, and a
						// drop made again under its id gets a worker of its
						// own, with its own configuration.
						r.o.Logger.Info("relay: the drop is gone; its worker stops", "drop", d.ID)
						return
					}
					r.lostLag(d.ID)
					r.o.Logger.Warn("relay: reading the outbox failed", "drop", d.ID, "err", err.Error())
					backoff.Wait(ctx)
				}
				continue
			}
			outboxBack()
			pending = entries
			empty = empty && len(pending) == 0
			if now := time.Now(); len(pending) == 0 || now.Sub(lagAt) >= lagEvery {
				lagAt = now
				n, ok := r.updateLag(ctx, d.ID)
				empty = ok && n == 0
			}
			if len(pending) == 0 {
				continue
			}
		}
		done, err := r.publish(ctx, d, pending)
		if len(done) > 0 {
			// Published: only the acknowledgement is retried, however long
			// Redis takes to come back, so this relay does not publish
			// these events again (JetStream drops a repeat only within its
			// duplicate window). Another node may claim them once they sat
			// unacknowledged past the claim timeout; if this relay stops
			// first, they stay in the outbox and are published again (own
			// or claimed). Nothing is lost.
			for {
				aerr := r.outbox.AckOutbox(ctx, d.ID, done...)
				if aerr == nil {
					outboxBack()
					break
				}
				if ctx.Err() != nil {
					return
				}
				outboxDown = true
				r.lostLag(d.ID)
				r.o.Logger.Warn("relay: acknowledging the outbox failed; retrying", "drop", d.ID, "err", aerr.Error())
				backoff.Wait(ctx)
			}
			pending = pending[len(done):]
		}
		if err != nil {
			if ctx.Err() == nil {
				r.o.Logger.Warn("relay: publishing to JetStream failed; retrying", "drop", d.ID,
					"waiting", len(pending), "err", err.Error())
				// The outbox grows while JetStream is away: the lag
				// shows it, rather than the look from before the outage.
				if now := time.Now(); now.Sub(lagAt) >= lagEvery {
					lagAt = now
					r.updateLag(ctx, d.ID)
				}
				backoff.Wait(ctx)
			}
			continue
		}
		backoff.Reset()
	}
}

// cloudEventsContentType is every published event's Content-Type header
// value, shared: nats.go only reads a message's headers.
var cloudEventsContentType = []string{"application/cloudevents+json"}

// RehearsalHeader is set ("true") on every event of a rehearsal drop, so
// a consumer can pass over one without decoding its body: the webhook
// deliverer does, for webhooks that did not ask for rehearsals.
const RehearsalHeader = "Flashdrop-Rehearsal"

var rehearsalValue = []string{"true"}

// IsRehearsal reports whether a message with headers h is a rehearsal
// drop's event.
func IsRehearsal(h nats.Header) bool {
	v := h[RehearsalHeader]
	return len(v) > 0 && v[0] == "true"
}

// EventMsg is a message of event id on subject, with the headers every
// event on the stream has (asyncapi's NatsHeaders), for a publisher
// beside the relay (the webhook deliverer's webhook_disabled).
func EventMsg(subject, id string, data []byte) *nats.Msg {
	msg := &nats.Msg{Subject: subject, Data: data}
	setHeaders(msg, id, false)
	return msg
}

// setHeaders sets a message's headers for event id: set here rather than
// through Header.Set and jetstream.WithMsgID, which allocate an options
// struct, a slice per header and a map grown twice for every event. A
// recycled message keeps its header map and id slice, and loses the
// rehearsal mark of the drop it carried before.
func setHeaders(msg *nats.Msg, id string, rehearsal bool) {
	if msg.Header == nil {
		msg.Header = nats.Header{"Content-Type": cloudEventsContentType, jetstream.MsgIDHeader: {id}}
	} else {
		msg.Header[jetstream.MsgIDHeader][0] = id
	}
	if rehearsal {
		msg.Header[RehearsalHeader] = rehearsalValue
	} else {
		delete(msg.Header, RehearsalHeader)
	}
}

// pubScratch is one publish call's messages and their CloudEvent bodies,
// kept for a later call only once JetStream acknowledged every message of
// this one: until then nats.go may send a message again (a retry after "no
// responders") and must find it as it was. A message, its header map and
// its body were about 800 bytes of garbage per event (the all-wins run's
// allocation profile).
type pubScratch struct {
	body []byte // the bodies, back to back
	msgs []nats.Msg
	// names caches, per drop and event type, the subject, source and
	// CloudEvent type, built once per call instead of once per event.
	names []pubNames
}

type pubNames struct {
	drop                    string
	t                       engine.EventType
	subject, source, ceType string
}

// pubScratchMax and pubScratchMsgs bound a kept scratch's body and
// messages, so that one huge backlog does not pin its memory for good.
const (
	pubScratchMax  = 4 << 20
	pubScratchMsgs = 1 << 14
)

var pubScratches = sync.Pool{New: func() any { return new(pubScratch) }}

// putScratch hands a scratch back for reuse. A variable so that a test can
// see every scratch go back and check that none of its messages still
// waits for JetStream's answer.
var putScratch = func(s *pubScratch) { pubScratches.Put(s) }

// namesOf returns the names of an event of type t in drop, as Envelope
// and Subject build them.
func (s *pubScratch) namesOf(drop string, t engine.EventType) pubNames {
	for _, n := range s.names {
		if n.t == t && n.drop == drop {
			return n
		}
	}
	n := pubNames{drop: drop, t: t, subject: Subject(drop, t),
		source: sourceOf(drop), ceType: CEType(t)}
	s.names = append(s.names, n)
	return n
}

// publish sends the events of entries in order, one message per event
// (an entry holds one store call's events), and returns the refs of the
// leading run of entries every event of which JetStream acknowledged.
// Entries after a failure are retried whole, so a drop's events stay in
// order on the stream; the events of a partly published entry that are
// sent again carry the same Nats-Msg-Id and JetStream drops them as
// duplicates.
func (r *Relay) publish(ctx context.Context, d engine.Drop, entries []engine.OutboxEntry) ([]string, error) {
	pctx, cancel := context.WithTimeout(ctx, r.o.PublishTimeout)
	defer cancel()
	type sent struct {
		f     jetstream.PubAckFuture
		entry int
	}
	total := 0
	for _, e := range entries {
		total += len(e.Events)
	}
	s := pubScratches.Get().(*pubScratch)
	s.body, s.names = s.body[:0], s.names[:0]
	if cap(s.msgs) < total {
		s.msgs = make([]nats.Msg, total)
	}
	s.msgs = s.msgs[:total]
	futures := make([]sent, 0, total)
	// complete is how many leading entries had every event sent.
	complete := 0
	var err error
	m := 0
send:
	for i, e := range entries {
		for _, ev := range e.Events {
			ev.Enrich(d)
			names := s.namesOf(ev.Drop, ev.Type)
			ce := envelope(ev, r.o.PublicURL, names.source, names.ceType)
			start := len(s.body)
			b, merr := appendJSON(s.body, &ce)
			if merr != nil {
				err = merr
				break send
			}
			// Capped at its end: nothing appends into the next body.
			s.body = b
			body := b[start:len(b):len(b)]
			msg := &s.msgs[m]
			m++
			setHeaders(msg, ev.ID, d.Rehearsal)
			msg.Subject, msg.Data = names.subject, body
			f, perr := r.js.PublishMsgAsync(msg)
			if perr != nil {
				err = perr
				break send
			}
			futures = append(futures, sent{f, i})
		}
		complete = i + 1
	}
	// failed is the first entry with an event JetStream did not ack.
	failed := complete
	for _, f := range futures {
		select {
		case <-f.f.Ok():
		case ferr := <-f.f.Err():
			if err == nil {
				err = ferr
			}
			failed = min(failed, f.entry)
		case <-pctx.Done():
			if err == nil {
				err = fmt.Errorf("waiting for JetStream acks: %w", pctx.Err())
			}
			failed = min(failed, f.entry)
		}
	}
	// err is nil only when every message was sent and acknowledged: a
	// failed send, a failed ack and the deadline each set it.
	if err == nil && cap(s.body) <= pubScratchMax && cap(s.msgs) <= pubScratchMsgs {
		// A kept message keeps its header map, not its body: the buffer
		// a body was cut from may be an older, smaller one (it grew).
		for i := range s.msgs {
			s.msgs[i].Data = nil
		}
		putScratch(s)
	}
	done := make([]string, 0, failed)
	for _, e := range entries[:failed] {
		done = append(done, e.Ref)
	}
	return done, err
}

// updateLag reads drop's outbox length into the lag gauge and returns it;
// ok is false when it could not be read.
func (r *Relay) updateLag(ctx context.Context, drop string) (n int64, ok bool) {
	n, err := r.outbox.OutboxLen(ctx, drop)
	if err != nil {
		if ctx.Err() == nil {
			r.lostLag(drop)
		}
		return 0, false
	}
	r.mu.Lock()
	r.lag[drop] = n
	delete(r.lagLost, drop)
	r.mu.Unlock()
	return n, true
}
