package loadtest

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Check statuses.
const (
	CheckPass     = "pass"
	CheckFail     = "fail"
	CheckSkipped  = "skipped"
	CheckDeferred = "deferred" // a shard cannot judge it alone; the merged report does
)

// Audit verdicts.
const (
	AuditPass    = "pass"
	AuditFail    = "fail"
	AuditPartial = "partial" // a shard's own checks passed; the rest await the merge
	AuditNotRun  = "not_run"
)

// maxCulprits bounds how many culprits a check lists (Violations counts
// them all).
const maxCulprits = 10

// Check is one audited rule.
type Check struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Status     string   `json:"status"`
	Detail     string   `json:"detail"`
	Violations int      `json:"violations,omitempty"`
	Culprits   []string `json:"culprits"`
}

// AuditReport is the audit's verdict and its checks.
type AuditReport struct {
	Verdict string  `json:"verdict"`
	Checks  []Check `json:"checks"`

	// resolved counts the requests of presses with no answer that I4
	// found to be wins (their won events and reservations exist); judged
	// says I4 judged them (events read, the whole run, I4 passed).
	resolved int
	judged   bool
}

// clockSlack is how far before a press with no answer was sent (by the
// generator's estimate of the server's clock) a win may be and still be
// its outcome.
const clockSlack = time.Second

// serverDecides is how long after a press's last attempt ended (its
// answer, or the generator giving up on it) the server may still decide
// one of its requests: one still unread in a socket buffer is read within
// the server's read timeout (10 s by default, api.DefaultReadTimeout);
// it may then wait in its drop's lane behind store calls of up to 5 s
// each (engine.DefaultBatchTimeout, the API's own per-request 5 s) and
// is won at its batch's start. Twice the sum of the first two, generous
// for a server run with longer timeouts, and finite: a win later than
// this is not that press's.
const serverDecides = 30 * time.Second

type auditInput struct {
	drop    Drop
	created bool // the run made the drop, so it knows every shopper of it
	partial bool // one shard of several, before the merge
	rec     *Records
}

func (c *Check) fail(format string, args ...any) {
	c.Violations++
	if len(c.Culprits) < maxCulprits {
		c.Culprits = append(c.Culprits, fmt.Sprintf(format, args...))
	}
}

func (c *Check) settle(passDetail string) {
	switch {
	case c.Status != "":
	case c.Violations > 0:
		c.Status = CheckFail
		if c.Detail == "" {
			c.Detail = count(c.Violations, "violation")
		}
	default:
		c.Status = CheckPass
		if c.Detail == "" {
			c.Detail = passDetail
		}
	}
}

