package loadtest

import (
	"strings"
	"testing"
	"time"
)

// crashRecords are the records of a run in which user u2's press got no
// answer (its node was killed with -9) while Redis ran the batch that won
// it reservation r2, 1.5 ms later; u1 was told her win r1.
func crashRecords(t0 time.Time) *Records {
	held := func(id, user string, at time.Time) Observed {
		return Observed{HTTPStatus: 200, User: user, Quantity: 1, Status: "held", WonAt: at, ExpiresAt: at.Add(time.Minute), UpdatedAt: at}
	}
	return &Records{
		Told: []Told{{Reservation: "r1", User: "u1", Quantity: 1, Via: "reserve", Key: "k1", At: t0, Action: "expire"}},
		Unanswered: []Unanswered{{User: "u2", Press: 0, Key: "k2", Quantity: 1, Requests: 1, Sent: t0.Add(time.Second),
			Done: t0.Add(16 * time.Second), Last: OutcomeTransport}},
		Observed: map[string]Observed{
			"r1": held("r1", "u1", t0),
			"r2": held("r2", "u2", t0.Add(time.Second+1500*time.Microsecond)),
		},
		EventsRead: true,
		Events: []EventRecord{
			{ID: "e1", Type: "won", Reservation: "r1", User: "u1", Quantity: 1, Time: t0},
			{ID: "e2", Type: "won", Reservation: "r2", User: "u2", Quantity: 1, Time: t0.Add(time.Second + 1500*time.Microsecond)},
		},
		Stats: &Stats{Stock: 10, Available: 8, Held: 2, Reservations: 2},
	}
}

func auditCheck(t *testing.T, a AuditReport, id string) Check {
	t.Helper()
	for _, c := range a.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return Check{}
}

var crashDrop = Drop{ID: "d", Stock: 10, PerUserLimit: 1, HoldSeconds: 60}

// TestAuditAPressWithNoAnswerThatWonPasses: a node killed mid-rush lost
// the answer to a press that Redis still won. The engine was right (one
// win, one event, the reservation exists): the won event is the outcome
// the shopper never learned, counted apart, not a win no client was told
// about (the audit failed such a run with exit 2).
func TestAuditAPressWithNoAnswerThatWonPasses(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	a := audit(auditInput{drop: crashDrop, created: true, rec: crashRecords(t0)})
	i4 := auditCheck(t, a, "I4")
	if a.Verdict != AuditPass || i4.Status != CheckPass ||
		!strings.Contains(i4.Detail, "1 press with no answer turned out to be a win (their won events and reservations exist)") {
		t.Fatalf("verdict %s, I4 %s: %s %q", a.Verdict, i4.Status, i4.Detail, i4.Culprits)
	}
	if a.resolved != 1 || !a.judged {
		t.Fatalf("resolved %d, judged %v", a.resolved, a.judged)
	}
	rep := &Report{Audit: a, Records: crashRecords(t0)}
	if n := rep.unansweredNote(); !strings.Contains(n, "1 press with no answer") || !strings.Contains(n, "1 turned out to be a win") {
		t.Fatalf("note %q", n)
	}
}

// TestAuditStillFailsWinsNoUnknownExplains: what a press with no answer
// cannot explain still fails I4, with the culprit named.
func TestAuditStillFailsWinsNoUnknownExplains(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name, culprit string
		change        func(r *Records)
	}{
		{"every press answered", "names reservation r2 (user u2) that no client was told about", func(r *Records) {
			r.Unanswered = nil // u2 was told sold_out, say
		}},
		{"another shopper's press", "names reservation r2 (user u2) that no client was told about", func(r *Records) {
			r.Unanswered[0].User = "u3"
		}},
		{"two wins of one request", "names reservation r3 (user u2) that no client was told about; her presses with no answer account for other wins", func(r *Records) {
			at := t0.Add(2 * time.Second)
			r.Observed["r3"] = Observed{HTTPStatus: 200, User: "u2", Quantity: 1, Status: "held", WonAt: at, ExpiresAt: at.Add(time.Minute), UpdatedAt: at}
			r.Events = append(r.Events, EventRecord{ID: "e3", Type: "won", Reservation: "r3", User: "u2", Quantity: 1, Time: at})
			r.Stats.Held, r.Stats.Available, r.Stats.Reservations = 3, 7, 3
		}},
		{"a win before the press was sent", "names reservation r2 (user u2) that no client was told about", func(r *Records) {
			r.Unanswered[0].Sent = t0.Add(time.Minute)
		}},
		{"copies", "2 won events for reservation r2 (user u2)", func(r *Records) {
			r.Events = append(r.Events, EventRecord{ID: "e2b", Type: "won", Reservation: "r2", User: "u2", Quantity: 1, Time: r.Events[1].Time})
		}},
		{"no such reservation", "names reservation r2 (user u2), the outcome of a press with no answer, but it does not exist (HTTP 404)", func(r *Records) {
			r.Observed["r2"] = Observed{HTTPStatus: 404}
			r.Stats.Held, r.Stats.Available = 1, 9
		}},
		{"a told win without its event", "no won event for reservation r1 (user u1)", func(r *Records) {
			r.Events = r.Events[1:]
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := crashRecords(t0)
			c.change(rec)
			a := audit(auditInput{drop: crashDrop, created: true, rec: rec})
			i4 := auditCheck(t, a, "I4")
			if a.Verdict != AuditFail || i4.Status != CheckFail || !strings.Contains(strings.Join(i4.Culprits, "\n"), c.culprit) {
				t.Fatalf("verdict %s, I4 %s: %s %q", a.Verdict, i4.Status, i4.Detail, i4.Culprits)
			}
		})
	}
}

