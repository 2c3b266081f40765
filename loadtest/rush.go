package loadtest

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// arrival is one buyer's intended arrival.
type arrival struct {
	s  *shopper
	at time.Time // zero in burst mode: as soon as a connection is free
}

// offsetOf is when the buyer at global position p arrives after T0 in
// the rate modes, and false if she arrives after Duration. A rate of r0
// moving linearly to r1 over D has N(t) = r0·t + (r1-r0)·t²/(2D) arrivals
// by t; the p-th arrives when N(t) = p.
func offsetOf(o Options, p int) (time.Duration, bool) {
	r0, r1, d := o.Rate, o.Rate, o.Duration.Seconds()
	if o.Arrival == ArrivalRamp {
		r1 = o.RampTo
	}
	var t float64
	if a := (r1 - r0) / (2 * d); math.Abs(a) < 1e-12 {
		t = float64(p) / r0
	} else {
		disc := r0*r0 + 4*a*float64(p)
		if disc < 0 {
			return 0, false
		}
		t = (-r0 + math.Sqrt(disc)) / (2 * a)
	}
	if t < 0 || t >= d {
		return 0, false
	}
	return time.Duration(t * float64(time.Second)), true
}

// ranOut says, in the rate modes, when the schedule ran out of shoppers
// before --duration ended: every shopper had arrived, so the rest of the
// duration sent nothing and a ramp never reached --ramp-to ("" when the
// shoppers lasted). A ramp from 500/s to 2000/s over 4 s with 4000
// shoppers stopped at 3.47 s, at 1802/s, and no report said so.
func ranOut(o Options) string {
	if o.Arrival == ArrivalBurst || o.Users < 1 {
		return ""
	}
	if _, more := offsetOf(o, o.Users); !more {
		return "" // the next shopper would have come after --duration
	}
	last, _ := offsetOf(o, o.Users-1)
	d := o.Duration.Seconds()
	at := last.Seconds()
	// Arrivals the whole duration asks for: ∫ rate = D·(r0 + r1)/2.
	r1 := o.Rate
	if o.Arrival == ArrivalRamp {
		r1 = o.RampTo
	}
	need := int(math.Ceil(d*(o.Rate+r1)/2 - 1e-9))
	what := fmt.Sprintf("arrivals at %s/s stopped %.2fs after T0, short of --duration %s", rateText(o.Rate), at, o.Duration)
	if o.Arrival == ArrivalRamp {
		reached := o.Rate + (o.RampTo-o.Rate)*at/d
		what = fmt.Sprintf("the ramp's arrivals stopped %.2fs after T0, short of --duration %s: it reached %s/s of the %s/s asked (--ramp-to)",
			at, o.Duration, rateText(reached), rateText(o.RampTo))
	}
	return fmt.Sprintf("every shopper had arrived: %s; give --users %d or more to keep the schedule for the whole duration", what, need)
}

