package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook is a social integration's subscription to events, delivered as
// signed HTTP POSTs of the CloudEvent.
type Webhook struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Types filters the events delivered; empty means every type.
	Types []EventType `json:"types"`
	// Rehearsals asks for the events of rehearsal drops too (Drop.Rehearsal),
	// each marked rehearsal: true. Off by default: an integration that posts
	// wins would otherwise post a load test's made-up winners.
	Rehearsals bool `json:"rehearsals"`
	// Secret signs deliveries. It is shown once, when the webhook is
	// created, and never again.
	Secret string `json:"secret,omitempty"`
	// PreviousSecret is the secret before the last rotation, which still
	// signs deliveries (a second v1 value) until PreviousUntil, so that a
	// receiver moves to the new one at leisure. Never shown.
	PreviousSecret string    `json:"-"`
	PreviousUntil  time.Time `json:"previous_secret_until,omitzero"`
	CreatedAt      time.Time `json:"created_at"`
	// CreatedBy is who created the webhook: the API key's id
	// ("key-<16 hex>"), or WebhookCreatedByAdmin for the admin token and
	// for a webhook created before creators were recorded. A key without
	// ScopeWebhooksAll acts only on the webhooks it created.
	CreatedBy string `json:"created_by"`
	// Disabled is set when deliveries kept failing (see DisableRule) and
	// cleared by EnableWebhook; a disabled webhook's events wait in its
	// consumer, up to the stream's retention.
	Disabled       bool      `json:"disabled"`
	DisabledAt     time.Time `json:"disabled_at,omitzero"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
}

// WebhookStatus is a webhook's delivery record, for the admin API.
type WebhookStatus struct {
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed_attempts"`
	// DeadLettered counts every event dead-lettered, ever (as delivered
	// and failed_attempts count theirs): a replay that delivers one later,
	// or a dismissal, does not take it back.
	DeadLettered int64 `json:"dead_lettered"`
	// DeadLettersPending counts the dead letters no delivery has reached
	// the receiver with since (a replay that delivers one takes it off,
	// as does Webhooks.DismissDeadLetters):
	// the webhook's dead letters as they stand, which a replay with
	// DeadLetters resends (the store keeps the newest MaxDeadLetters).
	DeadLettersPending int64     `json:"dead_letters_pending"`
	LastStatus         int       `json:"last_status,omitempty"`
	LastError          string    `json:"last_error,omitempty"`
	LastAttemptAt      time.Time `json:"last_attempt_at,omitzero"`
	LastSuccessAt      time.Time `json:"last_success_at,omitzero"`
	// ConsecutiveFailures counts failed attempts since the last success,
	// since FailingSince.
	ConsecutiveFailures int64     `json:"consecutive_failures"`
	FailingSince        time.Time `json:"failing_since,omitzero"`
}

// Kinds of delivery attempts in a webhook's delivery log.
const (
	DeliveryKindEvent  = "delivery"
	DeliveryKindTest   = "test"
	DeliveryKindReplay = "replay"
)

// DeliveryLogSize is how many attempts each webhook's delivery log keeps.
const DeliveryLogSize = 100

