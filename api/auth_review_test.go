package api

// Regression tests of the security review (issue 15) on shopper tokens:
// forgeries and claims the first auth matrix did not try.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

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

// authTestSignedPayload is a token with jwt's HS256 header, payload as
// given (any bytes, valid JSON or not) and a good signature: what a fuzzer
// needs to reach past the signature check.
func authTestSignedPayload(payload []byte) string {
	unsigned := hs256Header + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, authTestSecret)
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// TestVerifyFastTakesCommonTokens: the tokens MintShopperToken makes (and
// jwt makes for any claims) take the fast path, with verifyFull's answer;
// everything that must be refused is refused, by verifyFull.
func TestVerifyFastTakesCommonTokens(t *testing.T) {
	cfg := authTestConfig()
	cfg.Issuer, cfg.Audience = "shop", "flashdrop"
	a, _ := authTestNew(t, cfg, 0)
	tok, err := MintShopperToken(authTestSecret, "shopper-1", time.Hour, authTestT0, "shop", "flashdrop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, hs256Header+".") {
		t.Fatalf("jwt writes another header than hs256Header: %s", tok)
	}
	user, from, until, ok := a.verifyFast(tok)
	fu, ff, fun, ferr := a.verifyFull(tok)
	if !ok || ferr != nil || user != fu || !from.Equal(ff) || !until.Equal(fun) || user != "shopper-1" {
		t.Fatalf("fast %q %v %v %v, full %q %v %v %v", user, from, until, ok, fu, ff, fun, ferr)
	}
	for name, tok := range map[string]string{
		"tampered signature": tok[:len(tok)-2] + "AA",
		"wrong issuer":       authTestSign(t, jwt.SigningMethodHS256, authTestSecret, authTestWith(func(c jwt.MapClaims) { c["iss"] = "other"; c["aud"] = "flashdrop" })),
		"no audience":        authTestSign(t, jwt.SigningMethodHS256, authTestSecret, authTestWith(func(c jwt.MapClaims) { c["iss"] = "shop" })),
		"expired":            authTestSignedPayload([]byte(`{"sub":"s","iss":"shop","aud":"flashdrop","exp":1}`)),
		"no exp":             authTestSignedPayload([]byte(`{"sub":"s","iss":"shop","aud":"flashdrop"}`)),
		"jti not a string":   authTestSignedPayload([]byte(`{"sub":"s","iss":"shop","aud":"flashdrop","exp":9999999999,"jti":5}`)),
		"other secret":       authTestSign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), authTestWith(func(c jwt.MapClaims) { c["iss"] = "shop"; c["aud"] = "flashdrop" })),
	} {
		if _, _, _, ok := a.verifyFast(tok); ok {
			t.Errorf("%s: the fast path accepted it", name)
		}
		if _, _, _, err := a.verify(tok); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzVerifyFast: whatever the claims (any payload bytes under a good
// signature), the clock, issuer and audience, the fast path accepts only
// what jwt's parser accepts, with the same shopper and validity window;
// and decodeClaims, when it decodes the claims, decodes them as
// encoding/json does.
func FuzzVerifyFast(f *testing.F) {
	t0 := authTestT0.Unix()
	for _, p := range []string{
		fmt.Sprintf(`{"sub":"shopper-1","iat":%d,"exp":%d}`, t0, t0+3600),
		fmt.Sprintf(`{"sub":"shopper-1","iss":"shop","aud":["x","flashdrop"],"nbf":%d,"exp":%d.5}`, t0+10, t0+3600),
		fmt.Sprintf(`{"SUB":"a","Exp":%d,"sub":"b"}`, t0+1),
		fmt.Sprintf(`{"sub":"a","exp":"%d"}`, t0+60),
		fmt.Sprintf(`{"sub":"a","exp":%d} trailing`, t0+60),
		fmt.Sprintf(`{"sub":"a","exp":%d,"aud":""}`, t0+60),
		`{"sub":"a","exp":1e300}`, `null`, `[]`, `{"sub":"a","exp":null}`,
		fmt.Sprintf(`{"sub":"zoë","exp":%d,"x":null,"sub":"b"}`, t0+60),
		fmt.Sprintf(`{"sub":"a\u00e9","exp":%d,"aud":"flashdrop","iss":"shop","jti":"j","y":[1]}`, t0+60),
		fmt.Sprintf(`{"ſub":"a","exp":%d,"nbf":%d,"iat":0}`, t0+60, t0),
	} {
		f.Add([]byte(p), "", "", int64(0))
		f.Add([]byte(p), "shop", "flashdrop", int64(-40))
	}
	f.Fuzz(func(t *testing.T, payload []byte, iss, aud string, offset int64) {
		cfg := authTestConfig()
		cfg.Issuer, cfg.Audience = iss, aud
		now := authTestT0.Add(time.Duration(offset%100_000) * time.Second)
		a, err := newAuthenticatorSize(cfg, func() time.Time { return now }, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeClaims(t, payload)
		tok := authTestSignedPayload(payload)
		fu, ff, fun, ferr := a.verifyFull(tok)
		user, from, until, ok := a.verifyFast(tok)
		if ok && (ferr != nil || user != fu || !from.Equal(ff) || !until.Equal(fun)) {
			t.Fatalf("fast path %q [%v, %v), jwt %q [%v, %v) %v, for %s", user, from, until, fu, ff, fun, ferr, payload)
		}
		vu, _, _, verr := a.verify(tok)
		if vu != fu || verr != ferr {
			t.Fatalf("verify %q %v, verifyFull %q %v", vu, verr, fu, ferr)
		}
	})
}
