package redisstore

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Failover timing of a cluster client. go-redis reloads its slot map on a
// MOVED or READONLY reply and otherwise every 60 s; a master that died
// answers neither, it refuses connections, so by default a node kept
// dialling the dead master for up to a minute after its replica was
// promoted. These make it follow a failover within about a second of the
// promotion.
const (
	// ClusterReloadEvery bounds how stale the slot map can get.
	ClusterReloadEvery = time.Second
	// ClusterDialTimeout: a dead master on a real network drops SYNs
	// instead of refusing them; a short dial timeout keeps each try (and
	// so the batch waiting on it) short.
	ClusterDialTimeout = time.Second
)

// NewClusterClient returns a cluster client on the seed addresses, tuned
// to follow a failover: a short dial timeout, the slot map reloaded every
// ClusterReloadEvery, and at once after any connection error. poolSize 0
// keeps go-redis's default.
func NewClusterClient(addrs []string, poolSize int) *redis.ClusterClient {
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                      addrs,
		PoolSize:                   poolSize,
		DialTimeout:                ClusterDialTimeout,
		ClusterStateReloadInterval: ClusterReloadEvery,
	})
	c.AddHook(reloadOnConnError{c})
	return c
}

// reloadOnConnError asks the cluster client to reload its slot map when a
// command or pipeline failed on the connection (refused, reset, timed
// out): the node may be gone and its slots served by a promoted replica.
// The reload is lazy (one at a time, at most every 200 ms), so a burst of
// failures costs one CLUSTER SLOTS.
type reloadOnConnError struct{ c *redis.ClusterClient }

func (h reloadOnConnError) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.c.ReloadState(ctx)
		}
		return conn, err
	}
}

func (h reloadOnConnError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if connError(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadOnConnError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if connError(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

// connError reports an error of the connection rather than a reply:
// network errors, and CLUSTERDOWN / TRYAGAIN while slots move.
func connError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return len(msg) >= 11 && (msg[:11] == "CLUSTERDOWN" || msg[:8] == "TRYAGAIN")
	}
	return true // EOF, closed pool: not an answer of Redis
}