// rateText is an arrival rate as notes give it: whole above 10/s.
func rateText(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// rushPhase sends every buyer's presses: all at T0 (burst), or at their
// place in the global arrival schedule (rate, ramp).
func (r *runner) rushPhase(ctx context.Context) error {
	buyers := append([]*shopper(nil), r.shoppers...)
	sort.Slice(buyers, func(i, j int) bool { return buyers[i].pos < buyers[j].pos })
	var arrivals []arrival
	late := 0
	for _, s := range buyers {
		if r.o.Arrival == ArrivalBurst {
			arrivals = append(arrivals, arrival{s: s})
			continue
		}
		off, ok := offsetOf(r.o, s.pos)
		if !ok {
			late++
			continue
		}
		arrivals = append(arrivals, arrival{s: s, at: r.t0.Add(off)})
	}
	if late > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d buyers did not arrive within --duration at the given rate", late))
	}
	if n := ranOut(r.o); n != "" {
		r.notes = append(r.notes, n)
	}
	r.logf("rush: %s, %s arrival, %s each, %s", count(len(arrivals), "buyer"), r.o.Arrival, count(r.o.Presses, "press"), count(r.o.Connections, "connection"))
	b := newBar(r.o.Progress, len(arrivals), "rush")
	defer b.finish()
	// The queue holds every arrival, so the pacer never waits for a
	// connection: its lateness is the generator's own, and a slow server
	// shows as latency from the intended time instead.
	jobs := make(chan arrival, len(arrivals))
	cpu0, wall0 := r.o.cpu(), r.clock.Now()
	busy0, total0, machineOK := r.o.machine()
	var wg sync.WaitGroup
	for w := 1; w <= min(r.o.Connections, max(len(arrivals), 1)); w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for a := range jobs {
				if ctx.Err() == nil {
					r.buyer(ctx, w, a)
				}
				b.add(1)
			}
		}(w)
	}
	pacer := r.m.rec(0)
	for _, a := range arrivals {
		if !a.at.IsZero() {
			if d := a.at.Sub(r.clock.Now()); d > 0 {
				if r.clock.Sleep(ctx, d) != nil {
					break
				}
			}
			pacer.recordPacerLag(r.clock.Now().Sub(a.at))
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- a
	}
	close(jobs)
	wg.Wait()
	b.finish()
	r.cpuRush, r.wallRush = r.o.cpu()-cpu0, r.clock.Now().Sub(wall0)
	r.machineBusy = -1
	// /proc/stat counts in 10-ms ticks: a share read over less than half
	// a core-second would be mostly rounding.
	if busy1, total1, ok := r.o.machine(); ok && machineOK && total1-total0 >= 500*time.Millisecond {
		r.machineBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	soldOut := ""
	if r.rush.soldOut {
		soldOut = fmt.Sprintf(", sold out %s after T0", r.rush.firstSoldOut.Round(time.Millisecond))
	}
	r.logf("rush done in %s: %d presses answered, %d won%s", r.since(wall0), r.rush.answered, r.rush.won, soldOut)
	// A rush in which nobody could buy measured nothing of a sale: it is
	// invalid, not a pass (a paused drop answered every press sale_paused
	// and the run passed).
	var why []string
	if n := r.rush.notOpen; n > 0 {
		cause := "the server's clock and its drop disagree"
		if r.drop.Mode == "draw" {
			cause = "the draw did not happen within 30 s of T0"
		}
		why = append(why, fmt.Sprintf("%d presses were still answered sale_not_open after T0: %s", n, cause))
	}
	// One shard of several may win nothing when the others took the
	// stock first; then its buyers were told sold_out.
	nobody := r.rush.won == 0 && r.drop.Stock > 0 && (r.o.Shards < 2 || !r.rush.soldOut)
	// A pause during the rush that let shoppers buy before or after it
	// is a rehearsal of the kill switch: the run is valid and audited,
	// with a note (a Pause at +3.5 s and a Resume at +9 s made the run
	// invalid and skipped the audit).
	if n := r.rush.paused; n > 0 && nobody {
		why = append(why, fmt.Sprintf("%d presses were answered sale_paused: the drop was paused during the rush", n))
	} else if n > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d of %d presses were answered sale_paused: the drop was paused during the rush; the run is valid and the audit covers it, the pause included", n, r.rush.answered))
	}
	if nobody {
		why = append(why, fmt.Sprintf("no press won any of the drop's %d units (answers: %s): nobody could buy", r.drop.Stock, r.rush.summary()))
	}
	if len(why) > 0 {
		return &InvalidError{Reason: strings.Join(why, "; ")}
	}
	return nil
}

// summary gives the rush's most frequent answers, "sale_paused 288,
// not_registered 12".
func (t *rushTimes) summary() string {
	if len(t.outcomes) == 0 {
		return "none"
	}
	codes := make([]string, 0, len(t.outcomes))
	for c := range t.outcomes {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		if t.outcomes[codes[i]] != t.outcomes[codes[j]] {
			return t.outcomes[codes[i]] > t.outcomes[codes[j]]
		}
		return codes[i] < codes[j]
	})
	var parts []string
	for i, c := range codes {
		if i == 4 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", c, t.outcomes[c]))
	}
	return strings.Join(parts, ", ")
}

