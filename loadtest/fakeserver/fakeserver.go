// Package fakeserver is an in-memory stand-in for a flashdrop deployment's
// HTTP API, for testing the load tester: it keeps the contract of SPEC §4
// closely enough for a whole rehearsal (drops, registrations, reserves with
// Idempotency-Keys and the waitlist, confirm, cancel, expiry, stats, the
// public view, JetStream events), runs on an injectable clock so a run is
// reproducible, and can break the rules on purpose (oversell, a double
// win, a lost event) to prove the audit notices.
//
// It is not the product: one mutex, no batching, no persistence.
package fakeserver

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"
)

// Faults break the contract on purpose.
type Faults struct {
	// OversellBy lets this many units more than the stock be won.
	OversellBy int64
	// DoubleWin gives the first shopper who presses again after winning a
	// second hold, past the per-user limit.
	DoubleWin bool
	// DropWonEvents skips publishing the first n won events (a relay that
	// lost them).
	DropWonEvents int
}

// Options configure a Server. AdminToken and JWTSecret are required.
type Options struct {
	AdminToken string
	JWTSecret  []byte
	// Now is the server's clock (default time.Now).
	Now func() time.Time
	// Delay is called once per request, before it is answered, with the
	// endpoint and outcome; a test advances a manual clock there to give
	// each answer a deterministic latency.
	Delay func(endpoint, outcome string)
	// WinIf, when set, decides each registered shopper's reserve by her id
	// alone (true: a win while stock lasts, false: sold out), so that the
	// order of arrival does not matter.
	WinIf func(user string) bool
	// NATSURL, when set, publishes CloudEvents to the FLASHDROP stream
	// (created if missing) with Nats-Msg-Id = the event id.
	NATSURL string
	Faults  Faults
	// NoRehearsals answers as a server from before rehearsal drops: a
	// create that names "rehearsal" is 400 invalid for that field, as the
	// real server refuses any field it does not know.
	NoRehearsals bool
}

// Server is a running fake.
type Server struct {
	o     Options
	URL   string
	ln    net.Listener
	srv   *fasthttp.Server
	done  chan error
	close sync.Once
	err   error // of the first Close
	nc    *nats.Conn
	js    jetstream.JetStream
	mu    sync.Mutex
	drops map[string]*drop
	evSeq int
	// WonEventsDropped counts the won events lost on purpose.
	WonEventsDropped int
	// deleted lists the drops deleted through the API, in order.
	deleted []string
	doubled bool
}

