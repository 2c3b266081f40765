package loadtest

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync/atomic"
	"time"
)

// checkout settles the rush's wins: ConfirmRatio of them confirm (the
// shop backend after payment, or the shopper herself where the drop lets
// her), CancelRatio cancel, the rest let the hold expire. The counts are
// exact, round(ratio × wins), and which wins is chosen from the seed: each
// win's die orders them, the lowest confirm, the next cancel. (Each win
// used to throw its die against the ratio: "50% to confirm" sent 57 of
// 100.)
func (r *runner) checkout(ctx context.Context) error {
	r.mu.Lock()
	var wins []Told
	for _, t := range r.rec.Told {
		if r.byUser[t.User] != nil {
			wins = append(wins, t)
		}
	}
	r.mu.Unlock()
	die := func(t Told) float64 { return roll(r.o.Seed, r.byUser[t.User].idx, 100+t.Press) }
	sort.SliceStable(wins, func(i, j int) bool {
		if di, dj := die(wins[i]), die(wins[j]); di != dj {
			return di < dj
		}
		return wins[i].Reservation < wins[j].Reservation
	})
	nConfirm := int(math.Round(r.o.ConfirmRatio * float64(len(wins))))
	nSettled := min(int(math.Round((r.o.ConfirmRatio+r.o.CancelRatio)*float64(len(wins)))), len(wins))
	r.logf("checkout: %d wins: %d to confirm, %d to cancel, %d to expire (--confirm-ratio %g, --cancel-ratio %g)",
		len(wins), nConfirm, nSettled-nConfirm, len(wins)-nSettled, r.o.ConfirmRatio, r.o.CancelRatio)
	begin := r.clock.Now()
	b := newBar(r.o.Progress, len(wins), "checkout")
	defer b.finish()
	var confirms, cancels, expiries atomic.Int64
	err := r.each(ctx, len(wins), b, func(w, i int) {
		t := wins[i]
		s := r.byUser[t.User]
		switch {
		case i < nConfirm:
			r.confirm(ctx, w, PhaseCheckout, t.Reservation, s)
			confirms.Add(1)
		case i < nSettled:
			a := r.call(ctx, w, PhaseCheckout, EndpointCancel, "POST", "/v1/reservations/"+t.Reservation+"/cancel", s.token, nil, "", time.Time{})
			r.setAction(t.Reservation, "cancel", a)
			cancels.Add(1)
		default:
			r.setAction(t.Reservation, "expire", answer{})
			expiries.Add(1)
		}
	})
	b.finish()
	if err != nil {
		return err
	}
	r.logf("checkout done in %s: %d confirms and %d cancels sent, %d holds left to expire", r.since(begin), confirms.Load(), cancels.Load(), expiries.Load())
	return nil
}

// confirm confirms as the shop backend does after payment, or as the
// shopper where the drop's confirm_by says so.
func (r *runner) confirm(ctx context.Context, w int, p Phase, id string, s *shopper) {
	tok := r.o.AdminToken
	if r.drop.shopperConfirms() {
		tok = s.token
	}
	a := r.call(ctx, w, p, EndpointConfirm, "POST", "/v1/reservations/"+id+"/confirm", tok, nil, "", time.Time{})
	r.setAction(id, "confirm", a)
}