// DeliveryRecord is one entry of a webhook's delivery log. At is kept to
// the millisecond, as every time the API shows.
type DeliveryRecord struct {
	At      time.Time `json:"at"`
	EventID string    `json:"event_id"`
	// Sequence is the event's position in the stream (its
	// Flashdrop-Sequence), as a dead letter shows it; 0 (absent) on a
	// test delivery, which is of no stream event.
	Sequence uint64 `json:"sequence,omitempty"`
	Kind     string `json:"kind"`
	// Attempt is a live delivery's attempt from 1, as its
	// Flashdrop-Attempt header (absent on a replay or a test, which carry
	// none), so the log tells a retry from the first.
	Attempt   int    `json:"attempt,omitempty"`
	Status    int    `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	Error     string `json:"error,omitempty"`
}

// DisableRule is when a failing webhook is disabled: after After
// consecutive failed attempts spanning at least Span. Zero values mean
// DefaultDisableAfter and DefaultDisableSpan.
type DisableRule struct {
	After int
	Span  time.Duration
}

// The default DisableRule: 20 failures in a row over at least 10 minutes,
// so a receiver's short outage (a deploy) never disables it, while one
// down for good stops costing delivery attempts.
const (
	DefaultDisableAfter = 20
	DefaultDisableSpan  = 10 * time.Minute
)

// WithDefaults fills in the zero fields.
func (r DisableRule) WithDefaults() DisableRule {
	if r.After <= 0 {
		r.After = DefaultDisableAfter
	}
	if r.Span <= 0 {
		r.Span = DefaultDisableSpan
	}
	return r
}

// Reason is why the rule disabled a webhook, in its own words: the
// webhook shows it (disabled_reason) and the webhook_disabled event
// carries it. The streak's own numbers are in the status
// (consecutive_failures, failing_since), not a raw epoch here.
func (r DisableRule) Reason() string {
	return fmt.Sprintf("%d consecutive failed deliveries over at least %s", r.After, r.Span)
}

// Delivery is the outcome of one delivery attempt.
type Delivery struct {
	EventID string
	At      time.Time
	// Status is the receiver's HTTP status, 0 if none came back.
	Status int
	// Err describes a failure (no secret, no body beyond a short excerpt).
	Err string
	// Dead is true when this was the last attempt and the event was
	// dead-lettered.
	Dead bool
	// Latency is how long the attempt took.
	Latency time.Duration
	// Kind is DeliveryKindEvent (default), DeliveryKindTest or
	// DeliveryKindReplay; only ordinary deliveries count in the status
	// and towards disabling. A delivered replay (or ordinary delivery) of
	// a dead-lettered event takes it off the webhook's dead letters.
	Kind string
	// Sequence is the event's position in the stream (0: unknown, or a
	// test) and Type its type: kept with a dead letter, so that it can be
	// shown and resent from the stream.
	Sequence uint64
	Type     EventType
	// Attempt is a live delivery's attempt from 1 (0 on a replay or a
	// test).
	Attempt int
}

// DeadLetter is one of a webhook's dead letters: an event whose last
// attempt failed and that no delivery has reached the receiver with
// since. A dead letter recorded before these details were kept has only
// its EventID.
type DeadLetter struct {
	EventID string    `json:"event_id"`
	Type    EventType `json:"type,omitempty"`
	// Sequence is the event's position in the stream (its
	// Flashdrop-Sequence), by which a replay reads it again.
	Sequence       uint64    `json:"sequence,omitempty"`
	DeadLetteredAt time.Time `json:"dead_lettered_at,omitzero"`
	// LastStatus is the receiver's answer to the last attempt, absent
	// when none came; LastError says why the attempt failed.
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
}

// DeadLetter is d, the last attempt of a dead-lettered event, as the dead
// letter kept.
func (d Delivery) DeadLetter() DeadLetter {
	return DeadLetter{EventID: d.EventID, Type: d.Type, Sequence: d.Sequence, DeadLetteredAt: d.At.UTC().Truncate(time.Millisecond),
		LastStatus: d.Status, LastError: d.Err}
}

// Record is d as a delivery log entry.
func (d Delivery) Record() DeliveryRecord {
	kind := d.Kind
	if kind == "" {
		kind = DeliveryKindEvent
	}
	return DeliveryRecord{At: d.At.UTC().Truncate(time.Millisecond), EventID: d.EventID, Sequence: d.Sequence, Kind: kind,
		Attempt: d.Attempt, Status: d.Status, LatencyMS: d.Latency.Milliseconds(), Error: d.Err}
}

// OK reports whether the attempt delivered the event.
func (d Delivery) OK() bool { return d.Err == "" && d.Status >= 200 && d.Status < 300 }

// DeletedWebhook is a webhook deleted through a WebhookStore, and when (by
// the deleting node's clock).
type DeletedWebhook struct {
	ID string
	At time.Time
}

// WebhookStore keeps webhook subscriptions and their delivery status.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w Webhook) error
	Webhooks(ctx context.Context) ([]Webhook, error)
	Webhook(ctx context.Context, id string) (Webhook, error)
	// DeleteWebhook deletes the webhook and marks it deleted
	// (DeletedWebhooks), so that its delivery consumer is removed.
	DeleteWebhook(ctx context.Context, id string) error
	// DeletedWebhooks lists the webhooks deleted through this store
	// whose delivery consumers may still exist. Only these consumers are
	// ever removed: a consumer whose webhook this store does not know may
	// belong to another deployment on the same NATS, or this store may
	// have lost its data, and removing it would redeliver the webhook's
	// whole history once its consumer is made again.
	DeletedWebhooks(ctx context.Context) ([]DeletedWebhook, error)
	// ForgetDeletedWebhook takes id off DeletedWebhooks once its consumer
	// is gone for good.
	ForgetDeletedWebhook(ctx context.Context, id string) error
	// RecordDelivery adds the attempt to the delivery log and, for an
	// ordinary delivery, to the status; it disables the webhook when the
	// failures reach rule, and reports whether this call did.
	RecordDelivery(ctx context.Context, id string, d Delivery, rule DisableRule) (disabled bool, err error)
	WebhookStatus(ctx context.Context, id string) (WebhookStatus, error)
	// DeliveryLog returns the newest attempts, newest first.
	DeliveryLog(ctx context.Context, id string, n int) ([]DeliveryRecord, error)
	// EnableWebhook clears Disabled and the failure streak.
	EnableWebhook(ctx context.Context, id string) error
	// RotateWebhookSecret makes secret the webhook's; with prevUntil
	// after at the secret it replaces keeps signing until then. With
	// prevUntil after at it refuses (*RotationPendingError) while an
	// earlier previous secret is still valid at at, checked in the same
	// atomic step; with prevUntil equal to at no previous secret is kept.
	// It returns the webhook as it now is.
	RotateWebhookSecret(ctx context.Context, id, secret string, at, prevUntil time.Time) (Webhook, error)
	// EndWebhookGrace forgets the webhook's previous secret, so only the
	// current one signs; a webhook without one is left as it is.
	EndWebhookGrace(ctx context.Context, id string) error
	// ClaimReplay takes the webhook's replay lock for ttl unless it is
	// held; ReleaseReplay gives it back.
	ClaimReplay(ctx context.Context, id string, ttl time.Duration) (bool, error)
	ReleaseReplay(ctx context.Context, id string) error
	// DeadLetters returns the ids of the newest dead letters (events
	// dead-lettered and not delivered since), newest first.
	DeadLetters(ctx context.Context, id string, n int) ([]string, error)
	// DeadLetterEntries returns the newest dead letters with what is
	// known of each, newest first.
	DeadLetterEntries(ctx context.Context, id string, n int) ([]DeadLetter, error)
	// DismissDeadLetters takes the given dead letters (only their EventID
	// and Sequence are read) off the webhook's dead letters, entries too,
	// in one atomic step, and returns the ids it took off, in the order
	// given; the others were not dead letters. One given with a Sequence
	// is taken off only while its entry still has that sequence, so that
	// one dead-lettered anew since it was looked at stays. The count of
	// every dead letter ever (WebhookStatus.DeadLettered) is unchanged.
	// ErrNotFound if the webhook does not exist.
	DismissDeadLetters(ctx context.Context, id string, dls []DeadLetter) ([]string, error)
}

// AllEventTypes lists every event type, for validation.
var AllEventTypes = []EventType{EventRegistered, EventWon, EventConfirmed, EventCancelled, EventExpired,
	EventWaitlisted, EventSoldOut, EventRestocked, EventSaleOpened, EventSaleClosed, EventDrawn, EventReferral, EventWaitlistEnded,
	EventDropCreated, EventInvited, EventReminder, EventWebhookDisabled}

// WebhookCreatedByAdmin is Webhook.CreatedBy for a webhook the admin
// token created, and for one created before creators were recorded: only
// the admin token and keys with ScopeWebhooksAll act on those. It cannot
// be a key's id, which starts with "key-".
const WebhookCreatedByAdmin = "admin"

// WebhookCaller is who acts on webhooks: the admin token (Key ""), or an
// API key (Key its id) which, unless All, acts only on the webhooks it
// created. WebhookCallerFor makes one from a credential.
type WebhookCaller struct {
	Key string
	All bool
}

// WebhookCallerFor is the caller for a credential: the admin token (key
// "", which holds every scope) and a key holding ScopeWebhooksAll act on
// every webhook; any other key on the webhooks it created.
func WebhookCallerFor(key string, scopes []string) WebhookCaller {
	return WebhookCaller{Key: key, All: key == "" || Holds(scopes, ScopeWebhooksAll)}
}

// creator is what a webhook this caller creates records as CreatedBy.
func (c WebhookCaller) creator() string {
	if c.Key == "" {
		return WebhookCreatedByAdmin
	}
	return c.Key
}

// every reports whether the caller acts on every webhook.
func (c WebhookCaller) every() bool { return c.Key == "" || c.All }

// mayActOn reports whether the caller may see and change w.
func (c WebhookCaller) mayActOn(w Webhook) bool { return c.every() || w.CreatedBy == c.Key }

// webhookNotFound is the answer for a webhook that does not exist, and for one
// the caller may not act on: the same, so that a key learns nothing of
// another's webhooks, not even that an id exists.
func webhookNotFound(id string) error { return fmt.Errorf("%w: webhook %q", ErrNotFound, id) }

// ValidateWebhook checks a new subscription's URL and types. Whether the
// target's address is private is the deliverer's check, at dial time.
func ValidateWebhook(w Webhook) error {
	if err := ValidateDropID(w.ID); err != nil {
		return invalid("id", "may contain only A-Z, a-z, 0-9, '_' and '-', 1 to 64 characters")
	}
	if w.CreatedBy != "" && w.CreatedBy != WebhookCreatedByAdmin && KeyID(APIKeyPrefix+w.CreatedBy+"_") != w.CreatedBy {
		return invalid("created_by", "must be %q or an API key's id", WebhookCreatedByAdmin)
	}
	if w.URL == "" {
		return invalid("url", "is required")
	}
	if len(w.URL) > 2048 {
		return invalid("url", "must be at most 2048 characters")
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return invalid("url", "must be an absolute http or https URL without credentials")
	}
	// A fragment is never sent: a receiver told apart by it would get
	// every delivery alike.
	if strings.Contains(w.URL, "#") {
		return invalid("url", "must not have a fragment (the part from #): it is never sent to the receiver")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return invalid("url", "must have a port from 1 to 65535")
		}
	}
	known := map[EventType]bool{}
	for _, t := range AllEventTypes {
		known[t] = true
	}
	for _, t := range w.Types {
		if !known[t] {
			return invalid("types", "unknown event type %q (known: %s)", t, joinTypes(AllEventTypes))
		}
	}
	return nil
}

// WebhookDetail is a webhook as ops see it: never its secret, with its
// delivery status and, when asked for one webhook, its recent dead letters:
// their ids (DeadLetters, as ever) and what is known of each
// (DeadLetterEntries, in the same order).
type WebhookDetail struct {
	Webhook
	Status            *WebhookStatus `json:"status,omitempty"`
	DeadLetters       []string       `json:"dead_letters,omitempty"`
	DeadLetterEntries []DeadLetter   `json:"dead_letter_entries,omitempty"`
}

// Webhooks is the service behind webhook subscriptions: it validates a
// new subscription, mints its id and signing secret, and shows ops the
// delivery status.
type Webhooks struct {
	store    WebhookStore
	clock    Clock
	checkURL func(string) error
	sender   WebhookSender
}

// NewWebhooks returns the service on store. checkURL, if set, refuses
// targets at creation (for example private addresses); the deliverer
// checks again at every connection.
func NewWebhooks(store WebhookStore, clock Clock, checkURL func(string) error) *Webhooks {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Webhooks{store: store, clock: clock, checkURL: checkURL}
}

// CreateWebhook subscribes url to types (none: every type) and returns
// the webhook with its secret, which is shown this once. With rehearsals
// it also gets rehearsal drops' events. The webhook records c as its
// creator (CreatedBy).
func (s *Webhooks) CreateWebhook(ctx context.Context, c WebhookCaller, url string, types []EventType, rehearsals bool) (Webhook, error) {
	if s.checkURL != nil {
		if err := s.checkURL(url); err != nil {
			return Webhook{}, invalid("url", "%s", err.Error())
		}
	}
	if types == nil {
		types = []EventType{}
	}
	var id [8]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails on supported platforms
	w := Webhook{
		ID: "wh-" + hex.EncodeToString(id[:]), URL: url, Types: types, Rehearsals: rehearsals,
		// The store keeps milliseconds: the answer shows what a GET will.
		Secret: newWebhookSecret(), CreatedAt: s.clock.Now().UTC().Truncate(time.Millisecond), CreatedBy: c.creator(),
	}
	if err := ValidateWebhook(w); err != nil {
		return Webhook{}, err
	}
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		return Webhook{}, fmt.Errorf("create webhook=%s: %w", w.ID, err)
	}
	return w, nil
}

// newWebhookSecret is a signing secret: whsec_ and 32 random bytes.
func newWebhookSecret() string {
	var secret [32]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails on supported platforms
	return "whsec_" + base64.RawURLEncoding.EncodeToString(secret[:])
}

// RotateWebhookSecret gives the webhook a new signing secret, shown in
// the answer this once. The old one keeps signing every delivery beside
// it (a second v1 value) for grace (DefaultKeyGrace when 0, at most
// MaxKeyGrace; negative: not at all, for a leaked secret), so the
// receiver moves to the new one without missing a delivery. While an
// earlier rotation's grace runs, only one with no grace is allowed
// (ErrRotationPending), as for API keys. Every node's deliverer signs
// with the new secret once it next reads its webhooks (within a few
// seconds).
func (s *Webhooks) RotateWebhookSecret(ctx context.Context, c WebhookCaller, id string, grace time.Duration) (WebhookDetail, error) {
	grace, err := rotationGrace(grace)
	if err != nil {
		return WebhookDetail{}, err
	}
	if err := s.authorize(ctx, c, id); err != nil {
		return WebhookDetail{}, err
	}
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	secret := newWebhookSecret()
	w, err := s.store.RotateWebhookSecret(ctx, id, secret, now, now.Add(grace))
	if err := rotationPending(err, "this webhook had before its last rotation signs deliveries", "",
		"POST /v1/admin/webhooks/"+id+"/end-grace"); err != nil {
		return WebhookDetail{}, err
	}
	if err != nil {
		return WebhookDetail{}, fmt.Errorf("rotate webhook=%s secret: %w", id, err)
	}
	// The answer is the rotation's own reply, with nothing more to read:
	// a failed read after it would lose the new secret (shown only here)
	// while the rotation stands, and a retry would be refused.
	w.Secret, w.PreviousSecret = secret, ""
	return WebhookDetail{Webhook: w}, nil
}

// shown is w as the admin API shows it: no secret, and the previous
// secret's end only while it still signs.
func (s *Webhooks) shown(w Webhook) Webhook {
	w.Secret, w.PreviousSecret = "", ""
	if !w.PreviousUntil.After(s.clock.Now()) {
		w.PreviousUntil = time.Time{}
	}
	return w
}

// authorize answers ErrNotFound unless the webhook exists and c may act
// on it. A caller acting on every webhook is not checked here: the
// store's own step answers for a webhook that does not exist (and a
// deletion of one half-deleted must still reach it). A webhook's creator
// never changes, so the check holds for the step that follows it.
func (s *Webhooks) authorize(ctx context.Context, c WebhookCaller, id string) error {
	if c.every() {
		return nil
	}
	_, err := s.webhook(ctx, c, id)
	return err
}

// webhook reads the webhook c may act on: ErrNotFound for one that does
// not exist or is another's.
func (s *Webhooks) webhook(ctx context.Context, c WebhookCaller, id string) (Webhook, error) {
	w, err := s.store.Webhook(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	if !c.mayActOn(w) {
		return Webhook{}, webhookNotFound(id)
	}
	return w, nil
}

// Webhooks lists the webhooks c may act on (every one for the admin token
// and ScopeWebhooksAll, else those c created) with their delivery status.
func (s *Webhooks) Webhooks(ctx context.Context, c WebhookCaller) ([]WebhookDetail, error) {
	ws, err := s.store.Webhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]WebhookDetail, 0, len(ws))
	for _, w := range ws {
		if !c.mayActOn(w) {
			continue
		}
		st, err := s.store.WebhookStatus(ctx, w.ID)
		if err != nil {
			return nil, fmt.Errorf("webhook status webhook=%s: %w", w.ID, err)
		}
		w = s.shown(w)
		out = append(out, WebhookDetail{Webhook: w, Status: &st})
	}
	return out, nil
}

// Webhook returns one webhook with its status and newest dead letters.
func (s *Webhooks) Webhook(ctx context.Context, c WebhookCaller, id string) (WebhookDetail, error) {
	w, err := s.webhook(ctx, c, id)
	if err != nil {
		return WebhookDetail{}, err
	}
	st, err := s.store.WebhookStatus(ctx, w.ID)
	if err != nil {
		return WebhookDetail{}, fmt.Errorf("webhook status webhook=%s: %w", id, err)
	}
	entries, err := s.store.DeadLetterEntries(ctx, w.ID, 100)
	if err != nil {
		return WebhookDetail{}, fmt.Errorf("dead letters webhook=%s: %w", id, err)
	}
	var dead []string
	for _, e := range entries {
		dead = append(dead, e.EventID)
	}
	w = s.shown(w)
	return WebhookDetail{Webhook: w, Status: &st, DeadLetters: dead, DeadLetterEntries: entries}, nil
}

// DeleteWebhook removes a webhook; its delivery stops.
func (s *Webhooks) DeleteWebhook(ctx context.Context, c WebhookCaller, id string) error {
	if err := s.authorize(ctx, c, id); err != nil {
		return err
	}
	return s.store.DeleteWebhook(ctx, id)
}

// ErrReplayRunning means a replay of the webhook is already running.
var ErrReplayRunning = errors.New("engine: a replay of this webhook is running")

// ErrNoDelivery means this node does not deliver webhooks (no NATS).
var ErrNoDelivery = fmt.Errorf("%w: webhook delivery is not running", ErrUnavailable)

// WebhookTestResult is the receiver's answer to a test delivery.
type WebhookTestResult struct {
	EventID   string `json:"event_id"`
	Status    int    `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	// Body is the start of the receiver's answer (at most TestBodyBytes).
	Body  string `json:"body"`
	Error string `json:"error,omitempty"`
	OK    bool   `json:"ok"`
}

