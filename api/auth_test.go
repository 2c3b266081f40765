package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flashdrop/flashdrop/engine"
)

// The names carry an auth prefix because other test files of the package
// define their own fixtures.
var (
	authTestSecret = []byte("auth-test-secret-0123456789abcdef-xyz")
	authTestAdmin  = "auth-test-admin-token-0123456789"
	authTestT0     = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

func authTestConfig() AuthConfig {
	return AuthConfig{JWTSecret: authTestSecret, AdminToken: authTestAdmin}
}

// authTestNew builds an authenticator on a clock starting at authTestT0.
// cachePerShard 0 disables the token cache.
func authTestNew(t testing.TB, cfg AuthConfig, cachePerShard int) (*authenticator, *limiterClock) {
	t.Helper()
	clk := newLimiterClock(authTestT0)
	a, err := newAuthenticatorSize(cfg, clk.now, cachePerShard)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

// authTestClaims are valid shopper claims at authTestT0.
func authTestClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "shopper-1",
		"iat": authTestT0.Unix(),
		"exp": authTestT0.Add(time.Hour).Unix(),
	}
}

func authTestSign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authTestRaw assembles a JWT by hand so tests can forge what the jwt
// package would refuse to produce.
func authTestRaw(t testing.TB, header string, claims jwt.MapClaims, sig []byte) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(sig)
}

