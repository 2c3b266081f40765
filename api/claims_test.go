package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// checkDecodeClaims fails t when decodeClaims accepts b with claims other
// than encoding/json's, and reports whether it accepted.
func checkDecodeClaims(t *testing.T, b []byte) bool {
	t.Helper()
	var fast, std jwt.RegisteredClaims
	if !decodeClaims(b, &fast) {
		return false
	}
	if err := json.Unmarshal(b, &std); err != nil {
		t.Fatalf("decodeClaims accepted %q, encoding/json refuses it: %v", b, err)
	}
	if !reflect.DeepEqual(fast, std) {
		t.Fatalf("decodeClaims %+v, encoding/json %+v, for %q", fast, std, b)
	}
	return true
}

// TestDecodeClaimsTakesMintedTokens: the claims of the tokens
// MintShopperToken writes take the decoder, not encoding/json, with
// encoding/json's result; forms it leaves to encoding/json are left.
func TestDecodeClaimsTakesMintedTokens(t *testing.T) {
	for _, c := range []struct{ user, iss, aud string }{
		{"shopper-1", "", ""}, {"zoë 🙂", "shop", "flashdrop"}, {"a", "shop", ""},
	} {
		tok, err := MintShopperToken(authTestSecret, c.user, time.Hour, authTestT0, c.iss, c.aud)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		if !checkDecodeClaims(t, payload) {
			t.Errorf("%s: decodeClaims left %s to encoding/json", c.user, payload)
		}
	}
	for _, s := range []string{
		`{}`, ` { "sub" : "a" , "exp" : 0 } `, `{"sub":"a","x":null,"y":true,"z":false,"n":12,"s":"é"}`,
		`{"jti":"j","nbf":1,"iat":999999999999999}`, `{"aud":[]}`, `{"aud":[ "a" , "b" ]}`, `{"aud":"a"}`, "{\"sub\":\"a\x7f\"}",
	} {
		if !checkDecodeClaims(t, []byte(s)) {
			t.Errorf("decodeClaims left %s to encoding/json", s)
		}
	}
	for _, s := range []string{
		`{"SUB":"a"}`, `{"Exp":1}`, `{"sub":"a","sub":"b"}`, `{"sub":"a\"b"}`, `{"sub":"\u0041"}`,
		`{"exp":1.5}`, `{"exp":1e3}`, `{"exp":-1}`, `{"exp":01}`, `{"exp":"1"}`, `{"exp":null}`,
		`{"exp":1000000000000000}`, `{"aud":["a",1]}`, `{"aud":["a",]}`, `{"aud":["a"}`, `{"x":{}}`, `{"x":[]}`, `{"sub":"a"} x`,
		`{"sub":"a",}`, `{"sub":"a"`, `null`, `[]`, "{\"sub\":\"\xff\"}", "{\"ſub\":\"a\"}",
		`{"sub":"a" "exp":1}`, `{"x":tru}`, `{"x":nul,"sub":"a"}`, `{"x":truex}`,
	} {
		if checkDecodeClaims(t, []byte(s)) {
			t.Errorf("decodeClaims took %s", s)
		}
	}
}

func BenchmarkDecodeClaims(b *testing.B) {
	tok, err := MintShopperToken(authTestSecret, "shopper-12345", time.Hour, authTestT0, "", "")
	if err != nil {
		b.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	b.Run("decodeClaims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c jwt.RegisteredClaims
			if !decodeClaims(payload, &c) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c jwt.RegisteredClaims
			if json.Unmarshal(payload, &c) != nil {
				b.Fatal("refused")
			}
		}
	})
}

// TestAuthCacheDropsOldest: a full shard drops the token first put the
// longest ago, not the one verified just now, and stays within its size
// when an entry it would drop has expired and gone already.
func TestAuthCacheDropsOldest(t *testing.T) {
	c := newAuthCache(3)
	now := authTestT0
	toks := oneShardTokens(c, 8)
	tok := func(i int) []byte { return toks[i] }
	for i := 1; i <= 3; i++ {
		c.put(c.key(tok(i)), fmt.Sprint("u", i), now, now.Add(time.Duration(i)*time.Hour), now)
	}
	c.put(c.key(tok(4)), "u4", now, now.Add(time.Hour), now)
	for i, want := range []bool{false, true, true, true} {
		if _, ok := c.get(c.key(tok(i+1)), now); ok != want {
			t.Fatalf("token %d cached: %v, want %v", i+1, ok, want)
		}
	}
	// Token 2 expires and a get drops it; token 2 is the oldest in the
	// ring, so the next two puts first find room, then drop token 3.
	if _, ok := c.get(c.key(tok(2)), now.Add(2*time.Hour)); ok {
		t.Fatal("expired token 2 answered")
	}
	c.put(c.key(tok(5)), "u5", now, now.Add(time.Hour), now)
	c.put(c.key(tok(6)), "u6", now, now.Add(time.Hour), now)
	for i, want := range map[int]bool{3: false, 4: true, 5: true, 6: true} {
		if _, ok := c.get(c.key(tok(i)), now); ok != want {
			t.Fatalf("after expiry: token %d cached: %v, want %v", i, ok, want)
		}
	}
	if n := c.len(); n != 3 {
		t.Fatalf("%d tokens cached, want 3", n)
	}
	// A put of a cached token keeps the ring as it is.
	c.put(c.key(tok(4)), "u4", now, now.Add(time.Hour), now)
	c.put(c.key(tok(7)), "u7", now, now.Add(time.Hour), now)
	if _, ok := c.get(c.key(tok(4)), now); ok {
		t.Fatal("token 4, the oldest, survived a put into the full shard")
	}
}