// refill waits for the holds let go to expire, and follows the waitlist:
// each waitlisted shopper watches her view, as the shopper page does, and
// buys (confirms) a refill the moment she finds one. It ends when no hold
// is left, or after SettleTimeout.
func (r *runner) refill(ctx context.Context) error {
	timeout := r.o.SettleTimeout
	if timeout == 0 {
		timeout = time.Duration(r.drop.HoldSeconds)*time.Second + 15*time.Second
	}
	begin := r.clock.Now()
	deadline := begin.Add(timeout)
	r.mu.Lock()
	waiting := len(r.waitlisters)
	r.mu.Unlock()
	r.logf("refills: waiting up to %s for the holds to end, %d shoppers on the waitlist", timeout, waiting)
	b := newSpinner(r.o.Progress, "refills")
	defer b.finish()
	refills := 0
	done := func(how string) {
		b.finish()
		r.logf("refills done in %s: %d refills bought, %s", r.since(begin), refills, how)
	}
	// A target that died mid-run would otherwise be polled until the
	// settle timeout, minutes with a long hold (7,210 transport errors in
	// 20 s were seen).
	gone := func() error {
		if n := r.unanswered.Load(); n >= maxUnanswered {
			return &InvalidError{Reason: fmt.Sprintf("refills: %d requests in a row got no answer (the last: %v): the target stopped answering", n, r.lastUnanswered.Load())}
		}
		return nil
	}
	for {
		found, err := r.pollWaitlisters(ctx, PhaseRefill, true)
		if err != nil {
			return err
		}
		refills += found
		b.add(found)
		if err := gone(); err != nil {
			return err
		}
		st, ok := r.stats(ctx, PhaseRefill)
		if err := gone(); err != nil {
			return err
		}
		if ok {
			b.describe(fmt.Sprintf("refills: %d units held, %d waitlisted", st.Held, st.Waitlisted))
			if st.Held == 0 {
				done("no hold left")
				return nil
			}
		}
		if r.clock.Now().After(deadline) {
			r.notes = append(r.notes, fmt.Sprintf("holds still pending after %s (settle timeout); the audit judges them as held", timeout))
			done("holds still pending at the settle timeout")
			return nil
		}
		if err := r.clock.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// pollWaitlisters reads every waiting shopper's view once; a reservation
// she was not told about yet is her refill. Shoppers who left the waitlist
// are no longer watched.
func (r *runner) pollWaitlisters(ctx context.Context, p Phase, buy bool) (int, error) {
	r.mu.Lock()
	var ws []*shopper
	for _, s := range r.waitlisters {
		ws = append(ws, s)
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].idx < ws[j].idx })
	unsure := make([]bool, len(ws))
	for i, s := range ws {
		unsure[i] = s.unsure
	}
	r.mu.Unlock()
	found := make([]bool, len(ws))
	err := r.each(ctx, len(ws), nil, func(w, i int) {
		if p == PhaseRefill && r.unanswered.Load() >= maxUnanswered {
			return // the target stopped answering: refill gives up
		}
		s := ws[i]
		a := r.call(ctx, w, p, EndpointView, "GET", "/v1/drops/"+r.drop.ID, s.token, nil, "", time.Time{})
		var v publicView
		if !a.ok() || decodeLenient(a.body, &v) != nil || v.Me == nil {
			return
		}
		// A shopper watched for a press with no answer may hold what that
		// press won outright: the audit matches that win to the press.
		if res := v.Me.Reservation; res != nil && res.ID != "" && (!unsure[i] || res.FromWaitlist) {
			if r.tell(Told{Reservation: res.ID, User: s.user, Quantity: res.Quantity, Via: "refill", Press: -1, At: a.done.Add(r.offset)}) {
				found[i] = true
				if buy {
					r.confirm(ctx, w, p, res.ID, s)
				} else {
					r.setAction(res.ID, "expire", answer{})
				}
			}
		}
		if v.Me.WaitlistPosition == nil {
			r.mu.Lock()
			delete(r.waitlisters, s.user)
			r.mu.Unlock()
		}
	})
	n := 0
	for _, f := range found {
		if f {
			n++
		}
	}
	return n, err
}

func (r *runner) stats(ctx context.Context, p Phase) (Stats, bool) {
	a := r.call(ctx, 0, p, EndpointStats, "GET", "/v1/admin/drops/"+r.drop.ID+"/stats", r.o.AdminToken, nil, "", time.Time{})
	var st Stats
	if !a.ok() || decodeLenient(a.body, &st) != nil {
		return st, false
	}
	return st, true
}

