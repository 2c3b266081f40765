// Package redisstore is engine.Store on Redis: one Lua script per state
// change (scripts/*.lua, with lib.lua's shared rules prepended), so each
// change, its counters and its outbox event are one atomic step; keys are
// hash-tagged by drop (fd:{drop}:…) so every key a script touches lives in
// one Cluster slot. It works through redis.UniversalClient: a single
// server, a Redis Cluster, or the embedded miniredis of `serve`'s default.
//
// Every script that changes state is safe to run twice with the same
// arguments (go-redis resends a call whose reply was lost): it either
// records its answer under the call's nonce or finds the final state its
// first run left, and answers as that run did.
package redisstore
