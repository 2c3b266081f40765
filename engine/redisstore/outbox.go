package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

// OutboxEvents returns up to count events of drop's outbox from the oldest
// on (count <= 0: all). The relay that publishes the outbox reads it with
// a consumer group instead; this is for audits and tests.
func (s *Store) OutboxEvents(ctx context.Context, drop string, count int64) ([]engine.Event, error) {
	var msgs []redis.XMessage
	var err error
	if count > 0 {
		msgs, err = s.rdb.XRangeN(ctx, keysFor(drop).outbox, "-", "+", count).Result()
	} else {
		msgs, err = s.rdb.XRange(ctx, keysFor(drop).outbox, "-", "+").Result()
	}
	if err != nil {
		return nil, err
	}
	out := make([]engine.Event, 0, len(msgs))
	for _, m := range msgs {
		evs, err := DecodeEntry(m.Values)
		if err != nil {
			return nil, fmt.Errorf("outbox entry %s: %w", m.ID, err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// Separators of a packed entry's events and of an event's strings
// (lib.lua's RS and US); no value can hold them.
const (
	packRS = "\x1e"
	packUS = "\x1f"
)

// DecodeEntry turns an outbox stream entry into its events. Two formats:
// a packed entry (field v = "2", written by lib.lua's flush in BATCH mode)
// holds every event of one script call, sharing id nonce, time and drop:
//
//	v 2  id <nonce>  first <k>  time <ms>  drop <drop>
//	ev <type US name US value ...> RS <type ...> RS ...
//
// where the i-th event (from 0) has id <nonce>-<k+i>; any other entry is
// one event in DecodeEvent's form, as emit writes it outside BATCH mode
// and as every older version wrote every event.
func DecodeEntry(v map[string]any) ([]engine.Event, error) {
	if s, _ := v["v"].(string); s != "2" {
		if s != "" {
			return nil, fmt.Errorf("redisstore: outbox entry of unknown format %q", s)
		}
		ev, err := DecodeEvent(v)
		if err != nil {
			return nil, err
		}
		return []engine.Event{ev}, nil
	}
	str := func(f string) string { s, _ := v[f].(string); return s }
	nonce, packed := str("id"), str("ev")
	first, err := strconv.ParseInt(str("first"), 10, 64)
	if err != nil || first < 1 || nonce == "" || packed == "" {
		return nil, fmt.Errorf("redisstore: packed outbox entry without id, first or events")
	}
	parts := strings.Split(packed, packRS)
	out := make([]engine.Event, 0, len(parts))
	for i, p := range parts {
		f := strings.Split(p, packUS)
		if len(f)%2 != 1 {
			return nil, fmt.Errorf("redisstore: packed outbox event %d has an odd field list", i)
		}
		m := make(map[string]any, 4+len(f)/2)
		for j := 1; j < len(f); j += 2 {
			m[f[j]] = f[j+1]
		}
		// The entry's own fields win over anything an event carried.
		m["id"] = nonce + "-" + strconv.FormatInt(first+int64(i), 10)
		m["type"], m["time"], m["drop"] = f[0], str("time"), str("drop")
		ev, err := DecodeEvent(m)
		if err != nil {
			return nil, fmt.Errorf("packed outbox event %d: %w", i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// DecodeEvent turns an outbox stream entry's fields (written by lib.lua's
// emit) into an engine.Event.
func DecodeEvent(v map[string]any) (engine.Event, error) {
	str := func(f string) string { s, _ := v[f].(string); return s }
	var bad error
	num := func(f string) int64 {
		s := str(f)
		if s == "" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("field %s: %w", f, err)
		}
		return n
	}
	ev := engine.Event{
		ID: str("id"), Type: engine.EventType(str("type")), Drop: str("drop"),
		Time: fromMS(num("time")), Reservation: str("reservation"), User: str("user"),
		Quantity: num("quantity"), ExpiresAt: fromMS(num("expires_at")), ShareCode: str("share_code"),
		Product: str("product"), WaitlistPosition: num("waitlist_position"), Ref: str("ref"),
		FromWaitlist: str("from_waitlist") == "1", Version: num("version"),
		Seed: str("seed"), FrozenDigest: str("frozen_digest"),
	}
	if str("available") != "" {
		n := num("available")
		ev.Available = &n
	}
	// The drawn event's counts, present there, zero included.
	for f, p := range map[string]**int64{"registrants": &ev.Registrants, "winners": &ev.Winners, "waitlisted": &ev.Waitlisted} {
		if str(f) != "" {
			n := num(f)
			*p = &n
		}
	}
	if s := str("seconds_after_start"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("field seconds_after_start: %w", err)
		}
		ev.SecondsAfterStart = &f
	}
	if ev.ID == "" || ev.Type == "" || ev.Drop == "" {
		return engine.Event{}, fmt.Errorf("redisstore: outbox entry without id, type or drop")
	}
	return ev, bad
}

var _ engine.Outbox = (*Store)(nil)

// relayGroup is the consumer group every relay reads the outboxes with.
const relayGroup = "relay"

// ensureGroup creates the relay group on drop's outbox once per process;
// the group starts at the stream's beginning, so no entry is skipped.
func (s *Store) ensureGroup(ctx context.Context, key string) error {
	if _, ok := s.groups.Load(key); ok {
		return nil
	}
	err := s.rdb.XGroupCreateMkStream(ctx, key, relayGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	s.groups.Store(key, true)
	return nil
}

// ReadOutbox implements engine.Outbox.
func (s *Store) ReadOutbox(ctx context.Context, drop, consumer string, n int, minIdle, block time.Duration) ([]engine.OutboxEntry, error) {
	key := keysFor(drop).outbox
	if err := s.ensureGroup(ctx, key); err != nil {
		return nil, err
	}
	var msgs []redis.XMessage
	claimed, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream: key, Group: relayGroup, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: int64(n),
	}).Result()
	if err != nil {
		if isNoGroup(err) { // the stream was deleted under us: recreate next time
			s.groups.Delete(key)
		}
		return nil, err
	}
	msgs = append(msgs, claimed...)
	if len(msgs) < n {
		wait := time.Duration(-1) // go-redis: a negative Block sends no BLOCK
		if len(msgs) == 0 && block > 0 {
			wait = block
		}
		streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: relayGroup, Consumer: consumer, Streams: []string{key, ">"}, Count: int64(n - len(msgs)), Block: wait,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if isNoGroup(err) {
				s.groups.Delete(key)
			}
			return nil, err
		}
		for _, st := range streams {
			msgs = append(msgs, st.Messages...)
		}
	}
	return s.decodeEntries(ctx, drop, msgs)
}

// ReadOwnPending implements engine.Outbox: XREADGROUP from id 0 returns
// the consumer's own pending entries.
func (s *Store) ReadOwnPending(ctx context.Context, drop, consumer string, n int) ([]engine.OutboxEntry, error) {
	key := keysFor(drop).outbox
	if err := s.ensureGroup(ctx, key); err != nil {
		return nil, err
	}
	streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: relayGroup, Consumer: consumer, Streams: []string{key, "0"}, Count: int64(n), Block: -1,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		if isNoGroup(err) {
			s.groups.Delete(key)
		}
		return nil, err
	}
	var msgs []redis.XMessage
	for _, st := range streams {
		msgs = append(msgs, st.Messages...)
	}
	return s.decodeEntries(ctx, drop, msgs)
}

// decodeEntries turns stream entries into outbox entries, dropping (and
// acknowledging) any that no relay could publish.
func (s *Store) decodeEntries(ctx context.Context, drop string, msgs []redis.XMessage) ([]engine.OutboxEntry, error) {
	out := make([]engine.OutboxEntry, 0, len(msgs))
	var junk []string
	for _, m := range msgs {
		evs, err := DecodeEntry(m.Values)
		if err != nil {
			// An entry no relay can publish would block the drop's events
			// forever; it cannot come from our scripts, so drop it loudly.
			junk = append(junk, m.ID)
			continue
		}
		out = append(out, engine.OutboxEntry{Ref: m.ID, Events: evs})
	}
	if len(junk) > 0 {
		if err := s.AckOutbox(ctx, drop, junk...); err != nil {
			return nil, err
		}
		return out, fmt.Errorf("redisstore: dropped %d undecodable outbox entries of %s", len(junk), drop)
	}
	return out, nil
}

func isNoGroup(err error) bool { return strings.Contains(err.Error(), "NOGROUP") }

// AckOutbox implements engine.Outbox: acknowledge and delete, atomically,
// so the outbox holds exactly the events not yet published.
func (s *Store) AckOutbox(ctx context.Context, drop string, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	key := keysFor(drop).outbox
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, key, relayGroup, refs...)
		p.XDel(ctx, key, refs...)
		return nil
	})
	return err
}

// OutboxLen implements engine.Outbox.
func (s *Store) OutboxLen(ctx context.Context, drop string) (int64, error) {
	return s.rdb.XLen(ctx, keysFor(drop).outbox).Result()
}
