package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// liveEvent is one server-sent event of GET /v1/drops/{drop}/live.
type liveEvent struct {
	State     engine.State `json:"state"`
	Available int64        `json:"available"`
	Stock     int64        `json:"stock"`
	Paused    bool         `json:"paused"`
	Time      time.Time    `json:"time"`
}

const liveHeartbeat = 15 * time.Second

// live streams a drop's state and availability as server-sent events: one
// event at once, then one whenever either changes, at most one per
// LiveInterval, with a comment line as heartbeat. The stream ends after
// LiveMaxDuration or at shutdown; EventSource reconnects by itself.
func (s *Server) live(r *request) error {
	drop := r.args[0]
	ctx, cancel := r.context()
	_, _, err := s.adm.View(ctx, drop)
	cancel()
	if err != nil {
		return err
	}
	h := &r.ctx.Response.Header
	h.SetContentType("text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold events back
	// The server's WriteTimeout is for ordinary responses; this one is
	// meant to last, up to its own bound.
	_ = r.ctx.SetWriteDeadline(time.Now().Add(s.cfg.LiveMaxDuration + 10*time.Second))
	// The stream writer runs after this handler returns: it captures only
	// the server and a copy of the drop id, never the RequestCtx.
	r.ctx.SetBodyStreamWriter(func(w *bufio.Writer) { s.streamLive(w, drop) })
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
			ev := liveEvent{State: d.State(now, st.Available), Available: st.Available, Stock: d.Stock, Paused: d.Paused}
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
			if !changed && time.Since(lastWrite) >= liveHeartbeat {
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
