package redisstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

// The week's features on Redis: series, draws, announcements and
// fan-outs (engine.WeekStore).

var _ engine.WeekStore = (*Store)(nil)

// CreateSeries implements engine.WeekStore. The id joins the index first,
// as with drops: a crash in between leaves an index entry with no series,
// which SeriesList skips.
func (s *Store) CreateSeries(ctx context.Context, sr engine.Series) (bool, error) {
	if err := sr.Validate(); err != nil {
		return false, err
	}
	body, err := json.Marshal(sr)
	if err != nil {
		return false, err
	}
	if err := s.rdb.SAdd(ctx, seriesIndexKey, sr.ID).Err(); err != nil {
		return false, err
	}
	k := seriesKeysFor(sr.ID)
	n, err := seriesScript.Run(ctx, s.rdb, []string{k.cfg, k.callKey(nonce())}, "create", body).Int()
	return n == 1, err
}

// Series implements engine.WeekStore.
func (s *Store) Series(ctx context.Context, id string) (engine.Series, error) {
	body, err := s.rdb.Get(ctx, seriesKeysFor(id).cfg).Bytes()
	if errors.Is(err, redis.Nil) {
		return engine.Series{}, fmt.Errorf("%w: series %q", engine.ErrNotFound, id)
	}
	if err != nil {
		return engine.Series{}, err
	}
	var sr engine.Series
	if err := json.Unmarshal(body, &sr); err != nil {
		return engine.Series{}, fmt.Errorf("redisstore: corrupt series %q: %w", id, err)
	}
	return sr, nil
}

// SeriesList implements engine.WeekStore, in one pipeline.
func (s *Store) SeriesList(ctx context.Context) ([]engine.Series, error) {
	ids, err := s.rdb.SMembers(ctx, seriesIndexKey).Result()
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	cmds := make([]*redis.StringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, seriesKeysFor(id).cfg)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]engine.Series, 0, len(ids))
	for i, c := range cmds {
		body, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue // indexed, but created half-way or deleted
		}
		if err != nil {
			return nil, err
		}
		var sr engine.Series
		if err := json.Unmarshal(body, &sr); err != nil {
			return nil, fmt.Errorf("redisstore: corrupt series %q: %w", ids[i], err)
		}
		out = append(out, sr)
	}
	return out, nil
}

// DeleteSeries implements engine.WeekStore. The configuration goes first,
// so a crash leaves at worst an index entry that SeriesList skips.
func (s *Store) DeleteSeries(ctx context.Context, id string) error {
	k := seriesKeysFor(id)
	n, err := seriesScript.Run(ctx, s.rdb, []string{k.cfg, k.callKey(nonce())}, "delete").Int()
	if err != nil {
		return err
	}
	if err := s.rdb.SRem(ctx, seriesIndexKey, id).Err(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: series %q", engine.ErrNotFound, id)
	}
	return nil
}

// AddSeriesDrop implements engine.WeekStore.
func (s *Store) AddSeriesDrop(ctx context.Context, series, drop string, saleStartsAt time.Time) error {
	return s.rdb.ZAdd(ctx, seriesKeysFor(series).drops, redis.Z{Score: float64(saleStartsAt.UnixMilli()), Member: drop}).Err()
}

// PreviousSeriesDrop implements engine.WeekStore.
func (s *Store) PreviousSeriesDrop(ctx context.Context, series string, before time.Time) (string, error) {
	ids, err := s.rdb.ZRevRangeByScore(ctx, seriesKeysFor(series).drops, &redis.ZRangeBy{
		Max: "(" + msString(before), Min: "-inf", Count: 1,
	}).Result()
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// Registrants implements engine.WeekStore: bounded work per call, and a
// cursor that survives any number of calls in between. The cursor is the
// next registration bucket (registrants.lua) or, for a drop of one
// registration hash, an HSCAN cursor; a drop never changes layout, so
// its cursors always mean the one or the other.
func (s *Store) Registrants(ctx context.Context, drop, cursor string, n int) ([]string, string, error) {
	var c uint64
	if cursor != "" {
		var err error
		if c, err = strconv.ParseUint(cursor, 10, 64); err != nil {
			return nil, "", fmt.Errorf("redisstore: bad registrant cursor %q", cursor)
		}
	}
	k := keysFor(drop)
	v, err := registrantsScript.Run(ctx, s.rdb, []string{k.drop, k.reg}, c, max(n, 1)).Slice()
	if err != nil {
		return nil, "", err
	}
	if r := reply(v); r.int(0) >= 0 {
		users := make([]string, 0, len(v)-2)
		for i := 2; i < len(v); i++ {
			users = append(users, r.str(i))
		}
		if r.err != nil || r.int(1) == 1 {
			return users, "", r.err
		}
		return users, strconv.FormatInt(r.int(0), 10), r.err
	}
	kv, next, err := s.rdb.HScan(ctx, k.reg, c, "", int64(n)).Result()
	if err != nil {
		return nil, "", err
	}
	users := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		users = append(users, kv[i])
	}
	if next == 0 {
		return users, "", nil
	}
	return users, strconv.FormatUint(next, 10), nil
}

