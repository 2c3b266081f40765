package redisstore

// Keys of the week's features (series, draws, announcements). A drop's
// keys keep its hash tag, so every script of a drop still touches one
// slot; a series has its own tag, "fd:series:{<id>}:…".

// draw is a draw drop's hash: seed, tkey (secret until the reveal and
// forever), phase, digest, n, w, q, cur, lease.
func (k dropKeys) draw() string { return k.prefix + "draw" }

// order is the list of tickets in drawn order, written by the draw.
func (k dropKeys) order() string { return k.prefix + "order" }

// week is the hash of announcements made (m:<moment>) and fan-outs'
// progress (<kind>:cur, :fin, :passes, :done).
func (k dropKeys) week() string { return k.prefix + "wk" }

// fanSet holds who got a fan-out's event while it runs, so that nobody
// gets two; it is deleted when the fan-out is done.
func (k dropKeys) fanSet(kind string) string { return k.prefix + "fan:" + kind }

const seriesIndexKey = "fd:series" // set of series ids (its own slot)

type seriesKeys struct {
	prefix string
	cfg    string // string: the series as JSON
	drops  string // zset: drop id -> sale start (ms)
}

func seriesKeysFor(id string) seriesKeys {
	p := "fd:series:{" + id + "}:"
	return seriesKeys{prefix: p, cfg: p + "cfg", drops: p + "drops"}
}

// callKey records one series script call's answer, as dropKeys.callKey.
func (k seriesKeys) callKey(callID string) string { return k.prefix + "call:" + callID }