// gather collects what the audit needs from the server: Idempotency-Key
// replays, the last refills, the events, every reservation by id, and the
// final counters.
func (r *runner) gather(ctx context.Context) error {
	// I5: replay a sample of keyed wins, same key and body, then same key
	// with another body. The choice is deterministic (the first by user).
	r.mu.Lock()
	var keyed []Told
	for _, t := range r.rec.Told {
		if t.Key != "" {
			keyed = append(keyed, t)
		}
	}
	r.mu.Unlock()
	sort.Slice(keyed, func(i, j int) bool { return r.byUser[keyed[i].User].idx < r.byUser[keyed[j].User].idx })
	if len(keyed) > r.o.ReplaySample {
		keyed = keyed[:r.o.ReplaySample]
	}
	r.logf("audit: replaying %d keyed wins, then reading the events and every reservation", len(keyed))
	begin := r.clock.Now()
	replays := make([]Replay, len(keyed))
	path := "/v1/drops/" + r.drop.ID + "/reservations"
	if err := r.each(ctx, len(keyed), nil, func(w, i int) {
		t := keyed[i]
		s := r.byUser[t.User]
		same, other := []byte(`{"quantity":1}`), []byte(`{"quantity":1,"waitlist":true}`)
		if s.waitlist {
			same, other = other, same
		}
		rp := Replay{Reservation: t.Reservation, User: t.User, Key: t.Key}
		a := r.call(ctx, w, PhaseAudit, EndpointReplay, "POST", path, s.token, same, t.Key, time.Time{})
		rp.SameStatus = a.status
		var rb reservationBody
		if a.status == 201 && decodeLenient(a.body, &rb) == nil {
			rp.SameID = rb.Reservation.ID
		}
		a = r.call(ctx, w, PhaseAudit, EndpointReplay, "POST", path, s.token, other, t.Key, time.Time{})
		rp.OtherStatus, rp.OtherCode = a.status, a.code
		if a.status == 201 && decodeLenient(a.body, &rb) == nil {
			rp.OtherWonID = rb.Reservation.ID
			rp.OtherCode = OutcomeWon
		}
		replays[i] = rp
	}); err != nil {
		return err
	}
	r.rec.Replays = replays

	// Refills the refill phase did not see (it timed out) are told now.
	if _, err := r.pollWaitlisters(ctx, PhaseAudit, false); err != nil {
		return err
	}

	// Events: every told win should have its won event.
	r.mu.Lock()
	want := map[string]bool{}
	for _, t := range r.rec.Told {
		want[t.Reservation] = true
	}
	r.mu.Unlock()
	if r.o.NATSURL != "" {
		evs, err := readEvents(ctx, r.o.NATSURL, r.drop.ID, want, r.o.EventsWait, r.clock)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &InvalidError{Reason: "reading events: " + oneLine(err)}
		}
		r.rec.Events, r.rec.EventsRead = evs, true
	}

	// Every reservation by id: told ones and those events name.
	ids := map[string]bool{}
	for id := range want {
		ids[id] = true
	}
	for _, e := range r.rec.Events {
		if e.Reservation != "" {
			ids[e.Reservation] = true
		}
	}
	list := sortedKeys(ids, func(a, b string) bool { return a < b })
	obs := make([]Observed, len(list))
	b := newBar(r.o.Progress, len(list)+1, "audit")
	defer b.finish()
	if err := r.each(ctx, len(list), b, func(w, i int) {
		a := r.call(ctx, w, PhaseAudit, EndpointReservation, "GET", "/v1/reservations/"+list[i], r.o.AdminToken, nil, "", time.Time{})
		o := Observed{HTTPStatus: a.status}
		var rb reservationBody
		if a.status == 200 && decodeLenient(a.body, &rb) == nil {
			res := rb.Reservation
			o.User, o.Quantity, o.Status, o.FromWaitlist = res.User, res.Quantity, res.Status, res.FromWaitlist
			o.WonAt, o.ExpiresAt, o.UpdatedAt = res.WonAt, res.ExpiresAt, res.UpdatedAt
		} else if a.err != nil {
			o.HTTPStatus = 0
		}
		obs[i] = o
	}); err != nil {
		return err
	}
	for i, id := range list {
		if obs[i].HTTPStatus == 0 {
			return &InvalidError{Reason: "reading reservation " + id + " failed: the target stopped answering"}
		}
		r.rec.Observed[id] = obs[i]
	}
	st, ok := r.stats(ctx, PhaseAudit)
	if !ok {
		return &InvalidError{Reason: "reading the drop's stats failed"}
	}
	b.add(1)
	b.finish()
	r.rec.Stats, r.rec.StatsAt = &st, r.serverNow()
	events := ""
	if r.rec.EventsRead {
		events = fmt.Sprintf(", %d events", len(r.rec.Events))
	}
	r.logf("audit read %d reservations%s and the stats in %s", len(list), events, r.since(begin))
	return nil
}