// TestBodyBytes is how much of a receiver's answer a test shows.
const TestBodyBytes = 512

// Replay bounds: a call re-delivers at most MaxReplayEvents events
// (DefaultReplayEvents unless asked), then answers a cursor to go on from.
const (
	DefaultReplayEvents = 100
	MaxReplayEvents     = 1000
	// replayLockTTL outlives any one replay call, which stops within
	// its request's time.
	replayLockTTL = 2 * time.Minute
)

// ReplayRequest asks for the events since Since (or from Cursor, a
// stream sequence from an earlier answer), of Types and Drop if set. With
// DeadLetters it asks for the webhook's dead letters instead (from Cursor
// on, if set), each read from the stream by its sequence.
type ReplayRequest struct {
	Since       time.Time   `json:"since"`
	Cursor      uint64      `json:"cursor,omitempty"`
	Types       []EventType `json:"types,omitempty"`
	Drop        string      `json:"drop,omitempty"`
	Limit       int         `json:"limit,omitempty"`
	DeadLetters bool        `json:"dead_letters,omitempty"`
}

// MaxDeadLetters is how many dead letters a webhook keeps, the newest.
const MaxDeadLetters = 1000

// MissingDeadLetter is a dead letter a replay of dead letters could not
// resend, and why: its event is no longer in the stream (which keeps 7
// days), or it was dead-lettered before its stream sequence was kept. It
// stays a dead letter until dismissed (Webhooks.DismissDeadLetters).
type MissingDeadLetter struct {
	EventID  string `json:"event_id"`
	Sequence uint64 `json:"sequence,omitempty"`
	Reason   string `json:"reason"`
}