// DrawSecrets implements engine.WeekStore.
func (s *Store) DrawSecrets(ctx context.Context, drop string) (*engine.DrawSecrets, error) {
	v, err := s.rdb.HMGet(ctx, keysFor(drop).draw(), "seed", "tkey").Result()
	if err != nil {
		return nil, err
	}
	seed, _ := v[0].(string)
	tkey, _ := v[1].(string)
	if seed == "" {
		return nil, nil
	}
	sec := &engine.DrawSecrets{}
	if sec.Seed, err = hex.DecodeString(seed); err == nil {
		sec.TicketKey, err = hex.DecodeString(tkey)
	}
	if err != nil || len(sec.TicketKey) == 0 {
		return nil, fmt.Errorf("redisstore: corrupt draw secrets of %q", drop)
	}
	return sec, nil
}

// DrawState implements engine.WeekStore.
func (s *Store) DrawState(ctx context.Context, drop string) (engine.DrawState, error) {
	v, err := s.rdb.HMGet(ctx, keysFor(drop).draw(), "phase", "digest", "n", "w", "q", "cur", "seed", "held", "queued", "counted").Result()
	if err != nil {
		return engine.DrawState{}, err
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	num := func(i int) int64 { n, _ := strconv.ParseInt(str(i), 10, 64); return n }
	st := engine.DrawState{Phase: engine.DrawCommitted, FrozenDigest: str(1), Registrants: num(2), Winners: num(3),
		Quantity: num(4), Cursor: num(5)}
	switch str(0) {
	case "frozen":
		st.Phase = engine.DrawFrozen
	case "drawn":
		st.Phase = engine.DrawDrawn
		st.Seed = str(6) // revealed: the draw is over
		// Steps of an older version (a draw finished before the steps
		// counted what they gave, or one a rolling upgrade split) gave as
		// the order says: such a draw ran in the sale. Only a draw whose
		// every entry a counting step covered has its own counts.
		st.HoldsGiven, st.Waitlisted = st.Winners, st.Registrants-st.Winners
		if num(9) == st.Registrants {
			st.HoldsGiven, st.Waitlisted = num(7), num(8)
		}
	}
	return st, nil
}

// FreezeDraw implements engine.WeekStore.
func (s *Store) FreezeDraw(ctx context.Context, drop string, now time.Time) error {
	code, err := drawFreezeScript.Run(ctx, s.rdb, []string{keysFor(drop).drop}, now.UnixMilli()).Int64()
	if err != nil {
		return err
	}
	return drawErr(code, drop)
}

// SealDraw implements engine.WeekStore.
func (s *Store) SealDraw(ctx context.Context, drop, digest string, registrants int64) (engine.DrawState, error) {
	k := keysFor(drop)
	code, err := drawSealScript.Run(ctx, s.rdb, []string{k.drop, k.draw()}, digest, registrants).Int64()
	if err != nil {
		return engine.DrawState{}, err
	}
	if err := drawErr(code, drop); err != nil {
		return engine.DrawState{}, err
	}
	return s.DrawState(ctx, drop)
}

// TakeDrawLease implements engine.WeekStore.
func (s *Store) TakeDrawLease(ctx context.Context, drop, owner string, now time.Time, ttl time.Duration) (bool, error) {
	n, err := drawLeaseScript.Run(ctx, s.rdb, []string{keysFor(drop).draw()}, owner, now.UnixMilli(), ttl.Milliseconds()).Int64()
	if err != nil {
		return false, err
	}
	if n < 0 {
		return false, fmt.Errorf("%w: drop %q is not a draw", engine.ErrNotFound, drop)
	}
	return n == 1, nil
}

// DrawStep implements engine.WeekStore.
func (s *Store) DrawStep(ctx context.Context, drop string, now time.Time, start int64, entries []engine.DrawEntry) (engine.DrawState, error) {
	k := keysFor(drop)
	args := make([]any, 0, 7+2*len(entries))
	args = append(args, k.prefix, drop, now.UnixMilli(), nonce(), nonce(), start, len(entries))
	for _, e := range entries {
		args = append(args, e.Ticket, e.User)
	}
	v, err := drawStepScript.Run(ctx, s.rdb,
		[]string{k.drop, k.counters, k.reg, k.holds, k.wl, k.wlq, k.outbox, k.draw(), k.order()}, args...).Slice()
	if err != nil {
		return engine.DrawState{}, err
	}
	r := reply(v)
	code := r.int(0)
	if r.err != nil {
		return engine.DrawState{}, r.err
	}
	switch code {
	case codeOK, codeMoved, codeDone:
		// Moved: a repeat of this call, or another node, applied it; the
		// caller goes on from the state as it is.
		return s.DrawState(ctx, drop)
	}
	return engine.DrawState{}, drawErr(code, drop)
}

// drawErr maps the draw scripts' codes.
func drawErr(code int64, drop string) error {
	switch code {
	case codeOK:
		return nil
	case codeNotDraw:
		return fmt.Errorf("%w: drop %q is not a draw", engine.ErrNotFound, drop)
	case codeNotSealed:
		return fmt.Errorf("redisstore: draw %q is not sealed", drop)
	case codeSaleNotOpen:
		return fmt.Errorf("%w: drop %q", engine.ErrSaleNotOpen, drop)
	}
	return fmt.Errorf("%w: drop %q", codeErr(code, 0), drop)
}

// DrawOrder implements engine.WeekStore.
func (s *Store) DrawOrder(ctx context.Context, drop string, offset, limit int64) ([]string, error) {
	return s.rdb.LRange(ctx, keysFor(drop).order(), offset, offset+limit-1).Result()
}

// Announce implements engine.WeekStore.
func (s *Store) Announce(ctx context.Context, drop string, moment engine.Moment, now time.Time, grace time.Duration) (bool, error) {
	k := keysFor(drop)
	n, err := announceScript.Run(ctx, s.rdb, []string{k.drop, k.outbox, k.week()},
		k.prefix, drop, now.UnixMilli(), nonce(), string(moment), grace.Milliseconds()).Int64()
	if err != nil {
		return false, err
	}
	if n == codeNotFound {
		return false, fmt.Errorf("%w: drop %q", engine.ErrNotFound, drop)
	}
	return n == 1, nil
}

// FanOutState implements engine.WeekStore.
func (s *Store) FanOutState(ctx context.Context, drop string, kind engine.EventType) (engine.FanOutState, error) {
	f := string(kind)
	v, err := s.rdb.HMGet(ctx, keysFor(drop).week(), f+":done", f+":cur", f+":fin", f+":passes").Result()
	if err != nil {
		return engine.FanOutState{}, err
	}
	str := func(i int) string { x, _ := v[i].(string); return x }
	passes, _ := strconv.ParseInt(str(3), 10, 64)
	return engine.FanOutState{Done: str(0) == "1", Cursor: str(1), InPass: v[1] != nil, Final: str(2) == "1",
		Passes: passes}, nil
}

// FanOut implements engine.WeekStore.
func (s *Store) FanOut(ctx context.Context, drop string, kind engine.EventType, now time.Time, step engine.FanOutStep) (engine.FanOutState, error) {
	k := keysFor(drop)
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	args := make([]any, 0, 9+len(step.Users))
	args = append(args, k.prefix, drop, now.UnixMilli(), nonce(), string(kind), step.Expect, step.Next,
		flag(step.Last), flag(step.Final))
	for _, u := range step.Users {
		args = append(args, u)
	}
	v, err := fanOutScript.Run(ctx, s.rdb, []string{k.drop, k.outbox, k.week(), k.fanSet(string(kind))}, args...).Slice()
	if err != nil {
		return engine.FanOutState{}, err
	}
	r := reply(v)
	if code := r.int(0); code == codeNotFound {
		return engine.FanOutState{}, fmt.Errorf("%w: drop %q", engine.ErrNotFound, drop)
	}
	st := engine.FanOutState{Done: r.int(1) == 1, Cursor: r.str(2), InPass: r.int(3) == 1, Final: r.int(4) == 1,
		Passes: r.int(5)}
	return st, r.err
}
