package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

// hooked holds the clients New has given the unavailable hook, so a
// client shared by several stores gets it once.
var hooked sync.Map

// markUnavailable makes every command on rdb that Redis could not be
// asked or did not answer fail with engine.ErrUnavailable (wrapping the
// client's error): the API answers those 503 with Retry-After, whatever
// the route, where an unknown error is a 500 that says "a bug". Replies
// of Redis stay as they are, except those that say it cannot serve now.
func markUnavailable(rdb redis.UniversalClient) {
	if _, dup := hooked.LoadOrStore(rdb, true); dup {
		return
	}
	rdb.AddHook(unavailableHook{})
}

type unavailableHook struct{}

func (unavailableHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (unavailableHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if unavailable(err) {
			err = engine.AsUnavailable(err)
			cmd.SetErr(err)
		}
		return err
	}
}

func (unavailableHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if unavailable(c.Err()) {
				c.SetErr(engine.AsUnavailable(c.Err()))
			}
		}
		if unavailable(err) {
			err = engine.AsUnavailable(err)
		}
		return err
	}
}

// busyReplies are Redis's own answers that it cannot serve the command
// now, though it may in a moment: loading its data, a cluster or master
// down, slots moving, a replica where a master was, a script running too
// long, no memory left for writes, writes refused after a failed save.
var busyReplies = []string{"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "BUSY", "OOM", "NOREPLICAS", "MISCONF"}

// maxClients is Redis's refusal of a new connection over maxclients (an
// ERR reply, so its first word says nothing): on release day, many nodes'
// pools growing at once.
const maxClients = "ERR max number of clients reached"

// unavailable reports an error that means Redis was not asked or did not
// answer (the connection, the pool, a deadline) or answered that it
// cannot serve now, and is not already marked.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, engine.ErrUnavailable) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		code, _, _ := strings.Cut(re.Error(), " ")
		return slices.Contains(busyReplies, code) || strings.HasPrefix(re.Error(), maxClients)
	}
	// Not a reply of Redis: the connection (refused, reset, timed out,
	// closed under the call), the client or its pool, or the call's own
	// deadline. Anything else (a reply go-redis could not read as the
	// command's type) is a bug, and stays a 500.
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted)
}
