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
			Last: OutcomeTransport}},
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