// oneShardTokens makes n tokens of 40 bytes with distinct keys that fall
// in one shard of c.
func oneShardTokens(c *authCache, n int) [][]byte {
	var toks [][]byte
	var first *authCacheShard
	for i := 0; len(toks) < n; i++ {
		tok := fmt.Appendf(nil, "%040d", i)
		s := c.key(tok).s
		if first == nil {
			first = s
		}
		if s == first {
			toks = append(toks, tok)
		}
	}
	return toks
}

// TestAuthCacheKeyCollision: two tokens whose last 8 bytes (the cache's
// key) are the same are told apart by the 16 before them, and two that
// share those 24 too (a cached JWT's signature under another header or
// payload) by the hash of the whole token; the 16 are compared even when
// the hash matches; a token too short to be a JWT is never cached; windows beyond the range of int64 nanoseconds (no nbf,
// exp in 9999) still hold.
func TestAuthCacheKeyCollision(t *testing.T) {
	c := newAuthCache(4)
	a := []byte("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")
	b := bytes.Clone(a)
	b[len(b)-9] ^= 1 // the byte before the key
	p := bytes.Clone(a)
	p[len("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ")] ^= 1 // the payload
	now := authTestT0
	c.put(c.key(a), "alice", time.Time{}, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), now)
	if u, ok := c.get(c.key(a), now); !ok || u != "alice" {
		t.Fatalf("get(a) = %q, %v", u, ok)
	}
	for name, tok := range map[string][]byte{"another signature": b, "another payload": p, "a prefix": a[:len(a)-1]} {
		if u, ok := c.get(c.key(tok), now); ok {
			t.Fatalf("a token with %s got %q", name, u)
		}
	}
	// The held bytes are the 16 before the key, and each one counts on
	// its own: the same key and whole-token hash with one of them changed
	// is a miss.
	ka := c.key(a)
	if got, want := string(ka.rest[:]), string(a[len(a)-authCacheTail-authCacheRest:len(a)-authCacheTail]); got != want {
		t.Fatalf("held bytes %q, want %q", got, want)
	}
	for i := range ka.rest {
		k := ka
		k.rest[i] ^= 1
		if _, ok := c.get(k, now); ok {
			t.Fatalf("held byte %d was not compared", i)
		}
	}
	c.put(c.key(b), "bob", now, now.Add(time.Hour), now)
	if u, ok := c.get(c.key(b), now); !ok || u != "bob" {
		t.Fatalf("get(b) = %q, %v", u, ok)
	}
	if _, ok := c.get(c.key(a), now); ok {
		t.Fatal("a's entry survived b's put under the same key")
	}
	if _, ok := c.get(c.key(b), now.Add(-time.Second)); ok {
		t.Fatal("accepted before its window")
	}
	if _, ok := c.get(c.key(b), now.Add(time.Hour)); ok {
		t.Fatal("accepted at the end of its window")
	}
	short := []byte("0123456789012345678901234567890") // 31 bytes
	c.put(c.key(short), "carol", now, now.Add(time.Hour), now)
	if _, ok := c.get(c.key(short), now); ok || c.len() != 0 { // b expired and went above
		t.Fatalf("a 31-byte token was cached (%d entries)", c.len())
	}
}

// TestAuthCacheTableStaysWhole drives one shard's table through random
// puts, expiries and evictions, with tokens that share keys and homes,
// and checks after every step what a lookup relies on: every entry is
// reachable from its home without crossing a free slot, no key is held
// twice, the count is right and within the cap, a token just put is found,
// and a token found answers the user it was last put with.
func TestAuthCacheTableStaysWhole(t *testing.T) {
	// Small shards wrap their probes around the table's end often; 1 is
	// the smallest, a table of 2.
	for _, perShard := range []int{1, 2, 3, 5, 8, 13, 64} {
		t.Run(fmt.Sprint(perShard), func(t *testing.T) { testAuthCacheTable(t, perShard) })
	}
}