// ReplayResult is how far a replay call got.
type ReplayResult struct {
	// Delivered counts the events delivered by this call.
	Delivered int `json:"delivered"`
	// EventIDs are their ids, in order.
	EventIDs []string `json:"event_ids"`
	// Done is true when every event up to the stream's end at the start of
	// the call was delivered; otherwise call again with Cursor.
	Done   bool   `json:"done"`
	Cursor uint64 `json:"cursor,omitempty"`
	// Error is why the call stopped early: the receiver refused an event
	// (which the next call starts with), or the time ran out.
	Error string `json:"error,omitempty"`
	// Missing are the dead letters a replay of dead letters passed over
	// because the stream does not hold their events (ReplayRequest
	// DeadLetters).
	Missing []MissingDeadLetter `json:"missing,omitempty"`
}

// WebhookSender makes deliveries outside the subscription's own flow: a
// test now, a replay from the stream (queue/webhook's Deliverer); and says
// which dead letters no replay can deliver, since it reads the stream.
type WebhookSender interface {
	Test(ctx context.Context, w Webhook) (WebhookTestResult, error)
	Replay(ctx context.Context, w Webhook, req ReplayRequest) (ReplayResult, error)
	// MissingDeadLetters lists w's dead letters whose events the stream
	// no longer holds (or holds another event at their sequence), each
	// with its Sequence and the reason, as a replay of dead letters
	// reports them. One kept without its sequence is not among them: its
	// event may still be stored, and a replay by since delivers it.
	MissingDeadLetters(ctx context.Context, w Webhook) ([]MissingDeadLetter, error)
}

