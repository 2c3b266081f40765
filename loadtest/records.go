package loadtest

import (
	"sort"
	"time"
)

// Records are what the audit reads: the generator's own record of what
// every client was told and did, and what it observed of the server at the
// end. They are kept in the JSON report, so the audit can run again on the
// merged records of several generators.
type Records struct {
	// Unregistered shoppers never registered; every one must be refused.
	Unregistered []string `json:"unregistered"`
	// UnregisteredPressed are those of them who pressed Buy (in a rate
	// run some never arrive), whom I3 counts as refused.
	UnregisteredPressed []string `json:"unregistered_pressed"`
	// Told lists every reservation a client was told about (a 2xx answer,
	// or a waitlist refill seen in the shopper's view), once per id.
	Told []Told `json:"told"`
	// Replays are the Idempotency-Key replays of I5.
	Replays []Replay `json:"replays"`
	// Unanswered lists the presses whose outcome the client never learned
	// (no answer, or a 5xx, when it gave up resending): each may have won,
	// and I4 takes a won event for such a shopper as the outcome she was
	// never told, not as a win nobody was told about.
	Unanswered []Unanswered `json:"unanswered"`
	// Observed is each reservation's state read back by id at the end
	// (admin), for every told id and every id a won event names.
	Observed map[string]Observed `json:"observed"`
	// Events are the drop's reservation events from JetStream; EventsRead
	// says whether they were read at all (a NATS URL was given).
	EventsRead bool          `json:"events_read"`
	Events     []EventRecord `json:"events"`
	// Stats are the drop's counters at the end, StatsAt when (server
	// clock, from the answer's Date header or the generator's estimate).
	Stats   *Stats    `json:"stats,omitempty"`
	StatsAt time.Time `json:"stats_at,omitzero"`
}

// Told is one reservation a client was told about, and what it did next.
type Told struct {
	Reservation string `json:"reservation"`
	User        string `json:"user"`
	Quantity    int64  `json:"quantity"`
	// Via is "reserve" (a 201 answer) or "refill" (a waitlist promotion
	// the shopper found in her view).
	Via string `json:"via"`
	// Press is the press (0-based) that won; Key its Idempotency-Key.
	Press int    `json:"press"`
	Key   string `json:"key,omitempty"`
	// At is when the client learned of it, on the server's clock
	// (estimated from the generator's).
	At time.Time `json:"at"`
	// Action is what the shopper or shop did: confirm, cancel, expire;
	// ActionStatus and ActionCode the answer (0 and "" for expire).
	Action       string `json:"action"`
	ActionStatus int    `json:"action_status,omitempty"`
	ActionCode   string `json:"action_code,omitempty"`
}

// Unanswered is a press whose outcome the client never learned.
type Unanswered struct {
	User string `json:"user"`
	// Press is the press (0-based); Key its Idempotency-Key ("" for none).
	Press int    `json:"press"`
	Key   string `json:"key,omitempty"`
	// Quantity is the units each request asked for; Waitlist says they
	// asked to join the waitlist when sold out (only such a press can
	// have been promoted from it).
	Quantity int64 `json:"quantity"`
	Waitlist bool  `json:"waitlist,omitempty"`
	// Requests is how many requests of the press may each have won: 1 for
	// a keyed press (its resends are one request to the server), every
	// attempt left unanswered for one without a key (each resend is a new
	// request).
	Requests int `json:"requests"`
	// Sent is when the first of them was sent, on the server's clock
	// (estimated from the generator's): a win before then is not theirs.
	Sent time.Time `json:"sent"`
	// Done is when the press's last attempt ended (its answer, or the
	// generator giving up on it), on the same clock: a win more than the
	// server's longest decision (serverDecides) after it is not theirs.
	// Records from before it was kept have none, and no such bound.
	Done time.Time `json:"done,omitzero"`
	// Last is the press's last answer: transport_error, timeout, an HTTP
	// 5xx code, or 429 (for a keyed press nothing else: any other answer
	// is one the server gave knowing no win stored under the key), or,
	// for a press without a key, the answer of a resend that came after
	// an attempt was left unanswered.
	Last string `json:"last"`
}

// Replay is one I5 check: the same key and body again, then the same key
// with another body.
type Replay struct {
	Reservation string `json:"reservation"`
	User        string `json:"user"`
	Key         string `json:"key"`
	SameStatus  int    `json:"same_status"`
	SameID      string `json:"same_id,omitempty"`
	OtherStatus int    `json:"other_status"`
	OtherCode   string `json:"other_code,omitempty"`
	OtherWonID  string `json:"other_won_id,omitempty"`
}

