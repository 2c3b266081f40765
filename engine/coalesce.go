package engine

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// coalescer gathers concurrent requests per drop into batches: a bounded
// queue per drop, Workers batches in flight, each taking what queued while
// the previous one was in the store (and waiting up to MaxWait for more
// when asked to). It serves Admission's reserve, registration and keyed
// sold-out lanes.
type coalescer[Q, R any] struct {
	o   BatchOptions
	run func(drop string, reqs []Q) ([]R, error)

	mu     sync.RWMutex
	lanes  map[string]chan *pending[Q, R]
	closed bool
	wg     sync.WaitGroup

	// pool recycles pendings with their answer channels: a new pending
	// and channel per press were about 460 bytes of garbage per reserve
	// (the all-wins run's allocation profile). A pending goes back once
	// its answer is taken: the worker sends each pending exactly one
	// answer and does not touch it after sending it.
	pool sync.Pool
}

type pending[Q, R any] struct {
	req  Q
	done chan answer[R] // buffered: the worker never blocks on a reply
}

type answer[R any] struct {
	res R
	err error // the batch failed as a whole
}

// newCoalescer returns a coalescer whose batches run is given; run
// answers one result per request, in order, or an error for the batch.
func newCoalescer[Q, R any](o BatchOptions, run func(drop string, reqs []Q) ([]R, error)) *coalescer[Q, R] {
	return &coalescer[Q, R]{o: o.withDefaults(), run: run, lanes: map[string]chan *pending[Q, R]{}}
}

// do queues req in drop's lane and waits for its answer. ErrOverloaded
// means the lane was full and req was not taken.
func (c *coalescer[Q, R]) do(drop string, req Q) (R, error) {
	p, _ := c.pool.Get().(*pending[Q, R])
	if p == nil {
		p = &pending[Q, R]{done: make(chan answer[R], 1)}
	}
	p.req = req
	err := c.enqueue(drop, p)
	var a answer[R]
	if err == nil {
		a = <-p.done
	}
	var zero Q
	p.req = zero
	c.pool.Put(p)
	if err != nil {
		var zero R
		return zero, err
	}
	return a.res, a.err
}

func (c *coalescer[Q, R]) enqueue(drop string, p *pending[Q, R]) error {
	// Sends happen under the read lock and close closes lanes under the
	// write lock, so nothing is ever sent on a closed lane.
	c.mu.RLock()
	lane, ok := c.lanes[drop]
	if ok && !c.closed {
		defer c.mu.RUnlock()
		return offerTo(lane, p)
	}
	c.mu.RUnlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%w: shutting down", ErrUnavailable)
	}
	lane, ok = c.lanes[drop]
	if !ok {
		lane = make(chan *pending[Q, R], c.o.QueueSize)
		c.lanes[drop] = lane
		for i := 0; i < c.o.Workers; i++ {
			c.wg.Add(1)
			go c.work(drop, lane)
		}
	}
	return offerTo(lane, p)
}

func offerTo[T any](lane chan T, v T) error {
	select {
	case lane <- v:
		return nil
	default:
		return ErrOverloaded
	}
}

func (c *coalescer[Q, R]) work(drop string, lane chan *pending[Q, R]) {
	defer c.wg.Done()
	cut := newBatcher(lane, c.o)
	batch := make([]*pending[Q, R], 0, c.o.MaxSize)
	reqs := make([]Q, 0, c.o.MaxSize)
	for {
		var ok bool
		if batch, ok = cut.next(batch); !ok {
			return
		}
		reqs = reqs[:0]
		for _, p := range batch {
			reqs = append(reqs, p.req)
		}
		res, err := c.run(drop, reqs)
		if err == nil && len(res) != len(batch) {
			err = fmt.Errorf("engine: batch answered %d of %d requests", len(res), len(batch))
		}
		for i, p := range batch {
			if err != nil {
				p.done <- answer[R]{err: err}
				continue
			}
			p.done <- answer[R]{res: res[i]}
		}
	}
}

// batcher cuts batches from one lane for a worker: the first request
// that arrives, then what queued meanwhile (up to MaxSize), then, with a
// MaxWait, more until it passes. Every coalescer's worker cuts its
// batches here.
type batcher[T any] struct {
	lane  chan T
	max   int
	wait  time.Duration
	timer *time.Timer
}

func newBatcher[T any](lane chan T, o BatchOptions) *batcher[T] {
	return &batcher[T]{lane: lane, max: o.MaxSize, wait: o.MaxWait}
}

// next waits for a request and returns the batch it starts, in buf's
// storage; false once the lane is closed and drained.
func (b *batcher[T]) next(buf []T) ([]T, bool) {
	first, ok := <-b.lane
	if !ok {
		return buf[:0], false
	}
	batch := append(buf[:0], first)
	// Natural batching needs the queue to fill while a batch forms: a
	// send to a waiting worker makes it the next goroutine to run, so
	// without a yield a busy node cuts batches of one and pays a store
	// call per request. Yielding lets the runnable handlers queue theirs
	// first; on an idle node nothing else is runnable and it returns at
	// once (no timer, no added latency).
	runtime.Gosched()
	open := true
fill:
	for len(batch) < b.max {
		select {
		case v, ok := <-b.lane:
			if !ok {
				open = false
				break fill
			}
			batch = append(batch, v)
		default:
			break fill
		}
	}
	if open && b.wait > 0 && len(batch) < b.max {
		if b.timer == nil {
			b.timer = time.NewTimer(b.wait)
		} else {
			b.timer.Reset(b.wait)
		}
	gather:
		for len(batch) < b.max {
			select {
			case v, ok := <-b.lane:
				if !ok {
					break gather
				}
				batch = append(batch, v)
			case <-b.timer.C:
				break gather
			}
		}
		b.timer.Stop()
	}
	return batch, true
}

// close stops taking requests, finishes the queued ones and waits for the
// workers. Safe to call more than once.
func (c *coalescer[Q, R]) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for _, lane := range c.lanes {
			close(lane)
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// queued reports how many requests wait in drop's lane.
func (c *coalescer[Q, R]) queued(drop string) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.lanes[drop])
}
