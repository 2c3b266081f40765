// Package api is flashdrop's HTTP transport on fasthttp: it translates
// between HTTP and the engine's services (routes, auth, strict JSON bodies,
// problem+json errors, rate limits, server-sent events, metrics).
//
// It holds no business rules: handlers call the small service interfaces
// declared in services.go (implemented by engine.Engine, engine.Admission
// and engine.Webhooks), one file per resource: drops.go, registrations.go,
// reservations.go, webhooks.go, live.go, health.go.
package api
