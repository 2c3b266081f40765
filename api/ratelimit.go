package api

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

const (
	// limiterShards spreads keys over independent locks so many cores do
	// not contend on one mutex. A power of two, for masking.
	limiterShards = 64
	// limiterDefaultKeys caps how many keys a limiter tracks (4096 per
	// shard): a few tens of MiB at worst, whatever the traffic.
	limiterDefaultKeys = 1 << 18
	// limiterEvictSample is how many entries a full shard inspects for idle
	// ones to make room for a new key; sampling keeps the cost per call
	// O(1) even when an attacker keeps every shard full.
	limiterEvictSample = 8
	// limiterMinSweepEvery is the least number of calls between two sweeps
	// of one shard, so tiny shards do not sweep on every call.
	limiterMinSweepEvery = 64
	// limiterMaxSpan caps emission intervals and bursts (in ns, ~73 years),
	// so that absurd configurations cannot overflow int64 arithmetic.
	limiterMaxSpan = int64(1) << 61
)

// limiter is a per-key token bucket (rate per second, burst). rate <= 0 disables it (always allows).
//
// It is implemented as GCRA, the token bucket's exact integer equivalent: per
// key it stores only the theoretical arrival time (TAT) of the next request,
// in nanoseconds since the limiter's epoch. A key whose TAT is not after now
// has a full bucket, which is exactly the state of a key never seen, so it
// can be forgotten without changing any decision; that is what keeps memory
// bounded. It is safe for concurrent use and starts no goroutines.
//
// Keys are stored as their 64-bit seeded hash (maphash, a new seed per
// limiter): a map of integers is probed without reading any key's bytes,
// which under load saves a cache miss per lookup, and its entries are 16
// bytes instead of 24 plus the key's own string. Two keys share a bucket
// only if their hashes collide, about 2^-64 per pair with a seed an
// attacker cannot know; a million keys give one chance in ~3.7e7 of one
// shared bucket, whose keys would then be limited together, never more
// leniently.
type limiter struct {
	disabled bool
	interval int64 // ns per token: 1/rate
	window   int64 // ns the TAT may run ahead of now: burst*interval
	now      func() time.Time
	epoch    time.Time // now() at construction; times are offsets from it
	seed     maphash.Seed

	perShard   int    // hard cap on keys per shard
	sweepEvery uint32 // calls between sweeps of a shard

	shards [limiterShards]limiterShard
}

type limiterShard struct {
	mu    sync.Mutex
	tat   map[uint64]int64 // key hash -> TAT
	last  int64            // latest now seen, ns since epoch
	calls uint32           // since the last sweep
	peak  int              // largest len(tat) since the map was last rebuilt
	_     [64]byte         // keeps neighbouring shards' locks off one cache line
}

// newLimiter builds a limiter of rate tokens per second and the given
// burst; burst < 1 means 1, and rate <= 0 (or NaN, or +Inf, or anything
// above a token per nanosecond) disables it. now defaults to time.Now.
func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return newLimiterSize(rate, burst, now, limiterDefaultKeys)
}

// newLimiterSize is newLimiter tracking at most maxKeys keys, split evenly
// over the shards with at least one per shard (so the cap is
// max(maxKeys, limiterShards) rounded down to a multiple of limiterShards).
// Tests use it to make the cap tiny.
func newLimiterSize(rate float64, burst int, now func() time.Time, maxKeys int) *limiter {
	if now == nil {
		now = time.Now
	}
	l := &limiter{now: now, seed: maphash.MakeSeed()}
	interval := 1e9 / rate
	// !(x >= 1) also catches NaN. Faster than a token per ns is no limit.
	if !(rate > 0) || math.IsInf(rate, 1) || !(interval >= 1) {
		l.disabled = true
		return l
	}
	if burst < 1 {
		burst = 1
	}
	l.interval = int64(math.Min(math.Round(interval), float64(limiterMaxSpan)))
	l.window = int64(math.Min(float64(burst)*float64(l.interval), float64(limiterMaxSpan)))
	l.epoch = now()
	l.perShard = max(maxKeys/limiterShards, 1)
	// Sweeping costs O(perShard); doing it every perShard calls keeps the
	// amortised cost per call O(1).
	l.sweepEvery = uint32(min(max(l.perShard, limiterMinSweepEvery), math.MaxUint32))
	for i := range l.shards {
		l.shards[i].tat = make(map[uint64]int64)
	}
	return l
}

