package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine"
)

// replyErr is an error reply of Redis, as go-redis types them.
type replyErr string

func (r replyErr) Error() string { return string(r) }
func (replyErr) RedisError()     {}

// TestUnavailableSaysWhatRedisCouldNotServe: what the hook marks
// engine.ErrUnavailable (the API's 503) and what it leaves alone (a
// reply that means a bug stays a 500; a miss stays a miss).
func TestUnavailableSaysWhatRedisCouldNotServe(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{replyErr("ERR flashdrop: malformed reserve arguments"), false},
		{replyErr("NOSCRIPT No matching script"), false},
		{replyErr("BUSYGROUP Consumer Group name already exists"), false},
		{replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{fmt.Errorf("redis: can't parse reply"), false},
		{fmt.Errorf("%w: already marked", engine.ErrUnavailable), false},
		{replyErr("LOADING Redis is loading the dataset in memory"), true},
		{replyErr("READONLY You can't write against a read only replica."), true},
		{replyErr("BUSY Redis is busy running a script."), true},
		{replyErr("CLUSTERDOWN The cluster is down"), true},
		{replyErr("OOM command not allowed when used memory > 'maxmemory'."), true},
		{replyErr("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."), true},
		{replyErr("ERR max number of clients reached"), true},
		{refused, true},
		{fmt.Errorf("dial: %w", refused), true},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{context.DeadlineExceeded, true},
		{redis.ErrClosed, true},
		{redis.ErrPoolTimeout, true},
	} {
		if got := unavailable(c.err); got != c.want {
			t.Errorf("unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
