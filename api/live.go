package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// liveEvent is one server-sent event of GET /v1/drops/{drop}/live.
type liveEvent struct {
	State     engine.State `json:"state"`
	Available int64        `json:"available"`
	Stock     int64        `json:"stock"`
	Paused    bool         `json:"paused"`
	// Released counts units ever released (cancelled or expired holds):
	// what moves a waitlist. A waiting shopper's page asks for her own
	// view when it grows, not on a timer.
	Released int64     `json:"released"`
	Time     time.Time `json:"time"`
}

// liveRetryAfter is the Retry-After of a refused stream: slots free up
// only as streams end, so an immediate retry would mostly be refused too.
const liveRetryAfter = 5 * time.Second

// live streams a drop's state and availability as server-sent events: one
// event at once, then one whenever either changes, at most one per
// LiveInterval, with a comment line as heartbeat. The stream ends after
// LiveMaxDuration or at shutdown; EventSource reconnects by itself.
//
// Streams are bounded per node and per client address (Limits.MaxStreams,
// MaxStreamsPerClient) rather than by the in-flight bound, which they
// leave as soon as the handler returns. Each write must complete within
// WriteTimeout, so a client that stops reading loses its slot once its
// buffers are full, not only when the stream ends.
func (s *Server) live(r *request) error {
	drop := r.args[0]
	release, ok := s.streams.acquire(clientOf(r.ctx.RemoteIP()))
	if !ok {
		// Answered here, not through fail: a refusal is not a server
		// error worth a log line each, and such refusals come in floods.
		setRetryAfter(r.ctx, liveRetryAfter.Seconds())
		writeProblem(r.ctx, problemFor(errTooManyStreams))
		return nil
	}
	ctx, cancel := r.context()
	_, _, err := s.adm.View(ctx, drop)
	cancel()
	if err != nil {
		release()
		return err
	}
	h := &r.ctx.Response.Header
	h.SetContentType("text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	writeTimeout := s.cfg.Limits.WriteTimeout
	// The server's WriteTimeout is for whole ordinary responses; this one
	// is meant to last, up to its own bound...
	_ = r.ctx.SetWriteDeadline(time.Now().Add(s.cfg.LiveMaxDuration + writeTimeout))
	// ...and each of its writes gets WriteTimeout of its own. Without our
	// connection (a caller serving Handler() itself) only the bound above
	// holds.
	conn, _ := r.ctx.Conn().(*serverConn)
	if conn != nil {
		conn.writeTimeout.Store(int64(writeTimeout))
	}
	id := string(r.ctx.Response.Header.Peek(headerRequestID))
	// The stream writer runs after this handler returns: it captures only
	// the server, copies of the drop and request ids, the connection's
	// wrapper and the slot, never the RequestCtx.
	r.ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		if conn != nil {
			defer conn.writeTimeout.Store(0)
		}
		// This runs on fasthttp's goroutine, where a panic would end the
		// process: the stream ends instead (its 200 is already sent).
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in live stream", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		s.streamLive(w, drop)
	})
	return nil
}

func (s *Server) streamLive(w *bufio.Writer, drop string) {
	deadline := time.NewTimer(s.cfg.LiveMaxDuration)
	defer deadline.Stop()
	tick := time.NewTicker(s.cfg.LiveInterval)
	defer tick.Stop()
	var last liveEvent
	lastWrite := time.Time{}
	seq := 0
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", 2000); err != nil {
		return
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
		d, st, err := s.adm.View(ctx, drop)
		cancel()
		if err == nil {
			now := s.drops.Now()
			ev := liveEvent{State: d.State(now, st.Available), Available: st.Available, Stock: d.Stock, Paused: d.Paused,
				Released: st.Released}
			changed := ev != last || seq == 0 // compare before the time is set
			if changed {
				last = ev
				ev.Time = now.UTC()
				seq++
				data, _ := json.Marshal(ev)
				if _, err := fmt.Fprintf(w, "id: %d\nevent: drop\ndata: %s\n\n", seq, data); err != nil {
					return
				}
			}
			if !changed && time.Since(lastWrite) >= s.cfg.LiveHeartbeat {
				if _, err := w.WriteString(": heartbeat\n\n"); err != nil {
					return
				}
				changed = true
			}
			if changed {
				if err := w.Flush(); err != nil {
					return // the client went away
				}
				lastWrite = time.Now()
			}
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-s.stopping:
			return
		}
	}
}

// streamSlots counts the live streams open on this node, in all and per
// client address.
type streamSlots struct {
	limit     int
	perClient int // <= 0: no bound per client

	mu       sync.Mutex
	open     int
	byClient map[string]int // only addresses with a stream open
}

func newStreamSlots(limit, perClient int) *streamSlots {
	return &streamSlots{limit: limit, perClient: perClient, byClient: map[string]int{}}
}

// acquire takes a slot for client, if both bounds allow; release gives
// it back and may be called more than once.
func (sl *streamSlots) acquire(client string) (release func(), ok bool) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.open >= sl.limit || (sl.perClient > 0 && sl.byClient[client] >= sl.perClient) {
		return nil, false
	}
	sl.open++
	sl.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			sl.mu.Lock()
			defer sl.mu.Unlock()
			sl.open--
			if sl.byClient[client]--; sl.byClient[client] <= 0 {
				delete(sl.byClient, client)
			}
		})
	}, true
}

func (sl *streamSlots) count() int {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.open
}
