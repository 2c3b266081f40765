package api

import (
	"context"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// The services the API calls, declared here as the small interfaces the
// handlers need (as benbjohnson/wtf's http package depends on its domain's
// service interfaces): the engine implements them, and a handler test
// fakes only the few methods it touches. The API translates between HTTP
// and these calls; every rule lives behind them.

// DropService manages drops: the shop backend's and ops' calls.
type DropService interface {
	// CreateDropOnce creates a drop, or finds the same one (created=false).
	CreateDropOnce(ctx context.Context, d engine.Drop) (engine.Drop, bool, error)
	Drop(ctx context.Context, id string) (engine.Drop, error)
	Drops(ctx context.Context) ([]engine.Drop, error)
	Pause(ctx context.Context, id string) (engine.Drop, error)
	Resume(ctx context.Context, id string) (engine.Drop, error)
	Stats(ctx context.Context, id string) (engine.Stats, error)
	// Now is the engine's clock, which states and countdowns follow.
	Now() time.Time
}

// ShopperService answers what a shopper sees of a drop.
type ShopperService interface {
	ShopperView(ctx context.Context, drop, user string) (engine.ShopperView, error)
}

// ReservationService reads and settles reservations.
type ReservationService interface {
	Reservation(ctx context.Context, id, actor string) (engine.Reservation, error)
	Confirm(ctx context.Context, id, actor string) (engine.Reservation, error)
	Cancel(ctx context.Context, id, actor string) (engine.Reservation, error)
}

// Admission is the front door of shoppers' requests under load
// (engine.Admission): coalesced reserves, registrations whose window
// refusals carry their time, and short-lived cached views of drops.
type Admission interface {
	Reserve(ctx context.Context, drop string, req engine.ReserveRequest) (engine.ReserveResult, error)
	Register(ctx context.Context, drop, user, ref string) (engine.Registration, bool, error)
	View(ctx context.Context, drop string) (engine.Drop, engine.Stats, error)
	// Drops lists the drops as of a moment ago (the front page); the
	// slice is shared and must not be changed.
	Drops(ctx context.Context) ([]engine.Drop, error)
	Invalidate(drop string)
}

// KeyService manages admin API keys and checks presented ones
// (engine.Keys).
type KeyService interface {
	CreateKey(ctx context.Context, name string, scopes, holder []string) (engine.NewAPIKey, error)
	Keys(ctx context.Context) ([]engine.APIKey, error)
	RotateKey(ctx context.Context, id string, grace time.Duration, holder []string) (engine.NewAPIKey, error)
	RevokeKey(ctx context.Context, id string, holder []string) error
	Authenticate(ctx context.Context, token string) (engine.APIKey, error)
}

// soldOutAnswerer is an Admission that can tell, from memory, that a
// reserve request is answered sold_out (engine.Admission.SoldOutFromMemory),
// before the handler makes anything the store would need.
type soldOutAnswerer interface {
	SoldOutFromMemory(drop string, req engine.ReserveRequest) bool
}

// WebhookService manages webhook subscriptions (engine.Webhooks). Each
// call names its caller: a key without webhooks:all acts only on the
// webhooks it created, and another's answers ErrNotFound.
type WebhookService interface {
	CreateWebhook(ctx context.Context, c engine.WebhookCaller, url string, types []engine.EventType, rehearsals bool) (engine.Webhook, error)
	Webhooks(ctx context.Context, c engine.WebhookCaller) ([]engine.WebhookDetail, error)
	Webhook(ctx context.Context, c engine.WebhookCaller, id string) (engine.WebhookDetail, error)
	DeleteWebhook(ctx context.Context, c engine.WebhookCaller, id string) error
	TestWebhook(ctx context.Context, c engine.WebhookCaller, id string) (engine.WebhookTestResult, error)
	ReplayWebhook(ctx context.Context, c engine.WebhookCaller, id string, req engine.ReplayRequest) (engine.ReplayResult, error)
	DismissDeadLetters(ctx context.Context, c engine.WebhookCaller, id string, req engine.DismissRequest) (engine.DismissResult, error)
	Deliveries(ctx context.Context, c engine.WebhookCaller, id string) ([]engine.DeliveryRecord, error)
	EnableWebhook(ctx context.Context, c engine.WebhookCaller, id string) (engine.WebhookDetail, error)
	RotateWebhookSecret(ctx context.Context, c engine.WebhookCaller, id string, grace time.Duration) (engine.WebhookDetail, error)
	EndWebhookGrace(ctx context.Context, c engine.WebhookCaller, id string) (engine.WebhookDetail, error)
}