type res struct {
	ID        string    `json:"id"`
	Drop      string    `json:"drop"`
	User      string    `json:"user"`
	Qty       int64     `json:"quantity"`
	Status    string    `json:"status"`
	WonAt     time.Time `json:"won_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Upd       time.Time `json:"updated_at"`
	Share     string    `json:"share_code"`
	FromWL    bool      `json:"from_waitlist,omitempty"`
}

type stored struct {
	fp     string
	status int
	body   []byte
}

type drop struct {
	cfg                                  map[string]any
	id, confirmBy                        string
	stock, limit, hold                   int64
	opens, closes, starts, ends, created time.Time
	paused                               bool
	available, held, confirmed, released int64
	reg                                  map[string]time.Time
	units                                map[string]int64
	latest                               map[string]string
	wl                                   []string
	wlq                                  map[string]int64
	res                                  map[string]*res
	idem                                 map[string]stored
	seq                                  int
}

// Start runs a fake on a free loopback port until the test ends.
func Start(o Options) (*Server, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{o: o, drops: map[string]*drop{}, done: make(chan error, 1)}
	if o.NATSURL != "" {
		nc, err := nats.Connect(o.NATSURL)
		if err != nil {
			return nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "FLASHDROP", Subjects: []string{"flashdrop.>"}, Duplicates: 2 * time.Minute})
		cancel()
		if err != nil {
			nc.Close()
			return nil, err
		}
		s.nc, s.js = nc, js
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	// The Date header comes from the fake's clock, as a real server's
	// comes from its own.
	s.srv = &fasthttp.Server{Handler: s.handle, NoDefaultDate: true, Name: "fakeflashdrop"}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server; a test may call it mid-run (a target that
// dies) and again when it ends.
func (s *Server) Close() error {
	s.close.Do(func() {
		s.err = s.srv.Shutdown()
		<-s.done
		if s.nc != nil {
			s.nc.Close()
		}
	})
	return s.err
}

// Pause pauses or resumes a drop's sale: while paused, every reserve is
// answered sale_paused. It reports whether the drop exists.
func (s *Server) Pause(drop string, paused bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.drops[drop]
	if d != nil {
		d.paused = paused
		d.cfg["paused"] = paused
	}
	return d != nil
}

type answer struct {
	status int
	body   any
	code   string
}

func problem(status int, code, detail string) answer {
	return answer{status: status, code: code, body: map[string]any{"type": "urn:flashdrop:problem:" + code, "title": code, "status": status, "code": code, "detail": detail}}
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	s.mu.Lock()
	endpoint, a := s.route(ctx)
	// Answers point into the fake's state: encode them under the lock.
	body, _ := json.Marshal(a.body)
	s.mu.Unlock()
	outcome := a.code
	if outcome == "" {
		outcome = "ok"
	}
	if s.o.Delay != nil {
		s.o.Delay(endpoint, outcome)
	}
	ctx.Response.Header.Set("Date", s.o.Now().UTC().Format(http.TimeFormat))
	if a.status >= 400 {
		ctx.Response.Header.SetContentType("application/problem+json")
	} else {
		ctx.Response.Header.SetContentType("application/json")
	}
	ctx.SetStatusCode(a.status)
	ctx.SetBody(append(body, '\n'))
}

func (s *Server) user(ctx *fasthttp.RequestCtx) (user string, admin bool, ok bool) {
	h := string(ctx.Request.Header.Peek("Authorization"))
	tok, found := strings.CutPrefix(h, "Bearer ")
	if !found {
		return "", false, false
	}
	if tok == s.o.AdminToken {
		return "", true, true
	}
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return s.o.JWTSecret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.o.Now))
	if err != nil || c.Subject == "" {
		return "", false, false
	}
	return c.Subject, false, true
}

func (s *Server) route(ctx *fasthttp.RequestCtx) (string, answer) {
	path := strings.Trim(string(ctx.Path()), "/")
	seg := strings.Split(path, "/")
	method := string(ctx.Method())
	now := s.o.Now()
	for _, d := range s.drops {
		s.expire(d, now)
	}
	user, admin, authed := s.user(ctx)
	n := len(seg)
	switch {
	case path == "healthz":
		return "healthz", answer{status: 200, body: map[string]string{"status": "ok"}}
	case n >= 3 && seg[0] == "v1" && seg[1] == "admin" && seg[2] == "drops":
		if !admin {
			return "admin", problem(401, "unauthorized", "admin token required")
		}
		switch {
		case n == 3 && method == "POST":
			return "create_drop", s.create(ctx.PostBody(), now)
		case n == 4 && method == "GET":
			d := s.drops[seg[3]]
			if d == nil {
				return "get_drop", problem(404, "not_found", "no drop")
			}
			return "get_drop", answer{status: 200, body: d.cfg}
		case n == 4 && method == "DELETE":
			d := s.drops[seg[3]]
			if d == nil {
				return "delete_drop", problem(404, "not_found", "no drop")
			}
			if d.cfg["rehearsal"] != true && (len(d.reg) > 0 || len(d.res) > 0) {
				return "delete_drop", problem(409, "drop_in_use", "shoppers took part in this drop")
			}
			delete(s.drops, seg[3])
			s.deleted = append(s.deleted, seg[3])
			return "delete_drop", answer{status: 204}
		case n == 5 && seg[4] == "stats":
			d := s.drops[seg[3]]
			if d == nil {
				return "stats", problem(404, "not_found", "no drop")
			}
			return "stats", answer{status: 200, body: map[string]any{"stock": d.stock, "available": d.available, "held": d.held,
				"confirmed": d.confirmed, "released": d.released, "registered": len(d.reg), "waitlisted": len(d.wl),
				"reservations": len(d.res), "referrals": 0, "some_future_field": true}}
		}
	case n >= 3 && seg[0] == "v1" && seg[1] == "drops":
		d := s.drops[seg[2]]
		if d == nil {
			return "drop", problem(404, "not_found", "no drop")
		}
		switch {
		case n == 3 && method == "GET":
			v := map[string]any{"id": d.id, "state": d.state(now), "stock": d.stock, "available": max(d.available, 0),
				"per_user_limit": d.limit, "hold_seconds": d.hold, "sale_starts_at": d.starts, "confirm_by": d.confirmBy}
			if authed && !admin {
				var r any
				if id := d.latest[user]; id != "" {
					r = d.res[id]
				}
				var pos any
				for i, u := range d.wl {
					if u == user {
						pos = i + 1
					}
				}
				_, reg := d.reg[user]
				v["me"] = map[string]any{"registered": reg, "reservation": r, "waitlist_position": pos, "units": d.units[user]}
			}
			return "view", answer{status: 200, body: v}
		case n == 4 && seg[3] == "registrations" && method == "POST":
			if !authed || admin {
				return "register", problem(401, "unauthorized", "shopper token required")
			}
			if now.Before(d.opens) {
				return "register", problem(409, "registration_not_open", "")
			}
			if !now.Before(d.closes) {
				return "register", problem(409, "registration_closed", "")
			}
			if at, ok := d.reg[user]; ok {
				return "register", answer{status: 200, body: map[string]any{"drop": d.id, "user": user, "registered_at": at}}
			}
			d.reg[user] = now
			s.publish(d, "registered", map[string]any{"user": user}, now)
			return "register", answer{status: 201, body: map[string]any{"drop": d.id, "user": user, "registered_at": now}}
		case n == 4 && seg[3] == "reservations" && method == "POST":
			if !authed || admin {
				return "reserve", problem(401, "unauthorized", "shopper token required")
			}
			return "reserve", s.reserve(d, user, string(ctx.Request.Header.Peek("Idempotency-Key")), ctx.PostBody(), now)
		}
	case n >= 3 && seg[0] == "v1" && seg[1] == "reservations":
		if !authed {
			return "reservation", problem(401, "unauthorized", "")
		}
		i := strings.LastIndex(seg[2], ".")
		var d *drop
		if i > 0 {
			d = s.drops[seg[2][:i]]
		}
		var r *res
		if d != nil {
			r = d.res[seg[2]]
		}
		if r == nil {
			return "reservation", problem(404, "not_found", "no reservation")
		}
		if !admin && r.User != user {
			return "reservation", problem(403, "forbidden", "")
		}
		switch {
		case n == 3 && method == "GET":
			return "reservation", answer{status: 200, body: map[string]any{"reservation": r}}
		case n == 4 && seg[3] == "confirm" && method == "POST":
			if !admin && d.confirmBy != "shopper" {
				return "confirm", problem(403, "forbidden", "the shop backend confirms")
			}
			if r.Status != "held" {
				return "confirm", problem(409, r.Status, "")
			}
			r.Status, r.Upd = "confirmed", now
			d.held -= r.Qty
			d.confirmed += r.Qty
			s.publish(d, "confirmed", map[string]any{"reservation": r.ID, "user": r.User, "quantity": r.Qty}, now)
			return "confirm", answer{status: 200, body: map[string]any{"reservation": r}}
		case n == 4 && seg[3] == "cancel" && method == "POST":
			if r.Status != "held" {
				return "cancel", problem(409, r.Status, "")
			}
			s.release(d, r, "cancelled", now)
			return "cancel", answer{status: 200, body: map[string]any{"reservation": r}}
		}
	}
	return "unknown", problem(404, "not_found", "no route")
}

func (s *Server) create(body []byte, now time.Time) answer {
	var c struct {
		ID                   string    `json:"id"`
		Stock                int64     `json:"stock"`
		PerUserLimit         int64     `json:"per_user_limit"`
		HoldSeconds          int64     `json:"hold_seconds"`
		Mode                 string    `json:"mode"`
		ConfirmBy            string    `json:"confirm_by"`
		RegistrationOpensAt  time.Time `json:"registration_opens_at"`
		RegistrationClosesAt time.Time `json:"registration_closes_at"`
		SaleStartsAt         time.Time `json:"sale_starts_at"`
		SaleEndsAt           time.Time `json:"sale_ends_at"`
		Rehearsal            bool      `json:"rehearsal"`
	}
	if err := json.Unmarshal(body, &c); err != nil || c.ID == "" || c.Stock < 1 {
		return problem(400, "invalid", "bad drop")
	}
	if s.o.NoRehearsals {
		var named map[string]json.RawMessage
		if json.Unmarshal(body, &named) == nil && named["rehearsal"] != nil {
			a := problem(400, "invalid", "rehearsal is not a field of this body")
			a.body.(map[string]any)["field"] = "rehearsal"
			return a
		}
	}
	if d := s.drops[c.ID]; d != nil {
		return answer{status: 200, body: d.cfg}
	}
	if c.PerUserLimit == 0 {
		c.PerUserLimit = 1
	}
	if c.HoldSeconds == 0 {
		c.HoldSeconds = 600
	}
	if c.Mode == "" {
		c.Mode = "fcfs"
	}
	if c.ConfirmBy == "" {
		c.ConfirmBy = "backend"
	}
	now = now.Truncate(time.Millisecond)
	d := &drop{id: c.ID, confirmBy: c.ConfirmBy, stock: c.Stock, limit: c.PerUserLimit, hold: c.HoldSeconds,
		opens: c.RegistrationOpensAt, closes: c.RegistrationClosesAt, starts: c.SaleStartsAt, ends: c.SaleEndsAt, created: now,
		available: c.Stock, reg: map[string]time.Time{}, units: map[string]int64{}, latest: map[string]string{},
		wlq: map[string]int64{}, res: map[string]*res{}, idem: map[string]stored{}}
	d.cfg = map[string]any{"id": c.ID, "name": "fake", "stock": c.Stock, "per_user_limit": c.PerUserLimit,
		"hold_seconds": c.HoldSeconds, "mode": c.Mode, "confirm_by": c.ConfirmBy, "registration_opens_at": c.RegistrationOpensAt,
		"registration_closes_at": c.RegistrationClosesAt, "sale_starts_at": c.SaleStartsAt, "sale_ends_at": c.SaleEndsAt,
		"created_at": now, "paused": false}
	if c.Rehearsal {
		d.cfg["rehearsal"] = true
	}
	s.drops[c.ID] = d
	return answer{status: 201, body: d.cfg}
}

func (d *drop) state(now time.Time) string {
	switch {
	case now.Before(d.opens):
		return "scheduled"
	case now.Before(d.closes):
		return "registration_open"
	case now.Before(d.starts):
		return "registration_closed"
	case !d.ends.IsZero() && !now.Before(d.ends):
		return "sale_closed"
	case d.available <= 0:
		return "sold_out"
	}
	return "sale_open"
}

func (s *Server) reserve(d *drop, user, key string, body []byte, now time.Time) answer {
	var req struct {
		Quantity *int64 `json:"quantity"`
		Waitlist bool   `json:"waitlist"`
	}
	if len(body) > 0 && json.Unmarshal(body, &req) != nil {
		return problem(400, "invalid", "body")
	}
	q := int64(1)
	if req.Quantity != nil {
		q = *req.Quantity
	}
	fp := fmt.Sprintf("%d|%v", q, req.Waitlist)
	ik := user + "\x00" + key
	if key != "" {
		if st, ok := d.idem[ik]; ok {
			if st.fp != fp {
				return problem(422, "idempotency_mismatch", "")
			}
			var v map[string]any
			_ = json.Unmarshal(st.body, &v)
			code, _ := v["code"].(string)
			if st.status == 201 {
				code = "won"
			}
			return answer{status: st.status, body: v, code: code}
		}
	}
	remember := func(a answer) answer {
		if key != "" {
			b, _ := json.Marshal(a.body)
			d.idem[ik] = stored{fp: fp, status: a.status, body: b}
		}
		return a
	}
	switch {
	case d.paused:
		return problem(409, "sale_paused", "")
	case now.Before(d.starts):
		return problem(409, "sale_not_open", "")
	case !d.ends.IsZero() && !now.Before(d.ends):
		return problem(409, "sale_closed", "")
	}
	if _, ok := d.reg[user]; !ok {
		return problem(403, "not_registered", "")
	}
	double := false
	if d.units[user]+q > d.limit {
		if s.o.Faults.DoubleWin && !s.doubled && d.available >= q {
			s.doubled, double = true, true
		} else {
			return remember(problem(409, "limit_reached", ""))
		}
	}
	win := d.available+s.o.Faults.OversellBy >= q
	if s.o.WinIf != nil && !double {
		win = win && s.o.WinIf(user)
	}
	if win {
		r := s.newHold(d, user, q, now, false)
		if d.available <= 0 {
			s.publish(d, "sold_out", map[string]any{"available": 0}, now)
		}
		return remember(answer{status: 201, code: "won", body: map[string]any{"reservation": r}})
	}
	p := problem(409, "sold_out", "")
	pos := 0
	for i, u := range d.wl {
		if u == user {
			pos = i + 1
		}
	}
	if pos == 0 && req.Waitlist {
		d.wl = append(d.wl, user)
		d.wlq[user] = q
		pos = len(d.wl)
		s.publish(d, "waitlisted", map[string]any{"user": user, "quantity": q, "waitlist_position": pos}, now)
	}
	if pos > 0 {
		p.body.(map[string]any)["waitlist_position"] = pos
	}
	return remember(p)
}

func (s *Server) newHold(d *drop, user string, q int64, now time.Time, fromWL bool) *res {
	d.seq++
	h := sha1.Sum([]byte(fmt.Sprintf("%s:%d", d.id, d.seq)))
	hx := hex.EncodeToString(h[:])
	r := &res{ID: d.id + "." + hx[:20], Drop: d.id, User: user, Status: "held", Qty: q, WonAt: now,
		ExpiresAt: now.Add(time.Duration(d.hold) * time.Second), Upd: now, Share: hx[20:], FromWL: fromWL}
	d.res[r.ID] = r
	d.available -= q
	d.held += q
	d.units[user] += q
	d.latest[user] = r.ID
	for i, u := range d.wl {
		if u == user {
			d.wl = append(d.wl[:i], d.wl[i+1:]...)
			delete(d.wlq, user)
			break
		}
	}
	data := map[string]any{"reservation": r.ID, "user": user, "quantity": q, "expires_at": r.ExpiresAt, "share_code": r.Share, "from_waitlist": fromWL}
	if s.o.Faults.DropWonEvents > s.WonEventsDropped {
		s.WonEventsDropped++
		d.seq++ // keep event ids distinct anyway
		return r
	}
	s.publish(d, "won", data, now)
	return r
}

// release ends a hold and hands its units to the head of the waitlist,
// then back to stock.
func (s *Server) release(d *drop, r *res, status string, now time.Time) {
	r.Status, r.Upd = status, now
	d.held -= r.Qty
	d.released += r.Qty
	d.units[r.User] -= r.Qty
	s.publish(d, status, map[string]any{"reservation": r.ID, "user": r.User, "quantity": r.Qty}, now)
	pool := r.Qty
	for pool > 0 && len(d.wl) > 0 {
		head := d.wl[0]
		want := d.wlq[head]
		g := min(want, d.limit-d.units[head], pool)
		if g <= 0 {
			d.wl = d.wl[1:]
			delete(d.wlq, head)
			continue
		}
		d.available += g // newHold takes it again
		s.newHold(d, head, g, now, true)
		pool -= g
	}
	if pool > 0 {
		d.available += pool
		if d.available == pool {
			s.publish(d, "restocked", map[string]any{"available": d.available}, now)
		}
	}
}

func (s *Server) expire(d *drop, now time.Time) {
	var due []*res
	for _, r := range d.res {
		if r.Status == "held" && !now.Before(r.ExpiresAt) {
			due = append(due, r)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].ExpiresAt.Equal(due[j].ExpiresAt) {
			return due[i].ExpiresAt.Before(due[j].ExpiresAt)
		}
		return due[i].ID < due[j].ID
	})
	for _, r := range due {
		if r.Status == "held" {
			s.release(d, r, "expired", r.ExpiresAt)
		}
	}
}

func (s *Server) publish(d *drop, typ string, data map[string]any, now time.Time) {
	if s.js == nil {
		return
	}
	s.evSeq++
	id := fmt.Sprintf("fake-%s-%d", d.id, s.evSeq)
	data["drop"] = d.id
	subject := d.id
	if r, ok := data["reservation"].(string); ok {
		subject = r
	}
	ce := map[string]any{"specversion": "1.0", "id": id, "source": "/flashdrop/drops/" + d.id, "type": "flashdrop." + typ,
		"subject": subject, "time": now.UTC(), "datacontenttype": "application/json", "data": data}
	b, _ := json.Marshal(ce)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.js.Publish(ctx, "flashdrop."+d.id+"."+typ, b, jetstream.WithMsgID(id))
}

// Stats returns a drop's counters (for tests).
func (s *Server) Stats(drop string) (available, held, confirmed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.drops[drop]
	if d == nil {
		return 0, 0, 0
	}
	return d.available, d.held, d.confirmed
}

// Deleted returns the ids of the drops deleted through the API, in order.
func (s *Server) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}
