package api

// Regression tests of the security review (issue 15) on shopper tokens:
// forgeries and claims the first auth matrix did not try.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestAuthReview(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) []byte { return []byte("Bearer " + tok) }
	hs := func(mod func(jwt.MapClaims)) []byte {
		return bearer(authTestSign(t, jwt.SigningMethodHS256, authTestSecret, authTestWith(mod)))
	}
	far := authTestT0.AddDate(900, 0, 0).Unix()
	cases := []authCase{
		// Properly signed with an asymmetric key the attacker owns: the
		// server must not take the key or the algorithm from the token.
		{name: "RS256 genuinely signed", header: bearer(authTestSign(t, jwt.SigningMethodRS256, rsaKey, authTestClaims())), want: errBadCredentials},
		{name: "PS256 genuinely signed", header: bearer(authTestSign(t, jwt.SigningMethodPS256, rsaKey, authTestClaims())), want: errBadCredentials},
		{name: "ES256 genuinely signed", header: bearer(authTestSign(t, jwt.SigningMethodES256, ecKey, authTestClaims())), want: errBadCredentials},
		{name: "EdDSA genuinely signed", header: bearer(authTestSign(t, jwt.SigningMethodEdDSA, edKey, authTestClaims())), want: errBadCredentials},
		// Headers that point at another key are ignored, so a token signed
		// with the attacker's secret stays a bad signature.
		{name: "kid path traversal", header: bearer(authTestRaw(t, `{"alg":"HS256","typ":"JWT","kid":"../../../dev/null"}`, authTestClaims(), []byte("x"))), want: errBadCredentials},
		{name: "embedded jwk", header: bearer(authTestRaw(t, `{"alg":"HS256","typ":"JWT","jwk":{"kty":"oct","k":"YWJj"}}`, authTestClaims(), []byte("x"))), want: errBadCredentials},
		{name: "jku", header: bearer(authTestRaw(t, `{"alg":"HS256","typ":"JWT","jku":"http://127.0.0.1/keys"}`, authTestClaims(), []byte("x"))), want: errBadCredentials},
		// Far-future times are not a way to mint a token that is valid
		// later, nor does an absurd value overflow into the past.
		{name: "iat far future", header: hs(func(c jwt.MapClaims) { c["iat"] = far; c["exp"] = far + 3600 }), want: errBadCredentials},
		{name: "nbf far future", header: hs(func(c jwt.MapClaims) { c["nbf"] = far }), want: errBadCredentials},
		{name: "iat absurd", header: hs(func(c jwt.MapClaims) { c["iat"] = 1e300 }), want: errBadCredentials},
		{name: "nbf absurd", header: hs(func(c jwt.MapClaims) { c["nbf"] = 1e300 }), want: errBadCredentials},
		{name: "exp absurd negative", header: hs(func(c jwt.MapClaims) { c["exp"] = -1e300 }), want: errBadCredentials},
		{name: "exp zero", header: hs(func(c jwt.MapClaims) { c["exp"] = 0 }), want: errBadCredentials},
		{name: "exp null", header: hs(func(c jwt.MapClaims) { c["exp"] = nil }), want: errBadCredentials},
		// Shopper ids that look like another's are refused (engine.ValidateUser).
		{name: "sub zero-width space", header: hs(func(c jwt.MapClaims) { c["sub"] = "shopper-1\u200b" }), want: errBadCredentials},
		{name: "sub bidi override", header: hs(func(c jwt.MapClaims) { c["sub"] = "\u202eshopper-1" }), want: errBadCredentials},
		{name: "sub BOM", header: hs(func(c jwt.MapClaims) { c["sub"] = "\ufeffshopper-1" }), want: errBadCredentials},
		{name: "sub trailing space", header: hs(func(c jwt.MapClaims) { c["sub"] = "shopper-1 " }), want: errBadCredentials},
		{name: "sub line separator", header: hs(func(c jwt.MapClaims) { c["sub"] = "shopper\u20281" }), want: errBadCredentials},
		// Case is part of the id: another account, not the same one.
		{name: "sub other case", header: hs(func(c jwt.MapClaims) { c["sub"] = "Shopper-1" }), user: "Shopper-1"},
	}
	for _, mode := range []struct {
		name  string
		cache int
	}{{"cached", authCachePerShard}, {"uncached", 0}} {
		t.Run(mode.name, func(t *testing.T) {
			a, _ := authTestNew(t, authTestConfig(), mode.cache)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					authTestCheck(t, a, c)
					authTestCheck(t, a, c)
				})
			}
		})
	}

	// iss and aud are compared exactly: no case folding, no trimming.
	cfg := authTestConfig()
	cfg.Issuer, cfg.Audience = "flashdrop-shop", "flashdrop-api"
	a, _ := authTestNew(t, cfg, 0)
	with := func(iss, aud any) []byte {
		return hs(func(c jwt.MapClaims) { c["iss"], c["aud"] = iss, aud })
	}
	for _, c := range []authCase{
		{name: "iss other case", header: with("FLASHDROP-SHOP", cfg.Audience), want: errBadCredentials},
		{name: "iss trailing space", header: with(cfg.Issuer+" ", cfg.Audience), want: errBadCredentials},
		{name: "iss as list", header: with([]string{cfg.Issuer}, cfg.Audience), want: errBadCredentials},
		{name: "aud other case", header: with(cfg.Issuer, "FLASHDROP-API"), want: errBadCredentials},
		{name: "aud prefix", header: with(cfg.Issuer, "flashdrop-api-evil"), want: errBadCredentials},
		{name: "aud empty list", header: with(cfg.Issuer, []string{}), want: errBadCredentials},
	} {
		t.Run(c.name, func(t *testing.T) { authTestCheck(t, a, c) })
	}
}
