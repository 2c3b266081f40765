package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

//go:embed scripts/reservations.lua
var reservationsLua string

// reservationsScript reads one page of a drop's reservations (read only).
// KEYS: drop. ARGV: prefix, cursor, n. Returns {0} for a missing drop,
// else {1, next cursor, reservations in res_reply's form...}.
var reservationsScript = redis.NewScript(withLib(reservationsLua))

// ReservationPage implements engine.ReservationLister. The cursor is the
// script's HSCAN (or SCAN) cursor; it stays opaque to callers, so that a
// drop whose stock one day spans several slots can carry a slot in it.
func (s *Store) ReservationPage(ctx context.Context, drop, cursor string, n int) ([]engine.Reservation, string, error) {
	c := "0"
	if cursor != "" {
		if _, err := strconv.ParseUint(cursor, 10, 64); err != nil || cursor == "0" {
			return nil, "", &engine.ValidationError{Field: "cursor", Reason: "is not a cursor this API gave"}
		}
		c = cursor
	}
	k := keysFor(drop)
	v, err := reservationsScript.Run(ctx, s.rdb, []string{k.drop}, k.prefix, c, max(n, 1)).Slice()
	if err != nil {
		return nil, "", err
	}
	r := reply(v)
	if r.int(0) == 0 {
		return nil, "", fmt.Errorf("%w: drop %q", engine.ErrNotFound, drop)
	}
	next := r.str(1)
	out := make([]engine.Reservation, 0, len(v)-2)
	for i := 2; i < len(v); i++ {
		rec := r.slice(i)
		// A reservation the scan named but which has no record (never, as
		// records are not deleted) is left out rather than shown empty.
		if len(rec) < 2 || reply(rec).str(1) == "" {
			continue
		}
		out = append(out, decodeReservation(drop, rec))
	}
	if r.err != nil {
		return nil, "", r.err
	}
	if next == "0" {
		next = ""
	}
	return out, next, nil
}
