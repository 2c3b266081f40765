package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Phase is one step of a rehearsal.
type Phase string

// The phases, in order.
const (
	PhaseSetup    Phase = "setup"
	PhaseRegister Phase = "register"
	PhaseWait     Phase = "wait"
	PhaseRush     Phase = "rush"
	PhaseCheckout Phase = "checkout"
	PhaseRefill   Phase = "refill"
	PhaseAudit    Phase = "audit"
)

// maxRetries is how often an app resends a request the server never
// decided (transport error, 429, 503) before it gives up.
const maxRetries = 4

// keyedRetryWindow is how long a request with an Idempotency-Key is resent
// while the server does not decide it, past maxRetries: the key makes a
// resend safe, so a node that restarts within a few seconds leaves no
// press with an unknown outcome (four resends, 0.75 s, left a press won
// by the batch Redis ran after a kill -9 unanswered). It stops sooner
// when no request at all was decided for as long (the target is gone),
// and resends back off to maxBackoff.
const (
	keyedRetryWindow = 15 * time.Second
	maxBackoff       = time.Second
)

// maxUnanswered is how many requests in a row may get no answer at all
// before a phase that would otherwise go on polling (the wait for T0, the
// refills) gives up: one that times out (a delayed reply, a GC pause) is
// no reason to call the rehearsal off; a target gone for 50 is.
const maxUnanswered = 50

// shopper is one of this generator's shoppers.
type shopper struct {
	idx          int // global index: the same in every shard
	pos          int // position in the global arrival order
	user, token  string
	unregistered bool
	waitlist     bool // asks to join the waitlist when sold out
	// unsure: a press of hers that asked to join the waitlist got no
	// answer, so she is watched for a promotion without knowing she
	// waits; only a from_waitlist reservation in her view is a refill
	// (runner.mu).
	unsure bool
}

type runner struct {
	o      Options
	c      *client
	clock  Clock
	m      metrics
	drop   Drop
	runKey string

	// tokenUsers maps each shopper's token to her id, for traces.
	tokenUsersOnce sync.Once
	tokenUsers     map[string]string

	created bool
	offset  time.Duration // server clock - generator clock
	t0      time.Time     // generator time at which the sale was seen open
	start   time.Time

	shoppers []*shopper
	byUser   map[string]*shopper

	mu          sync.Mutex
	rec         Records
	told        map[string]int // reservation -> index in rec.Told
	waitlisters map[string]*shopper
	phases      []PhaseReport
	invalid     []string
	notes       []string
	rush        rushTimes

	cpuRush, wallRush time.Duration
	// machineBusy is the share of the machine's CPU time that was busy
	// during the rush, by whatever process (-1: unknown).
	machineBusy float64

	// unanswered counts the requests in a row, within a phase, that got
	// no answer (transport errors, timeouts); lastUnanswered describes
	// the last of them.
	unanswered     atomic.Int64
	lastUnanswered atomic.Value
	// lastDecided is when (generator clock, Unix ns) a target last
	// decided a request: answered it, other than 429 or 5xx.
	lastDecided atomic.Int64
}

type rushTimes struct {
	firstSoldOut, lastWon, lastAnswer time.Duration
	soldOut                           bool
	notOpen                           int // presses still answered sale_not_open after T0
	paused                            int // presses answered sale_paused
	won                               int
	answered                          int
	outcomes                          map[string]int // presses by outcome, to say why nobody won
}