// TestAuditPressWithoutKeyMayHaveWonOncePerAttempt: without a key each
// resend is a request of its own; two attempts left unanswered may be two
// wins (with a limit of two), whatever the last resend was answered.
func TestAuditPressWithoutKeyMayHaveWonOncePerAttempt(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	rec := crashRecords(t0)
	rec.Unanswered[0].Key, rec.Unanswered[0].Requests, rec.Unanswered[0].Last = "", 2, "limit_reached"
	at := t0.Add(2 * time.Second)
	rec.Observed["r3"] = Observed{HTTPStatus: 200, User: "u2", Quantity: 1, Status: "held", WonAt: at, ExpiresAt: at.Add(time.Minute), UpdatedAt: at}
	rec.Events = append(rec.Events, EventRecord{ID: "e3", Type: "won", Reservation: "r3", User: "u2", Quantity: 1, Time: at})
	rec.Stats.Held, rec.Stats.Available, rec.Stats.Reservations = 3, 7, 3
	d := crashDrop
	d.PerUserLimit = 2
	a := audit(auditInput{drop: d, created: true, rec: rec})
	if i4 := auditCheck(t, a, "I4"); a.Verdict != AuditPass || !strings.Contains(i4.Detail, "2 presses with no answer turned out to be wins") {
		t.Fatalf("verdict %s, I4 %s: %s %q", a.Verdict, i4.Status, i4.Detail, i4.Culprits)
	}
}

// TestAuditWithoutEventsCountsUnansweredWinsInTheCounters: without
// --nats-url the win of a press with no answer is known to the counters
// alone; I6 lets them exceed the known reservations by what such presses
// may have won, and no more.
func TestAuditWithoutEventsCountsUnansweredWinsInTheCounters(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		held int64
		want string
	}{{2, CheckPass}, {3, CheckFail}} {
		rec := crashRecords(t0)
		rec.EventsRead, rec.Events = false, nil
		delete(rec.Observed, "r2") // nobody knows its id
		rec.Stats.Held, rec.Stats.Available = c.held, 10-c.held
		a := audit(auditInput{drop: crashDrop, created: true, rec: rec})
		if i6 := auditCheck(t, a, "I6"); i6.Status != c.want {
			t.Errorf("held %d: I6 %s, want %s: %s %q", c.held, i6.Status, c.want, i6.Detail, i6.Culprits)
		}
	}
}

// winR2 makes u2's untold win r2 one of qty units at, from the waitlist
// or not, in the reservation and its event alike.
func winR2(r *Records, at time.Time, qty int64, fromWaitlist bool) {
	o := r.Observed["r2"]
	o.WonAt, o.UpdatedAt, o.ExpiresAt, o.Quantity, o.FromWaitlist = at, at, at.Add(time.Minute), qty, fromWaitlist
	r.Observed["r2"] = o
	e := &r.Events[1]
	e.Time, e.Quantity, e.FromWaitlist = at, qty, fromWaitlist
	r.Stats.Held, r.Stats.Available = 1+qty, 10-1-qty
}