// SetSender gives the service its deliverer; without one, tests and
// replays answer ErrNoDelivery.
func (s *Webhooks) SetSender(sender WebhookSender) { s.sender = sender }

// TestWebhook delivers a signed test event to the webhook now.
func (s *Webhooks) TestWebhook(ctx context.Context, c WebhookCaller, id string) (WebhookTestResult, error) {
	w, err := s.webhook(ctx, c, id)
	if err != nil {
		return WebhookTestResult{}, err
	}
	if s.sender == nil {
		return WebhookTestResult{}, ErrNoDelivery
	}
	return s.sender.Test(ctx, w)
}

// A replay's since is in [minReplaySince, maxReplaySince).
var (
	minReplaySince = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxReplaySince = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// CheckSince refuses a "since" time outside [2000, 2200): JetStream's
// start time is nanoseconds since 1970 in an int64, so one past 2262 (or
// before 1678) wraps and would deliver the whole stream.
func CheckSince(since time.Time) error {
	if since.Before(minReplaySince) || !since.Before(maxReplaySince) {
		return invalid("since", "must be from 2000-01-01 to before 2200-01-01")
	}
	return nil
}

// ReplayWebhook re-delivers stored events to the webhook, with their
// original ids, one replay per webhook at a time.
func (s *Webhooks) ReplayWebhook(ctx context.Context, c WebhookCaller, id string, req ReplayRequest) (ReplayResult, error) {
	if req.DeadLetters && !req.Since.IsZero() {
		return ReplayResult{}, invalid("dead_letters", "and since are exclusive: dead_letters resends the webhook's dead letters, since every event stored since then")
	}
	if req.Since.IsZero() && req.Cursor == 0 && !req.DeadLetters {
		return ReplayResult{}, invalid("since", "is required (an RFC 3339 time), unless cursor or dead_letters is given")
	}
	// JetStream reads a start time as nanoseconds since 1970 in an int64:
	// outside about 1678 to 2262 it wraps, and a far-future since replayed
	// the whole stream. Fixed bounds, not the clock: JetStream stamps
	// events with the wall clock, which need not be the engine's, and a
	// since a little ahead simply finds nothing yet.
	if !req.Since.IsZero() {
		if err := CheckSince(req.Since); err != nil {
			return ReplayResult{}, err
		}
	}
	if req.Drop != "" {
		if err := ValidateDropID(req.Drop); err != nil {
			return ReplayResult{}, invalid("drop", "may contain only A-Z, a-z, 0-9, '_' and '-', 1 to 64 characters")
		}
	}
	if err := ValidateWebhook(Webhook{ID: "x", URL: "https://x", Types: req.Types}); err != nil {
		return ReplayResult{}, err
	}
	switch {
	case req.Limit == 0:
		req.Limit = DefaultReplayEvents
	case req.Limit < 0 || req.Limit > MaxReplayEvents:
		return ReplayResult{}, invalid("limit", "must be 1 to %d", MaxReplayEvents)
	}
	w, err := s.webhook(ctx, c, id)
	if err != nil {
		return ReplayResult{}, err
	}
	if len(w.Types) > 0 {
		// A type the webhook does not get matches nothing: said, where the
		// replay answered "delivered 0, done", which read as nothing to
		// replay (an integration review's typo).
		for _, t := range req.Types {
			if !slices.Contains(w.Types, t) {
				return ReplayResult{}, invalid("types", "includes %s, which is not among this webhook's types (%s): it never gets those events", t, joinTypes(w.Types))
			}
		}
	}
	if s.sender == nil {
		return ReplayResult{}, ErrNoDelivery
	}
	ok, err := s.store.ClaimReplay(ctx, id, replayLockTTL)
	if err != nil {
		return ReplayResult{}, AsUnavailable(err)
	}
	if !ok {
		return ReplayResult{}, ErrReplayRunning
	}
	defer func() {
		// A lock left behind expires with its TTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.store.ReleaseReplay(rctx, id)
	}()
	return s.sender.Replay(ctx, w, req)
}

// MaxDismissDeadLetters is how many event ids one dismissal names at most:
// as many as a webhook keeps dead letters.
const MaxDismissDeadLetters = MaxDeadLetters

// DismissRequest names the dead letters to dismiss: EventIDs (1 to
// MaxDismissDeadLetters), or Missing for every one whose event the stream
// no longer holds (WebhookSender.MissingDeadLetters); exactly one of the
// two. EventIDs nil means not given, empty is refused.
type DismissRequest struct {
	EventIDs []string `json:"event_ids,omitempty"`
	Missing  bool     `json:"missing,omitempty"`
}

// DismissResult is what a dismissal did: the dead letters it took off
// (EventIDs, Dismissed of them) and the ids asked for that were not dead
// letters of the webhook (NotFound: never one, delivered since, or
// dismissed already), so that a repeat answers 0 and names them all.
type DismissResult struct {
	Dismissed int      `json:"dismissed"`
	EventIDs  []string `json:"event_ids"`
	NotFound  []string `json:"not_found"`
}

// DismissDeadLetters takes dead letters off the webhook's list without
// delivering them: those an operator gives up on, above all the ones no
// replay can deliver because the stream no longer holds their events,
// which would otherwise stay in dead_letters_pending until a thousand
// newer ones pushed them out, and teach ops to ignore the count. The
// total dead-lettered (and its metric) keeps them. A repeat finds them
// gone and dismisses nothing.
func (s *Webhooks) DismissDeadLetters(ctx context.Context, c WebhookCaller, id string, req DismissRequest) (DismissResult, error) {
	ids, err := dismissIDs(req)
	if err != nil {
		return DismissResult{}, err
	}
	w, err := s.webhook(ctx, c, id)
	if err != nil {
		return DismissResult{}, err
	}
	var dls []DeadLetter
	if req.Missing {
		if s.sender == nil {
			return DismissResult{}, ErrNoDelivery
		}
		missing, err := s.sender.MissingDeadLetters(ctx, w)
		if err != nil {
			return DismissResult{}, err
		}
		for _, m := range missing {
			// Without a sequence nothing says the stream lost it.
			if m.Sequence != 0 {
				dls = append(dls, DeadLetter{EventID: m.EventID, Sequence: m.Sequence})
			}
		}
	} else {
		for _, e := range ids {
			dls = append(dls, DeadLetter{EventID: e})
		}
	}
	res := DismissResult{EventIDs: []string{}, NotFound: []string{}}
	if len(dls) == 0 {
		return res, nil
	}
	gone, err := s.store.DismissDeadLetters(ctx, id, dls)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return DismissResult{}, err
		}
		return DismissResult{}, fmt.Errorf("dismiss dead letters webhook=%s: %w", id, AsUnavailable(err))
	}
	res.EventIDs = append(res.EventIDs, gone...)
	res.Dismissed = len(gone)
	// With missing, an id not taken off was delivered or dead-lettered
	// anew since it was looked at: nobody asked for it by name.
	took := make(map[string]bool, len(gone))
	for _, e := range gone {
		took[e] = true
	}
	for _, e := range ids {
		if !took[e] {
			res.NotFound = append(res.NotFound, e)
		}
	}
	return res, nil
}

