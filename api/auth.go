package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"log/slog"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/flashdrop/flashdrop/engine"
)

// AuthConfig configures who may call the API. Zero values mean defaults.
//
// Its String, GoString and LogValue methods redact the secrets, so a
// configuration that ends up in a log line or a panic message does not leak
// them.
type AuthConfig struct {
	// JWTSecret is the HS256 key for shopper tokens; required, at least 32
	// bytes (the HMAC-SHA256 block of security).
	JWTSecret []byte
	// Issuer, if set, must equal the tokens' iss claim.
	Issuer string
	// Audience, if set, must be among the tokens' aud claim.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means 30s.
	Leeway time.Duration
	// AdminToken is the bearer token of the shop backend and operators;
	// required, at least 16 bytes of visible ASCII (it travels in a header).
	AdminToken string
}

// String describes c without its secrets.
func (c AuthConfig) String() string {
	return fmt.Sprintf("api.AuthConfig{JWTSecret:%s, Issuer:%q, Audience:%q, Leeway:%v, AdminToken:%s}",
		redacted(len(c.JWTSecret) > 0), c.Issuer, c.Audience, c.Leeway, redacted(c.AdminToken != ""))
}

// GoString is String: %#v must not be a way around the redaction.
func (c AuthConfig) GoString() string { return c.String() }

// LogValue describes c for slog without its secrets.
func (c AuthConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("jwt_secret", redacted(len(c.JWTSecret) > 0)),
		slog.String("issuer", c.Issuer),
		slog.String("audience", c.Audience),
		slog.Duration("leeway", c.Leeway),
		slog.String("admin_token", redacted(c.AdminToken != "")),
	)
}

func redacted(set bool) string {
	if set {
		return "<redacted>"
	}
	return "<unset>"
}

const (
	authMinSecretLen     = 32
	authMinAdminTokenLen = 16
	authDefaultLeeway    = 30 * time.Second
	// authMaxHeaderLen caps the Authorization header: real tokens are a few
	// hundred bytes, and hashing or parsing megabytes per request would hand
	// attackers a cheap way to burn CPU.
	authMaxHeaderLen = 4 << 10
	// maxShopperIDLen bounds the sub claim: the engine's rule for user ids.
	maxShopperIDLen = engine.MaxUserLen

	// The verified-token cache: authCacheShards shards of at most
	// authCachePerShard entries each (64k tokens, 8 MiB of tables when
	// every shard has been used).
	authCacheShards   = 32
	authCachePerShard = 2048
	// authCacheSample is how many entries a full shard looks at to find
	// room for a new one when its oldest entry is already gone.
	authCacheSample = 8
)

// principal is who made a request, as established by authenticate.
type principal struct {
	user  string // the JWT sub, for shoppers
	admin bool   // the admin token or an API key
	// key is the API key's id; "" for the admin token, which holds every
	// scope.
	key string
	// scopes is the key's scopes joined by commas: a string keeps the
	// principal comparable.
	scopes string
}

// has reports whether an admin principal holds scope.
func (p principal) has(scope string) bool {
	if !p.admin {
		return false
	}
	if p.key == "" {
		return true
	}
	return engine.Holds(strings.Split(p.scopes, ","), scope)
}

// grants is the scopes an admin principal may hand on to a key.
func (p principal) grants() []string {
	if p.key == "" {
		return engine.AllScopes
	}
	return strings.Split(p.scopes, ",")
}

var (
	errNoCredentials  = errors.New("api: no credentials")  // no Authorization header
	errBadCredentials = errors.New("api: bad credentials") // malformed header, bad/expired/wrong-alg token, etc.
)

// authError is errBadCredentials with a fixed reason for the logs and a
// fixed detail for the client: what a developer holding a refused token
// can act on ("the token has expired"), never a secret, a configured
// value, or anything from the request, so neither leaks a token or the
// server's settings. The values are preallocated so rejecting a request
// (the path an attacker controls) does not allocate.
type authError struct{ msg, detail string }

func (e *authError) Error() string { return e.msg }
func (e *authError) Unwrap() error { return errBadCredentials }

// newAuthError makes an authError; the detail goes in the problem's
// detail and in WWW-Authenticate's error_description (RFC 6750), so it
// must not contain '"' or '\\'.
func newAuthError(reason, detail string) *authError {
	return &authError{msg: errBadCredentials.Error() + ": " + reason, detail: detail}
}