// audit runs every check on the records. It sends nothing: a merged report
// re-runs it offline.
func audit(in auditInput) AuditReport {
	r := in.rec
	told := map[string]Told{}
	for _, t := range r.Told {
		if _, dup := told[t.Reservation]; !dup {
			told[t.Reservation] = t
		}
	}
	unreg := map[string]bool{}
	for _, u := range r.Unregistered {
		unreg[u] = true
	}
	wonEvents := map[string][]EventRecord{}
	for _, e := range r.Events {
		if e.Type == "won" && e.Reservation != "" {
			wonEvents[e.Reservation] = append(wonEvents[e.Reservation], e)
		}
	}
	// Every reservation the run knows of: told, observed, or named by a won event.
	type unit struct {
		id, user string
		qty      int64
		start    time.Time
		end      time.Time // zero: still held or confirmed
	}
	var units []unit
	known := map[string]bool{}
	addKnown := func(id string) {
		if known[id] {
			return
		}
		known[id] = true
		o, ok := r.Observed[id]
		t, isTold := told[id]
		switch {
		case ok && o.HTTPStatus == 200:
			u := unit{id: id, user: o.User, qty: o.Quantity, start: o.WonAt}
			if o.Status == "cancelled" || o.Status == "expired" {
				u.end = o.UpdatedAt
			}
			units = append(units, u)
		case isTold:
			// The client was told it won: from its point of view the
			// units are its from then on, whatever the server says.
			units = append(units, unit{id: id, user: t.User, qty: t.Quantity, start: t.At})
		}
	}
	for _, t := range r.Told {
		addKnown(t.Reservation)
	}
	for id := range wonEvents {
		addKnown(id)
	}
	for id := range r.Observed {
		addKnown(id)
	}

	var checks []Check
	var out AuditReport

	// I1: held + confirmed <= stock at every instant, by a sweep over the
	// known reservations' lives, and by the final counters.
	i1 := Check{ID: "I1", Name: "no oversell: winners' units <= stock"}
	type edge struct {
		at    time.Time
		delta int64
		u     int
	}
	var edges []edge
	for i, u := range units {
		edges = append(edges, edge{u.start, u.qty, i})
		if !u.end.IsZero() {
			edges = append(edges, edge{u.end, -u.qty, i})
		}
	}
	sort.SliceStable(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta // releases first at the same instant
	})
	var live, peak int64
	for _, e := range edges {
		live += e.delta
		peak = max(peak, live)
		if e.delta > 0 && live > in.drop.Stock {
			u := units[e.u]
			i1.fail("reservation %s (user %s, %s) made %d units won of a stock of %d", u.id, u.user, count(u.qty, "unit"), live, in.drop.Stock)
		}
	}
	if s := r.Stats; s != nil && s.Held+s.Confirmed > in.drop.Stock {
		i1.fail("stats: held %d + confirmed %d > stock %d", s.Held, s.Confirmed, in.drop.Stock)
	}
	i1.settle(fmt.Sprintf("at most %d of %d units won at once (%d reservations)", peak, in.drop.Stock, len(units)))
	checks = append(checks, i1)

	// I2: no shopper over the per-user limit at any instant.
	i2 := Check{ID: "I2", Name: "per-user limit"}
	byUser := map[string][]int{}
	for i, u := range units {
		byUser[u.user] = append(byUser[u.user], i)
	}
	users := sortedKeys(byUser, func(a, b string) bool { return a < b })
	for _, user := range users {
		var es []edge
		for _, i := range byUser[user] {
			es = append(es, edge{units[i].start, units[i].qty, i})
			if !units[i].end.IsZero() {
				es = append(es, edge{units[i].end, -units[i].qty, i})
			}
		}
		sort.SliceStable(es, func(i, j int) bool {
			if !es[i].at.Equal(es[j].at) {
				return es[i].at.Before(es[j].at)
			}
			return es[i].delta < es[j].delta
		})
		var n int64
		liveIDs := map[string]bool{}
		for _, e := range es {
			n += e.delta
			if e.delta > 0 {
				liveIDs[units[e.u].id] = true
			} else {
				delete(liveIDs, units[e.u].id)
			}
			if e.delta > 0 && n > in.drop.PerUserLimit {
				ids := sortedKeys(liveIDs, func(a, b string) bool { return a < b })
				i2.fail("user %s held %d units (limit %d): reservations %s", user, n, in.drop.PerUserLimit, strings.Join(ids, ", "))
				break
			}
		}
	}
	i2.settle(fmt.Sprintf("%d shoppers with units, none over %d", len(users), in.drop.PerUserLimit))
	checks = append(checks, i2)

	// I3: only registered shoppers get units.
	i3 := Check{ID: "I3", Name: "unregistered shoppers refused"}
	for _, u := range units {
		if unreg[u.user] {
			i3.fail("unregistered user %s got reservation %s", u.user, u.id)
		}
	}
	// Only those who pressed were refused anything (a rate run said "all
	// 37 unregistered shoppers refused" when 6 of them had pressed).
	switch pressed := len(r.UnregisteredPressed); {
	case len(r.Unregistered) == 0:
		i3.settle("no unregistered shoppers in this run")
	case pressed == 0:
		i3.settle(fmt.Sprintf("none of the %d unregistered shoppers pressed Buy", len(r.Unregistered)))
	case pressed == len(r.Unregistered):
		i3.settle(fmt.Sprintf("all %d unregistered shoppers pressed Buy, all refused", pressed))
	default:
		i3.settle(fmt.Sprintf("all %d unregistered shoppers who pressed Buy refused (%d more never pressed)", pressed, len(r.Unregistered)-pressed))
	}
	checks = append(checks, i3)

	// I4: every told win has exactly one won event that agrees with it,
	// and no won event names a reservation no client was told about.
	i4 := Check{ID: "I4", Name: "every win announced exactly once"}
	if !r.EventsRead {
		i4.Status, i4.Detail = CheckSkipped, "no events read (give --nats-url to check)"
	} else {
		ids := sortedKeys(told, func(a, b string) bool { return a < b })
		for _, id := range ids {
			t := told[id]
			evs := wonEvents[id]
			switch {
			case len(evs) == 0:
				i4.fail("no won event for reservation %s (user %s)", id, t.User)
			case len(evs) > 1:
				i4.fail("%d won events for reservation %s (user %s)", len(evs), id, t.User)
			case evs[0].User != t.User || evs[0].Quantity != t.Quantity:
				i4.fail("won event %s says user %s, %s; reservation %s was told to user %s, %s",
					evs[0].ID, evs[0].User, count(evs[0].Quantity, "unit"), id, t.User, count(t.Quantity, "unit"))
			}
		}
		resolved := 0
		if !in.partial {
			resolved = resolveUnanswered(&i4, r, told, wonEvents)
		}
		i4.settle(fmt.Sprintf("%d wins, %d won events, one each", len(told), len(wonEvents)))
		if i4.Status == CheckPass && resolved > 0 {
			i4.Detail += fmt.Sprintf("; %s with no answer turned out to be %s (their won events and reservations exist)",
				count(resolved, "press"), map[bool]string{true: "a win", false: "wins"}[resolved == 1])
		}
		if i4.Status == CheckPass && !in.partial {
			out.resolved, out.judged = resolved, true
		}
		if in.partial && i4.Status == CheckPass {
			i4.Detail += "; wins no client of this shard was told about are judged by the merged report"
		}
	}
	checks = append(checks, i4)

	// I5: replays with the same key return the same reservation; the same
	// key with another body is refused.
	i5 := Check{ID: "I5", Name: "idempotent replays"}
	for _, rp := range r.Replays {
		if rp.SameStatus != 201 || rp.SameID != rp.Reservation {
			i5.fail("replaying key %s of user %s answered %d %q, want 201 with reservation %s", rp.Key, rp.User, rp.SameStatus, rp.SameID, rp.Reservation)
		}
		if rp.OtherStatus != 422 || rp.OtherCode != "idempotency_mismatch" {
			what := rp.OtherCode
			if rp.OtherWonID != "" {
				what += " reservation " + rp.OtherWonID
			}
			i5.fail("key %s of user %s with another body answered %d %s, want 422 idempotency_mismatch", rp.Key, rp.User, rp.OtherStatus, what)
		}
	}
	if len(r.Replays) == 0 {
		i5.Status, i5.Detail = CheckSkipped, "no win carried an Idempotency-Key"
	}
	i5.settle(fmt.Sprintf("%d wins replayed: same reservation, other body refused", len(r.Replays)))
	checks = append(checks, i5)

	// I6: conservation at the end, and released units came back once: the
	// counters equal the sums over the reservations themselves.
	i6 := Check{ID: "I6", Name: "conservation: available + owed + held + confirmed = stock"}
	if s := r.Stats; s == nil {
		i6.Status, i6.Detail = CheckSkipped, "no stats read"
	} else {
		owed := int64(0)
		if s.Owed != nil {
			owed = *s.Owed
		}
		if s.Available+s.Held+s.Confirmed+owed != s.Stock || s.Stock != in.drop.Stock {
			i6.fail("stats: available %d + held %d + confirmed %d + owed %d = %d, stock %d (drop stock %d)",
				s.Available, s.Held, s.Confirmed, owed, s.Available+s.Held+s.Confirmed+owed, s.Stock, in.drop.Stock)
		}
		if s.Available < 0 || s.Held < 0 || s.Confirmed < 0 {
			i6.fail("stats: a negative counter (available %d, held %d, confirmed %d)", s.Available, s.Held, s.Confirmed)
		}
		// The sums need every reservation of the drop: a drop this run
		// made (only its shoppers) or one whose events were read.
		switch {
		case in.partial:
			i6.Detail = "sums over reservations are judged by the merged report"
		case !in.created && !r.EventsRead:
			i6.Detail = "counters only: an existing drop without --nats-url may have reservations this run does not know"
		default:
			var held, conf, released int64
			for id := range known {
				o, ok := r.Observed[id]
				if !ok || o.HTTPStatus != 200 {
					continue
				}
				switch o.Status {
				case "held":
					held += o.Quantity
				case "confirmed":
					conf += o.Quantity
				case "cancelled", "expired":
					released += o.Quantity
				}
			}
			// Without the events, a press with no answer that won is
			// known to the counters alone: held, or released when its
			// hold ran out (nobody confirmed a win she never heard of).
			unknown := int64(0)
			if !r.EventsRead {
				for _, u := range r.Unanswered {
					unknown += int64(u.Requests) * max(u.Quantity, 1)
				}
			}
			dHeld, dReleased := s.Held-held, s.Released-released
			switch {
			case unknown > 0 && conf == s.Confirmed && dHeld >= 0 && dReleased >= 0 && dHeld+dReleased <= unknown:
				if dHeld+dReleased > 0 {
					i6.Detail = fmt.Sprintf("%s more held or released than the known reservations: presses with no answer that won (%d requests had none); give --nats-url to know them",
						count(dHeld+dReleased, "unit"), unknown)
				}
			case held != s.Held || conf != s.Confirmed || released != s.Released:
				i6.fail("counters say held %d, confirmed %d, released %d; the %d known reservations sum to held %d, confirmed %d, released %d",
					s.Held, s.Confirmed, s.Released, len(known), held, conf, released)
			}
		}
	}
	i6.settle("")
	if i6.Status == CheckPass && r.Stats != nil {
		owed := int64(0)
		if r.Stats.Owed != nil {
			owed = *r.Stats.Owed
		}
		d := fmt.Sprintf("%d + %d + %d + %d = %d; %s came back once", r.Stats.Available, owed, r.Stats.Held, r.Stats.Confirmed, r.Stats.Stock,
			count(r.Stats.Released, "released unit"))
		if i6.Detail != "" {
			d += " (" + i6.Detail + ")"
		}
		i6.Detail = d
	}
	checks = append(checks, i6)

	// I7: a confirmed unit never returns; a hold never expires early.
	i7 := Check{ID: "I7", Name: "confirmed stays sold, holds never expire early"}
	for _, id := range sortedKeys(known, func(a, b string) bool { return a < b }) {
		o, ok := r.Observed[id]
		if !ok || o.HTTPStatus != 200 {
			continue
		}
		if o.Status == "expired" && o.UpdatedAt.Before(o.ExpiresAt) {
			i7.fail("reservation %s (user %s) expired at %s, before its deadline %s", id, o.User, o.UpdatedAt.Format(time.RFC3339Nano), o.ExpiresAt.Format(time.RFC3339Nano))
		}
		if t, ok := told[id]; ok && t.Action == "confirm" && t.ActionStatus == 200 && o.Status != "confirmed" {
			i7.fail("reservation %s (user %s) was confirmed (200) but is now %s", id, o.User, o.Status)
		}
	}
	i7.settle("no confirmed unit returned, no hold released before its deadline")
	checks = append(checks, i7)

	// Every answer a client saw agrees with the reservation's final state.
	ag := Check{ID: "answers", Name: "answers agree with final state"}
	for _, id := range sortedKeys(told, func(a, b string) bool { return a < b }) {
		t := told[id]
		o, ok := r.Observed[id]
		switch {
		case !ok:
			ag.fail("reservation %s told to user %s was not read back", id, t.User)
			continue
		case o.HTTPStatus != 200:
			ag.fail("reservation %s told to user %s (%s, press %d) does not exist (HTTP %d)", id, t.User, t.Via, t.Press, o.HTTPStatus)
			continue
		case o.User != t.User || o.Quantity != t.Quantity:
			ag.fail("reservation %s: told user %s %s, stored user %s %s", id, t.User, count(t.Quantity, "unit"), o.User, count(o.Quantity, "unit"))
			continue
		}
		want := map[string]bool{}
		switch {
		case t.Action == "confirm" && t.ActionStatus == 200:
			want["confirmed"] = true
		case t.Action == "cancel" && t.ActionStatus == 200:
			want["cancelled"] = true
		case t.Action == "confirm" || t.Action == "cancel":
			// Refused: the answer's code names the state it found.
			switch t.ActionCode {
			case "expired", "cancelled", "confirmed":
				want[t.ActionCode] = true
			default:
				want["held"], want["expired"] = true, true
			}
		default:
			want["held"], want["expired"] = true, true
		}
		if !want[o.Status] {
			ag.fail("reservation %s (user %s): %s answered %d %s, but it is %s", id, t.User, t.Action, t.ActionStatus, t.ActionCode, o.Status)
		}
	}
	ag.settle(fmt.Sprintf("%d told reservations read back as expected", len(told)))
	checks = append(checks, ag)

	out.Verdict, out.Checks = AuditPass, checks
	for _, c := range checks {
		if c.Status == CheckFail {
			out.Verdict = AuditFail
		}
	}
	if out.Verdict == AuditPass && in.partial {
		out.Verdict = AuditPartial
	}
	return out
}

