// Package loadtest is flashdrop's release-day rehearsal as a library: it
// creates (or reads) a drop, registers shoppers, waits for T0 on the
// server's clock, sends the rush, checks out, follows the waitlist refills,
// and then audits the run from its own records, the HTTP API and a
// JetStream consumer: no oversell (I1), the per-user limit (I2),
// unregistered shoppers refused (I3), every win announced once (I4),
// idempotent replays (I5), stock conserved (I6), confirmed units kept and
// no early expiry (I7), and every answer agreeing with the final state
// (the README's "Rehearse release day" says how each is checked).
//
// It is a black-box client: it speaks only HTTP (through a fasthttp client
// with pre-signed HS256 tokens, so the generator is not the bottleneck) and
// NATS, and imports nothing of the server, so it can rehearse any
// deployment of any version. Answers are decoded leniently: fields and event
// types it does not know are ignored.
//
// The pieces follow tsenart/vegeta's split: Options and Run are the
// scenario and attacker; a pacer decides when each shopper arrives (a burst
// at T0, or an open model at a constant or ramping rate whose latencies are
// measured from the intended send time, as wrk2 does, so a slow server
// cannot hide its queue); HDR histograms per phase, endpoint and outcome and
// a per-second timeline are the metrics; Report is the result, with text,
// JSON and HTML reporters, and Merge combines the reports of several
// generator machines (--shard i/n) into what one big run would have
// printed, re-running the audit on the merged records.
//
// Exit codes (Report.ExitCode): 0 pass, 1 a threshold crossed, 2 the audit
// failed, 3 the run was invalid (setup error, target unreachable, generator
// saturated, interrupted).
package loadtest
