// Package engine is flashdrop's domain core: drops, registrations,
// reservations, events and the rules that tie them together.
//
// It imports only the standard library. Storage, transport and messaging
// live in adapters (engine/redisstore, api, queue) that depend on this
// package, never the other way round, so the rules can be read and tested
// without any infrastructure. The atomic parts of the rules (stock,
// per-user limits, idempotency, the outbox) are enforced by the Store,
// because only the store can make them atomic across many server nodes;
// the Engine validates input, supplies the clock and maps nothing else.
package engine