// authTestHMACForged signs header.payload with HMAC-SHA256 and the shop
// secret whatever the header says: the classic algorithm-confusion forgery.
func authTestHMACForged(t testing.TB, header string, claims jwt.MapClaims) string {
	t.Helper()
	unsigned := authTestRaw(t, header, claims, nil)
	unsigned = unsigned[:len(unsigned)-1] // drop the trailing "."
	mac := hmac.New(sha256.New, authTestSecret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func authTestWith(mod func(jwt.MapClaims)) jwt.MapClaims {
	c := authTestClaims()
	mod(c)
	return c
}

type authCase struct {
	name   string
	header []byte
	want   error // nil: accepted
	user   string
	admin  bool
}

func authTestCases(t testing.TB) []authCase {
	hs := func(c jwt.MapClaims) string { return authTestSign(t, jwt.SigningMethodHS256, authTestSecret, c) }
	bearer := func(tok string) []byte { return []byte("Bearer " + tok) }
	valid := hs(authTestClaims())
	noneClaims := authTestClaims()

	// A valid token with its payload swapped for another shopper's.
	parts := strings.Split(valid, ".")
	other, _ := json.Marshal(authTestWith(func(c jwt.MapClaims) { c["sub"] = "shopper-2" }))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(other) + "." + parts[2]

	return []authCase{
		// Admin.
		{name: "admin", header: bearer(authTestAdmin), admin: true},
		{name: "admin lower-case scheme", header: []byte("bearer " + authTestAdmin), admin: true},
		{name: "admin upper-case scheme", header: []byte("BEARER " + authTestAdmin), admin: true},
		{name: "admin truncated", header: bearer(authTestAdmin[:len(authTestAdmin)-1]), want: errBadCredentials},
		{name: "admin extended", header: bearer(authTestAdmin + "x"), want: errBadCredentials},
		{name: "admin one byte off", header: bearer("b" + authTestAdmin[1:]), want: errBadCredentials},
		{name: "admin upper-cased", header: bearer(strings.ToUpper(authTestAdmin)), want: errBadCredentials},

		// Header shape.
		{name: "nil header", header: nil, want: errNoCredentials},
		{name: "empty header", header: []byte{}, want: errNoCredentials},
		{name: "basic scheme", header: []byte("Basic dXNlcjpwYXNz"), want: errBadCredentials},
		{name: "token scheme", header: []byte("Token " + valid), want: errBadCredentials},
		{name: "no space after scheme", header: []byte("Bearer" + valid), want: errBadCredentials},
		{name: "scheme only", header: []byte("Bearer"), want: errBadCredentials},
		{name: "empty token", header: []byte("Bearer "), want: errBadCredentials},
		{name: "spaces only", header: []byte("Bearer    "), want: errBadCredentials},
		{name: "two tokens", header: []byte("Bearer " + valid + " " + valid), want: errBadCredentials},
		{name: "tab separator", header: []byte("Bearer\t" + valid), want: errBadCredentials},
		{name: "trailing newline", header: []byte("Bearer " + valid + "\n"), want: errBadCredentials},
		{name: "non-ascii", header: []byte("Bearer \xff\xfe" + valid), want: errBadCredentials},
		{name: "too long", header: bearer(strings.Repeat("a", authMaxHeaderLen)), want: errBadCredentials},
		{name: "garbage", header: bearer("garbage"), want: errBadCredentials},
		{name: "three empty parts", header: bearer(".."), want: errBadCredentials},
		{name: "garbage parts", header: bearer("a.b.c"), want: errBadCredentials},

		// Shoppers.
		{name: "valid", header: bearer(valid), user: "shopper-1"},
		{name: "valid lower-case scheme", header: []byte("bearer " + valid), user: "shopper-1"},
		{name: "valid several spaces", header: []byte("Bearer   " + valid), user: "shopper-1"},
		{name: "bad signature", header: bearer(authTestSign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdefghij"), authTestClaims())), want: errBadCredentials},
		{name: "tampered payload", header: bearer(tampered), want: errBadCredentials},
		{name: "signature stripped", header: bearer(parts[0] + "." + parts[1] + "."), want: errBadCredentials},

		// Algorithms.
		{name: "alg none", header: bearer(authTestRaw(t, `{"alg":"none","typ":"JWT"}`, noneClaims, nil)), want: errBadCredentials},
		{name: "alg None", header: bearer(authTestRaw(t, `{"alg":"None","typ":"JWT"}`, noneClaims, nil)), want: errBadCredentials},
		{name: "alg NONE", header: bearer(authTestRaw(t, `{"alg":"NONE","typ":"JWT"}`, noneClaims, nil)), want: errBadCredentials},
		{name: "alg none with hmac signature", header: bearer(authTestHMACForged(t, `{"alg":"none","typ":"JWT"}`, noneClaims)), want: errBadCredentials},
		{name: "alg missing", header: bearer(authTestHMACForged(t, `{"typ":"JWT"}`, noneClaims)), want: errBadCredentials},
		{name: "alg empty", header: bearer(authTestHMACForged(t, `{"alg":"","typ":"JWT"}`, noneClaims)), want: errBadCredentials},
		{name: "alg hs256 lower-case", header: bearer(authTestHMACForged(t, `{"alg":"hs256","typ":"JWT"}`, noneClaims)), want: errBadCredentials},
		{name: "HS384 same secret", header: bearer(authTestSign(t, jwt.SigningMethodHS384, authTestSecret, authTestClaims())), want: errBadCredentials},
		{name: "HS512 same secret", header: bearer(authTestSign(t, jwt.SigningMethodHS512, authTestSecret, authTestClaims())), want: errBadCredentials},
		{name: "RS256 header hmac signed", header: bearer(authTestHMACForged(t, `{"alg":"RS256","typ":"JWT"}`, noneClaims)), want: errBadCredentials},
		{name: "ES256 header hmac signed", header: bearer(authTestHMACForged(t, `{"alg":"ES256","typ":"JWT"}`, noneClaims)), want: errBadCredentials},
		{name: "HS256 forged by hand", header: bearer(authTestHMACForged(t, `{"alg":"HS256","typ":"JWT"}`, noneClaims)), user: "shopper-1"},

		// Time.
		{name: "expired beyond leeway", header: bearer(hs(authTestWith(func(c jwt.MapClaims) {
			c["iat"] = authTestT0.Add(-time.Hour).Unix()
			c["exp"] = authTestT0.Add(-31 * time.Second).Unix()
		}))), want: errBadCredentials},
		{name: "expired exactly leeway ago", header: bearer(hs(authTestWith(func(c jwt.MapClaims) {
			c["iat"] = authTestT0.Add(-time.Hour).Unix()
			c["exp"] = authTestT0.Add(-30 * time.Second).Unix()
		}))), want: errBadCredentials},
		{name: "expired within leeway", header: bearer(hs(authTestWith(func(c jwt.MapClaims) {
			c["iat"] = authTestT0.Add(-time.Hour).Unix()
			c["exp"] = authTestT0.Add(-29 * time.Second).Unix()
		}))), user: "shopper-1"},
		{name: "missing exp", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { delete(c, "exp") }))), want: errBadCredentials},
		{name: "exp not a number", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }))), want: errBadCredentials},
		{name: "nbf in future", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["nbf"] = authTestT0.Add(time.Minute).Unix() }))), want: errBadCredentials},
		{name: "nbf within leeway", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["nbf"] = authTestT0.Add(20 * time.Second).Unix() }))), user: "shopper-1"},
		{name: "iat in future", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["iat"] = authTestT0.Add(time.Minute).Unix() }))), want: errBadCredentials},
		{name: "no iat", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { delete(c, "iat") }))), user: "shopper-1"},

		// Subject.
		{name: "missing sub", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { delete(c, "sub") }))), want: errBadCredentials},
		{name: "empty sub", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = "" }))), want: errBadCredentials},
		{name: "numeric sub", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = 42 }))), want: errBadCredentials},
		{name: "sub with NUL", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = "shop\x00per" }))), want: errBadCredentials},
		{name: "sub with newline", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = "shopper\nadmin" }))), want: errBadCredentials},
		{name: "sub with DEL", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = "shopper\x7f" }))), want: errBadCredentials},
		{name: "sub with C1 control", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = "shopper\u0085" }))), want: errBadCredentials},
		{name: "sub too long", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("x", maxShopperIDLen+1) }))), want: errBadCredentials},
		{name: "sub at max length", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("x", maxShopperIDLen) }))), user: strings.Repeat("x", maxShopperIDLen)},
		{name: "sub unicode", header: bearer(hs(authTestWith(func(c jwt.MapClaims) { c["sub"] = "Zoë-🛒" }))), user: "Zoë-🛒"},
	}
}