// dismissIDs checks a dismissal's request and returns its event ids, each
// once, in the order given (none for Missing).
func dismissIDs(req DismissRequest) ([]string, error) {
	switch {
	case req.Missing && req.EventIDs != nil:
		return nil, invalid("missing", "and event_ids are exclusive: give the dead letters' event_ids, or missing: true for every one the stream no longer holds")
	case req.Missing:
		return nil, nil
	case req.EventIDs == nil:
		return nil, invalid("event_ids", "is required: the event ids of the dead letters to dismiss (1 to %d), unless missing is true", MaxDismissDeadLetters)
	case len(req.EventIDs) == 0:
		return nil, invalid("event_ids", "must list 1 to %d event ids; it is empty", MaxDismissDeadLetters)
	case len(req.EventIDs) > MaxDismissDeadLetters:
		return nil, invalid("event_ids", "must list 1 to %d event ids (as many as a webhook keeps dead letters); it has %d", MaxDismissDeadLetters, len(req.EventIDs))
	}
	ids := make([]string, 0, len(req.EventIDs))
	seen := make(map[string]bool, len(req.EventIDs))
	for i, e := range req.EventIDs {
		if !validEventID(e) {
			return nil, invalid("event_ids", "item %d is not an event id: one is 1 to %d printable ASCII characters with no space (as in dead_letters)", i+1, maxEventIDLen)
		}
		if !seen[e] {
			seen[e] = true
			ids = append(ids, e)
		}
	}
	return ids, nil
}