var (
	errAuthHeaderTooLong  = newAuthError("authorization header too long", "the Authorization header is longer than 4096 bytes")
	errAuthNotBearer      = newAuthError("authorization scheme is not Bearer", "the Authorization header must be Bearer, a space and the token")
	errAuthEmptyToken     = newAuthError("empty bearer token", "the bearer token is empty")
	errAuthBadTokenChars  = newAuthError("bearer token has invalid characters", "the bearer token must be one word of visible ASCII")
	errAuthMalformed      = newAuthError("malformed token", "the token is neither the admin token, an API key (fdk_...) nor a well-formed shopper JWT")
	errAuthBadSignature   = newAuthError("bad signature or signing method", "the token's signature does not verify with this server's JWT secret")
	errAuthWrongAlg       = newAuthError("signing method is not HS256", "the token must be signed with HS256 (its header's alg)")
	errAuthUnverifiable   = newAuthError("unverifiable token", "the token could not be verified")
	errAuthExpired        = newAuthError("token expired", "the token has expired")
	errAuthNotYetValid    = newAuthError("token not valid yet", "the token is not valid yet (its nbf is in the future)")
	errAuthIssuedLater    = newAuthError("token issued in the future", "the token's iat is in the future")
	errAuthMissingClaim   = newAuthError("required claim missing", "the token lacks a required claim")
	errAuthMissingSubject = newAuthError("required claim missing: sub", "the token has no sub, the shopper's id")
	errAuthMissingExp     = newAuthError("required claim missing: exp", "the token has no exp: shopper tokens must expire")
	errAuthMissingIssuer  = newAuthError("required claim missing: iss", "the token has no iss, and this server's --jwt-issuer requires one")
	errAuthMissingAud     = newAuthError("required claim missing: aud", "the token has no aud, and this server's --jwt-audience requires one")
	errAuthWrongIssuer    = newAuthError("wrong issuer", "the token's iss does not match this server's --jwt-issuer")
	errAuthWrongAudience  = newAuthError("wrong audience", "the token's aud does not include this server's --jwt-audience")
	errAuthBadSubject     = newAuthError("invalid subject", "the token's sub is not a valid shopper id")
	errAuthInvalid        = newAuthError("invalid token", "the token is not valid")
	errAuthExpRange       = newAuthError("exp out of range", "the token's exp is not a valid time")
	errAuthNbfRange       = newAuthError("nbf out of range", "the token's nbf is not a valid time")
	errAuthIatRange       = newAuthError("iat out of range", "the token's iat is not a valid time")
	// One message for every API key failure: which part was wrong would
	// tell a guesser that a key id exists.
	errAuthBadKey = newAuthError("unknown, revoked or wrong API key", "the API key is unknown, revoked or wrong")
)

// authMaxClaimUnix bounds exp, nbf and iat (the end of year 9999). jwt
// converts a NumericDate from a float64, and a huge value such as 1e300
// does not fail there: it overflows int64 into the distant past on amd64,
// which would turn "not before 1e300" into "valid since forever".
const authMaxClaimUnix = 253402300799

// authenticator checks the Authorization header of requests. It is safe for
// concurrent use.
type authenticator struct {
	secret      []byte
	adminDigest [sha256.Size]byte
	leeway      time.Duration
	now         func() time.Time
	parser      *jwt.Parser
	keyFunc     jwt.Keyfunc // a.key bound once, so parsing does not allocate a closure
	cache       *authCache  // nil when disabled
	// issuer and audience are AuthConfig's, for verifyFast; macs holds
	// HMAC-SHA256 states keyed with the secret (Reset returns one to its
	// keyed start, so a check allocates none).
	issuer, audience string
	macs             sync.Pool
	// keys checks API keys (tokens starting with engine.APIKeyPrefix);
	// nil: API keys are refused.
	keys func(token string) (engine.APIKey, error)
	// knownKeys remembers the digests of API keys that authenticated, for
	// knownAdmin.
	knownMu   sync.Mutex
	knownKeys map[[sha256.Size]byte]time.Time // digest -> when last seen
}

// knownKeyTTL is how long an API key that authenticated is known to
// knownAdmin, and knownKeysMax how many are kept.
const (
	knownKeyTTL  = 10 * time.Minute
	knownKeysMax = 1024
)