// authTestCheck runs c against a and checks the outcome, including that
// an error never quotes the token.
func authTestCheck(t *testing.T, a *authenticator, c authCase) {
	t.Helper()
	p, err := a.authenticate(c.header)
	if c.want != nil {
		if !errors.Is(err, c.want) {
			t.Fatalf("err = %v, want %v", err, c.want)
		}
		if p != (principal{}) {
			t.Fatalf("principal %+v returned with an error", p)
		}
		if !slices.Contains(authTestKnownErrors, err) {
			t.Fatalf("error %v is not one of the fixed values", err)
		}
		if tok := strings.TrimSpace(strings.TrimPrefix(string(c.header), "Bearer")); len(tok) >= 8 && strings.Contains(err.Error(), tok) {
			t.Fatalf("error %q quotes the token", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := (principal{user: c.user, admin: c.admin}); p != want {
		t.Fatalf("principal = %+v, want %+v", p, want)
	}
}

func TestAuthMatrix(t *testing.T) {
	for _, mode := range []struct {
		name  string
		cache int
	}{{"cached", authCachePerShard}, {"uncached", 0}} {
		t.Run(mode.name, func(t *testing.T) {
			a, _ := authTestNew(t, authTestConfig(), mode.cache)
			for _, c := range authTestCases(t) {
				t.Run(c.name, func(t *testing.T) {
					authTestCheck(t, a, c)
					authTestCheck(t, a, c) // again: the second time may come from the cache
				})
			}
		})
	}
}

func TestAuthIssuerAudience(t *testing.T) {
	cfg := authTestConfig()
	cfg.Issuer, cfg.Audience = "flashdrop-shop", "flashdrop-api"
	a, _ := authTestNew(t, cfg, authCachePerShard)
	hs := func(mod func(jwt.MapClaims)) []byte {
		c := authTestWith(func(c jwt.MapClaims) { c["iss"], c["aud"] = cfg.Issuer, cfg.Audience })
		mod(c)
		return []byte("Bearer " + authTestSign(t, jwt.SigningMethodHS256, authTestSecret, c))
	}
	for _, c := range []authCase{
		{name: "correct", header: hs(func(jwt.MapClaims) {}), user: "shopper-1"},
		{name: "aud list containing ours", header: hs(func(c jwt.MapClaims) { c["aud"] = []string{"other", cfg.Audience} }), user: "shopper-1"},
		{name: "wrong iss", header: hs(func(c jwt.MapClaims) { c["iss"] = "evil-shop" }), want: errBadCredentials},
		{name: "missing iss", header: hs(func(c jwt.MapClaims) { delete(c, "iss") }), want: errBadCredentials},
		{name: "wrong aud", header: hs(func(c jwt.MapClaims) { c["aud"] = "other-api" }), want: errBadCredentials},
		{name: "missing aud", header: hs(func(c jwt.MapClaims) { delete(c, "aud") }), want: errBadCredentials},
		{name: "admin unaffected", header: []byte("Bearer " + authTestAdmin), admin: true},
	} {
		t.Run(c.name, func(t *testing.T) { authTestCheck(t, a, c) })
	}
	// Without iss/aud configured, tokens carrying them are still accepted.
	plain, _ := authTestNew(t, authTestConfig(), 0)
	authTestCheck(t, plain, authCase{header: hs(func(jwt.MapClaims) {}), user: "shopper-1"})
}

func TestAuthConfigValidation(t *testing.T) {
	ok := authTestConfig()
	for _, c := range []struct {
		name string
		mod  func(*AuthConfig)
	}{
		{"nil secret", func(c *AuthConfig) { c.JWTSecret = nil }},
		{"short secret", func(c *AuthConfig) { c.JWTSecret = authTestSecret[:authMinSecretLen-1] }},
		{"empty admin token", func(c *AuthConfig) { c.AdminToken = "" }},
		{"short admin token", func(c *AuthConfig) { c.AdminToken = authTestAdmin[:authMinAdminTokenLen-1] }},
		{"admin token with space", func(c *AuthConfig) { c.AdminToken = "admin token with a space" }},
		{"admin token non-ascii", func(c *AuthConfig) { c.AdminToken = "admin-token-0123456789-é" }},
		{"admin token huge", func(c *AuthConfig) { c.AdminToken = strings.Repeat("a", authMaxHeaderLen) }},
		{"negative leeway", func(c *AuthConfig) { c.Leeway = -time.Second }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mod(&cfg)
			a, err := newAuthenticator(cfg, nil)
			if err == nil || a != nil {
				t.Fatalf("accepted: %v", err)
			}
			for _, secret := range []string{string(cfg.JWTSecret), cfg.AdminToken} {
				if len(secret) >= 8 && strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q quotes a secret", err)
				}
			}
		})
	}

	a, err := newAuthenticator(ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.leeway != authDefaultLeeway {
		t.Errorf("default leeway = %v, want %v", a.leeway, authDefaultLeeway)
	}
	if a.now == nil {
		t.Error("now not defaulted")
	}
	// The key is copied: changing the caller's slice must not change it.
	secret := append([]byte(nil), authTestSecret...)
	cfg := ok
	cfg.JWTSecret = secret
	a, err = newAuthenticator(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := MintShopperToken(authTestSecret, "shopper-1", time.Hour, time.Now(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if _, err := a.authenticate([]byte("Bearer " + tok)); err != nil {
		t.Errorf("key changed with the caller's slice: %v", err)
	}
}

func TestAuthConfigRedacted(t *testing.T) {
	cfg := authTestConfig()
	cfg.Issuer = "flashdrop-shop"
	type wrapper struct{ Auth AuthConfig } // as in the server's Config
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "auth", cfg)
	for _, out := range []string{
		fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprintf("%+v", wrapper{cfg}), fmt.Sprintf("%#v", wrapper{cfg}), buf.String(),
	} {
		if strings.Contains(out, string(authTestSecret)) || strings.Contains(out, authTestAdmin) {
			t.Errorf("secret leaked: %s", out)
		}
		if !strings.Contains(out, "flashdrop-shop") {
			t.Errorf("non-secret field missing: %s", out)
		}
	}
}

// TestAuthCacheHonoursExpiry checks that a cached token is refused as soon
// as the full check would refuse it, in both directions of time.
func TestAuthCacheHonoursExpiry(t *testing.T) {
	a, clk := authTestNew(t, authTestConfig(), authCachePerShard)
	tok, err := MintShopperToken(authTestSecret, "shopper-1", time.Minute, authTestT0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	h := []byte("Bearer " + tok)
	step := func(at time.Duration, wantOK bool) {
		t.Helper()
		clk.set(authTestT0.Add(at))
		p, err := a.authenticate(h)
		if wantOK && (err != nil || p.user != "shopper-1") {
			t.Fatalf("at %v: %+v, %v; want accepted", at, p, err)
		}
		if !wantOK && !errors.Is(err, errBadCredentials) {
			t.Fatalf("at %v: %+v, %v; want refused", at, p, err)
		}
	}
	step(0, true)
	if n := a.cache.len(); n != 1 {
		t.Fatalf("cache holds %d tokens, want 1", n)
	}
	step(time.Minute+29*time.Second, true) // from the cache, within leeway
	step(-29*time.Second, true)            // clock stepped back, within leeway of iat
	step(-31*time.Second, false)           // before iat-leeway: refused, even though cached
	step(time.Minute+30*time.Second, false)
	if n := a.cache.len(); n != 0 {
		t.Fatalf("expired token still cached (%d entries)", n)
	}
	step(time.Minute, true) // back inside: the full check still accepts it
}

// TestAuthCacheTakesOnlyTheVerifiedToken: once a shopper's token is
// cached, the same signature under another payload (another subject, a
// later exp) is refused, as the full check refuses it, and the admin
// token is still the admin's.
func TestAuthCacheTakesOnlyTheVerifiedToken(t *testing.T) {
	a, clk := authTestNew(t, authTestConfig(), authCachePerShard)
	clk.set(authTestT0)
	tok, err := MintShopperToken(authTestSecret, "shopper-1", time.Minute, authTestT0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.authenticate([]byte("Bearer " + tok)); err != nil || p.user != "shopper-1" {
		t.Fatalf("the token itself: %+v, %v", p, err)
	}
	head, rest, _ := strings.Cut(tok, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	claims, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{`"sub":"shopper-1"`, `"exp":`} {
		to := strings.Replace(from, "shopper-1", "shopper-2", 1)
		if from == `"exp":` {
			to = `"exp":9`
		}
		forged := head + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), from, to, 1))) + "." + sig
		if forged == tok {
			t.Fatalf("%s not in the claims %s", from, claims)
		}
		if p, err := a.authenticate([]byte("Bearer " + forged)); !errors.Is(err, errBadCredentials) {
			t.Fatalf("the cached signature under claims with %s changed: %+v, %v; want refused", from, p, err)
		}
	}
	if p, err := a.authenticate([]byte("Bearer " + authTestAdmin)); err != nil || !p.admin {
		t.Fatalf("the admin token: %+v, %v", p, err)
	}
	if p, err := a.authenticate([]byte("Bearer " + tok)); err != nil || p.user != "shopper-1" || a.cache.len() != 1 {
		t.Fatalf("the token again: %+v, %v, %d cached", p, err, a.cache.len())
	}
}

// TestAuthRefusesNonCanonicalSignatures: the last character of an HS256
// signature carries four bits and two unused ones; only the spelling with
// those two clear is the token, whether or not it is cached.
func TestAuthRefusesNonCanonicalSignatures(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	a, clk := authTestNew(t, authTestConfig(), authCachePerShard)
	clk.set(authTestT0)
	tok, err := MintShopperToken(authTestSecret, "shopper-1", time.Minute, authTestT0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	v := strings.IndexByte(alphabet, tok[len(tok)-1])
	if v < 0 || v&3 != 0 {
		t.Fatalf("minted a token whose last character %q is not canonical", tok[len(tok)-1])
	}
	for _, cached := range []bool{false, true} {
		if cached {
			if _, err := a.authenticate([]byte("Bearer " + tok)); err != nil {
				t.Fatal(err)
			}
		}
		for bits := 1; bits <= 3; bits++ {
			other := tok[:len(tok)-1] + string(alphabet[v|bits])
			if p, err := a.authenticate([]byte("Bearer " + other)); !errors.Is(err, errBadCredentials) {
				t.Fatalf("cached %v: the signature's last character %q for %q: %+v, %v; want refused",
					cached, other[len(other)-1], tok[len(tok)-1], p, err)
			}
		}
	}
}

func TestAuthCacheBounded(t *testing.T) {
	const perShard = 2
	a, _ := authTestNew(t, authTestConfig(), perShard)
	toks := make([][]byte, 500)
	for i := range toks {
		tok, err := MintShopperToken(authTestSecret, fmt.Sprint("shopper-", i), time.Hour, authTestT0, "", "")
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = []byte("Bearer " + tok)
	}
	for round := 0; round < 2; round++ {
		for i, h := range toks {
			p, err := a.authenticate(h)
			if err != nil || p.user != fmt.Sprint("shopper-", i) {
				t.Fatalf("token %d: %+v, %v", i, p, err)
			}
			if n := a.cache.len(); n > perShard*authCacheShards {
				t.Fatalf("cache grew to %d entries, cap %d", n, perShard*authCacheShards)
			}
		}
	}
}

func TestMintShopperToken(t *testing.T) {
	const iss, aud = "flashdrop-shop", "flashdrop-api"
	tok, err := MintShopperToken(authTestSecret, "shopper-7", 10*time.Minute, authTestT0.Add(300*time.Millisecond), iss, aud)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, string(authTestSecret)) {
		t.Fatal("token contains the secret")
	}

	// Independently of the authenticator: header and claims as documented.
	var claims jwt.RegisteredClaims
	parsed, err := jwt.NewParser(jwt.WithTimeFunc(func() time.Time { return authTestT0 })).
		ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return authTestSecret, nil })
	if err != nil {
		t.Fatal(err)
	}
	if alg := parsed.Header["alg"]; alg != "HS256" {
		t.Errorf("alg = %v", alg)
	}
	if claims.Subject != "shopper-7" || claims.Issuer != iss || len(claims.Audience) != 1 || claims.Audience[0] != aud {
		t.Errorf("claims = %+v", claims)
	}
	if !claims.IssuedAt.Equal(authTestT0) || !claims.ExpiresAt.Equal(authTestT0.Add(10*time.Minute)) {
		t.Errorf("iat, exp = %v, %v", claims.IssuedAt, claims.ExpiresAt)
	}

	// And the authenticator configured alike accepts it.
	cfg := authTestConfig()
	cfg.Issuer, cfg.Audience = iss, aud
	a, _ := authTestNew(t, cfg, 0)
	authTestCheck(t, a, authCase{header: []byte("Bearer " + tok), user: "shopper-7"})

	// Without issuer and audience the claims are left out.
	tok, err = MintShopperToken(authTestSecret, "shopper-7", time.Minute, authTestT0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	mc := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, mc); err != nil {
		t.Fatal(err)
	}
	if _, ok := mc["iss"]; ok {
		t.Error("iss present")
	}
	if _, ok := mc["aud"]; ok {
		t.Error("aud present")
	}
}

func TestMintShopperTokenRejects(t *testing.T) {
	for _, c := range []struct {
		name   string
		secret []byte
		user   string
		ttl    time.Duration
	}{
		{"short secret", authTestSecret[:authMinSecretLen-1], "shopper-1", time.Hour},
		{"empty user", authTestSecret, "", time.Hour},
		{"user too long", authTestSecret, strings.Repeat("x", maxShopperIDLen+1), time.Hour},
		{"user with control", authTestSecret, "shopper\n1", time.Hour},
		{"user invalid utf-8", authTestSecret, "shopper\xff", time.Hour},
		{"zero ttl", authTestSecret, "shopper-1", 0},
		{"negative ttl", authTestSecret, "shopper-1", -time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, err := MintShopperToken(c.secret, c.user, c.ttl, authTestT0, "", "")
			if err == nil || tok != "" {
				t.Fatalf("minted %q, %v", tok, err)
			}
			if strings.Contains(err.Error(), string(authTestSecret[:authMinSecretLen-1])) {
				t.Fatalf("error %q quotes the secret", err)
			}
		})
	}
}

