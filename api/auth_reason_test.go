package api_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestUnauthorizedSaysWhy sends tokens refused for each reason a
// developer meets (expired, not valid yet, no exp, wrong aud or iss, an
// algorithm other than HS256, another secret, a bad sub, a wrong API
// key): each 401 names its reason in detail, in WWW-Authenticate's
// error_description beside error="invalid_token", and in the request's
// debug log line, where every one of them said only "Invalid
// credentials" and status=401. Nothing configured is echoed, and an API
// key's failure is one message whether its id exists or not.
func TestUnauthorizedSaysWhy(t *testing.T) {
	t.Parallel()
	logs := &testkit.LockedBuffer{}
	const iss, aud = "shop-issuer-x7", "flashdrop-aud-q9"
	h := newHarness(t, func(c *api.Config) {
		c.Auth.Issuer, c.Auth.Audience = iss, aud
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "alice", "iss": iss, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs := func(edit func(jwt.MapClaims)) string {
		return sign(jwt.SigningMethodHS256, []byte(secret), claims(edit))
	}
	// An RS256 header signed with the HMAC secret: the classic confusion.
	rs256 := func() string {
		enc := base64.RawURLEncoding
		head := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
			enc.EncodeToString([]byte(`{"sub":"alice","exp":`+jwtNum(now.Add(time.Hour))+`}`))
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(head))
		return head + "." + enc.EncodeToString(m.Sum(nil))
	}
	none := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))

	for _, c := range []struct{ name, token, want string }{
		{"expired", hs(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Hour).Unix()
			c["iat"] = now.Add(-2 * time.Hour).Unix()
		}), "the token has expired"},
		{"not yet valid", hs(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), "not valid yet"},
		{"no exp", hs(func(c jwt.MapClaims) { delete(c, "exp") }), "has no exp"},
		// An exp past any time is malformed, not expired (jwt read 1e300
		// as the distant past).
		{"absurd exp", hs(func(c jwt.MapClaims) { c["exp"] = 1e300 }), "the token's exp is not a valid time"},
		{"absurd negative exp", hs(func(c jwt.MapClaims) { c["exp"] = -1e300 }), "the token's exp is not a valid time"},
		{"exp in year 40000", hs(func(c jwt.MapClaims) { c["exp"] = 1.2e12 }), "the token's exp is not a valid time"},
		{"absurd nbf", hs(func(c jwt.MapClaims) { c["nbf"] = 1e300 }), "the token's nbf is not a valid time"},
		{"absurd iat", hs(func(c jwt.MapClaims) { c["iat"] = -1e300 }), "the token's iat is not a valid time"},
		{"no sub", hs(func(c jwt.MapClaims) { delete(c, "sub") }), "has no sub"},
		{"bad sub", hs(func(c jwt.MapClaims) { c["sub"] = "ali\u202ece" }), "sub is not a valid shopper id"},
		{"wrong aud", hs(func(c jwt.MapClaims) { c["aud"] = "other" }), "aud does not include this server's --jwt-audience"},
		{"no aud", hs(func(c jwt.MapClaims) { delete(c, "aud") }), "has no aud"},
		{"wrong iss", hs(func(c jwt.MapClaims) { c["iss"] = "other" }), "iss does not match this server's --jwt-issuer"},
		{"alg none", none, "must be signed with HS256"},
		{"HS512", sign(jwt.SigningMethodHS512, []byte(secret), claims(nil)), "must be signed with HS256"},
		{"RS256", rs256(), "must be signed with HS256"},
		{"wrong secret", sign(jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef0123"), claims(nil)), "does not verify"},
		{"not a JWT", "abc.def", "neither the admin token, an API key (fdk_...) nor a well-formed shopper JWT"},
	} {
		// The hot route: the reason costs nothing until the token is refused.
		r := h.do("POST", "/v1/drops/any/registrations", c.token, nil)
		wa := r.header.Get("WWW-Authenticate")
		if r.status != 401 || !strings.Contains(r.str("detail"), c.want) ||
			!strings.Contains(wa, `error="invalid_token"`) || !strings.Contains(wa, `error_description="`+r.str("detail")+`"`) {
			t.Errorf("%s: got %d %s, WWW-Authenticate %q; want 401 saying %q", c.name, r.status, r.raw, wa, c.want)
		}
		for _, secretish := range []string{iss, aud, secret} {
			if strings.Contains(string(r.raw), secretish) || strings.Contains(wa, secretish) {
				t.Errorf("%s: the answer repeats a configured value: %s %q", c.name, r.raw, wa)
			}
		}
		if !strings.Contains(logs.String(), `reason="`+r.str("detail")) {
			t.Errorf("%s: the debug log does not say why: %s", c.name, logs.String())
		}
	}

	// No credentials: a challenge without an error code (RFC 6750 §3.1).
	r := h.do("POST", "/v1/drops/any/registrations", "", nil)
	if r.status != 401 || strings.Contains(r.header.Get("WWW-Authenticate"), "error=") {
		t.Errorf("no credentials: %d %s %q", r.status, r.raw, r.header.Get("WWW-Authenticate"))
	}

	// API keys: an unknown id and a known id with a wrong secret read the same.
	k := h.do("POST", "/v1/admin/keys", admin, map[string]any{"name": "reasons", "scopes": []string{"drops:read"}})
	h.expect(k, 201, "")
	key := k.str("secret")
	wrong := key[:len(key)-1] + map[bool]string{true: "A", false: "B"}[key[len(key)-1] != 'A']
	known := h.do("GET", "/v1/admin/drops", wrong, nil)
	unknown := h.do("GET", "/v1/admin/drops", "fdk_nosuchkey_0123456789abcdef", nil)
	if known.status != 401 || unknown.status != 401 || known.str("detail") != unknown.str("detail") || known.str("detail") == "" ||
		known.header.Get("WWW-Authenticate") != unknown.header.Get("WWW-Authenticate") {
		t.Errorf("API key failures differ: %s %q / %s %q", known.raw, known.header.Get("WWW-Authenticate"), unknown.raw, unknown.header.Get("WWW-Authenticate"))
	}
}

func jwtNum(t time.Time) string {
	return strings.TrimSpace(string(must(jwt.NewNumericDate(t).MarshalJSON())))
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