// Observed is a reservation as the server showed it at the end.
type Observed struct {
	// Status is the HTTP status of the read: 200, or 404 for a
	// reservation that does not exist.
	HTTPStatus   int       `json:"http_status"`
	User         string    `json:"user,omitempty"`
	Quantity     int64     `json:"quantity,omitempty"`
	Status       string    `json:"status,omitempty"`
	WonAt        time.Time `json:"won_at,omitzero"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
	FromWaitlist bool      `json:"from_waitlist,omitempty"`
}

// EventRecord is the part of a CloudEvent the audit needs.
type EventRecord struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"`
	Reservation  string    `json:"reservation,omitempty"`
	User         string    `json:"user,omitempty"`
	Quantity     int64     `json:"quantity,omitempty"`
	FromWaitlist bool      `json:"from_waitlist,omitempty"`
	Time         time.Time `json:"time"`
	// Stored is when JetStream stored the event (its own clock, from the
	// message metadata): the change it announces happened before then,
	// which bounds when a server-side change (an expiry) took effect.
	Stored time.Time `json:"stored,omitzero"`
}

// normalize sorts everything, so records compare and merge the same
// whatever order they were gathered in.
func (r *Records) normalize() {
	sort.Strings(r.Unregistered)
	sort.Strings(r.UnregisteredPressed)
	sort.Slice(r.Told, func(i, j int) bool {
		a, b := r.Told[i], r.Told[j]
		if a.User != b.User {
			return a.User < b.User
		}
		if a.Press != b.Press {
			return a.Press < b.Press
		}
		return a.Reservation < b.Reservation
	})
	sort.Slice(r.Replays, func(i, j int) bool { return r.Replays[i].Reservation < r.Replays[j].Reservation })
	sort.Slice(r.Unanswered, func(i, j int) bool {
		a, b := r.Unanswered[i], r.Unanswered[j]
		if a.User != b.User {
			return a.User < b.User
		}
		return a.Press < b.Press
	})
	// Events are kept in stream order within a run; across runs by id.
	sort.SliceStable(r.Events, func(i, j int) bool { return r.Events[i].ID < r.Events[j].ID })
	if r.Observed == nil {
		r.Observed = map[string]Observed{}
	}
}

// laterStats says whether snapshot a was read after b. The counters of
// reservations, released and confirmed units only grow, so they order two
// snapshots even when the generators' estimates of the server's clock
// disagree; the time breaks ties.
func laterStats(a *Stats, at time.Time, b *Stats, bt time.Time) bool {
	switch {
	case a.Reservations != b.Reservations:
		return a.Reservations > b.Reservations
	case a.Released != b.Released:
		return a.Released > b.Released
	case a.Confirmed != b.Confirmed:
		return a.Confirmed > b.Confirmed
	}
	return !at.Before(bt)
}

// mergeRecords combines the records of several generators of one drop.
// Told, replays, unanswered presses and unregistered shoppers are disjoint (each shopper
// belongs to one shard); observations and events overlap and are unioned;
// the latest stats (laterStats) win.
func mergeRecords(rs []*Records) *Records {
	out := &Records{Observed: map[string]Observed{}, EventsRead: len(rs) > 0}
	seenEv := map[string]bool{}
	for _, r := range rs {
		if r == nil {
			out.EventsRead = false
			continue
		}
		out.Unregistered = append(out.Unregistered, r.Unregistered...)
		out.UnregisteredPressed = append(out.UnregisteredPressed, r.UnregisteredPressed...)
		out.Told = append(out.Told, r.Told...)
		out.Replays = append(out.Replays, r.Replays...)
		out.Unanswered = append(out.Unanswered, r.Unanswered...)
		for id, o := range r.Observed {
			// A later read is the better one: its status is more final.
			if prev, ok := out.Observed[id]; !ok || o.UpdatedAt.After(prev.UpdatedAt) || prev.HTTPStatus != 200 {
				out.Observed[id] = o
			}
		}
		// Events judge wins only when every generator read them: one that
		// did not might have missed the events of its own late wins.
		out.EventsRead = out.EventsRead && r.EventsRead
		for _, e := range r.Events {
			if !seenEv[e.ID] {
				seenEv[e.ID] = true
				out.Events = append(out.Events, e)
			}
		}
		if r.Stats != nil && (out.Stats == nil || laterStats(r.Stats, r.StatsAt, out.Stats, out.StatsAt)) {
			s := *r.Stats
			out.Stats, out.StatsAt = &s, r.StatsAt
		}
	}
	out.normalize()
	return out
}