// TestAuditUnansweredPressExplainsOnlyItsOwnQuantity: a press with no
// answer for 1 unit cannot be the outcome of a 2-unit reservation (the
// audit took it as one: the quantity was recorded and never compared).
func TestAuditUnansweredPressExplainsOnlyItsOwnQuantity(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	d := crashDrop
	d.PerUserLimit = 2
	for _, c := range []struct {
		pressQty int64
		want     string
	}{{1, AuditFail}, {2, AuditPass}} {
		rec := crashRecords(t0)
		winR2(rec, rec.Events[1].Time, 2, false)
		rec.Unanswered[0].Quantity = c.pressQty
		a := audit(auditInput{drop: d, created: true, rec: rec})
		i4 := auditCheck(t, a, "I4")
		if a.Verdict != c.want {
			t.Fatalf("press for %d: verdict %s, want %s; I4 %s: %s %q", c.pressQty, a.Verdict, c.want, i4.Status, i4.Detail, i4.Culprits)
		}
		if c.want == AuditFail && !strings.Contains(strings.Join(i4.Culprits, "\n"),
			"names reservation r2 (user u2) that no client was told about; her presses with no answer asked for 1 unit, not 2") {
			t.Fatalf("culprits %q", i4.Culprits)
		}
	}
}

// TestAuditUnansweredPressExplainsNoWinPastItsWindow: a press with no
// answer is decided by the server within serverDecides of its last
// attempt, so a win of its shopper long after (a minute) is not its
// outcome (the audit had no upper bound); one within the window and the
// clock slack is.
func TestAuditUnansweredPressExplainsNoWinPastItsWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		after time.Duration // after the press's last attempt ended
		want  string
	}{
		{serverDecides + clockSlack, AuditPass},
		{serverDecides + clockSlack + time.Millisecond, AuditFail},
		{time.Minute, AuditFail},
	} {
		rec := crashRecords(t0)
		winR2(rec, rec.Unanswered[0].Done.Add(c.after), 1, false)
		a := audit(auditInput{drop: crashDrop, created: true, rec: rec})
		i4 := auditCheck(t, a, "I4")
		if a.Verdict != c.want {
			t.Fatalf("win %v after: verdict %s, want %s; I4 %s: %s %q", c.after, a.Verdict, c.want, i4.Status, i4.Detail, i4.Culprits)
		}
		if c.want == AuditFail && !strings.Contains(strings.Join(i4.Culprits, "\n"),
			"names reservation r2 (user u2) that no client was told about; her presses with no answer had ended more than 30s before it") {
			t.Fatalf("culprits %q", i4.Culprits)
		}
	}
}

// TestAuditPromotionNeedsAPressThatAskedForTheWaitlist: a win from the
// waitlist is the outcome of a press with no answer only if that press
// asked to join the waitlist (the audit matched any press).
func TestAuditPromotionNeedsAPressThatAskedForTheWaitlist(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	for _, asked := range []bool{false, true} {
		rec := crashRecords(t0)
		winR2(rec, rec.Events[1].Time, 1, true)
		rec.Unanswered[0].Waitlist = asked
		a := audit(auditInput{drop: crashDrop, created: true, rec: rec})
		i4 := auditCheck(t, a, "I4")
		if want := map[bool]string{false: AuditFail, true: AuditPass}[asked]; a.Verdict != want {
			t.Fatalf("asked for the waitlist %v: verdict %s, want %s; I4 %s: %s %q", asked, a.Verdict, want, i4.Status, i4.Detail, i4.Culprits)
		}
		if !asked && !strings.Contains(strings.Join(i4.Culprits, "\n"),
			"names reservation r2 (user u2) that no client was told about; her presses with no answer did not ask to join the waitlist it came from") {
			t.Fatalf("culprits %q", i4.Culprits)
		}
	}
	// A promotion takes the press that asked, and a direct win before it
	// the other, though it could have taken either.
	rec := crashRecords(t0)
	winR2(rec, rec.Events[1].Time, 1, true)
	at := rec.Events[1].Time.Add(-time.Millisecond)
	rec.Observed["r3"] = Observed{HTTPStatus: 200, User: "u2", Quantity: 1, Status: "held", WonAt: at, ExpiresAt: at.Add(time.Minute), UpdatedAt: at}
	rec.Events = append(rec.Events, EventRecord{ID: "e3", Type: "won", Reservation: "r3", User: "u2", Quantity: 1, Time: at})
	rec.Stats.Held, rec.Stats.Available, rec.Stats.Reservations = 3, 7, 3
	rec.Unanswered[0].Waitlist = true
	other := rec.Unanswered[0]
	other.Press, other.Waitlist = 1, false
	rec.Unanswered = append(rec.Unanswered, other)
	d := crashDrop
	d.PerUserLimit = 2
	if a := audit(auditInput{drop: d, created: true, rec: rec}); a.Verdict != AuditPass || a.resolved != 2 {
		i4 := auditCheck(t, a, "I4")
		t.Fatalf("verdict %s, resolved %d; I4 %s: %s %q", a.Verdict, a.resolved, i4.Status, i4.Detail, i4.Culprits)
	}
}