// allow takes one token for key; when none is left it reports how long until one is.
//
// retryAfter is exact (the caller rounds it for Retry-After) and only set
// when ok is false. A key that cannot be tracked because its shard is full
// of active keys is allowed: refusing would punish new shoppers for others'
// traffic, and blocking or growing would let that traffic exhaust the server.
func (l *limiter) allow(key string) (ok bool, retryAfter time.Duration) {
	if l.disabled {
		return true, 0
	}
	return l.allowAt(key, l.now())
}

// allowAt is allow at a time the caller already read (a request's arrival
// time, which fasthttp reads anyway), saving a clock read per request on
// the hot routes. t must come from the same clock as the limiter's now
// (the server's limiters use time.Now, as fasthttp does): a limiter built
// with a test clock is driven through allow.
func (l *limiter) allowAt(key string, t time.Time) (ok bool, retryAfter time.Duration) {
	if l.disabled {
		return true, 0
	}
	// The clock is read outside the lock to keep the critical section
	// short, so a caller that waited for the lock holds a stale now. The
	// shard's latest now replaces it: TATs were computed from times up to
	// that, and mixing them with an older now would overstate retryAfter
	// (and refuse requests that are due). It also keeps a clock that steps
	// backwards from handing out extra tokens.
	now := int64(t.Sub(l.epoch))
	h := l.hash(key)
	s := &l.shards[h&(limiterShards-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now < s.last {
		now = s.last
	} else {
		s.last = now
	}

	if s.calls++; s.calls >= l.sweepEvery {
		s.sweep(now)
	}
	tat, tracked := s.tat[h]
	if tat < now {
		tat = now
	}
	next := tat + l.interval
	if wait := next - now - l.window; wait > 0 {
		return false, time.Duration(wait)
	}
	if !tracked && len(s.tat) >= l.perShard {
		s.evictIdle(now)
		// The sample can miss idle keys in a big shard; a full sweep finds
		// them. Rationing it to one per sweepEvery/limiterEvictSample calls
		// keeps a shard full of busy keys at O(1) amortised work per call.
		if len(s.tat) >= l.perShard && s.calls >= l.sweepEvery/limiterEvictSample {
			s.sweep(now)
		}
		if len(s.tat) >= l.perShard {
			return true, 0 // fail open, untracked: see the doc comment
		}
	}
	s.tat[h] = next
	if n := len(s.tat); n > s.peak {
		s.peak = n
	}
	return true, 0
}

// sweep forgets every key whose bucket is full again.
func (s *limiterShard) sweep(now int64) {
	s.calls = 0
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
	}
	// Go maps never give memory back; after a crowd has come and gone,
	// rebuild the map so an idle server does not keep its peak footprint.
	if n := len(s.tat); s.peak >= 1024 && n < s.peak/8 {
		m := make(map[uint64]int64, n)
		for k, v := range s.tat {
			m[k] = v
		}
		s.tat, s.peak = m, n
	}
}

// evictIdle drops the idle keys among a small random sample (map
// iteration starts at a random position).
func (s *limiterShard) evictIdle(now int64) {
	n := 0
	for k, tat := range s.tat {
		if tat <= now {
			delete(s.tat, k)
		}
		if n++; n >= limiterEvictSample {
			break
		}
	}
}

// tracked reports how many keys the limiter currently tracks; for tests.
func (l *limiter) tracked() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// hash is key's seeded 64-bit hash: the low bits pick the shard, and the
// whole is the key within it.
func (l *limiter) hash(key string) uint64 {
	return maphash.String(l.seed, key)
}
