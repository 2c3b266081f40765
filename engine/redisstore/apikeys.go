package redisstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

var _ engine.APIKeyStore = (*Store)(nil)

// CreateAPIKey implements engine.APIKeyStore. The key and the index share
// a slot, so one MULTI writes both.
func (s *Store) CreateAPIKey(ctx context.Context, k engine.APIKey) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, apiKeyKey(k.ID), "name", k.Name, "scopes", strings.Join(k.Scopes, ","),
			"created", msString(k.CreatedAt), "hash", hex.EncodeToString(k.Hash))
		p.SAdd(ctx, apiKeyIndexKey, k.ID)
		return nil
	})
	return err
}

func parseAPIKey(id string, m map[string]string) engine.APIKey {
	n := func(f string) int64 { v, _ := strconv.ParseInt(m[f], 10, 64); return v }
	k := engine.APIKey{ID: id, Name: m["name"], CreatedAt: fromMS(n("created")),
		LastUsedAt: fromMS(n("last_used")), RotatedAt: fromMS(n("rotated")), PreviousValidUntil: fromMS(n("prev_until"))}
	if m["scopes"] != "" {
		k.Scopes = strings.Split(m["scopes"], ",")
	}
	k.Hash, _ = hex.DecodeString(m["hash"])
	k.PreviousHash, _ = hex.DecodeString(m["prev_hash"])
	return k
}

// APIKey implements engine.APIKeyStore.
func (s *Store) APIKey(ctx context.Context, id string) (engine.APIKey, error) {
	m, err := s.rdb.HGetAll(ctx, apiKeyKey(id)).Result()
	if err != nil {
		return engine.APIKey{}, err
	}
	if len(m) == 0 || m["hash"] == "" {
		return engine.APIKey{}, fmt.Errorf("%w: key %q", engine.ErrNotFound, id)
	}
	return parseAPIKey(id, m), nil
}

// APIKeys implements engine.APIKeyStore, ordered by creation.
func (s *Store) APIKeys(ctx context.Context) ([]engine.APIKey, error) {
	ids, err := s.rdb.SMembers(ctx, apiKeyIndexKey).Result()
	if err != nil {
		return nil, err
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, apiKeyKey(id))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]engine.APIKey, 0, len(ids))
	for i, c := range cmds {
		if m := c.Val(); len(m) > 0 && m["hash"] != "" {
			out = append(out, parseAPIKey(ids[i], m))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// rotateAPIKeyScript moves the current hash to prev_hash and sets a new one,
// in one step with the check that the previous rotation's grace is over, so
// two rotations at once cannot both pass it and end that grace early.
// KEYS[1] key hash. ARGV[1] new hash (hex), ARGV[2] now (ms), ARGV[3]
// previous valid until (ms; equal to now: no grace, and every old secret
// ends, prev_hash is removed). Returns {0, fields...} (the rotated key's
// hash, so that no second read can fail after the rotation and lose the
// new secret), {3} (not found) if the key does not exist, or {4,
// prev_until} while an earlier grace runs and this rotation has one.
var rotateAPIKeyScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'hash')
if not cur then return {3} end
if ARGV[3] == ARGV[2] then
  redis.call('HDEL', KEYS[1], 'prev_hash', 'prev_until')
  redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'rotated', ARGV[2])
  return {0, redis.call('HGETALL', KEYS[1])}
end
local prev = redis.call('HMGET', KEYS[1], 'prev_hash', 'prev_until')
if prev[1] and prev[2] and tonumber(prev[2]) > tonumber(ARGV[2]) then
  return {4, prev[2]}
end
redis.call('HSET', KEYS[1], 'prev_hash', cur, 'prev_until', ARGV[3], 'hash', ARGV[1], 'rotated', ARGV[2])
return {0, redis.call('HGETALL', KEYS[1])}`)

// RotateAPIKey implements engine.APIKeyStore.
func (s *Store) RotateAPIKey(ctx context.Context, id string, hash []byte, at, prevUntil time.Time) (engine.APIKey, error) {
	v, err := rotateAPIKeyScript.Run(ctx, s.rdb, []string{apiKeyKey(id)},
		hex.EncodeToString(hash), msString(at), msString(prevUntil)).Slice()
	if err != nil {
		return engine.APIKey{}, err
	}
	r := reply(v)
	switch code := r.int(0); {
	case r.err != nil:
		return engine.APIKey{}, r.err
	case code == 3:
		return engine.APIKey{}, fmt.Errorf("%w: key %q", engine.ErrNotFound, id)
	case code == 4:
		until := r.int(1)
		return engine.APIKey{}, &engine.RotationPendingError{Until: time.UnixMilli(until).UTC()}
	case code != 0:
		return engine.APIKey{}, fmt.Errorf("rotate key %q: unexpected reply %v", id, v)
	}
	fields := reply(r.slice(1))
	m := make(map[string]string, len(fields.v)/2)
	for i := 0; i+1 < len(fields.v); i += 2 {
		m[fields.str(i)] = fields.str(i + 1)
	}
	return parseAPIKey(id, m), nil
}

// DeleteAPIKey implements engine.APIKeyStore.
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	var del *redis.IntCmd
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, apiKeyKey(id))
		p.SRem(ctx, apiKeyIndexKey, id)
		return nil
	}); err != nil {
		return err
	}
	if del.Val() == 0 {
		return fmt.Errorf("%w: key %q", engine.ErrNotFound, id)
	}
	return nil
}

// touchAPIKeyScript sets last_used of an existing key only (a touch racing
// a revocation must not bring the key back as a husk).
// KEYS[1] key hash. ARGV[1] time (ms). Returns 1 if set, else 0.
var touchAPIKeyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
return 1`)

// TouchAPIKey implements engine.APIKeyStore.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return touchAPIKeyScript.Run(ctx, s.rdb, []string{apiKeyKey(id)}, msString(at)).Err()
}