// resolveUnanswered judges the won events that name a reservation no
// client was told about. A press whose outcome its shopper never learned
// (no answer, or a 5xx, when the client stopped resending) may have won:
// a won event for her is its outcome, not a phantom win, when it came
// within the press's window (from when it was sent, to serverDecides
// after its last attempt ended, with clockSlack either side), for the
// units the press asked for, and, for a promotion from the waitlist,
// when the press asked to join it; provided the reservation exists as the
// event says and the event is the only one. Each such request accounts
// for one win at most (the most wins that can be matched so); any other
// untold win is a violation. It returns how many requests turned out to
// be wins.
func resolveUnanswered(i4 *Check, r *Records, told map[string]Told, wonEvents map[string][]EventRecord) int {
	// One slot per request that may have won.
	type slot struct {
		from, until time.Time // until zero: no bound (older records)
		qty         int64
		waitlist    bool
	}
	byUser := map[string][]slot{}
	for _, u := range r.Unanswered {
		sl := slot{from: u.Sent.Add(-clockSlack), qty: max(u.Quantity, 1), waitlist: u.Waitlist}
		if !u.Done.IsZero() {
			sl.until = u.Done.Add(serverDecides + clockSlack)
		}
		for range max(u.Requests, 0) {
			byUser[u.User] = append(byUser[u.User], sl)
		}
	}
	// When each untold win happened: the reservation's won_at, else the
	// event's time; its units and whether it came from the waitlist, the
	// reservation's, else the event's.
	wonAt := func(id string) time.Time {
		if o, ok := r.Observed[id]; ok && o.HTTPStatus == 200 && !o.WonAt.IsZero() {
			return o.WonAt
		}
		return wonEvents[id][0].Time
	}
	qtyOf := func(id string) int64 {
		if o, ok := r.Observed[id]; ok && o.HTTPStatus == 200 {
			return o.Quantity
		}
		return wonEvents[id][0].Quantity
	}
	promoted := func(id string) bool {
		o, ok := r.Observed[id]
		return wonEvents[id][0].FromWaitlist || ok && o.HTTPStatus == 200 && o.FromWaitlist
	}
	var untold []string
	for id := range wonEvents {
		if _, ok := told[id]; !ok {
			untold = append(untold, id)
		}
	}
	sort.Slice(untold, func(i, j int) bool {
		if a, b := wonAt(untold[i]), wonAt(untold[j]); !a.Equal(b) {
			return a.Before(b)
		}
		return untold[i] < untold[j]
	})
	// Why slot sl cannot be the outcome of win id ("" when it can).
	misfit := func(sl slot, id string) string {
		at := wonAt(id)
		switch {
		case sl.qty != qtyOf(id):
			return fmt.Sprintf("asked for %s, not %d", count(sl.qty, "unit"), qtyOf(id))
		case promoted(id) && !sl.waitlist:
			return "did not ask to join the waitlist it came from"
		case at.Before(sl.from):
			return "were sent after it"
		case !sl.until.IsZero() && at.After(sl.until):
			return fmt.Sprintf("had ended more than %s before it", serverDecides)
		}
		return ""
	}
	// The most wins matched to requests, one each: augmenting paths
	// (Kuhn's), the wins in the order they happened, per shopper.
	matched := map[string]bool{}
	byUserWins := map[string][]string{}
	for _, id := range untold {
		u := wonEvents[id][0].User
		byUserWins[u] = append(byUserWins[u], id)
	}
	for user, wins := range byUserWins {
		slots := byUser[user]
		owner := make([]int, len(slots)) // index in wins + 1, 0 for none
		var try func(w int, seen []bool) bool
		try = func(w int, seen []bool) bool {
			for k, sl := range slots {
				if seen[k] || misfit(sl, wins[w]) != "" {
					continue
				}
				seen[k] = true
				if owner[k] == 0 || try(owner[k]-1, seen) {
					owner[k] = w + 1
					return true
				}
			}
			return false
		}
		for w := range wins {
			try(w, make([]bool, len(slots)))
		}
		for _, o := range owner {
			if o > 0 {
				matched[wins[o-1]] = true
			}
		}
	}
	resolved := 0
	for _, id := range untold {
		ev := wonEvents[id][0]
		if !matched[id] {
			why := ""
			if slots := byUser[ev.User]; len(slots) > 0 {
				why = "; her presses with no answer account for other wins"
				if m := misfit(slots[0], id); m != "" && !slices.ContainsFunc(slots, func(sl slot) bool { return misfit(sl, id) == "" }) {
					why = "; her presses with no answer " + m
				}
			}
			i4.fail("won event %s names reservation %s (user %s) that no client was told about%s", ev.ID, id, ev.User, why)
			continue
		}
		o, ok := r.Observed[id]
		switch {
		case len(wonEvents[id]) > 1:
			i4.fail("%d won events for reservation %s (user %s), won by a press with no answer", len(wonEvents[id]), id, ev.User)
		case !ok || o.HTTPStatus != 200:
			i4.fail("won event %s names reservation %s (user %s), the outcome of a press with no answer, but it does not exist (HTTP %d)", ev.ID, id, ev.User, o.HTTPStatus)
		case o.User != ev.User || o.Quantity != ev.Quantity:
			i4.fail("won event %s says user %s, %s; reservation %s, won by a press with no answer, is user %s, %s",
				ev.ID, ev.User, count(ev.Quantity, "unit"), id, o.User, count(o.Quantity, "unit"))
		default:
			resolved++
		}
	}
	return resolved
}

// ratio formats a fraction for a report line.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a/b) {
		return 0
	}
	return a / b
}
