package engine

import (
	"context"
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