// maxEventIDLen bounds an event id as a dismissal names it: flashdrop's
// are 40 or so characters; a CloudEvent id from another publisher on the
// stream may be longer.
const maxEventIDLen = 256

// validEventID reports whether e can be an event id: 1 to maxEventIDLen
// printable ASCII characters, no space. Ids are not checked further, since
// a dead letter keeps whatever id its event had.
func validEventID(e string) bool {
	return e != "" && len(e) <= maxEventIDLen && visibleASCII(e)
}

// Deliveries returns the webhook's delivery log, newest first.
func (s *Webhooks) Deliveries(ctx context.Context, c WebhookCaller, id string) ([]DeliveryRecord, error) {
	if _, err := s.webhook(ctx, c, id); err != nil {
		return nil, err
	}
	return s.store.DeliveryLog(ctx, id, DeliveryLogSize)
}

// EnableWebhook re-enables a disabled webhook; its waiting events are
// delivered from where it stopped.
func (s *Webhooks) EnableWebhook(ctx context.Context, c WebhookCaller, id string) (WebhookDetail, error) {
	if err := s.authorize(ctx, c, id); err != nil {
		return WebhookDetail{}, err
	}
	if err := s.store.EnableWebhook(ctx, id); err != nil {
		return WebhookDetail{}, err
	}
	return s.Webhook(ctx, c, id)
}

// EndWebhookGrace ends a rotation's grace now: the previous secret stops
// signing, and a rotation is no longer refused as pending. A receiver
// that has moved to the new secret says so, where the only way was a
// rotation without grace, which made yet another secret it did not have
// (an integration review). Ending no grace is no error.
func (s *Webhooks) EndWebhookGrace(ctx context.Context, c WebhookCaller, id string) (WebhookDetail, error) {
	if err := s.authorize(ctx, c, id); err != nil {
		return WebhookDetail{}, err
	}
	if err := s.store.EndWebhookGrace(ctx, id); err != nil {
		return WebhookDetail{}, err
	}
	return s.Webhook(ctx, c, id)
}

// joinTypes lists event types for a message: "won, confirmed".
func joinTypes(ts []EventType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = string(t)
	}
	return strings.Join(parts, ", ")
}
