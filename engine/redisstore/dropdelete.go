package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

//go:embed scripts/delete.lua
var deleteLua string

// DropTombstone is how long a deleted drop's id cannot be made again:
// longer than any node's list of drops goes without noticing that an id
// left the index (engine.DropList forgets what it read after 20 s
// without a listing), so no node keeps the deleted drop's configuration
// for the new one.
const DropTombstone = time.Minute

// tombstone marks a deleted drop's id for DropTombstone (delete.lua,
// create.lua).
func (k dropKeys) tombstone() string { return k.prefix + "deleted" }

// deleteScript deletes a drop nobody took part in. KEYS: drop, counters,
// reg, wl, outbox, then the drop's other fixed keys. Returns {0}, {3}
// (missing) or {30, registrants, reservations, waitlisted, outbox}.
var deleteScript = redis.NewScript(deleteLua)

// DeleteDrop implements engine.DropDeleter: one script checks that nobody
// took part and deletes the drop's keys in the same step, so a
// registration cannot slip in between; the drop leaves the index after
// (its own slot), and a reader that meets the id in between finds no drop
// (DropsByID leaves it out).
func (s *Store) DeleteDrop(ctx context.Context, id string) error {
	k := keysFor(id)
	// The script's six named keys first, then every fixed key of the drop
	// (all(), so a key added there is deleted too; a name twice is
	// harmless to DEL) and the week's.
	keys := append([]string{k.drop, k.counters, k.reg, k.wl, k.outbox, k.tombstone()}, k.all()...)
	keys = append(keys, k.draw(), k.order(), k.week(),
		// A fan-out between its steps keeps who it reached: left behind,
		// the drop made again would skip them.
		k.fanSet(string(engine.EventInvited)), k.fanSet(string(engine.EventReminder)))
	v, err := deleteScript.Run(ctx, s.rdb, keys, DropTombstone.Milliseconds()).Slice()
	if err != nil {
		return err
	}
	r := reply(v)
	buckets := regBuckets // a repeat cannot tell: unlinking what is not there costs little
	switch r.int(0) {
	case 0:
		buckets = int(r.int(1))
	case codeDeletedAlready:
	case codeNotFound:
		return fmt.Errorf("%w: drop %q", engine.ErrNotFound, id)
	case codeInUse:
		u := engine.DropUse{Registrants: r.int(1), Reservations: r.int(2), Waitlisted: r.int(3), Unpublished: r.int(4)}
		if r.err != nil {
			return r.err
		}
		return engine.DropInUse(id, u)
	default:
		return codeErr(r.int(0), 0)
	}
	if r.err != nil {
		return r.err
	}
	// A rehearsal's registration buckets (delete.lua): the drop is gone,
	// so no registration makes one again; unlinked a thousand keys a
	// command, so Redis is never held for long, and freed apart from its
	// main thread. A drop nobody registered for has none; a failure here
	// is finished by a repeat of the DELETE.
	for b := 0; b < buckets; b += bucketUnlinkStep {
		keys := make([]string, 0, bucketUnlinkStep)
		for i := b; i < min(b+bucketUnlinkStep, buckets); i++ {
			keys = append(keys, k.regBucketKey(i))
		}
		if err := s.rdb.Unlink(ctx, keys...).Err(); err != nil {
			return err
		}
	}
	return s.rdb.SRem(ctx, dropIndexKey, id).Err()
}

// bucketUnlinkStep is how many registration buckets one UNLINK names.
const bucketUnlinkStep = 1024
