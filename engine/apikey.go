package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Admin scopes: what an API key may do. The API decides which scope each
// route needs; the engine owns the names and the rule that a key grants
// only scopes its creator holds.
const (
	ScopeDropsRead           = "drops:read"
	ScopeDropsWrite          = "drops:write"
	ScopeOps                 = "ops"
	ScopeReservationsConfirm = "reservations:confirm"
	ScopeEventsRead          = "events:read"
	// ScopeWebhooksRead reads webhooks, their delivery status, dead
	// letters and delivery log, for a dashboard or an on-call person who
	// must not be able to delete a webhook or rotate its secret.
	ScopeWebhooksRead  = "webhooks:read"
	ScopeWebhooksWrite = "webhooks:write"
	// ScopeWebhooksAll widens the webhooks:read or webhooks:write a key
	// holds to every webhook. Without it a key acts only on the webhooks
	// it created (Webhook.CreatedBy), so one integration's key cannot
	// read, rotate or delete another's, or the shop's: an ops dashboard's
	// key holds it. It lets in no route by itself, so it is granted only
	// beside one of the two (ValidateScopes).
	ScopeWebhooksAll = "webhooks:all"
	ScopeKeysWrite   = "keys:write"
)

// AllScopes lists every scope; the configured admin token holds them all.
var AllScopes = []string{ScopeDropsRead, ScopeDropsWrite, ScopeOps, ScopeReservationsConfirm,
	ScopeEventsRead, ScopeWebhooksRead, ScopeWebhooksWrite, ScopeWebhooksAll, ScopeKeysWrite}

// includedBy names, for a scope, the one scope that includes it: whoever
// may change webhooks may read them, so every key made with
// webhooks:write before webhooks:read existed keeps reading them.
var includedBy = map[string]string{ScopeWebhooksRead: ScopeWebhooksWrite}

// Holds reports whether scopes grant scope: itself, or the scope that
// includes it (webhooks:write includes webhooks:read).
func Holds(scopes []string, scope string) bool {
	if slices.Contains(scopes, scope) {
		return true
	}
	wider, ok := includedBy[scope]
	return ok && slices.Contains(scopes, wider)
}

// MissingScope is the *ScopeError for a credential without scope, naming
// the scope that would also do (Or) where there is one.
func MissingScope(scope string) *ScopeError { return &ScopeError{Scope: scope, Or: includedBy[scope]} }

// APIKeyPrefix starts every API key, so a leaked key is recognisable (by
// secret scanners too) and the API can tell it from a shopper JWT.
const APIKeyPrefix = "fdk_"

// DefaultKeyGrace is how long a rotated key's old secret stays valid, so
// the integration can be redeployed with the new one without downtime;
// MaxKeyGrace bounds what a caller may ask for.
const (
	DefaultKeyGrace = 24 * time.Hour
	MaxKeyGrace     = 7 * 24 * time.Hour
)

// KeyCacheTTL is how long a node trusts a key it has read: a key revoked
// on another node stops working there within this time (at once on the
// node that revoked it).
const KeyCacheTTL = 5 * time.Second

// keyTouchEvery is how often last_used_at is written for a key in use:
// the time is to the minute, and a write per request would double the
// Redis traffic of a busy integration.
const keyTouchEvery = time.Minute

// APIKey is an admin API key. Its secret is never stored: only a SHA-256
// of it (the secret is 32 random bytes, so a plain hash cannot be
// reversed by guessing).
type APIKey struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// RotatedAt is the last rotation; the previous secret is valid until
	// PreviousValidUntil.
	RotatedAt          time.Time `json:"rotated_at,omitzero"`
	PreviousValidUntil time.Time `json:"previous_valid_until,omitzero"`

	// Hash and PreviousHash are the SHA-256 digests of the current and
	// the previous secret (the previous one empty when none).
	Hash         []byte `json:"-"`
	PreviousHash []byte `json:"-"`
}

