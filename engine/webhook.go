package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
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
	// Secret signs deliveries. It is shown once, when the webhook is
	// created, and never again.
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// WebhookStatus is a webhook's delivery record, for the admin API.
type WebhookStatus struct {
	Delivered     int64     `json:"delivered"`
	Failed        int64     `json:"failed_attempts"`
	DeadLettered  int64     `json:"dead_lettered"`
	LastStatus    int       `json:"last_status,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	LastAttemptAt time.Time `json:"last_attempt_at,omitzero"`
	LastSuccessAt time.Time `json:"last_success_at,omitzero"`
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
}

// OK reports whether the attempt delivered the event.
func (d Delivery) OK() bool { return d.Err == "" && d.Status >= 200 && d.Status < 300 }

// WebhookStore keeps webhook subscriptions and their delivery status.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w Webhook) error
	Webhooks(ctx context.Context) ([]Webhook, error)
	Webhook(ctx context.Context, id string) (Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	RecordDelivery(ctx context.Context, id string, d Delivery) error
	WebhookStatus(ctx context.Context, id string) (WebhookStatus, error)
	// DeadLetters returns the newest dead-lettered event ids, newest first.
	DeadLetters(ctx context.Context, id string, n int) ([]string, error)
}

// AllEventTypes lists every event type, for validation.
var AllEventTypes = []EventType{EventRegistered, EventWon, EventConfirmed, EventCancelled, EventExpired,
	EventWaitlisted, EventSoldOut, EventRestocked, EventSaleOpened, EventSaleClosed, EventDrawn, EventReferral, EventWaitlistEnded,
	EventDropCreated, EventInvited, EventReminder}

// ValidateWebhook checks a new subscription's URL and types. Whether the
// target's address is private is the deliverer's check, at dial time.
func ValidateWebhook(w Webhook) error {
	if err := ValidateDropID(w.ID); err != nil {
		return invalid("id", "may contain only A-Z, a-z, 0-9, '_' and '-', 1 to 64 characters")
	}
	if len(w.URL) > 2048 {
		return invalid("url", "must be at most 2048 characters")
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return invalid("url", "must be an absolute http or https URL without credentials")
	}
	known := map[EventType]bool{}
	for _, t := range AllEventTypes {
		known[t] = true
	}
	for _, t := range w.Types {
		if !known[t] {
			names := make([]string, len(AllEventTypes))
			for i, t := range AllEventTypes {
				names[i] = string(t)
			}
			return invalid("types", "unknown event type %q (known: %s)", t, strings.Join(names, ", "))
		}
	}
	return nil
}

// WebhookDetail is a webhook as ops see it: never its secret, with its
// delivery status and, when asked for one webhook, its recent dead letters.
type WebhookDetail struct {
	Webhook
	Status      *WebhookStatus `json:"status,omitempty"`
	DeadLetters []string       `json:"dead_letters,omitempty"`
}

// Webhooks is the service behind webhook subscriptions: it validates a
// new subscription, mints its id and signing secret, and shows ops the
// delivery status.
type Webhooks struct {
	store    WebhookStore
	clock    Clock
	checkURL func(string) error
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
// the webhook with its secret, which is shown this once.
func (s *Webhooks) CreateWebhook(ctx context.Context, url string, types []EventType) (Webhook, error) {
	if s.checkURL != nil {
		if err := s.checkURL(url); err != nil {
			return Webhook{}, invalid("url", "%s", err.Error())
		}
	}
	if types == nil {
		types = []EventType{}
	}
	var id [8]byte
	var secret [32]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails on supported platforms
	_, _ = rand.Read(secret[:])
	w := Webhook{
		ID: "wh-" + hex.EncodeToString(id[:]), URL: url, Types: types,
		Secret: "whsec_" + base64.RawURLEncoding.EncodeToString(secret[:]), CreatedAt: s.clock.Now().UTC(),
	}
	if err := ValidateWebhook(w); err != nil {
		return Webhook{}, err
	}
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		return Webhook{}, fmt.Errorf("create webhook=%s: %w", w.ID, err)
	}
	return w, nil
}

// Webhooks lists every webhook with its delivery status.
func (s *Webhooks) Webhooks(ctx context.Context) ([]WebhookDetail, error) {
	ws, err := s.store.Webhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]WebhookDetail, 0, len(ws))
	for _, w := range ws {
		st, err := s.store.WebhookStatus(ctx, w.ID)
		if err != nil {
			return nil, fmt.Errorf("webhook status webhook=%s: %w", w.ID, err)
		}
		w.Secret = ""
		out = append(out, WebhookDetail{Webhook: w, Status: &st})
	}
	return out, nil
}

// Webhook returns one webhook with its status and newest dead letters.
func (s *Webhooks) Webhook(ctx context.Context, id string) (WebhookDetail, error) {
	w, err := s.store.Webhook(ctx, id)
	if err != nil {
		return WebhookDetail{}, err
	}
	st, err := s.store.WebhookStatus(ctx, w.ID)
	if err != nil {
		return WebhookDetail{}, fmt.Errorf("webhook status webhook=%s: %w", id, err)
	}
	dead, err := s.store.DeadLetters(ctx, w.ID, 100)
	if err != nil {
		return WebhookDetail{}, fmt.Errorf("dead letters webhook=%s: %w", id, err)
	}
	w.Secret = ""
	return WebhookDetail{Webhook: w, Status: &st, DeadLetters: dead}, nil
}

// DeleteWebhook removes a webhook; its delivery stops.
func (s *Webhooks) DeleteWebhook(ctx context.Context, id string) error {
	return s.store.DeleteWebhook(ctx, id)
}
