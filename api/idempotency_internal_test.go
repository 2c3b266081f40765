package api

import (
	"fmt"
	"testing"

	"github.com/flashdrop/flashdrop/engine"
)

// TestFinalAnswer: only answers a retry would get again are kept under an
// admin Idempotency-Key; temporary refusals and server errors free it.
func TestFinalAnswer(t *testing.T) {
	running := fmt.Errorf("replay: %w", engine.ErrReplayRunning)
	for _, c := range []struct {
		status int
		err    error
		keep   bool
	}{
		{200, nil, true},
		{201, nil, true},
		{204, nil, true},
		{400, engine.ErrInvalid, true},
		{404, engine.ErrNotFound, true},
		{409, engine.ErrDropExists, true},
		{422, engine.ErrIdempotencyMismatch, true},
		{409, running, false},
		{429, errRateLimited, false},
		{500, fmt.Errorf("boom"), false},
		{503, errUnavailable, false},
	} {
		if got := finalAnswer(c.status, c.err); got != c.keep {
			t.Errorf("finalAnswer(%d, %v) = %v, want %v", c.status, c.err, got, c.keep)
		}
	}
}