// Run rehearses release day as o describes and returns the report. An
// error without a report means nothing was measured: the options are bad
// (an *InvalidError) or the target is unreachable; the error is one line.
// A run stopped by ctx (Ctrl-C) still returns its report, marked
// incomplete.
func Run(ctx context.Context, o Options, extra ...Option) (*Report, error) {
	for _, f := range extra {
		f(&o)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.cpu == nil {
		o.cpu = processCPU
	}
	if o.machine == nil {
		o.machine = machineCPU
	}
	if o.Seed == 0 {
		o.Seed = rand.Int64N(1<<53) + 1
	}
	c, err := newClient(o)
	if err != nil {
		return nil, invalidf("%v", err)
	}
	defer c.close()
	// machineBusy unknown until a rush measures it: a run stopped before
	// read "the machine's cores 0% busy".
	r := &runner{o: o, c: c, clock: o.clock, told: map[string]int{}, waitlisters: map[string]*shopper{}, byUser: map[string]*shopper{},
		machineBusy: -1}
	r.rec.Observed = map[string]Observed{}
	r.m.tick = timelineTick(o)
	r.start = r.clock.Now()
	r.lastDecided.Store(r.start.UnixNano())
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	stopped := Phase("")
	for _, step := range []struct {
		p  Phase
		fn func(context.Context) error
	}{
		{PhaseRegister, r.register}, {PhaseWait, r.waitT0}, {PhaseRush, r.rushPhase},
		{PhaseCheckout, r.checkout}, {PhaseRefill, r.refill}, {PhaseAudit, r.gather},
	} {
		if ctx.Err() != nil {
			stopped = step.p
			break
		}
		r.phaseStart(step.p)
		r.unanswered.Store(0)
		begin := r.clock.Now()
		err := step.fn(ctx)
		r.phaseEnd(step.p, begin)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, errInterrupted) {
				r.logf("interrupted during the %s phase, after %s", step.p, r.since(begin))
				stopped = step.p
				break
			}
			var inv *InvalidError
			if errors.As(err, &inv) {
				r.logf("%s phase stopped after %s, the run is invalid: %s", step.p, r.since(begin), inv.Reason)
				r.invalid = append(r.invalid, inv.Reason)
				stopped = step.p
				break
			}
			return nil, err
		}
	}
	rep := r.report(stopped)
	if n := r.cleanup(ctx, rep); n != "" {
		r.logf("%s", n)
		rep.Notes = append(rep.Notes, n)
	}
	return rep, nil
}

// dropDeleteWait bounds how long a passed run waits for the target to
// agree to delete the drop it created: its last events may still be on
// their way to NATS (409 until the outbox is empty).
const dropDeleteWait = 20 * time.Second

// cleanup deletes the rehearsal drop this run created once the run
// passed (Options.KeepDrop), and returns a note for the report when the
// drop stays.
func (r *runner) cleanup(ctx context.Context, rep *Report) string {
	if !r.created || r.o.KeepDrop {
		return ""
	}
	path := "/v1/admin/drops/" + r.drop.ID
	switch {
	case rep.ExitCode != ExitPass:
		return "drop " + r.drop.ID + " is kept for a look, as the run did not pass: delete it on the ops page or with DELETE " + path
	case !r.drop.Rehearsal:
		// A server from before rehearsal drops deletes no drop shoppers
		// took part in: said, not tried.
		return "drop " + r.drop.ID + " is kept: the server does not know rehearsal drops, and deletes no drop shoppers took part in"
	}
	deadline := r.clock.Now().Add(dropDeleteWait)
	// target is the node asked: the next after one that did not answer
	// or failed (the nodes share one store), as in the wait for T0.
	target := 0
	for {
		a := r.c.do(target, "DELETE", path, r.o.AdminToken, nil, "")
		switch {
		case a.err == nil && (a.status == 204 || a.status == 404):
			r.logf("deleted drop %s (the report keeps what was measured; --keep-drop keeps the drop)", r.drop.ID)
			return ""
		case a.err == nil && a.status != 409 && a.status < 500:
			// Refused for good (an older server, a token without
			// drops:write): the run stands, the drop stays.
			return fmt.Sprintf("drop %s is kept: deleting it was refused: %s%s", r.drop.ID, describe(a), r.credentialHint(a, true))
		case ctx.Err() != nil || r.clock.Now().After(deadline):
			// 409 while its last events are still on their way to NATS.
			return fmt.Sprintf("drop %s is kept: it could not be deleted within %s (%s): delete it on the ops page or with DELETE %s", r.drop.ID, dropDeleteWait, describe(a), path)
		}
		if a.err != nil || a.status >= 500 {
			target++
		}
		_ = r.clock.Sleep(ctx, 250*time.Millisecond)
	}
}

