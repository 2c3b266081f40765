package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// adminEvents streams the deployment's events as server-sent events: each
// event's id is its position in the JetStream stream, so a client that
// reconnects with Last-Event-ID resumes right after the last event it
// saw, with nothing lost or repeated; Last-Event-ID 0 starts at the first
// event the stream holds, and ?since=<RFC 3339 time> (when there is no
// Last-Event-ID) at the first it stored at or after then; neither gives
// only new events. Filtered by ?types=won,confirmed and
// ?drop=ID; a rehearsal drop's events only with ?rehearsals=true, as for
// webhooks. Like the live streams it takes a stream slot (--max-streams,
// --max-streams-per-client), sends a heartbeat comment after
// LiveHeartbeat of silence, and ends after LiveMaxDuration or at
// shutdown; clients reconnect.
func (s *Server) adminEvents(r *request) error {
	if err := s.requireScope(r, engine.ScopeEventsRead); err != nil {
		return err
	}
	var f engine.EventFilter
	args := r.ctx.QueryArgs()
	if v := string(args.Peek("types")); v != "" {
		for t := range strings.SplitSeq(v, ",") {
			f.Types = append(f.Types, engine.EventType(strings.TrimSpace(t)))
		}
		if err := engine.ValidateWebhook(engine.Webhook{ID: "x", URL: "https://x", Types: f.Types}); err != nil {
			return err
		}
	}
	if v := string(args.Peek("drop")); v != "" {
		if engine.ValidateDropID(v) != nil {
			return &engine.ValidationError{Field: "drop", Reason: "may contain only A-Z, a-z, 0-9, '_' and '-', 1 to 64 characters"}
		}
		f.Drop = v
	}
	switch v := string(args.Peek("rehearsals")); v {
	case "", "false":
	case "true":
		f.Rehearsals = true
	default:
		return &engine.ValidationError{Field: "rehearsals", Reason: "must be true or false"}
	}
	if v := string(args.Peek("since")); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return &engine.ValidationError{Field: "since", Reason: "must be an RFC 3339 time, e.g. 2026-11-24T09:55:00Z"}
		}
		if err := engine.CheckSince(t); err != nil {
			return err
		}
		f.Since = t
	}
	// Last-Event-ID wins over since: a reconnect resumes exactly. An
	// absent (or empty) header is not 0: 0 is "after position 0", from
	// the first event the stream still holds.
	if v := string(r.ctx.Request.Header.Peek("Last-Event-ID")); v != "" {
		// A stream's sequence numbers stay far below 2^63; the largest
		// uint64 would wrap to 0 as the first sequence to deliver.
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil || seq > math.MaxInt64 {
			return &engine.ValidationError{Field: "Last-Event-ID", Reason: "must be the id of an event of this stream, or 0 for the first the stream holds"}
		}
		f.AfterSeq, f.Resume = seq, true
	}
	// A stream opened with an API key ends once the key stops working
	// (revoked, or its secret rotated out): it was checked only as the
	// stream opened, and a leaked key's stream would otherwise go on
	// reading every event, shoppers' ids among them, for up to
	// LiveMaxDuration. The header is copied: the request is gone once the
	// handler returns.
	var stillValid func() bool
	if r.who.key != "" {
		header := append([]byte(nil), r.ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)...)
		stillValid = func() bool {
			who, err := s.auth.authenticate(header)
			// Only a refusal of the key ends the stream: Redis being away
			// for a moment does not.
			return !errors.Is(err, errAuthBadKey) && (err != nil || who.has(engine.ScopeEventsRead))
		}
	}
	release, ok := s.streams.acquire(clientOf(r.ctx.RemoteIP()))
	if !ok {
		setRetryAfter(r.ctx, liveRetryAfter.Seconds())
		writeProblem(r.ctx, problemFor(errTooManyStreams))
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	events, stop, err := s.cfg.Events.Follow(ctx, f)
	if err != nil {
		cancel()
		release()
		return err
	}
	h := &r.ctx.Response.Header
	h.SetContentType("text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	writeTimeout := s.cfg.Limits.WriteTimeout
	_ = r.ctx.SetWriteDeadline(time.Now().Add(s.cfg.LiveMaxDuration + writeTimeout))
	conn, _ := r.ctx.Conn().(*serverConn)
	if conn != nil {
		conn.writeTimeout.Store(int64(writeTimeout))
	}
	id := string(r.ctx.Response.Header.Peek(headerRequestID))
	r.ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		defer cancel()
		defer stop()
		if conn != nil {
			defer conn.writeTimeout.Store(0)
		}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in event stream", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		s.streamEvents(w, events, stillValid)
	})
	return nil
}

// keyRecheck is how often an event stream opened with an API key checks
// that the key still works: a revoke on this node ends the stream within
// it, on another node within it plus engine.KeyCacheTTL.
const keyRecheck = time.Second

// streamEvents writes events to w until the client goes, the stream's
// time is up, the server stops, or stillValid (when not nil) says the
// credential it was opened with no longer works.
func (s *Server) streamEvents(w *bufio.Writer, events <-chan engine.StoredEvent, stillValid func() bool) {
	deadline := time.NewTimer(s.cfg.LiveMaxDuration)
	defer deadline.Stop()
	beat := time.NewTicker(s.cfg.LiveHeartbeat)
	defer beat.Stop()
	var recheck <-chan time.Time
	if stillValid != nil {
		t := time.NewTicker(keyRecheck)
		defer t.Stop()
		recheck = t.C
	}
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", 2000); err != nil {
		return
	}
	if w.Flush() != nil {
		return
	}
	// pos is the stream position read past events not sent (a position
	// only, engine.StoredEvent), told with the next heartbeat as an SSE
	// frame with an id and no data: a reconnect resumes after it.
	var pos, told uint64
	first := true
	for {
		select {
		case ev := <-events:
			if ev.Data == nil {
				pos = max(pos, ev.Seq)
				if !first {
					continue
				}
				// Where the stream opened: told at once.
				if _, err := fmt.Fprintf(w, "id: %d\n\n", pos); err != nil {
					return
				}
				told, first = pos, false
			} else {
				first = false
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, ev.Data); err != nil {
					return
				}
				told = max(told, ev.Seq)
				pos = max(pos, ev.Seq)
			}
			// Flush when no more are waiting: a burst goes out in one write.
			if len(events) == 0 {
				if w.Flush() != nil {
					return
				}
				beat.Reset(s.cfg.LiveHeartbeat)
			}
		case <-beat.C:
			if pos > told {
				if _, err := fmt.Fprintf(w, "id: %d\n\n", pos); err != nil {
					return
				}
				told = pos
			}
			if _, err := w.WriteString(": heartbeat\n\n"); err != nil || w.Flush() != nil {
				return
			}
		case <-recheck:
			if !stillValid() {
				// Said before the end, so that a client can tell it from a
				// dropped connection; its reconnect is refused 401.
				_, _ = w.WriteString(": the key this stream was opened with no longer works\n\n")
				_ = w.Flush()
				return
			}
		case <-deadline.C:
			return
		case <-s.stopping:
			return
		}
	}
}