func testAuthCacheTable(t *testing.T, perShard int) {
	c := newAuthCache(perShard)
	toks := oneShardTokens(c, 3*perShard+6)
	// Every third token shares the key of the one before it (another
	// byte before the key): the entries must tell them apart.
	for i := 2; i < len(toks); i += 3 {
		toks[i] = bytes.Clone(toks[i-1])
		toks[i][len(toks[i])-authCacheTail-1] ^= 1
	}
	s := c.key(toks[0]).s
	rng := rand.New(rand.NewPCG(1, 2))
	last := map[int]string{} // the user each token was last put with
	now := authTestT0
	for step := range 5000 {
		i := rng.IntN(len(toks))
		key := c.key(toks[i])
		switch {
		case rng.IntN(3) == 0:
			user := fmt.Sprint("u", step)
			// Some entries expire within the next steps' clock.
			c.put(key, user, now, now.Add(time.Duration(1+rng.IntN(50))*time.Second), now)
			last[i] = user
			if u, ok := c.get(key, now); !ok || u != user {
				t.Fatalf("step %d: token %d just put: %q, %v", step, i, u, ok)
			}
		default:
			if u, ok := c.get(key, now); ok && u != last[i] {
				t.Fatalf("step %d: token %d answered %q, last put with %q", step, i, u, last[i])
			}
		}
		now = now.Add(time.Second)
		checkAuthShard(t, s, perShard, fmt.Sprint("step ", step))
	}
}

// checkAuthShard fails t unless shard s is whole: every entry reachable
// from its home without crossing a free slot, no key held twice, and its
// count right and within perShard.
func checkAuthShard(t *testing.T, s *authCacheShard, perShard int, at string) {
	t.Helper()
	seen, n := map[uint64]bool{}, 0
	mask := len(s.slots) - 1
	for j, e := range s.slots {
		if e.k == 0 {
			continue
		}
		n++
		if seen[e.k] {
			t.Fatalf("%s: key %x held twice", at, e.k)
		}
		seen[e.k] = true
		for i := s.home(e.k); i != j; i = (i + 1) & mask {
			if s.slots[i].k == 0 {
				t.Fatalf("%s: slot %d (home %d) is past a free slot %d", at, j, s.home(e.k), i)
			}
		}
	}
	if n != s.n || n > perShard {
		t.Fatalf("%s: %d slots in use, count %d, cap %d", at, n, s.n, perShard)
	}
}

// TestAuthCacheConcurrent has goroutines put, get and expire tokens of
// a few shards at once (under -race in make test), then checks every
// shard is whole.
func TestAuthCacheConcurrent(t *testing.T) {
	const perShard = 4
	c := newAuthCache(perShard)
	toks := oneShardTokens(c, 40)
	for i := range 200 {
		toks = append(toks, fmt.Appendf(nil, "token-%034d", i*7))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			now := authTestT0
			for i := range 5000 {
				key := c.key(toks[(i*7+g)%len(toks)])
				if i%3 == 0 {
					c.put(key, "u", now, now.Add(time.Duration(i%5)*time.Second), now)
				} else {
					c.get(key, now)
				}
				if i%1000 == 0 {
					_ = c.len()
				}
				now = now.Add(time.Second / 3)
			}
		})
	}
	wg.Wait()
	for i := range c.shards {
		checkAuthShard(t, &c.shards[i], perShard, fmt.Sprint("shard ", i))
	}
}

// BenchmarkAuthCacheGet looks up cached tokens in a random order, as a
// crowd's presses come: 20,000 shoppers (a release-day drop of the bench)
// and 60,000 (near the cache's 64k). With so many, an entry is seldom in
// the CPU's nearest caches when its shopper presses again, so what a
// lookup costs is mostly how many cache lines it reads one after another.
func BenchmarkAuthCacheGet(b *testing.B) {
	for _, n := range []int{20000, 60000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := newAuthCache(authCachePerShard)
			now := authTestT0
			keys := make([]authCacheKey, n)
			for i := range keys {
				tok := fmt.Appendf(nil, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzaG9wcGVyIn0.%043d", i*7919+13)
				keys[i] = c.key(tok)
				c.put(keys[i], fmt.Sprint("shopper-", i), now, now.Add(time.Hour), now)
			}
			order := rand.New(rand.NewPCG(3, 4)).Perm(n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, ok := c.get(keys[order[i%n]], now); !ok {
					b.Fatalf("token %d missed", order[i%n])
				}
			}
		})
	}
}
