package api

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// BatchOptions bound request coalescing. Zero values mean the defaults.
type BatchOptions struct {
	// MaxSize is the most reserve requests one script call decides
	// (default 256, at most 1000).
	MaxSize int
	// MaxWait is how long a batch that is not full waits for more requests
	// before it goes (default 0: a batch takes whatever queued while the
	// previous one was in Redis, so an idle system adds no latency and a
	// busy one batches by itself).
	MaxWait time.Duration
	// QueueSize bounds the requests waiting per drop (default 4096); past
	// it a request is refused at once with 503 rather than left waiting.
	QueueSize int
	// Workers is the number of batches per drop in flight at once
	// (default 2), so the next batch forms while one is in Redis.
	Workers int
	// Timeout bounds one script call (default 5s).
	Timeout time.Duration
}

func (o BatchOptions) withDefaults() BatchOptions {
	if o.MaxSize <= 0 {
		o.MaxSize = 256
	}
	if o.MaxSize > 1000 {
		o.MaxSize = 1000
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return o
}

type reserveCall struct {
	req  engine.ReserveRequest
	done chan reserveAnswer // buffered: the worker never blocks on a reply
}

type reserveAnswer struct {
	res engine.ReserveResult
	err error // the batch failed as a whole
}

// coalescer gathers concurrent reserve requests for one drop into batched
// engine calls ("lanes", one per drop) and answers each request on its own.
type coalescer struct {
	eng     *engine.Engine
	opts    BatchOptions
	observe func(size int, took time.Duration, err error)

	mu     sync.RWMutex
	lanes  map[string]chan *reserveCall
	closed bool
	wg     sync.WaitGroup
}

func newCoalescer(eng *engine.Engine, opts BatchOptions, observe func(int, time.Duration, error)) *coalescer {
	if observe == nil {
		observe = func(int, time.Duration, error) {}
	}
	return &coalescer{eng: eng, opts: opts.withDefaults(), observe: observe, lanes: map[string]chan *reserveCall{}}
}

// reserve submits one request and waits for its answer. It fails fast with
// errOverloaded when the drop's queue is full and errUnavailable when the
// coalescer is closed or the batch's store call failed.
func (c *coalescer) reserve(drop string, req engine.ReserveRequest) (engine.ReserveResult, error) {
	call := &reserveCall{req: req, done: make(chan reserveAnswer, 1)}
	if err := c.enqueue(drop, call); err != nil {
		return engine.ReserveResult{}, err
	}
	a := <-call.done
	return a.res, a.err
}

func (c *coalescer) enqueue(drop string, call *reserveCall) error {
	// Sends happen under the read lock and Close closes lanes under the
	// write lock, so nothing is ever sent on a closed lane.
	c.mu.RLock()
	lane, ok := c.lanes[drop]
	if ok && !c.closed {
		defer c.mu.RUnlock()
		return offer(lane, call)
	}
	c.mu.RUnlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%w: shutting down", errUnavailable)
	}
	lane, ok = c.lanes[drop]
	if !ok {
		lane = make(chan *reserveCall, c.opts.QueueSize)
		c.lanes[drop] = lane
		for i := 0; i < c.opts.Workers; i++ {
			c.wg.Add(1)
			go c.work(drop, lane)
		}
	}
	return offer(lane, call)
}

func offer(lane chan *reserveCall, call *reserveCall) error {
	select {
	case lane <- call:
		return nil
	default:
		return errOverloaded
	}
}

// work runs batches for one drop until its lane is closed and drained.
func (c *coalescer) work(drop string, lane chan *reserveCall) {
	defer c.wg.Done()
	batch := make([]*reserveCall, 0, c.opts.MaxSize)
	reqs := make([]engine.ReserveRequest, 0, c.opts.MaxSize)
	var timer *time.Timer
	for first := range lane {
		batch = append(batch[:0], first)
		open := c.fill(lane, &batch)
		if open && c.opts.MaxWait > 0 && len(batch) < c.opts.MaxSize {
			if timer == nil {
				timer = time.NewTimer(c.opts.MaxWait)
			} else {
				timer.Reset(c.opts.MaxWait)
			}
		wait:
			for len(batch) < c.opts.MaxSize {
				select {
				case call, ok := <-lane:
					if !ok {
						break wait
					}
					batch = append(batch, call)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		reqs = reqs[:0]
		for _, call := range batch {
			reqs = append(reqs, call.req)
		}
		c.run(drop, batch, reqs)
	}
}

// fill takes what is already queued, up to MaxSize, without waiting. It
// reports false if the lane was closed.
func (c *coalescer) fill(lane chan *reserveCall, batch *[]*reserveCall) bool {
	for len(*batch) < c.opts.MaxSize {
		select {
		case call, ok := <-lane:
			if !ok {
				return false
			}
			*batch = append(*batch, call)
		default:
			return true
		}
	}
	return true
}

func (c *coalescer) run(drop string, batch []*reserveCall, reqs []engine.ReserveRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	start := time.Now()
	res, err := c.eng.ReserveBatch(ctx, drop, reqs)
	cancel()
	c.observe(len(batch), time.Since(start), err)
	for i, call := range batch {
		if err != nil {
			// The outcome is unknown (the script may have run): the client
			// retries with the same Idempotency-Key to learn it.
			call.done <- reserveAnswer{err: fmt.Errorf("%w: %w", errUnavailable, err)}
			continue
		}
		call.done <- reserveAnswer{res: res[i]}
	}
}

// Close stops taking requests, finishes every queued one, and waits for the
// workers. Safe to call more than once.
func (c *coalescer) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for _, lane := range c.lanes {
			close(lane)
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// queued reports how many requests wait in drop's lane (for tests).
func (c *coalescer) queued(drop string) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.lanes[drop])
}
