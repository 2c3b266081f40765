package redisstore

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed scripts/drawfreeze.lua
	drawFreezeLua string
	//go:embed scripts/drawseal.lua
	drawSealLua string
	//go:embed scripts/drawlease.lua
	drawLeaseLua string
	//go:embed scripts/drawstep.lua
	drawStepLua string
	//go:embed scripts/announce.lua
	announceLua string
	//go:embed scripts/fanout.lua
	fanOutLua string
	//go:embed scripts/series.lua
	seriesLua string
	//go:embed scripts/registrants.lua
	registrantsLua string
)

var (
	// drawFreezeScript freezes a draw drop's registration. KEYS: drop.
	// ARGV: now. Returns 0, or a code: 3 not found, 18 not a draw, 5
	// registration still open.
	drawFreezeScript = redis.NewScript(drawFreezeLua)
	// drawSealScript records the frozen list's digest and size once.
	// KEYS: drop, draw. ARGV: digest, n. Returns 0, or 3, 18, or 19 (not
	// frozen).
	drawSealScript = redis.NewScript(drawSealLua)
	// drawLeaseScript takes or renews the draw's lease. KEYS: draw.
	// ARGV: owner, now, ttl (ms). Returns 1 taken, 0 held by another, -1
	// not a draw.
	drawLeaseScript = redis.NewScript(drawLeaseLua)
	// drawStepScript applies entries of the drawn order at a position.
	// KEYS: drop, counters, reg, holds, wl, wlq, outbox, draw, order.
	// ARGV: prefix, drop, now, nonce, event nonce, start, k, then k
	// (ticket, user) pairs. Returns {code, cursor}.
	drawStepScript = redis.NewScript(withLib(drawStepLua))
	// announceScript emits a moment's event once. KEYS: drop, outbox,
	// week. ARGV: prefix, drop, now, event nonce, moment, grace (ms).
	// Returns 0 not due, 1 emitted, 2 done before, 3 not found, 4 too old.
	announceScript = redis.NewScript(withLib(announceLua))
	// fanOutScript emits one batch of a fan-out. KEYS: drop, outbox,
	// week, fan set. ARGV: prefix, drop, now, event nonce, kind, expect,
	// next, last, final, users.... Returns {code, done, cursor, in pass,
	// final, passes}.
	fanOutScript = redis.NewScript(withLib(fanOutLua))
	// seriesScript creates or deletes a series once per call. KEYS: cfg,
	// call. ARGV: 'create', json | 'delete'. Returns 1 (created or
	// deleted) or 0 (exists, or missing).
	seriesScript = redis.NewScript(seriesLua)
	// registrantsScript reads one page of a drop's registration buckets.
	// KEYS: drop, reg. ARGV: first bucket, n. Returns {-1} for a drop of
	// one registration hash, else {next bucket, done, users...}.
	registrantsScript = redis.NewScript(registrantsLua)
)