// HasScope reports whether the key holds scope, itself or through the
// scope that includes it (Holds).
func (k APIKey) HasScope(scope string) bool { return Holds(k.Scopes, scope) }

// NewAPIKey is a created or rotated key with its secret, shown this once.
type NewAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

// APIKeyStore keeps API keys.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k APIKey) error
	APIKey(ctx context.Context, id string) (APIKey, error)
	APIKeys(ctx context.Context) ([]APIKey, error)
	// RotateAPIKey replaces the key's hash with hash, keeps the old one as
	// the previous hash valid until prevUntil, and returns the new key. With
	// prevUntil after at it refuses (*RotationPendingError) while an earlier
	// previous hash is still valid at at, checked in the same atomic step;
	// with prevUntil equal to at no previous hash is kept.
	RotateAPIKey(ctx context.Context, id string, hash []byte, at, prevUntil time.Time) (APIKey, error)
	DeleteAPIKey(ctx context.Context, id string) error
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// ErrBadKey is an API key that is malformed, unknown, revoked or wrong:
// one error for all, so a caller learns nothing about which.
var ErrBadKey = errors.New("engine: bad API key")

// ScopeError is ErrForbidden for a credential that lacks a scope. Or,
// when not empty, is a wider scope that would do as well (webhooks:write
// for webhooks:read), so the refusal tells its reader that either kind of
// key is enough.
type ScopeError struct{ Scope, Or string }

func (e *ScopeError) Error() string { return "engine: forbidden: missing scope " + e.Wanted() }

// Wanted words what is missing: "ops", or "webhooks:read (or
// webhooks:write, which includes it)".
func (e *ScopeError) Wanted() string {
	if e.Or == "" {
		return e.Scope
	}
	return e.Scope + " (or " + e.Or + ", which includes it)"
}

// Is makes errors.Is(err, ErrForbidden) true.
func (e *ScopeError) Is(target error) bool { return target == ErrForbidden }

// ValidateScopes checks that every scope is known and there is at least
// one, and that webhooks:all, which only widens webhooks:read or
// webhooks:write, comes with one of them: alone it would let the key in
// nowhere, a mistake better said at creation than by every refusal after.
func ValidateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return invalid("scopes", "must name at least one of %s", strings.Join(AllScopes, ", "))
	}
	for _, s := range scopes {
		if !slices.Contains(AllScopes, s) {
			return invalid("scopes", "unknown scope %q (known: %s)", s, strings.Join(AllScopes, ", "))
		}
	}
	if slices.Contains(scopes, ScopeWebhooksAll) && !Holds(scopes, ScopeWebhooksRead) {
		return invalid("scopes", "%s widens %s or %s to every webhook and allows nothing alone: give one of them with it",
			ScopeWebhooksAll, ScopeWebhooksRead, ScopeWebhooksWrite)
	}
	return nil
}

// CanGrant is the no-escalation rule: a holder may give a key only scopes
// it holds itself (Holds: webhooks:write may give webhooks:read, a part
// of what it can do). It returns a *ScopeError naming the first one
// missing.
func CanGrant(holder, wanted []string) error {
	for _, s := range wanted {
		if !Holds(holder, s) {
			return MissingScope(s)
		}
	}
	return nil
}

// Keys is the service behind API keys: creation, rotation, revocation, and
// the check of a presented key, with a small cache so a key in use costs no
// store call on most requests.
type Keys struct {
	store APIKeyStore
	clock Clock

	mu    sync.Mutex
	cache map[string]keyCacheEntry // by key id; bounded by keyCacheMax
}

type keyCacheEntry struct {
	key     APIKey
	missing bool // the id is unknown: cached too, so guessing costs no store call
	fetched time.Time
	touched time.Time
}

// keyCacheMax bounds the cache; past it the cache is emptied, which costs
// at most one store call per key in use.
const keyCacheMax = 4096

