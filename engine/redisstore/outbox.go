package redisstore

import (
	"context"
	"fmt"
	"strconv"

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
		ev, err := DecodeEvent(m.Values)
		if err != nil {
			return nil, fmt.Errorf("outbox entry %s: %w", m.ID, err)
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
		Available: num("available"), FromWaitlist: str("from_waitlist") == "1",
	}
	if s := str("seconds_after_start"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && bad == nil {
			bad = fmt.Errorf("field seconds_after_start: %w", err)
		}
		ev.SecondsAfterStart = f
	}
	if ev.ID == "" || ev.Type == "" || ev.Drop == "" {
		return engine.Event{}, fmt.Errorf("redisstore: outbox entry without id, type or drop")
	}
	return ev, bad
}
