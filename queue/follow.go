package queue

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
)

var _ engine.EventLog = (*EventLog)(nil)

// EventLog follows the FLASHDROP stream for the admin event stream: an
// ordered (ephemeral, flow-controlled) consumer per follower, so the
// followers need no NATS access of their own and leave nothing behind.
type EventLog struct {
	js jetstream.JetStream
}

// NewEventLog returns the event log of the stream js holds.
func NewEventLog(js jetstream.JetStream) *EventLog { return &EventLog{js: js} }

// followBuffer is how many events wait for a slow follower before the
// consumer stops fetching (JetStream's flow control takes over).
const followBuffer = 256

// Follow implements engine.EventLog.
func (l *EventLog) Follow(ctx context.Context, f engine.EventFilter) (<-chan engine.StoredEvent, func(), error) {
	dropTok := "*"
	if f.Drop != "" {
		dropTok = f.Drop
	}
	var subjects []string
	for _, t := range f.Types {
		subjects = append(subjects, "flashdrop."+dropTok+"."+string(t))
	}
	if len(subjects) == 0 {
		subjects = []string{"flashdrop." + dropTok + ".*"}
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverNewPolicy}
	// start is where a follower of new events opened: the stream's last
	// sequence, sent first as a position, so that its reconnect resumes
	// exactly there even when no event came meanwhile (it had no event
	// id to resume after, and asked for new events again, losing the gap).
	var start *uint64
	switch {
	case f.Resume && f.AfterSeq == 0:
		// After position 0: the first event the stream still holds.
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case f.Resume || f.AfterSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.AfterSeq+1
	case !f.Since.IsZero():
		// By the time the stream stored each event (its "time" or just
		// after, as the outbox relay publishes it), as a sequence: by time
		// with several types, the server skipped events (SeqAt).
		seq, err := SeqAt(ctx, l.js, f.Since)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	default:
		st, err := l.js.Stream(ctx, StreamName)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
		}
		last := st.CachedInfo().State.LastSeq
		start = &last
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last+1
	}
	cons, err := l.js.OrderedConsumer(ctx, StreamName, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	out := make(chan engine.StoredEvent, followBuffer)
	if start != nil {
		out <- engine.StoredEvent{Seq: *start}
	}
	done := make(chan struct{})
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		md, err := msg.Metadata()
		if err != nil {
			return
		}
		if !f.Rehearsals && IsRehearsal(msg.Headers()) {
			// Told apart by its header, without decoding it; its position
			// goes on if there is room (a reconnect then need not read
			// the rehearsal's events again), never waiting for the reader.
			select {
			case out <- engine.StoredEvent{Seq: md.Sequence.Stream}:
			default:
			}
			return
		}
		ev := engine.StoredEvent{Seq: md.Sequence.Stream, Data: msg.Data()}
		// flashdrop.<drop>.<type>
		if parts := strings.Split(msg.Subject(), "."); len(parts) == 3 {
			ev.Drop, ev.Type = parts[1], engine.EventType(parts[2])
			if strings.HasPrefix(ev.Drop, "~") {
				ev.Drop = "" // a system event, of no drop
			}
		}
		select {
		case out <- ev:
		case <-done:
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			close(done)
			cc.Stop()
			// out stays open: a message callback may still be between
			// its select's cases, and done already releases it.
		})
	}
	context.AfterFunc(ctx, stop)
	return out, stop, nil
}