// NewKeys returns the service on store.
func NewKeys(store APIKeyStore, clock Clock) *Keys {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Keys{store: store, clock: clock, cache: map[string]keyCacheEntry{}}
}

func newKeyID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "key-" + hex.EncodeToString(b[:])
}

func mintSecret(id string) (secret string, hash []byte) {
	var sec [32]byte
	_, _ = rand.Read(sec[:])
	secret = APIKeyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(sec[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:]
}

// CreateKey makes a key named name with scopes, which holder (the scopes of
// the caller) must all hold.
func (s *Keys) CreateKey(ctx context.Context, name string, scopes, holder []string) (NewAPIKey, error) {
	if name == "" || len(name) > 100 || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return NewAPIKey{}, invalid("name", "must be 1 to 100 characters of text")
	}
	if err := ValidateScopes(scopes); err != nil {
		return NewAPIKey{}, err
	}
	if err := CanGrant(holder, scopes); err != nil {
		return NewAPIKey{}, err
	}
	id := newKeyID()
	secret, hash := mintSecret(id)
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	k := APIKey{ID: id, Name: name, Scopes: slices.Compact(scopes), CreatedAt: s.clock.Now().UTC().Truncate(time.Millisecond), Hash: hash}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return NewAPIKey{}, fmt.Errorf("create key=%s: %w", id, err)
	}
	return NewAPIKey{APIKey: k, Secret: secret}, nil
}

// Keys lists the keys, without secrets or hashes.
func (s *Keys) Keys(ctx context.Context) ([]APIKey, error) {
	ks, err := s.store.APIKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return ks, nil
}

