package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/queue/webhook"
	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

// listenBackoff bounds the wait between reconnections.
const (
	listenMinBackoff = 200 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// listen streams the deployment's events from the admin event stream (no
// NATS access needed): one line each, or the raw CloudEvent with --json,
// and with --forward-to a signed POST of each to a local receiver, as a
// webhook delivery would be. It reconnects by itself, resuming after the
// last event it saw, and returns nil when ctx ends (Ctrl-C).
func listen(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageWithEnv(fs, "flashdrop listen --target URL --admin-token T [--types won,confirmed] [--drop ID] [--rehearsals] [--since 15m|TIME] [--json] [--forward-to URL [--forward-secret whsec_…]]")
	target := fs.String("target", "http://127.0.0.1:8080", "the server's URL")
	tok := fs.String("admin-token", "", "the admin token, or an API key with events:read")
	types := fs.String("types", "", "only these event types, comma-separated (won, confirmed, …)")
	drop := fs.String("drop", "", "only this drop's events")
	rehearsals := fs.Bool("rehearsals", false, "rehearsal drops' events too (flashdrop load's; marked rehearsal), which a webhook gets only if it asked")
	since := fs.String("since", "", "start with the events since then, an RFC 3339 time or a duration ago (15m, 2h); the stream keeps 7 days (default: only new events)")
	asJSON := fs.Bool("json", false, "print each event's raw CloudEvent JSON")
	forward := fs.String("forward-to", "", "POST each event, signed as a webhook delivery, to this URL (e.g. http://localhost:3000/hook)")
	forwardSecret := fs.String("forward-secret", "", "sign --forward-to's deliveries with this secret, kept across restarts (else FLASHDROP_WEBHOOK_SECRET, which examples/receiver reads; else one is generated and printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := applyEnv(fs, lookup); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("listen: unexpected argument %q", fs.Arg(0))
	}
	c, err := newAdminClient(*target, *tok)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	q := url.Values{}
	if *types != "" {
		for t := range strings.SplitSeq(*types, ",") {
			if engine.ValidateWebhook(engine.Webhook{ID: "x", URL: "https://x", Types: []engine.EventType{engine.EventType(strings.TrimSpace(t))}}) != nil {
				return fmt.Errorf("listen: --types: unknown event type %q", t)
			}
		}
		q.Set("types", *types)
	}
	if *drop != "" {
		if engine.ValidateDropID(*drop) != nil {
			return fmt.Errorf("listen: --drop: %q is not a drop id", *drop)
		}
		q.Set("drop", *drop)
	}
	if *rehearsals {
		q.Set("rehearsals", "true")
	}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return fmt.Errorf("listen: --since: %w", err)
		}
		// Fixed once: a reconnect before the first event asks for the same
		// start, and one after it resumes by Last-Event-ID (which wins).
		q.Set("since", t.UTC().Format(time.RFC3339Nano))
	}
	l := &listener{c: c, path: "/v1/admin/events", stdout: stdout, stderr: stderr, json: *asJSON,
		stream: &http.Client{}, post: &http.Client{Timeout: 10 * time.Second,
			// As the deliverer: a redirect is the answer, not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	l.fixedSince = *since != ""
	if len(q) > 0 {
		l.path += "?" + q.Encode()
	}
	if *forward != "" {
		u, err := url.Parse(*forward)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("listen: --forward-to must be an http(s) URL")
		}
		l.forward, l.secret = *forward, *forwardSecret
		// A given secret is never printed: it may be the receiver's real one.
		from := "--forward-secret (" + envName("forward-secret") + ")"
		if l.secret == "" {
			if v, ok := lookup(receiverSecretEnv); ok && v != "" {
				l.secret, from = v, receiverSecretEnv
			}
		}
		if l.secret != "" {
			fmt.Fprintf(stdout, "forwarding events to %s, signed with the secret of %s\n", l.forward, from)
		} else {
			var b [32]byte
			_, _ = rand.Read(b[:])
			l.secret = "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
			fmt.Fprintf(stdout, "forwarding events to %s, signed with the secret (for this session only; give one with --forward-secret or %s to keep it across restarts):\n%s\n",
				l.forward, receiverSecretEnv, l.secret)
		}
	}
	return l.run(ctx)
}

// parseSince reads --since: an RFC 3339 time, or a duration meaning that
// long before now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-24T09:55:00Z) nor a duration ago (15m, 2h)", v)
	}
	return now.Add(-d), nil
}