// knownAdmin says, without any store read or signature check, whether
// header carries the admin token or an API key that authenticated in the
// last knownKeyTTL. It decides only who may skip the shoppers' per-IP
// limit and use the admin reserve past the in-flight bound: the handler
// still authenticates in full (a revoked key is refused there). Checking
// a stranger's made-up credential in full there would cost a Redis read
// each, ahead of the limits meant to stop him.
func (a *authenticator) knownAdmin(header []byte, now time.Time) bool {
	tok, err := parseBearer(header)
	if err != nil {
		return false
	}
	digest := sha256.Sum256(tok)
	if a.isAdminToken(digest) {
		return true
	}
	if !bytes.HasPrefix(tok, []byte(engine.APIKeyPrefix)) {
		return false
	}
	a.knownMu.Lock()
	defer a.knownMu.Unlock()
	seen, ok := a.knownKeys[digest]
	return ok && now.Sub(seen) < knownKeyTTL
}

// isAdminToken says whether digest is the admin token's. Comparing
// fixed-size digests in constant time leaks neither the admin token's
// content nor its length.
func (a *authenticator) isAdminToken(digest [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(digest[:], a.adminDigest[:]) == 1
}

// rememberKey records that the key with digest authenticated at now.
func (a *authenticator) rememberKey(digest [sha256.Size]byte, now time.Time) {
	a.knownMu.Lock()
	defer a.knownMu.Unlock()
	if a.knownKeys == nil || len(a.knownKeys) >= knownKeysMax {
		a.knownKeys = map[[sha256.Size]byte]time.Time{}
	}
	a.knownKeys[digest] = now
}

// SecretError says which secret breaks which rule. It names the rule,
// never the value: these errors are logged and printed.
type SecretError struct {
	Secret string // "admin token" or "JWT secret"
	Rule   string // "must be at least 16 bytes", …
}

func (e *SecretError) Error() string { return "api: the " + e.Secret + " " + e.Rule }

// CheckJWTSecret tells whether secret can sign shopper tokens.
func CheckJWTSecret(secret []byte) error {
	if len(secret) < authMinSecretLen {
		return &SecretError{"JWT secret", fmt.Sprintf("must be at least %d bytes", authMinSecretLen)}
	}
	return nil
}

// CheckAdminToken tells whether tok can be the admin token.
func CheckAdminToken(tok string) error {
	switch {
	case len(tok) < authMinAdminTokenLen:
		return &SecretError{"admin token", fmt.Sprintf("must be at least %d bytes", authMinAdminTokenLen)}
	case len(tok) > authMaxHeaderLen-len("Bearer "):
		return &SecretError{"admin token", "is too long to fit in an Authorization header"}
	case !isTokenChars([]byte(tok)):
		// A token with spaces or non-ASCII bytes could never arrive intact
		// in a Bearer header; refuse it now rather than lock the backend
		// out later.
		return &SecretError{"admin token", "must be visible ASCII without spaces"}
	}
	return nil
}

// newAuthenticator validates cfg and builds an authenticator; now defaults to
// time.Now.
func newAuthenticator(cfg AuthConfig, now func() time.Time) (*authenticator, error) {
	return newAuthenticatorSize(cfg, now, authCachePerShard)
}

// newAuthenticatorSize is newAuthenticator with the per-shard capacity of the
// verified-token cache; 0 disables the cache. Tests use it to shrink the
// cache.
func newAuthenticatorSize(cfg AuthConfig, now func() time.Time, cachePerShard int) (*authenticator, error) {
	if err := CheckJWTSecret(cfg.JWTSecret); err != nil {
		return nil, err
	}
	if err := CheckAdminToken(cfg.AdminToken); err != nil {
		return nil, err
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("api: AuthConfig.Leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = authDefaultLeeway
	}
	if now == nil {
		now = time.Now
	}
	a := &authenticator{
		// Copied so a caller reusing its slice cannot change the key under us.
		secret:      append([]byte(nil), cfg.JWTSecret...),
		adminDigest: sha256.Sum256([]byte(cfg.AdminToken)),
		leeway:      cfg.Leeway,
		now:         now,
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		// Canonical base64 only, as verifyFast reads it: the last
		// character of a signature has two unused bits, and without this
		// each token had four spellings that all verified (and took four
		// places in the cache).
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	a.parser = jwt.NewParser(opts...)
	a.issuer, a.audience = cfg.Issuer, cfg.Audience
	a.macs.New = func() any { return hmac.New(sha256.New, a.secret) }
	a.keyFunc = a.key
	if cachePerShard > 0 {
		a.cache = newAuthCache(cachePerShard)
	}
	return a, nil
}

// key hands the parser the HS256 secret. WithValidMethods already refuses
// every other algorithm; checking again here keeps "none", RS256-with-the-
// HMAC-key and friends out even if the parser options change one day.
func (a *authenticator) key(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errAuthBadSignature
	}
	return a.secret, nil
}

// authenticate reads the raw Authorization header value (may be nil/empty).
// Errors are errNoCredentials or wrap errBadCredentials; they never contain
// the credentials.
func (a *authenticator) authenticate(header []byte) (principal, error) {
	return a.authenticateAt(header, a.now())
}

// authenticateAt is authenticate with the cache checked at now, a time the
// caller already read (the request's arrival); a token the cache does not
// hold is verified against the authenticator's own clock as before.
func (a *authenticator) authenticateAt(header []byte, now time.Time) (principal, error) {
	if len(header) == 0 {
		return principal{}, errNoCredentials
	}
	tok, err := parseBearer(header)
	if err != nil {
		return principal{}, err
	}
	// A token the cache holds passed full verification as a shopper's JWT,
	// so it is not the admin token (that one is answered below and never
	// cached): a hit skips the SHA-256 of the whole token below, which was
	// a third of a known shopper's token check.
	var key authCacheKey
	if a.cache != nil {
		key = a.cache.key(tok)
		if user, ok := a.cache.get(key, now); ok {
			return principal{user: user}, nil
		}
	}
	digest := sha256.Sum256(tok)
	if a.isAdminToken(digest) {
		return principal{admin: true}, nil
	}
	if bytes.HasPrefix(tok, []byte(engine.APIKeyPrefix)) {
		if a.keys == nil {
			return principal{}, errAuthBadKey
		}
		k, err := a.keys(string(tok))
		if errors.Is(err, engine.ErrBadKey) {
			return principal{}, errAuthBadKey
		}
		if err != nil {
			return principal{}, err
		}
		a.rememberKey(digest, now)
		return principal{admin: true, key: k.ID, scopes: strings.Join(k.Scopes, ",")}, nil
	}
	user, from, until, err := a.verify(string(tok))
	if err != nil {
		return principal{}, err
	}
	if a.cache != nil {
		a.cache.put(key, user, from, until, now)
	}
	return principal{user: user}, nil
}

// verify checks a shopper JWT in full and returns its subject and the
// window of time in which it is acceptable (leeway included), so the cache
// can keep honouring nbf/iat/exp without parsing again.
func (a *authenticator) verify(tok string) (user string, validFrom, validUntil time.Time, err error) {
	if user, from, until, ok := a.verifyFast(tok); ok {
		return user, from, until, nil
	}
	return a.verifyFull(tok)
}

// verifyFull is verify by jwt's parser alone: the authority on every token,
// and the one that names what is wrong with a bad one.
func (a *authenticator) verifyFull(tok string) (user string, validFrom, validUntil time.Time, err error) {
	var claims jwt.RegisteredClaims
	if _, err := a.parser.ParseWithClaims(tok, &claims, a.keyFunc); err != nil {
		// jwt checks the claims after the signature, and reads an exp
		// such as 1e300 as a time in the distant past: "expired", where
		// the token is malformed. A claims error may name a time claim
		// out of range first.
		if errors.Is(err, jwt.ErrTokenInvalidClaims) {
			if err := claimsInRange(&claims); err != nil {
				return "", time.Time{}, time.Time{}, err
			}
		}
		return "", time.Time{}, time.Time{}, classifyJWTError(err)
	}
	return a.checkClaims(&claims)
}

// claimsInRange refuses an exp, nbf or iat outside authMaxClaimUnix's
// range, naming it.
func claimsInRange(claims *jwt.RegisteredClaims) error {
	for _, c := range []struct {
		d   *jwt.NumericDate
		err error
	}{{claims.ExpiresAt, errAuthExpRange}, {claims.NotBefore, errAuthNbfRange}, {claims.IssuedAt, errAuthIatRange}} {
		if c.d != nil && (c.d.Unix() < 0 || c.d.Unix() > authMaxClaimUnix) {
			return c.err
		}
	}
	return nil
}

// checkClaims applies our own rules to claims jwt's parser accepted (or
// verifyFast decoded) and gives the window in which the token is valid.
func (a *authenticator) checkClaims(claims *jwt.RegisteredClaims) (user string, validFrom, validUntil time.Time, err error) {
	if claims.Subject == "" {
		return "", time.Time{}, time.Time{}, errAuthMissingSubject
	}
	if !isValidShopperID(claims.Subject) {
		return "", time.Time{}, time.Time{}, errAuthBadSubject
	}
	if claims.ExpiresAt == nil { // jwt refuses it first (WithExpirationRequired); verifyFast does not
		return "", time.Time{}, time.Time{}, errAuthMissingExp
	}
	if err := claimsInRange(claims); err != nil {
		return "", time.Time{}, time.Time{}, err
	}
	// The same inequalities as jwt's validator: now < exp+leeway,
	// now >= nbf-leeway, now >= iat-leeway.
	validUntil = claims.ExpiresAt.Add(a.leeway)
	if claims.NotBefore != nil {
		validFrom = claims.NotBefore.Add(-a.leeway)
	}
	if claims.IssuedAt != nil {
		if iat := claims.IssuedAt.Add(-a.leeway); iat.After(validFrom) {
			validFrom = iat
		}
	}
	return claims.Subject, validFrom, validUntil, nil
}

// hs256Header is the base64url form of {"alg":"HS256","typ":"JWT"}, the
// header jwt (and nearly every issuer) writes for an HS256 token.
const hs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// b64 decodes token segments. Strict: a segment jwt would read although
// it is not in canonical form goes to verifyFull instead.
var b64 = base64.RawURLEncoding.Strict()

// verifyFast accepts the common shopper token for a fraction of jwt's
// cost, and only tokens jwt's parser accepts too, with the same claims:
// the header must be hs256Header byte for byte (no JSON to read), the
// HMAC is checked before anything else is decoded, the claims are decoded
// into jwt's own RegisteredClaims (so each claim has jwt's types and
// rules; decodeClaims reads the common flat form without reflection,
// encoding/json the rest), and the checks are the parser's (exp required, nbf, iat, iss,
// aud, with the leeway) plus checkClaims. Anything else, a bad token
// included, answers ok = false and goes to verifyFull, which decides and
// names the fault. A first request with a token costs 6-14 µs in jwt's
// parser under load, most of it decoding the header into a map and the
// garbage that leaves; FuzzVerifyFast holds the two to one answer.
func (a *authenticator) verifyFast(tok string) (user string, validFrom, validUntil time.Time, ok bool) {
	rest, ok := strings.CutPrefix(tok, hs256Header+".")
	if !ok {
		return "", time.Time{}, time.Time{}, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || len(sig) != b64.EncodedLen(sha256.Size) {
		return "", time.Time{}, time.Time{}, false
	}
	var want, got [sha256.Size]byte
	if n, err := b64.Decode(want[:], []byte(sig)); err != nil || n != sha256.Size {
		return "", time.Time{}, time.Time{}, false
	}
	mac := a.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(tok[:len(tok)-len(sig)-1]))
	mac.Sum(got[:0])
	a.macs.Put(mac)
	if !hmac.Equal(got[:], want[:]) {
		return "", time.Time{}, time.Time{}, false
	}
	// A shopper token's claims are well under 256 bytes: decoded on the
	// stack, they cost no allocation.
	var buf [256]byte
	body := buf[:]
	if m := b64.DecodedLen(len(payload)); m > len(buf) {
		body = make([]byte, m)
	}
	n, err := b64.Decode(body, []byte(payload))
	if err != nil {
		return "", time.Time{}, time.Time{}, false
	}
	var claims jwt.RegisteredClaims
	if !decodeClaims(body[:n], &claims) {
		// encoding/json keeps what it is given on the heap: a copy, so
		// buf and claims stay on the stack in the common case.
		var full jwt.RegisteredClaims
		if json.Unmarshal(bytes.Clone(body[:n]), &full) != nil {
			return "", time.Time{}, time.Time{}, false
		}
		claims = full
	}
	if a.issuer != "" && claims.Issuer != a.issuer {
		return "", time.Time{}, time.Time{}, false
	}
	if a.audience != "" && !slices.Contains(claims.Audience, a.audience) {
		return "", time.Time{}, time.Time{}, false
	}
	user, validFrom, validUntil, err = a.checkClaims(&claims)
	if now := a.now(); err != nil || now.Before(validFrom) || !now.Before(validUntil) {
		return "", time.Time{}, time.Time{}, false
	}
	return user, validFrom, validUntil, true
}

// classifyJWTError maps a jwt error to one of the fixed authErrors. jwt's own
// messages are dropped because some (JSON syntax errors) quote decoded token
// bytes; only its fixed words are read, to tell a missing claim and a
// refused algorithm apart. This is the refusal's path alone.
func classifyJWTError(err error) error {
	msg := err.Error()
	switch {
	case (errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable)) && strings.Contains(msg, "signing method"):
		// "signing method none is invalid" (an alg other than HS256:
		// none, RS256, HS512), "… (alg) is unavailable" or unspecified.
		return errAuthWrongAlg
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(msg, "exp claim"):
		return errAuthMissingExp
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(msg, "iss claim"):
		return errAuthMissingIssuer
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(msg, "aud claim"):
		return errAuthMissingAud
	case errors.Is(err, jwt.ErrTokenExpired):
		return errAuthExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errAuthNotYetValid
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errAuthIssuedLater
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errAuthMissingClaim
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errAuthWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errAuthWrongAudience
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errAuthMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errAuthBadSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return errAuthUnverifiable
	default:
		return errAuthInvalid
	}
}

// parseBearer extracts the token from "Bearer <token>": scheme
// case-insensitive, one or more spaces (RFC 7235's 1*SP), then exactly one
// token of visible ASCII. It returns a subslice of h.
func parseBearer(h []byte) ([]byte, error) {
	if len(h) > authMaxHeaderLen {
		return nil, errAuthHeaderTooLong
	}
	const scheme = "bearer"
	if len(h) < len(scheme) || !asciiEqualFold(h[:len(scheme)], scheme) {
		return nil, errAuthNotBearer
	}
	rest := h[len(scheme):]
	if len(rest) == 0 {
		return nil, errAuthEmptyToken
	}
	if rest[0] != ' ' { // "Bearerx": some other scheme
		return nil, errAuthNotBearer
	}
	i := 0
	for i < len(rest) && rest[i] == ' ' {
		i++
	}
	tok := rest[i:]
	if len(tok) == 0 {
		return nil, errAuthEmptyToken
	}
	// This also refuses a second token, since the separator is a space.
	if !isTokenChars(tok) {
		return nil, errAuthBadTokenChars
	}
	return tok, nil
}

// isTokenChars reports whether b is all visible ASCII (0x21-0x7e).
//
// Every request with a token runs it over the whole token (about 200
// bytes) before the cache can answer, so it checks eight bytes a word
// (28 ns for 200 bytes against 93 a byte at a time; the sold_out handler
// benchmark 4 % faster): a byte under 0x21 makes its lane of x-0x21
// borrow into bit 7 where x's own bit 7 was clear, and a byte over 0x7e
// sets bit 7 of x+1 or had it set. A borrow or carry that crosses into
// the next lane comes only from a lane that is already refused.
func isTokenChars(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if ((x-ones*0x21)&^x|(x+ones)|x)&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// asciiEqualFold compares b to the lower-case ASCII string lower, ignoring
// the case of b, without allocating.
func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isValidShopperID reports whether s is acceptable as a shopper id (the JWT
// sub): engine.ValidateUser's rule, since it ends up in logs, store keys,
// JSON and the ops page; ids are compared as exact bytes.
func isValidShopperID(s string) bool { return engine.ValidateUser(s) == nil }

// authCache remembers recently verified shopper tokens, so a shopper's
// repeated requests skip base64, JSON and HMAC work. Only tokens that
// passed full verification enter it, entries carry the token's validity
// window and are re-checked against now on every hit, and each shard is
// capped.
//
// An entry is keyed by the token's last authCacheTail bytes and holds the
// authCacheRest bytes before them: for a verified JWT, together the last
// 24 of the 43 characters of its signature (142 bits: the last character
// carries 4), which only the holder of the secret could have written, so
// no other token is taken for a cached one. The entry also holds a seeded
// 64-bit hash of the whole token, so a token with a cached signature and
// another header or payload is a miss too (it could only pass as the
// signature's owner, whose token its sender holds already, yet it is not
// the token that was verified). A hit reads the token once for that hash
// and hashes nothing with SHA-256: under a sold-out rush of 20,000
// shoppers, that digest of the whole token was 3 % of serve's CPU, a
// third of the token check. The signature characters in memory give away
// nothing the process does not hold already: the secret that signs them.
//
// Each shard is an open-addressing table of 64-byte slots (linear
// probing, at most half full), so that a hit reads one cache line beyond
// the shard's lock when its entry sits in its home slot, and the next
// line or two when it does not (about 1.5 slots on average at half load).
// Under a sold-out rush the 20,000 shoppers' entries are cold by the time
// each presses again, and Go's map read three or four lines one after
// another (its directory, a table, a group's control word, the slot): the
// lookup was 4 % of serve's CPU per press.
type authCache struct {
	perShard int
	seed     maphash.Seed
	shards   [authCacheShards]authCacheShard
}

const (
	authCacheTail = 8  // bytes of the token's end that key its entry
	authCacheRest = 16 // bytes before them that the entry holds
	// authCacheMinLen is the shortest token cached: a JWT is far longer.
	authCacheMinLen = 32
)

type authCacheShard struct {
	mu sync.Mutex
	// slots is the table, a power of two at least twice perShard (made
	// at the first put), with n of them in use; a slot with key 0 is
	// free (key() never makes that key).
	slots []authCacheSlot
	n     int
	// fifo holds the keys in the order they were first put, a ring of
	// perShard once full, its oldest at next: a full shard makes room
	// by dropping its oldest token, which costs O(1), where a sample of
	// the entries (then a Go map's, iterated) cost more per insertion
	// than verifying the token on the bench's all-wins run, with the
	// cache full of the registrants' tokens. A key that left the table
	// early (expired) stays until its turn; dropping it then drops
	// nothing, or a token put again under that key since, which costs
	// that token one more verification.
	fifo []uint64
	next int
	_    [64]byte // keeps neighbouring shards' locks off one cache line
}

// authCacheSlot is one cached token in 64 bytes, one cache line.
type authCacheSlot struct {
	k          uint64              // the token's last 8 bytes; 0: a free slot
	sum        uint64              // maphash of the whole token with the cache's seed
	rest       [authCacheRest]byte // the token's bytes before the key's
	user       string
	validFrom  int64 // Unix ns: accepted when now >= validFrom
	validUntil int64 // and now < validUntil
}

// authNanos is t in Unix nanoseconds, clamped to int64: a window's ends
// may lie far outside 1678-2262 (no nbf: the zero time; exp in 9999).
func authNanos(t time.Time) int64 {
	switch {
	case t.Before(authMinNanos):
		return math.MinInt64
	case t.After(authMaxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

var authMinNanos, authMaxNanos = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

func newAuthCache(perShard int) *authCache {
	return &authCache{perShard: perShard, seed: maphash.MakeSeed()}
}

// authCacheKey is where a token goes in the cache and what its entry
// must hold, worked out once per request for both the lookup and, after a
// miss, the put.
type authCacheKey struct {
	s    *authCacheShard // nil for a token never cached (too short to be a JWT)
	k    uint64
	rest [authCacheRest]byte
	sum  uint64
}

// authMix spreads a key's bits (base64 text) into the high and middle
// ones: the middle pick the shard, the top the slot.
func authMix(k uint64) uint64 { return k * 0x9e3779b97f4a7c15 }

// key finds a token's shard, its key and what its entry holds.
func (c *authCache) key(tok []byte) authCacheKey {
	n := len(tok)
	if n < authCacheMinLen {
		return authCacheKey{}
	}
	k := binary.LittleEndian.Uint64(tok[n-authCacheTail:])
	if k == 0 {
		return authCacheKey{} // the free slots' key; no JWT ends in 8 NULs
	}
	return authCacheKey{
		s:    &c.shards[authMix(k)>>32%authCacheShards],
		k:    k,
		rest: [authCacheRest]byte(tok[n-authCacheTail-authCacheRest:]),
		sum:  maphash.Bytes(c.seed, tok),
	}
}

// home is key k's first slot in a table of len(s.slots) (a power of two).
func (s *authCacheShard) home(k uint64) int {
	return int(authMix(k) >> (64 - bits.TrailingZeros(uint(len(s.slots)))))
}

// slot probes for k from its home in a made table: the index of k's
// slot and true, or of the free slot that ends the probe (where k would
// go) and false.
func (s *authCacheShard) slot(k uint64) (int, bool) {
	mask := len(s.slots) - 1
	for i := s.home(k); ; i = (i + 1) & mask {
		switch s.slots[i].k {
		case k:
			return i, true
		case 0:
			return i, false
		}
	}
}

// remove frees slot i and moves later slots of its run back into the
// hole where their home allows (no tombstones, so a lookup never walks
// past slots that are gone).
func (s *authCacheShard) remove(i int) {
	mask := len(s.slots) - 1
	for j := (i + 1) & mask; s.slots[j].k != 0; j = (j + 1) & mask {
		// Slot j may fill the hole at i unless its home lies cyclically
		// in (i, j].
		if h := s.home(s.slots[j].k); (j-h)&mask >= (j-i)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = authCacheSlot{}
	s.n--
}

// drop removes key k if the shard holds it.
func (s *authCacheShard) drop(k uint64) {
	if i, ok := s.slot(k); ok {
		s.remove(i)
	}
}

// get returns the user of a cached token that is valid at now.
func (c *authCache) get(key authCacheKey, now time.Time) (string, bool) {
	s := key.s
	if s == nil {
		return "", false
	}
	t := authNanos(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.slots) == 0 {
		return "", false // nothing put yet
	}
	i, ok := s.slot(key.k)
	if !ok {
		return "", false
	}
	e := &s.slots[i]
	// In constant time: the bytes held are secret, and a timing of how
	// many of them a guess got right would be a way to learn them.
	if subtle.ConstantTimeCompare(e.rest[:], key.rest[:]) != 1 || e.sum != key.sum {
		return "", false // not the cached token: a miss
	}
	if t >= e.validUntil {
		s.remove(i) // expired for good; make room
		return "", false
	}
	if t < e.validFrom {
		// Clock went backwards: let the full check decide (and refuse).
		return "", false
	}
	return e.user, true
}

// put stores a verified token valid from from until until. A full shard
// drops its oldest token (first put the longest ago), and when that one
// is gone already, expired entries among a small random sample, failing
// that one sampled live entry: a token verified just now is likelier to
// come back than an old one, and a miss only costs a re-verification.
func (c *authCache) put(key authCacheKey, user string, from, until, now time.Time) {
	s, k := key.s, key.k
	if s == nil || c.perShard <= 0 {
		return
	}
	t := authNanos(now)
	e := authCacheSlot{k: k, sum: key.sum, rest: key.rest, user: user, validFrom: authNanos(from), validUntil: authNanos(until)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		s.slots = make([]authCacheSlot, 1<<bits.Len(uint(2*c.perShard-1)))
	}
	if i, ok := s.slot(k); ok {
		s.slots[i] = e
		return
	}
	if len(s.fifo) < c.perShard {
		s.fifo = append(s.fifo, k)
	} else {
		if s.n >= c.perShard {
			s.drop(s.fifo[s.next])
		}
		s.fifo[s.next] = k
		s.next = (s.next + 1) % c.perShard
	}
	if s.n >= c.perShard {
		s.makeRoom(t)
	}
	// Probed again: the drops above may have moved entries back.
	i, _ := s.slot(k)
	s.slots[i] = e
	s.n++
}

// makeRoom frees at least one slot of a full shard: the expired among
// the first authCacheSample entries from a random slot on, else the
// first of them.
func (s *authCacheShard) makeRoom(t int64) {
	var seen [authCacheSample]uint64
	var expired [authCacheSample]bool
	n, mask := 0, len(s.slots)-1
	for i, left := rand.IntN(len(s.slots)), len(s.slots); left > 0 && n < authCacheSample; i, left = (i+1)&mask, left-1 {
		if e := &s.slots[i]; e.k != 0 {
			seen[n], expired[n] = e.k, t >= e.validUntil
			n++
		}
	}
	freed := false
	for j := range n {
		if expired[j] {
			s.drop(seen[j])
			freed = true
		}
	}
	if !freed && n > 0 {
		s.drop(seen[0])
	}
}

// len reports the number of cached tokens; for tests.
func (c *authCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}
