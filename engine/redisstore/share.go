package redisstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/flashdrop/flashdrop/engine"
)

var _ engine.ShareStore = (*Store)(nil)

// ReservationByShareCode implements engine.ShareStore. The code carries
// its drop, so one read-only script on that drop's slot answers it.
func (s *Store) ReservationByShareCode(ctx context.Context, code string) (engine.Reservation, error) {
	drop, err := engine.SplitShareCode(code)
	if err != nil {
		return engine.Reservation{}, fmt.Errorf("%w: share code", engine.ErrNotFound)
	}
	own := strings.TrimPrefix(code, drop+engine.ShareCodeSeparator)
	k := keysFor(drop)
	v, err := shareScript.Run(ctx, s.rdb, []string{k.share}, k.prefix, own, code).Slice()
	if err != nil {
		return engine.Reservation{}, err
	}
	if len(v) == 0 {
		return engine.Reservation{}, fmt.Errorf("%w: share code", engine.ErrNotFound)
	}
	r := decodeReservation(drop, v)
	return r, nil
}

// TopReferrals implements engine.ShareStore: one ZREVRANGE of the drop's
// referral counts.
func (s *Store) TopReferrals(ctx context.Context, drop string, n int) ([]engine.ReferralCount, error) {
	zs, err := s.rdb.ZRevRangeWithScores(ctx, keysFor(drop).refs, 0, int64(n-1)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]engine.ReferralCount, 0, len(zs))
	for _, z := range zs {
		code, _ := z.Member.(string)
		out = append(out, engine.ReferralCount{Code: code, Referrals: int64(z.Score)})
	}
	return out, nil
}