// FuzzAuthenticate feeds arbitrary Authorization headers. Properties: no
// panic; errors are only the two sentinels and never quote the token; the
// admin principal only for the exact admin token; a shopper principal only
// for a token that an independent jwt parse verifies, with the same sub.
var authTestKnownErrors = []error{errNoCredentials, errAuthHeaderTooLong, errAuthNotBearer,
	errAuthEmptyToken, errAuthBadTokenChars, errAuthMalformed, errAuthBadSignature, errAuthUnverifiable,
	errAuthExpired, errAuthNotYetValid, errAuthIssuedLater, errAuthMissingClaim, errAuthWrongIssuer,
	errAuthWrongAudience, errAuthBadSubject, errAuthInvalid, errAuthExpRange, errAuthNbfRange, errAuthIatRange, errAuthWrongAlg,
	errAuthMissingSubject, errAuthMissingExp, errAuthMissingIssuer, errAuthMissingAud}

func FuzzAuthenticate(f *testing.F) {
	a, _ := authTestNew(f, authTestConfig(), authCachePerShard)
	valid := authTestSign(f, jwt.SigningMethodHS256, authTestSecret, authTestClaims())
	for _, seed := range []string{
		"Bearer " + valid,
		"bearer   " + valid,
		"Bearer " + authTestAdmin,
		"Bearer " + authTestAdmin + "x",
		"Bearer " + authTestAdmin[:len(authTestAdmin)-1],
		"Bearer " + authTestRaw(f, `{"alg":"none","typ":"JWT"}`, authTestClaims(), nil),
		"Bearer " + authTestHMACForged(f, `{"alg":"RS256","typ":"JWT"}`, authTestClaims()),
		"Bearer " + authTestSign(f, jwt.SigningMethodHS512, authTestSecret, authTestClaims()),
		"Bearer garbage",
		"Bearer ",
		"garbage",
		"",
	} {
		f.Add([]byte(seed))
	}
	verifyIndependently := func(tok string) (string, error) {
		var claims jwt.RegisteredClaims
		_, err := jwt.ParseWithClaims(tok, &claims, func(t *jwt.Token) (any, error) {
			if t.Method.Alg() != "HS256" {
				return nil, errors.New("not HS256")
			}
			return authTestSecret, nil
		}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
			jwt.WithLeeway(authDefaultLeeway), jwt.WithTimeFunc(func() time.Time { return authTestT0 }))
		return claims.Subject, err
	}

	f.Fuzz(func(t *testing.T, header []byte) {
		p, err := a.authenticate(header)
		if err != nil {
			if p != (principal{}) {
				t.Fatalf("principal %+v with error %v", p, err)
			}
			if errors.Is(err, errNoCredentials) != (len(header) == 0) {
				t.Fatalf("errNoCredentials mismatch for %q: %v", header, err)
			}
			// Errors are fixed values, so they cannot echo the input.
			if !slices.Contains(authTestKnownErrors, err) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}

		// Accepted: the header must be "Bearer" + spaces + one token.
		h := string(header)
		if len(h) < 8 || !strings.EqualFold(h[:6], "bearer") || h[6] != ' ' {
			t.Fatalf("accepted a non-Bearer header %q", h)
		}
		tok := strings.TrimLeft(h[6:], " ")
		if tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("accepted a malformed token %q", tok)
		}
		if p.admin {
			if tok != authTestAdmin || p.user != "" {
				t.Fatalf("admin principal for %q", tok)
			}
			return
		}
		if tok == authTestAdmin {
			t.Fatal("admin token yielded a shopper")
		}
		sub, err := verifyIndependently(tok)
		if err != nil {
			t.Fatalf("accepted a token jwt refuses (%v): %q", err, tok)
		}
		if sub != p.user || !isValidShopperID(p.user) {
			t.Fatalf("user %q, jwt says %q", p.user, sub)
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	tok, err := MintShopperToken(authTestSecret, "shopper-123456", time.Hour, time.Now(), "flashdrop-shop", "flashdrop-api")
	if err != nil {
		b.Fatal(err)
	}
	cfg := authTestConfig()
	cfg.Issuer, cfg.Audience = "flashdrop-shop", "flashdrop-api"
	for _, bc := range []struct {
		name   string
		cache  int
		header []byte
	}{
		{"shopper/cached", authCachePerShard, []byte("Bearer " + tok)},
		{"shopper/uncached", 0, []byte("Bearer " + tok)},
		{"admin", authCachePerShard, []byte("Bearer " + authTestAdmin)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a, err := newAuthenticatorSize(cfg, nil, bc.cache)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.authenticate(bc.header); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAuthenticateChurn: first presses of four times as many
// shoppers as the cache holds, every one a miss that verifies the token
// and makes room in a full shard (a release day whose registrants' tokens
// filled the cache).
func BenchmarkAuthenticateChurn(b *testing.B) {
	const perShard = 256
	cfg := authTestConfig()
	cfg.Issuer, cfg.Audience = "flashdrop-shop", "flashdrop-api"
	toks := make([][]byte, 4*perShard*authCacheShards)
	for i := range toks {
		tok, err := MintShopperToken(authTestSecret, fmt.Sprint("shopper-", i), time.Hour, time.Now(), "flashdrop-shop", "flashdrop-api")
		if err != nil {
			b.Fatal(err)
		}
		toks[i] = []byte("Bearer " + tok)
	}
	a, err := newAuthenticatorSize(cfg, nil, perShard)
	if err != nil {
		b.Fatal(err)
	}
	for _, h := range toks {
		if _, err := a.authenticate(h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := a.authenticate(toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestKnownAdminReadsNoStore: knownAdmin, which lets ops past the
// shoppers' per-IP limit and into the admin reserve, knows the admin token
// and the API keys that authenticated in full in the last knownKeyTTL, and
// checks a made-up key without asking the store. A shopper's token is no
// admin.
func TestKnownAdminReadsNoStore(t *testing.T) {
	a, _ := authTestNew(t, authTestConfig(), authCachePerShard)
	good := engine.APIKeyPrefix + "key-0123456789abcdef_secret"
	lookups := 0
	a.keys = func(token string) (engine.APIKey, error) {
		lookups++
		if token == good {
			return engine.APIKey{ID: "key-0123456789abcdef", Scopes: []string{engine.ScopeOps}}, nil
		}
		return engine.APIKey{}, engine.ErrBadKey
	}
	shopper, err := MintShopperToken(authTestSecret, "shopper-1", time.Hour, authTestT0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) []byte { return []byte("Bearer " + tok) }
	if !a.knownAdmin(bearer(authTestAdmin), authTestT0) {
		t.Error("the admin token is not known")
	}
	if a.knownAdmin(bearer(good), authTestT0) || a.knownAdmin(bearer(shopper), authTestT0) || a.knownAdmin([]byte("Basic x"), authTestT0) {
		t.Error("a key before it authenticated, a shopper's token or another scheme is known")
	}
	if p, err := a.authenticateAt(bearer(good), authTestT0); err != nil || !p.admin {
		t.Fatalf("the key: %+v %v", p, err)
	}
	if !a.knownAdmin(bearer(good), authTestT0.Add(knownKeyTTL-time.Second)) {
		t.Error("a key that authenticated is not known")
	}
	if a.knownAdmin(bearer(good), authTestT0.Add(knownKeyTTL)) {
		t.Error("a key is known past knownKeyTTL without authenticating again")
	}
	before := lookups
	for i := range 100 {
		if a.knownAdmin(bearer(fmt.Sprintf("%skey-%016d_made-up", engine.APIKeyPrefix, i)), authTestT0) {
			t.Fatal("a made-up key is known")
		}
	}
	if lookups != before {
		t.Errorf("knownAdmin asked the store %d times", lookups-before)
	}
}
