package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// a packed entry (field v = "2" or "3", written by lib.lua's flush in
// BATCH mode) holds every event of one script call, sharing id nonce,
// time and drop:
//
//	v 2  id <nonce>  first <k>  time <ms>  drop <drop>
//	ev <type US name US value ...> RS <type ...> RS ...
//
// where the i-th event (from 0) has id <nonce>-<k+i>. Format 3 (drops
// with 'ce') may also hold compact wins, "W US <own id> US user US qty US
// expires_at US <own share code>", the won event whose reservation id and
// share code are "<drop>.<own ...>". Any other entry is one event in
// DecodeEvent's form, as emit writes it outside BATCH mode and as every
// older version wrote every event.
func DecodeEntry(v map[string]any) ([]engine.Event, error) {
	format, _ := v["v"].(string)
	if format != "2" && format != "3" {
		if format != "" {
			return nil, fmt.Errorf("redisstore: outbox entry of unknown format %q", format)
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
	var head engine.Event
	if err := setEventField(&head, "time", str("time")); err != nil {
		return nil, fmt.Errorf("redisstore: packed outbox entry: %w", err)
	}
	when, drop := head.Time, str("drop")
	if drop == "" {
		return nil, fmt.Errorf("redisstore: packed outbox entry without drop")
	}
	// The relay decodes every event of a sale here, so the fields go
	// straight into the event: no map or split slice per event.
	n, entryEvents := strings.Count(packed, packRS)+1, packed
	out := make([]engine.Event, 0, n)
	// Compact wins' ids and share codes ("<drop>.<own>") are built in one
	// buffer and cut from one string at the end: one allocation per
	// entry, not two per win.
	var ids strings.Builder
	var idAt []int // per compact win: event index, then 3 offsets into ids
	for i, more := 0, true; more; i++ {
		var p string
		p, packed, more = strings.Cut(packed, packRS)
		typ, rest, more := strings.Cut(p, packUS)
		var ev engine.Event
		if typ == "W" && format == "3" {
			own, share, err := decodeCompactWin(&ev, rest)
			if err != nil {
				return nil, fmt.Errorf("packed outbox event %d: %w", i, err)
			}
			if idAt == nil {
				// Room for every event to be a compact win.
				ids.Grow(len(entryEvents) + n*(2*len(drop)+2))
				idAt = make([]int, 0, 4*n)
			}
			a := ids.Len()
			ids.WriteString(drop)
			ids.WriteByte('.')
			ids.WriteString(own)
			b := ids.Len()
			ids.WriteString(drop)
			ids.WriteByte('.')
			ids.WriteString(share)
			idAt = append(idAt, len(out), a, b, ids.Len())
			ev.ID = nonce + "-" + strconv.FormatInt(first+int64(i), 10)
			ev.Time, ev.Drop = when, drop
			out = append(out, ev)
			continue
		}
		// type US name US value ...: an even number of separators.
		if strings.Count(p, packUS)%2 != 0 {
			return nil, fmt.Errorf("redisstore: packed outbox event %d has an odd field list", i)
		}
		if more && repeatsAName(rest) {
			// Never written (emit names each field once), but a stream
			// entry can hold it: decoded as the map of its fields, a
			// name's last value winning, as an entry of its own is.
			m := map[string]any{}
			for more {
				var name, val string
				name, rest, _ = strings.Cut(rest, packUS)
				val, rest, more = strings.Cut(rest, packUS)
				m[name] = val
			}
			m["id"], m["type"], m["time"], m["drop"] = nonce+"-"+strconv.FormatInt(first+int64(i), 10), typ, str("time"), drop
			ev, err := DecodeEvent(m)
			if err != nil {
				return nil, fmt.Errorf("packed outbox event %d: %w", i, err)
			}
			out = append(out, ev)
			continue
		}
		for more {
			var name, val string
			name, rest, _ = strings.Cut(rest, packUS)
			val, rest, more = strings.Cut(rest, packUS)
			// The entry's own fields win over anything an event carried.
			switch name {
			case "id", "type", "time", "drop":
				continue
			}
			if err := setEventField(&ev, name, val); err != nil {
				return nil, fmt.Errorf("packed outbox event %d: %w", i, err)
			}
		}
		ev.ID = nonce + "-" + strconv.FormatInt(first+int64(i), 10)
		ev.Type, ev.Time, ev.Drop = engine.EventType(typ), when, drop
		if typ == "" {
			return nil, fmt.Errorf("packed outbox event %d: redisstore: outbox entry without id, type or drop", i)
		}
		out = append(out, ev)
	}
	if len(idAt) > 0 {
		s := ids.String()
		for j := 0; j < len(idAt); j += 4 {
			ev := &out[idAt[j]]
			ev.Reservation, ev.ShareCode = s[idAt[j+1]:idAt[j+2]], s[idAt[j+2]:idAt[j+3]]
		}
	}
	return out, nil
}

// repeatsAName reports whether a packed event's field list, "name US
// value US ...", names a field twice.
func repeatsAName(fields string) bool {
	names := make([]string, 0, 16)
	for more := true; more; {
		var name string
		name, fields, _ = strings.Cut(fields, packUS)
		_, fields, more = strings.Cut(fields, packUS)
		if slices.Contains(names, name) {
			return true
		}
		names = append(names, name)
	}
	return false
}

// decodeCompactWin fills ev from a compact win's fields after its "W"
// (own id, user, quantity, expires_at, own share code), all but the id
// and share code, whose own parts it returns.
func decodeCompactWin(ev *engine.Event, rest string) (own, share string, err error) {
	var f [5]string
	for j := range f {
		var ok bool
		f[j], rest, ok = strings.Cut(rest, packUS)
		if ok != (j < len(f)-1) || f[j] == "" {
			return "", "", errors.New("redisstore: a compact win needs 5 non-empty fields")
		}
	}
	ev.Type, ev.User = engine.EventWon, f[1]
	if err := setEventField(ev, "quantity", f[2]); err != nil {
		return "", "", err
	}
	return f[0], f[4], setEventField(ev, "expires_at", f[3])
}

// DecodeEvent turns an outbox stream entry's fields (written by lib.lua's
// emit) into an engine.Event.
func DecodeEvent(v map[string]any) (engine.Event, error) {
	var ev engine.Event
	var bad error
	for name, x := range v {
		s, _ := x.(string)
		if err := setEventField(&ev, name, s); err != nil && (bad == nil || err.Error() < bad.Error()) {
			// The same error whatever order the map gives: the least.
			bad = err
		}
	}
	if ev.ID == "" || ev.Type == "" || ev.Drop == "" {
		return engine.Event{}, fmt.Errorf("redisstore: outbox entry without id, type or drop")
	}
	return ev, bad
}

// setEventField sets the field of ev that an outbox field stands for (lib.lua's
// emit names them). Unknown names are ignored; an empty value leaves the
// field unset, as an absent one does.
func setEventField(ev *engine.Event, name, s string) error {
	if s == "" {
		return nil
	}
	num := func() (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("field %s: %w", name, err)
		}
		return n, nil
	}
	// ptr is for the counts that are present on their events, zero included.
	ptr := func(p **int64) error {
		n, err := num()
		*p = &n
		return err
	}
	var err error
	switch name {
	case "id":
		ev.ID = s
	case "type":
		ev.Type = engine.EventType(s)
	case "drop":
		ev.Drop = s
	case "reservation":
		ev.Reservation = s
	case "user":
		ev.User = s
	case "share_code":
		ev.ShareCode = s
	case "product":
		ev.Product = s
	case "ref":
		ev.Ref = s
	case "seed":
		ev.Seed = s
	case "frozen_digest":
		ev.FrozenDigest = s
	case "from_waitlist":
		ev.FromWaitlist = s == "1"
	case "time":
		var n int64
		n, err = num()
		ev.Time = fromMS(n)
	case "expires_at":
		var n int64
		n, err = num()
		ev.ExpiresAt = fromMS(n)
	case "won_at":
		var n int64
		n, err = num()
		ev.WonAt = fromMS(n)
	case "quantity":
		ev.Quantity, err = num()
	case "waitlist_position":
		ev.WaitlistPosition, err = num()
	case "version":
		ev.Version, err = num()
	case "available":
		err = ptr(&ev.Available)
	case "registrants":
		err = ptr(&ev.Registrants)
	case "winners":
		err = ptr(&ev.Winners)
	case "holds_given":
		err = ptr(&ev.HoldsGiven)
	case "waitlisted":
		err = ptr(&ev.Waitlisted)
	case "seconds_after_start":
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			err = fmt.Errorf("field seconds_after_start: %w", ferr)
		}
		ev.SecondsAfterStart = &f
	}
	return err
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
	// A drop deleted (DeleteDrop) keeps no outbox: MKSTREAM would make
	// one for a relay worker that has not yet heard the drop is gone.
	if err := s.outboxDropExists(ctx, key); err != nil {
		return err
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
	if minIdle > 0 {
		claimed, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: key, Group: relayGroup, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: int64(n),
		}).Result()
		if err != nil {
			return nil, s.readFailed(ctx, key, err)
		}
		msgs = append(msgs, claimed...)
	}
	if len(msgs) < n {
		wait := time.Duration(-1) // go-redis: a negative Block sends no BLOCK
		if len(msgs) == 0 && block > 0 {
			wait = block
		}
		streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: relayGroup, Consumer: consumer, Streams: []string{key, ">"}, Count: int64(n - len(msgs)), Block: wait,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, s.readFailed(ctx, key, err)
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
		return nil, s.readFailed(ctx, key, err)
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

// outboxDropExists answers ErrNotFound when the drop of the outbox at key
// is gone.
func (s *Store) outboxDropExists(ctx context.Context, key string) error {
	drop := strings.TrimSuffix(key, ":outbox") + ":drop"
	if n, err := s.rdb.Exists(ctx, drop).Result(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: the drop of outbox %s", engine.ErrNotFound, key)
	}
	return nil
}

// readFailed is what a read of the outbox at key answers for err. A
// stream deleted under the read (a blocked XREADGROUP answers "UNBLOCKED
// the stream key no longer exists", a later read NOGROUP) loses its
// group, made again at the next read; and when DeleteDrop deleted it with
// its drop, the read answers ErrNotFound, as the next one would: the
// relay's worker stops without a warning for a deletion someone meant
// (a rehearsal's drop, deleted by flashdrop load). For a drop that is
// still there it is the error as it came.
func (s *Store) readFailed(ctx context.Context, key string, err error) error {
	if !isNoGroup(err) && !strings.Contains(err.Error(), "UNBLOCKED") {
		return err
	}
	s.groups.Delete(key)
	if gone := s.outboxDropExists(ctx, key); errors.Is(gone, engine.ErrNotFound) {
		return gone
	}
	return err
}

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