// logf writes a phase line: one as each phase starts and one as it ends,
// so that a run whose stderr is no terminal (CI, no progress bars) is not
// silent for the minutes a hold can last.
func (r *runner) logf(format string, args ...any) {
	if r.o.Log != nil {
		fmt.Fprintf(r.o.Log, format+"\n", args...)
	}
}

// since is the time from begin, as a phase line gives it.
func (r *runner) since(begin time.Time) time.Duration {
	return r.clock.Now().Sub(begin).Round(time.Millisecond)
}

func (r *runner) phaseStart(p Phase) {
	if r.o.onPhase != nil {
		r.o.onPhase(p)
	}
}

// serverNow is the generator's estimate of the server's clock.
func (r *runner) serverNow() time.Time { return r.clock.Now().Add(r.offset) }

// roll is a shopper's deterministic die for one decision: the same seed
// gives every shopper the same roles on every generator.
func roll(seed int64, idx, salt int) float64 {
	x := uint64(seed) ^ uint64(idx)*0x9E3779B97F4A7C15 ^ uint64(salt)*0xBF58476D1CE4E5B9
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// setup checks the targets, creates or reads the drop, and makes the
// shoppers and their tokens. Nothing here is timed.
func (r *runner) setup(ctx context.Context) error {
	r.phaseStart(PhaseSetup)
	rec := r.m.rec(0)
	for i, t := range r.o.Targets {
		a := r.c.doDated(i, "GET", "/healthz", "", nil, "")
		rec.record(PhaseSetup, EndpointHealth, a, time.Time{}, time.Time{})
		if se := (*shortError)(nil); errors.As(a.err, &se) && se.notHTTP {
			return invalidf("target %s did not answer HTTP (is it a flashdrop serve node?): %s", RedactURL(t), se.quote)
		}
		if a.err != nil {
			return invalidf("target %s unreachable: %v", RedactURL(t), oneLine(a.err))
		}
		if a.status != 200 {
			return invalidf("target %s: /healthz answered %d", RedactURL(t), a.status)
		}
		if i == 0 {
			r.offset = dateOffset(a)
		}
	}
	if r.o.NATSURL != "" {
		if err := checkStream(ctx, r.o.NATSURL); err != nil {
			return invalidf("%s", oneLine(err))
		}
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d", r.o.Seed)
	if r.o.DropID == "" {
		now := r.serverNow()
		fmt.Fprintf(h, "%d", now.UnixNano())
		id := fmt.Sprintf("load-%s-%04x", now.UTC().Format("20060102-150405"), h.Sum64()&0xffff)
		// Registration opens a minute ago (in the server's past, whatever the
		// skew) and closes when the sale starts, Lead from now.
		sale := now.Add(r.o.Lead).Truncate(time.Millisecond)
		cfg := map[string]any{
			"id": id, "name": "flashdrop load rehearsal", "stock": r.o.Stock, "per_user_limit": r.o.PerUserLimit,
			"hold_seconds": r.o.HoldSeconds, "mode": r.o.Mode,
			// Off the shop's index, no share cards, and its events reach
			// no webhook that did not ask for rehearsals: a run against
			// production shows shoppers and social integrations nothing.
			"rehearsal":             true,
			"registration_opens_at": now.Add(-time.Minute).UTC().Truncate(time.Millisecond), "registration_closes_at": sale.UTC(),
			"sale_starts_at": sale.UTC(), "sale_ends_at": sale.Add(24 * time.Hour).UTC(),
		}
		body, _ := json.Marshal(cfg)
		a := r.c.do(0, "POST", "/v1/admin/drops", r.o.AdminToken, body, "create-"+id)
		rec.record(PhaseSetup, EndpointCreateDrop, a, time.Time{}, time.Time{})
		if a.status == 400 && problemField(a.body) == "rehearsal" {
			// A server from before rehearsal drops: the run goes on (the
			// tool rehearses any version), and says what that means.
			delete(cfg, "rehearsal")
			body, _ = json.Marshal(cfg)
			a = r.c.do(0, "POST", "/v1/admin/drops", r.o.AdminToken, body, "create-plain-"+id)
			rec.record(PhaseSetup, EndpointCreateDrop, a, time.Time{}, time.Time{})
			r.noteAndLog("the server does not know rehearsal drops: drop " + id + " is listed on the shop's index for its 24-hour sale, and its events reach every webhook")
		}
		// 201 created; 200 is the same drop again (a retried create).
		if a.status != 201 && a.status != 200 {
			return invalidf("creating drop %s: %s%s", id, describe(a), r.credentialHint(a, true))
		}
		if err := decodeLenient(a.body, &r.drop); err != nil || r.drop.ID != id {
			return invalidf("creating drop %s: unreadable answer", id)
		}
		r.created = true
		if !r.drop.CreatedAt.IsZero() {
			// The drop's created_at is the server's clock to the millisecond.
			mid := a.sent.Add(a.done.Sub(a.sent) / 2)
			r.offset = r.drop.CreatedAt.Sub(mid)
		}
		r.logf("created drop %s: %d units, limit %d, hold %ds, sale at %s", id, r.drop.Stock, r.drop.PerUserLimit, r.drop.HoldSeconds, r.drop.SaleStartsAt.Format(time.RFC3339Nano))
	} else {
		a := r.c.do(0, "GET", "/v1/admin/drops/"+r.o.DropID, r.o.AdminToken, nil, "")
		rec.record(PhaseSetup, EndpointGetDrop, a, time.Time{}, time.Time{})
		if a.status != 200 {
			return invalidf("reading drop %s: %s%s", r.o.DropID, describe(a), r.credentialHint(a, true))
		}
		if err := decodeLenient(a.body, &r.drop); err != nil || r.drop.ID != r.o.DropID {
			return invalidf("reading drop %s: unreadable answer", r.o.DropID)
		}
		r.logf("rehearsing existing drop %s: %d units, limit %d, hold %ds, sale at %s", r.drop.ID, r.drop.Stock, r.drop.PerUserLimit, r.drop.HoldSeconds, r.drop.SaleStartsAt.Format(time.RFC3339Nano))
		if !r.drop.Rehearsal {
			// Its made-up shoppers win for real: said in the report, since a
			// sharded run against production must name its drop.
			r.noteAndLog("drop " + r.drop.ID + " is not a rehearsal: shoppers see it on the shop's index, and every webhook gets its events (create it with \"rehearsal\": true)")
		}
	}
	fmt.Fprintf(h, "%s", r.drop.ID)
	r.runKey = fmt.Sprintf("%08x", h.Sum64()&0xffffffff)

	// The global arrival order is one seeded permutation; each shard keeps
	// its shoppers' places in it, so n shards send what one run would.
	perm := rand.New(rand.NewPCG(uint64(r.o.Seed), 0x5eed)).Perm(r.o.Users)
	pos := make([]int, r.o.Users)
	for p, idx := range perm {
		pos[idx] = p
	}
	exp := r.clock.Now().Add(48 * time.Hour)
	for idx := r.o.Shard; idx < r.o.Users; idx += r.o.Shards {
		s := &shopper{idx: idx, pos: pos[idx],
			unregistered: roll(r.o.Seed, idx, 1) < r.o.UnregisteredRatio,
			waitlist:     roll(r.o.Seed, idx, 2) < r.o.WaitlistRatio}
		if len(r.o.Tokens) > 0 {
			s.user, s.token = r.o.Tokens[idx].User, r.o.Tokens[idx].Token
		} else {
			s.user = r.o.UserPrefix + strconv.Itoa(idx)
			tok, err := mintToken(r.o.JWTSecret, s.user, exp, r.o.JWTIssuer, r.o.JWTAudience)
			if err != nil {
				return invalidf("signing tokens: %v", err)
			}
			s.token = tok
		}
		r.shoppers = append(r.shoppers, s)
		r.byUser[s.user] = s
		if s.unregistered {
			r.rec.Unregistered = append(r.rec.Unregistered, s.user)
		}
	}
	return ctx.Err()
}

// mintToken pre-signs a shopper token: HS256 with sub and exp (and iss,
// aud when the deployment checks them).
func mintToken(secret []byte, user string, exp time.Time, iss, aud string) (string, error) {
	claims := jwt.RegisteredClaims{Subject: user, Issuer: iss, ExpiresAt: jwt.NewNumericDate(exp)}
	if aud != "" {
		claims.Audience = jwt.ClaimStrings{aud}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// dateOffset estimates the server's clock from an answer's Date header (to
// the second); a drop's created_at refines it later.
func dateOffset(a answer) time.Duration {
	if a.date.IsZero() {
		return 0
	}
	mid := a.sent.Add(a.done.Sub(a.sent) / 2)
	// Date is truncated to the second: its middle is the best guess.
	return a.date.Add(500 * time.Millisecond).Sub(mid)
}

func oneLine(err error) string {
	s := err.Error()
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func describe(a answer) string {
	if a.err != nil {
		return oneLine(a.err)
	}
	var p problemBody
	_ = json.Unmarshal(a.body, &p)
	s := fmt.Sprintf("HTTP %d", a.status)
	if p.Code != "" {
		s += " " + p.Code
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// credentialHint says which credential to check when the target refused
// one (401, or 403 on an admin route), as "; …" to append to the answer:
// the admin token on the shop's routes, the shoppers' tokens on theirs.
// A bare "HTTP 401 unauthorized" said neither.
func (r *runner) credentialHint(a answer, admin bool) string {
	switch {
	case a.err != nil:
		return ""
	case admin && a.status == 401:
		return "; the target refused the admin token: check --admin-token (FLASHDROP_ADMIN_TOKEN), the target's admin token or an API key's secret"
	case admin && a.status == 403:
		return "; the admin token may not do this: check that --admin-token is the target's admin token, or an API key with this route's scope"
	case a.status != 401:
		return ""
	case len(r.o.Tokens) > 0:
		return "; the target refused the shopper tokens: check the tokens of --tokens-file (signed with the target's secret, not expired)"
	}
	return "; the target refused the shopper tokens: check --jwt-secret (FLASHDROP_JWT_SECRET, the target's), and --jwt-issuer and --jwt-audience if the target checks them"
}

// each runs fn(worker, i) for i in [0, n) over the connections, and stops
// early when ctx ends. Workers are numbered from 1 (0 is the coordinator).
func (r *runner) each(ctx context.Context, n int, b *bar, fn func(w, i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(r.o.Connections, max(n, 1))
	for w := 1; w <= workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(w, i)
				b.add(1)
			}
		}(w)
	}
	wg.Wait()
	return ctx.Err()
}

// call sends a request, resending it as an app would while the server did
// not decide it, and records every attempt. A request with an
// Idempotency-Key is resent for up to keyedRetryWindow (see there), one
// without up to maxRetries times. With several targets, the resend after
// a transport error goes to the next target: they share one store, so
// it is the same request there (and the same key makes it safe).
// The answer returned is the last; its lost and lostSent count the
// attempts whose outcome is unknown (no answer or a 5xx) and when the
// first of them was sent.
func (r *runner) call(ctx context.Context, w int, p Phase, endpoint, method, path, token string, body []byte, key string, intended time.Time) answer {
	rec := r.m.rec(w)
	target, first := w, time.Time{}
	lost, lostSent := 0, time.Time{}
	for attempt := 0; ; attempt++ {
		a := r.c.do(target, method, path, token, body, key)
		if (endpoint == EndpointReserve || endpoint == EndpointReplay) && a.status == 201 {
			a.code = OutcomeWon
		}
		if attempt == 0 {
			first = a.sent
		}
		if a.unknown() {
			if lost == 0 {
				lostSent = a.sent
			}
			lost++
		}
		a.lost, a.lostSent = lost, lostSent
		rec.record(p, endpoint, a, intended, r.t0)
		if a.err != nil {
			r.lastUnanswered.Store(describe(a))
			r.unanswered.Add(1)
			target++ // the next target, if there are several
		} else {
			r.unanswered.Store(0)
		}
		if !a.retryable() {
			r.lastDecided.Store(a.done.UnixNano())
		}
		if r.o.trace != nil {
			r.o.trace(Exchange{Phase: p, Endpoint: endpoint, Method: method, Path: path, User: r.userOf(token),
				Admin: token != "" && token == r.o.AdminToken, Key: key, Body: body, Status: a.status, Code: a.code,
				Response: a.body, Replayed: a.replayed, Err: a.err, Sent: a.sent, Done: a.done})
		}
		if !a.retryable() || ctx.Err() != nil {
			return a
		}
		if attempt >= maxRetries && (key == "" || !r.stillResending(first)) {
			return a
		}
		wait := a.retryAfter
		if wait <= 0 {
			wait = min(time.Duration(50<<min(attempt, 10))*time.Millisecond, maxBackoff)
		}
		if r.clock.Sleep(ctx, wait) != nil {
			return a
		}
		intended = time.Time{} // a resend is timed from when it is sent
	}
}

// stillResending says whether a keyed request first sent at first is
// resent once more: within keyedRetryWindow of its first send, while some
// request was decided within that window too.
func (r *runner) stillResending(first time.Time) bool {
	now := r.clock.Now()
	return now.Sub(first) < keyedRetryWindow && now.Sub(time.Unix(0, r.lastDecided.Load())) < keyedRetryWindow
}

// userOf names the shopper a token belongs to, for traces.
func (r *runner) userOf(token string) string {
	if token == "" || token == r.o.AdminToken {
		return ""
	}
	r.tokenUsersOnce.Do(func() {
		r.tokenUsers = make(map[string]string, len(r.shoppers))
		for _, s := range r.shoppers {
			r.tokenUsers[s.token] = s.user
		}
	})
	return r.tokenUsers[token]
}

func (r *runner) register(ctx context.Context) error {
	var todo []*shopper
	for _, s := range r.shoppers {
		if !s.unregistered {
			todo = append(todo, s)
		}
	}
	r.logf("registering %d shoppers", len(todo))
	begin := r.clock.Now()
	b := newBar(r.o.Progress, len(todo), "register")
	defer b.finish()
	var failed, closed atomic.Int64
	var firstErr, refused atomic.Value
	err := r.each(ctx, len(todo), b, func(w, i int) {
		s := todo[i]
		a := r.call(ctx, w, PhaseRegister, EndpointRegister, "POST", "/v1/drops/"+r.drop.ID+"/registrations", s.token, []byte("{}"), "", time.Time{})
		if !a.ok() {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, s.user+": "+describe(a))
			if a.code == "registration_closed" {
				closed.Add(1)
			}
			if h := r.credentialHint(a, false); h != "" {
				refused.CompareAndSwap(nil, h)
			}
		}
	})
	b.finish()
	if err != nil {
		return err
	}
	r.logf("registered %d of %d shoppers in %s", len(todo)-int(failed.Load()), len(todo), r.since(begin))
	if n := failed.Load(); n > 0 {
		msg := fmt.Sprintf("%d of %d registrations failed (first: %v)", n, len(todo), firstErr.Load())
		if h, ok := refused.Load().(string); ok {
			msg += h
		}
		if closed.Load() > 0 && r.created {
			msg += "; registration closed before every shopper registered: give a longer --lead"
		} else if closed.Load() > 0 {
			msg += "; the drop's registration closed before every shopper registered: rehearse an existing drop while its registration is open"
		}
		return &InvalidError{Reason: msg}
	}
	return nil
}

// waitT0 waits for the sale to open on the server's clock: it watches the
// drop's public state, sparsely while T0 is far, every few milliseconds
// near it.
func (r *runner) waitT0(ctx context.Context) error {
	r.logf("waiting for T0: the sale starts at %s, in %s on the server's clock", r.drop.SaleStartsAt.Format(time.RFC3339Nano),
		max(r.drop.SaleStartsAt.Sub(r.serverNow()), 0).Round(time.Millisecond))
	b := newSpinner(r.o.Progress, "waiting for T0")
	defer b.finish()
	rec := r.m.rec(0)
	// failing counts the polls in a row the server did not answer (see
	// maxUnanswered); target is the one asked, the next after a poll it
	// did not answer (the nodes share one store): with the first target
	// gone before T0, the run waited on it alone and was called invalid.
	failing, target := 0, 0
	for {
		a := r.c.do(target, "GET", "/v1/drops/"+r.drop.ID, "", nil, "")
		rec.record(PhaseWait, EndpointView, a, time.Time{}, time.Time{})
		if a.err == nil {
			failing = 0
		}
		if a.ok() {
			var v publicView
			if decodeLenient(a.body, &v) == nil {
				if v.ConfirmBy != "" {
					r.drop.ConfirmBy = v.ConfirmBy
				}
				switch v.State {
				case "sale_open", "sold_out":
					r.t0 = a.done
					b.finish()
					r.logf("sale open (state %s)", v.State)
					return nil
				case "sale_closed":
					return &InvalidError{Reason: "the sale of drop " + r.drop.ID + " has ended"}
				}
			}
		} else if a.err != nil {
			if failing++; failing > maxUnanswered {
				return &InvalidError{Reason: fmt.Sprintf("waiting for T0: %d polls in a row unanswered, the last: %s", failing, describe(a))}
			}
			target++
		}
		left := r.drop.SaleStartsAt.Sub(r.serverNow())
		b.describe(fmt.Sprintf("T0 in %s", left.Round(100*time.Millisecond)))
		b.add(1)
		step := 5 * time.Millisecond
		if left > 2*time.Second {
			step = min(left-1500*time.Millisecond, 500*time.Millisecond)
		}
		if err := r.clock.Sleep(ctx, step); err != nil {
			return err
		}
	}
}

// tell records a reservation a client was told about, once per id.
func (r *runner) tell(t Told) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.told[t.Reservation]; ok {
		return false
	}
	r.told[t.Reservation] = len(r.rec.Told)
	r.rec.Told = append(r.rec.Told, t)
	return true
}

func (r *runner) setAction(id, action string, a answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, ok := r.told[id]
	if !ok {
		return
	}
	r.rec.Told[i].Action = action
	if action != "expire" {
		r.rec.Told[i].ActionStatus = a.status
		if !a.ok() {
			r.rec.Told[i].ActionCode = a.code
		}
	}
}

// phaseEnd records a phase's wall time.
func (r *runner) phaseEnd(p Phase, begin time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phases = append(r.phases, PhaseReport{Name: p, Start: begin.Sub(r.start).Seconds(), Seconds: r.clock.Now().Sub(begin).Seconds()})
}

// noteAndLog puts n in the report's notes and says it now, on the log.
func (r *runner) noteAndLog(n string) {
	r.notes = append(r.notes, n)
	r.logf("%s", n)
}

// problemField is the field an invalid answer's problem names ("" if none).
func problemField(body []byte) string {
	var p struct {
		Field string `json:"field"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Field
}
