// Package engine is flashdrop's domain core: drops, registrations,
// reservations, events and the rules that tie them together.
//
// It imports only the standard library. Storage, transport and messaging
// live in adapters (engine/redisstore, api, queue) that depend on this
// package, never the other way round, so the rules can be read and tested
// without any infrastructure. The atomic parts of the rules (stock,
// per-user limits, idempotency, the outbox) are enforced by the Store,
// because only the store can make them atomic across many server nodes.
//
// The services: Engine validates input, supplies the clock and lets the
// Store decide; Admission is the front door of shoppers' requests under
// load (coalesced reserve batches, the sold-out shortcut, cached drop
// views, time-window answers); Webhooks mints and lists subscriptions;
// Sweeper expires holds in the background.
package engine