type listener struct {
	c      *adminClient
	path   string
	stdout io.Writer
	stderr io.Writer
	json   bool
	stream *http.Client
	post   *http.Client

	forward string
	secret  string
	lastID  string
	// fixedSince: the path asks for --since's start. Else firstAt is
	// when the first connection opened, by the server's clock less a
	// second: a reconnect with no id to resume after asks for the events
	// since then. A server of this version tells its position as the
	// stream opens, so lastID is set at once; firstAt is for an older
	// one, which asked for new events only and lost the gap.
	fixedSince bool
	firstAt    string
}

// errFatal marks an answer that retrying cannot change (bad token, scope,
// filter).
type errFatal struct{ error }

func (l *listener) run(ctx context.Context) error {
	backoff := listenMinBackoff
	first := true
	for {
		got, err := l.once(ctx, first)
		first = false
		if ctx.Err() != nil {
			return nil
		}
		var fatal errFatal
		if errors.As(err, &fatal) {
			return fmt.Errorf("listen: %w", fatal.error)
		}
		if got {
			backoff = listenMinBackoff
		}
		msg := "the stream ended"
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(l.stderr, "listen: %s; reconnecting in %s\n", msg, backoff.Round(time.Millisecond))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// once reads the stream until it ends; got reports whether it connected.
func (l *listener) once(ctx context.Context, first bool) (got bool, err error) {
	path := l.path
	if l.lastID == "" && !l.fixedSince && l.firstAt != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "since=" + url.QueryEscape(l.firstAt)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.c.target+path, nil)
	if err != nil {
		return false, errFatal{err}
	}
	req.Header.Set("Authorization", "Bearer "+l.c.token)
	req.Header.Set("Accept", "text/event-stream")
	if l.lastID != "" {
		req.Header.Set("Last-Event-ID", l.lastID)
	}
	resp, err := l.stream.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var p struct{ Code, Detail, Title string }
		_ = json.Unmarshal(raw, &p)
		e := fmt.Errorf("%d %s: %s", resp.StatusCode, p.Code, strings.TrimSpace(p.Detail+" "+p.Title))
		if resp.StatusCode == 400 || resp.StatusCode == 401 || resp.StatusCode == 403 || resp.StatusCode == 404 {
			return false, errFatal{e}
		}
		return false, e
	}
	if l.firstAt == "" {
		at := time.Now()
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			at = d
		}
		l.firstAt = at.Add(-time.Second).UTC().Format(time.RFC3339)
	}
	switch {
	case first:
		fmt.Fprintf(l.stderr, "listen: connected to %s; waiting for events (Ctrl-C to stop)\n", l.c.target)
	case l.lastID != "":
		fmt.Fprintf(l.stderr, "listen: reconnected, resuming after event %s\n", l.lastID)
	default:
		fmt.Fprintf(l.stderr, "listen: reconnected, reading from when it first connected\n")
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var id, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				l.handle(ctx, id, data)
			}
			// A frame with an id and no data is the server's position
			// (where the stream opened, or past events it passed over): a
			// reconnect resumes after it as after an event.
			if id != "" {
				l.lastID = id
			}
			id, data = "", ""
		case strings.HasPrefix(line, ":"): // heartbeat
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(line[3:])
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(line[5:], " ")
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	return true, nil
}

func (l *listener) handle(ctx context.Context, seq, data string) {
	if l.json {
		fmt.Fprintln(l.stdout, data)
	} else {
		fmt.Fprintln(l.stdout, eventLine([]byte(data)))
	}
	if l.forward != "" {
		l.forwardEvent(ctx, seq, []byte(data))
	}
}

// lineFields is the order of the data fields a line shows after the drop:
// who and what first, then the numbers, times and links. A field not
// listed here (a new one) follows them, by name.
var lineFields = []string{"reservation", "user", "ref", "quantity", "waitlist_position", "from_waitlist", "product",
	"expires_at", "available", "version", "share_url", "checkout_url", "seconds_after_start", "url", "sale_starts_at",
	"registrants", "winners", "holds_given", "waitlisted", "series", "webhook", "reason"}

// lineLeftOut are data fields no line shows: the drop (shown first, by
// id, so its drop_name, for a post's text, is left out too) and
// rehearsal (a mark at the end); share_code, which share_url ends with,
// and share_image_url, which is share_url and ".png"; and a draw's hashes
// and seed, for verify-draw rather than a terminal.
var lineLeftOut = map[string]bool{"drop": true, "drop_name": true, "rehearsal": true, "share_code": true, "share_image_url": true,
	"seed_hash": true, "seed": true, "frozen_digest": true}