// buyer presses Buy Presses times, one after the other, each press with
// its own Idempotency-Key (or none) reused for its resends.
func (r *runner) buyer(ctx context.Context, w int, a arrival) {
	s := a.s
	path := "/v1/drops/" + r.drop.ID + "/reservations"
	body := []byte(`{"quantity":1}`)
	if s.waitlist {
		body = []byte(`{"quantity":1,"waitlist":true}`)
	}
	intended := a.at
	drawUntil := time.Time{}
	for press := 0; press < r.o.Presses && ctx.Err() == nil; press++ {
		if press == 0 && s.unregistered {
			r.mu.Lock()
			r.rec.UnregisteredPressed = append(r.rec.UnregisteredPressed, s.user)
			r.mu.Unlock()
		}
		key := ""
		if roll(r.o.Seed, s.idx, 10+press) < r.o.KeyedRatio {
			key = fmt.Sprintf("load-%s-%d-%d", r.runKey, s.idx, press)
		}
		ans := r.call(ctx, w, PhaseRush, EndpointReserve, "POST", path, s.token, body, key, intended)
		lost, lostSent := ans.lost, ans.lostSent
		// In draw mode the answer waits for the draw: ask again until it
		// has happened, as the shopper page does.
		for r.drop.Mode == "draw" && ans.code == "sale_not_open" && ctx.Err() == nil {
			if drawUntil.IsZero() {
				drawUntil = r.clock.Now().Add(30 * time.Second)
			}
			if r.clock.Now().After(drawUntil) || r.clock.Sleep(ctx, 250*time.Millisecond) != nil {
				break
			}
			ans = r.call(ctx, w, PhaseRush, EndpointReserve, "POST", path, s.token, body, key, time.Time{})
			if ans.lost > 0 && lost == 0 {
				lostSent = ans.lostSent
			}
			lost += ans.lost
		}
		intended = time.Time{} // later presses follow the answer, as a person does
		r.noteRushAnswer(ans)
		r.noteUnanswered(s, press, key, body, ans, lost, lostSent)
		switch {
		case ans.status == 201:
			var rb reservationBody
			if decodeLenient(ans.body, &rb) != nil || rb.Reservation.ID == "" {
				continue
			}
			r.tell(Told{Reservation: rb.Reservation.ID, User: rb.Reservation.User, Quantity: rb.Reservation.Quantity,
				Via: "reserve", Press: press, Key: key, At: ans.done.Add(r.offset)})
		case ans.code == "sold_out":
			var p problemBody
			if decodeLenient(ans.body, &p) == nil && p.WaitlistPosition > 0 {
				r.mu.Lock()
				r.waitlisters[s.user] = s
				r.mu.Unlock()
			}
		}
	}
}

// noteUnanswered records a press whose outcome its shopper never learned
// (Records.Unanswered), for the audit to match with the wins nobody was
// told about. A keyed press is one request to the server however often
// it was resent: its outcome is unknown when some attempt got no answer
// and the last answer is one the server gives without consulting the
// key: none, a 5xx, a 429 (rate limited) or a 408 (the request was never
// read). Any other answer to the key means no win was stored under it:
// a win, sold_out and limit_reached are stored and replayed, and
// sale_paused, sale_closed, sale_not_open and the like are given only
// when nothing is stored (a stored win would have been replayed instead).
// Without a key each attempt left unanswered is a request of its own
// that may have won, whatever the resends were answered (limit_reached,
// sold_out: perhaps because of it).
//
// A shopper whose press asked to join the waitlist is watched after the
// rush as one told sold_out is (pollWaitlisters), since that press may
// have put her on it: a promotion, which comes whenever someone else
// lets units go, is then told as her refill.
func (r *runner) noteUnanswered(s *shopper, press int, key string, body []byte, last answer, lost int, lostSent time.Time) {
	if lost == 0 {
		return
	}
	requests := lost
	if key != "" {
		if !last.unknown() && last.status != 429 && last.status != 408 {
			return
		}
		requests = 1
	}
	var b struct {
		Quantity int64 `json:"quantity"`
		Waitlist bool  `json:"waitlist"`
	}
	_ = decodeLenient(body, &b)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Unanswered = append(r.rec.Unanswered, Unanswered{User: s.user, Press: press, Key: key, Quantity: max(b.Quantity, 1),
		Waitlist: b.Waitlist, Requests: requests, Sent: lostSent.Add(r.offset), Done: last.done.Add(r.offset), Last: last.code})
	if b.Waitlist {
		s.unsure = true
		r.waitlisters[s.user] = s
	}
}

func (r *runner) noteRushAnswer(a answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	code := a.code
	if code == "" {
		code = fmt.Sprintf("HTTP %d", a.status)
	}
	if r.rush.outcomes == nil {
		r.rush.outcomes = map[string]int{}
	}
	r.rush.outcomes[code]++
	if a.err == nil {
		r.rush.answered++
	}
	switch a.code {
	case OutcomeWon:
		r.rush.won++
	case "sale_not_open":
		r.rush.notOpen++
	case "sale_paused":
		r.rush.paused++
	}
	if r.t0.IsZero() || a.done.IsZero() {
		return
	}
	at := a.done.Sub(r.t0)
	r.rush.lastAnswer = max(r.rush.lastAnswer, at)
	switch a.code {
	case OutcomeWon:
		r.rush.lastWon = max(r.rush.lastWon, at)
	case "sold_out":
		if !r.rush.soldOut || at < r.rush.firstSoldOut {
			r.rush.firstSoldOut = at
		}
		r.rush.soldOut = true
	}
}