// RotateKey gives key id a new secret; the old one stays valid for grace
// (DefaultKeyGrace when 0, at most MaxKeyGrace; negative: not at all). The
// holder must hold every scope of the key, or rotating would hand it a
// secret with more power than its own. While an earlier rotation's grace
// runs, only a rotation with no grace is allowed (ErrRotationPending).
func (s *Keys) RotateKey(ctx context.Context, id string, grace time.Duration, holder []string) (NewAPIKey, error) {
	grace, err := rotationGrace(grace)
	if err != nil {
		return NewAPIKey{}, err
	}
	k, err := s.store.APIKey(ctx, id)
	if err != nil {
		return NewAPIKey{}, err
	}
	if err := CanGrant(holder, k.Scopes); err != nil {
		return NewAPIKey{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	secret, hash := mintSecret(id)
	k, err = s.store.RotateAPIKey(ctx, id, hash, now, now.Add(grace))
	if err := rotationPending(err, "this key had before its last rotation works", ", or flashdrop keys rotate --grace 0", ""); err != nil {
		return NewAPIKey{}, err
	}
	if err != nil {
		return NewAPIKey{}, err
	}
	s.forget(id)
	return NewAPIKey{APIKey: k, Secret: secret}, nil
}

// rotationGrace is a rotation's grace as asked for: DefaultKeyGrace for
// 0, none (0) for a negative one, an error past MaxKeyGrace.
func rotationGrace(grace time.Duration) (time.Duration, error) {
	switch {
	case grace > MaxKeyGrace:
		return 0, invalid("grace_seconds", "must be at most %d", int(MaxKeyGrace/time.Second))
	case grace == 0:
		return DefaultKeyGrace, nil
	case grace < 0:
		return 0, nil
	}
	return grace, nil
}

// rotationPending words a store's *RotationPendingError (nil for any
// other err): the secret rotated out last time was promised until then,
// and its holders may still be moving to the current one; a second
// rotation would drop it now. The store checks this in the same step as
// the rotation, so two rotations at once cannot both pass. A rotation
// with no grace (a leaked secret) ends every old secret at once, as
// asked. what says whose secret does what ("this key had before its
// last rotation works"); cli, how the CLI asks for no grace; endGrace,
// the request that ends the grace alone, where there is one: a rotation
// without grace also stops the current secret, which the holder may
// already use, so the detail names the gentler way first.
func rotationPending(err error, what, cli, endGrace string) error {
	var pending *RotationPendingError
	if !errors.As(err, &pending) {
		return nil
	}
	detail := "the secret " + what + " until " + pending.Until.UTC().Format(time.RFC3339) +
		", as that rotation promised; rotating again now would end it early. "
	if endGrace != "" {
		return &DetailError{Err: ErrRotationPending, Detail: detail + "Once every receiver verifies with the current secret, " +
			endGrace + " ends that grace now (the old secret stops signing) and a rotation is accepted again. " +
			"Else rotate after that time, or with no grace (grace_seconds -1" + cli + "), which stops every secret but the new " +
			"one at once, the current one too: for a leaked secret, since receivers fail until they have the new one"}
	}
	return &DetailError{Err: ErrRotationPending, Detail: detail +
		"Rotate after that time, or with no grace (grace_seconds -1" + cli + ") to end every old secret now"}
}

// RevokeKey deletes a key: both its secrets stop working at once on this
// node and within KeyCacheTTL on the others. The holder must hold every
// scope of the key, as for a rotation: else an integration's key with
// keys:write could take down another integration's stronger one.
func (s *Keys) RevokeKey(ctx context.Context, id string, holder []string) error {
	k, err := s.store.APIKey(ctx, id)
	if err != nil {
		return err
	}
	if err := CanGrant(holder, k.Scopes); err != nil {
		return err
	}
	err = s.store.DeleteAPIKey(ctx, id)
	s.forget(id)
	return err
}

func (s *Keys) forget(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}

// KeyID returns the id inside a presented key, or "" when the token does
// not have the shape of one.
func KeyID(token string) string {
	rest, ok := strings.CutPrefix(token, APIKeyPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(id) != len("key-")+16 || !strings.HasPrefix(id, "key-") {
		return ""
	}
	return id
}

// Authenticate checks a presented key and returns it. Any failure is
// ErrBadKey (or a store error wrapped in ErrUnavailable).
func (s *Keys) Authenticate(ctx context.Context, token string) (APIKey, error) {
	id := KeyID(token)
	if id == "" {
		return APIKey{}, ErrBadKey
	}
	now := s.clock.Now()
	s.mu.Lock()
	e, ok := s.cache[id]
	s.mu.Unlock()
	if !ok || now.Sub(e.fetched) >= KeyCacheTTL || now.Before(e.fetched) {
		k, err := s.store.APIKey(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			e = keyCacheEntry{missing: true, fetched: now}
		case err != nil:
			return APIKey{}, AsUnavailable(err)
		default:
			e = keyCacheEntry{key: k, fetched: now, touched: e.touched}
			if e.touched.IsZero() {
				e.touched = k.LastUsedAt
			}
		}
		s.mu.Lock()
		if len(s.cache) >= keyCacheMax {
			clear(s.cache)
		}
		s.cache[id] = e
		s.mu.Unlock()
	}
	if e.missing {
		return APIKey{}, ErrBadKey
	}
	sum := sha256.Sum256([]byte(token))
	cur := subtle.ConstantTimeCompare(sum[:], e.key.Hash)
	prev := 0
	if len(e.key.PreviousHash) > 0 && now.Before(e.key.PreviousValidUntil) {
		prev = subtle.ConstantTimeCompare(sum[:], e.key.PreviousHash)
	}
	if cur|prev != 1 {
		return APIKey{}, ErrBadKey
	}
	if now.Sub(e.touched) >= keyTouchEvery {
		// Best effort: a failed touch must not refuse a valid key.
		if err := s.store.TouchAPIKey(ctx, id, now); err == nil {
			e.touched = now
			e.key.LastUsedAt = now
			s.mu.Lock()
			if c, ok := s.cache[id]; ok && !c.missing {
				c.touched, c.key.LastUsedAt = now, now
				s.cache[id] = c
			}
			s.mu.Unlock()
		}
	}
	return e.key, nil
}
