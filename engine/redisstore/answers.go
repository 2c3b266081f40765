package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

// claimScript starts a keyed request (see ClaimAnswer).
//
// KEYS[1] the answer key
// ARGV[1] fingerprint   ARGV[2] claim (ms)   ARGV[3] this call's nonce
//
// Returns {0} when it claimed the key, {1} when the key belongs to another
// request, {2} when a request with it is running, {3, answer} when the
// answer is stored. The value is "P\n<fingerprint>\n<nonce>" while claimed
// and "D\n<fingerprint>\n<answer>" once answered. A repeat of the same
// call (a retry after a lost reply) finds its own nonce: claimed.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'P\n' .. ARGV[1] .. '\n' .. ARGV[3], 'PX', ARGV[2])
  return {0}
end
local state, fp, rest = string.match(v, '^(.)\n([^\n]*)\n?(.*)$')
if fp ~= ARGV[1] then return {1} end
if state == 'P' then
  if rest == ARGV[3] then return {0} end
  return {2}
end
return {3, rest}
`)

// answerKey holds one keyed admin request's answer; each key is its own
// slot, as the requests are independent.
func answerKey(key string) string { return "fd:ans:{" + key + "}" }

// ClaimAnswer implements api.IdempotencyStore.
func (s *Store) ClaimAnswer(ctx context.Context, key, fingerprint string, claimFor time.Duration) ([]byte, bool, error) {
	v, err := claimScript.Run(ctx, s.rdb, []string{answerKey(key)}, fingerprint, claimFor.Milliseconds(), nonce()).Slice()
	if err != nil {
		return nil, false, err
	}
	r := reply(v)
	switch r.int(0) {
	case 0:
		return nil, false, r.err
	case 1:
		return nil, false, engine.ErrIdempotencyMismatch
	case 2:
		return nil, false, engine.ErrInProgress
	}
	return []byte(r.str(1)), true, r.err
}

// SaveAnswer implements api.IdempotencyStore.
func (s *Store) SaveAnswer(ctx context.Context, key, fingerprint string, answer []byte, ttl time.Duration) error {
	return s.rdb.Set(ctx, answerKey(key), "D\n"+fingerprint+"\n"+string(answer), ttl).Err()
}

// ReleaseAnswer implements api.IdempotencyStore.
func (s *Store) ReleaseAnswer(ctx context.Context, key string) error {
	return s.rdb.Del(ctx, answerKey(key)).Err()
}