// eventLine is one readable line: time, type, drop, then every field of
// the event's data an integration acts on, in a stable order.
func eventLine(raw []byte) string {
	var ce struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Time time.Time       `json:"time"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &ce) != nil {
		return string(raw)
	}
	var d map[string]any
	_ = json.Unmarshal(ce.Data, &d)
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-16s", ce.Time.UTC().Format("2006-01-02T15:04:05.000Z"), strings.TrimPrefix(ce.Type, "flashdrop."))
	if drop, _ := d["drop"].(string); drop != "" {
		fmt.Fprintf(&b, "  drop=%s", drop)
	}
	listed := map[string]bool{}
	keys := make([]string, 0, len(d))
	for _, k := range lineFields {
		listed[k] = true
		if _, ok := d[k]; ok {
			keys = append(keys, k)
		}
	}
	var more []string
	for k := range d {
		if !listed[k] && !lineLeftOut[k] {
			more = append(more, k)
		}
	}
	slices.Sort(more)
	for _, k := range append(keys, more...) {
		switch v := d[k].(type) {
		case string:
			if v == "" || strings.IndexFunc(v, func(r rune) bool { return r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
				fmt.Fprintf(&b, " %s=%q", k, v)
			} else {
				fmt.Fprintf(&b, " %s=%s", k, v)
			}
		case float64:
			fmt.Fprintf(&b, " %s=%s", k, strconv.FormatFloat(v, 'f', -1, 64))
		case bool:
			fmt.Fprintf(&b, " %s=%t", k, v)
		case nil:
		default:
			j, _ := json.Marshal(v)
			fmt.Fprintf(&b, " %s=%s", k, j)
		}
	}
	if d["rehearsal"] == true {
		b.WriteString("  rehearsal")
	}
	fmt.Fprintf(&b, "  id=%s", ce.ID)
	return b.String()
}

// What --forward-to does as a webhook delivery does: the deliverer's
// User-Agent, and the secret examples/receiver reads.
const (
	forwardUserAgent  = webhook.UserAgent
	receiverSecretEnv = "FLASHDROP_WEBHOOK_SECRET"
)

// A forward is retried after a refused connection, a timeout or a 5xx,
// 408 or 429 answer, as a delivery is, but briefly: the events behind it
// wait meanwhile. At most forwardAttempts attempts within forwardBudget,
// each bounded by forwardTimeout (the deliverer's default), waiting
// forwardBackoff, then twice as long, between them.
var (
	forwardAttempts = 4
	forwardBudget   = 10 * time.Second
	forwardTimeout  = 5 * time.Second
	forwardBackoff  = 250 * time.Millisecond
)

// forwardEvent POSTs one event as a webhook delivery: same headers
// (Content-Type, User-Agent, Flashdrop-Event-Id, Flashdrop-Sequence, and
// Flashdrop-Delivery-Kind delivery with the forward's Flashdrop-Attempt),
// same signature scheme (queue/webhooksig), the session's secret. It
// retries a failed attempt a few times, then says it gave up.
func (l *listener) forwardEvent(ctx context.Context, seq string, body []byte) {
	var ce struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &ce)
	deadline := time.Now().Add(forwardBudget)
	wait := forwardBackoff
	for attempt := 1; ; attempt++ {
		status, took, err := l.forwardOnce(ctx, seq, ce.ID, body, deadline, attempt)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			fmt.Fprintf(l.stderr, "  → %s %d (%s)\n", l.forward, status, took.Round(time.Millisecond))
			if status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
				return // 2xx, or a refusal a retry does not change (a 401: the secret)
			}
			err = fmt.Errorf("HTTP %d", status)
		}
		if attempt >= forwardAttempts || time.Until(deadline) < wait {
			fmt.Fprintf(l.stderr, "  forward %s: %v; gave up after %d attempts (a webhook would retry for longer; listen --since reads it again)\n",
				ce.ID, err, attempt)
			return
		}
		fmt.Fprintf(l.stderr, "  forward %s: %v; retrying in %s\n", ce.ID, err, wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		wait *= 2
	}
}

// forwardOnce makes one attempt, signed now; err is a transport error.
func (l *listener) forwardOnce(ctx context.Context, seq, id string, body []byte, deadline time.Time, attempt int) (int, time.Duration, error) {
	if d := time.Now().Add(forwardTimeout); d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forward, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", forwardUserAgent)
	req.Header.Set("Flashdrop-Event-Id", id)
	if seq != "" {
		req.Header.Set("Flashdrop-Sequence", seq)
	}
	// As a live delivery's: a receiver written against forwards reads
	// the headers it will get from a webhook.
	req.Header.Set(webhook.KindHeader, engine.DeliveryKindEvent)
	req.Header.Set(webhook.AttemptHeader, strconv.Itoa(attempt))
	req.Header.Set(webhooksig.Header, webhooksig.Sign([]byte(l.secret), body, time.Now()))
	start := time.Now()
	resp, err := l.post.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, printed once at start
		}
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}
