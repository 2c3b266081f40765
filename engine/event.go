package engine

import "time"

// EventType names a state change announced on NATS as
// `flashdrop.<drop>.<type>` (SPEC §5).
type EventType string

// Event types.
const (
	EventRegistered EventType = "registered"
	EventWon        EventType = "won"
	EventConfirmed  EventType = "confirmed"
	EventCancelled  EventType = "cancelled"
	EventExpired    EventType = "expired"
	EventWaitlisted EventType = "waitlisted"
	EventSoldOut    EventType = "sold_out"
	EventRestocked  EventType = "restocked"
	EventSaleOpened EventType = "sale_opened"
	EventSaleClosed EventType = "sale_closed"
	EventDrawn      EventType = "drawn"
	EventReferral   EventType = "referral"
	// EventWaitlistEnded tells a shopper still on the waitlist when the
	// sale ended that nothing more will come to her.
	EventWaitlistEnded EventType = "waitlist_ended"
	// EventDropCreated announces a series' new drop.
	EventDropCreated EventType = "drop_created"
	// EventInvited invites a registrant of a series' previous drop to
	// its next one, once per person per drop.
	EventInvited EventType = "invited"
	// EventReminder reminds a registrant that the sale starts soon.
	EventReminder EventType = "reminder"
	// EventWebhookDisabled says a webhook was disabled after failing
	// deliveries; it belongs to no drop (its subject is
	// flashdrop.~webhooks.webhook_disabled).
	EventWebhookDisabled EventType = "webhook_disabled"
)

// Event is one entry of a drop's outbox: a state change written in the same
// atomic step as the change itself, with an id that is unique and stable
// across republishing, so JetStream can deduplicate (I4).
//
// It is the one shape an event has from the outbox to the wire: its JSON
// is the data of the CloudEvent the relay publishes (ID, Type and Time are
// the envelope's own fields), and webhooks and consumers decode it back
// into this type. Fields that do not apply to a type are zero and omitted.
type Event struct {
	ID          string    `json:"-"`
	Type        EventType `json:"-"`
	Time        time.Time `json:"-"`
	Drop        string    `json:"drop"`
	Reservation string    `json:"reservation,omitempty"`
	User        string    `json:"user,omitempty"`
	Quantity    int64     `json:"quantity,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	ShareCode   string    `json:"share_code,omitempty"`
	// ShareURL is the share card's address; the publisher fills it in,
	// as only it knows the public base URL.
	ShareURL string `json:"share_url,omitempty"`
	// ShareImageURL is the card's 1200×630 PNG (ShareURL + ".png"), for
	// an integration that uploads the image itself rather than letting
	// the network read the page's OpenGraph tags.
	ShareImageURL string `json:"share_image_url,omitempty"`
	// Product and SecondsAfterStart (how long after sale start a hold was
	// won; present on every won event, zero included) follow from the
	// drop and the event time. The store does not write them into the
	// outbox, to keep entries small; the publisher fills them in with
	// EnrichWon.
	Product string `json:"product,omitempty"`
	// DropName is the drop's name, as its share card shows it, on the
	// events worth posting (won, and confirmed with a share code): a
	// post's text needs it, and reading it took an admin call.
	DropName          string   `json:"drop_name,omitempty"`
	SecondsAfterStart *float64 `json:"seconds_after_start,omitempty"`
	// FromWaitlist marks a won event for a waitlist promotion, and a
	// confirmed event of one.
	FromWaitlist bool `json:"from_waitlist,omitempty"`
	// WonBy says how the win came, as the share card says it: WonByDraw
	// for every win of a draw drop, WonByWaitlist for a promotion, else
	// WonByReserve. On won, and on confirmed with a share code, so a post
	// on either matches the card ("won in the draw", "won in 0.4 seconds"):
	// a draw's win carried only a seconds_after_start, as if pressed.
	WonBy string `json:"won_by,omitempty"`
	// WonAt is when a confirmed reservation was won (the outbox's won_at):
	// the publisher derives the confirmed event's SecondsAfterStart from
	// it. Not on the wire.
	WonAt time.Time `json:"-"`
	// WaitlistPosition is set on waitlisted events.
	WaitlistPosition int64 `json:"waitlist_position,omitempty"`
	// Ref is the share code credited by a referral event.
	Ref string `json:"ref,omitempty"`
	// Available is the stock after a sold_out or restocked event (present
	// on those, zero included).
	Available *int64 `json:"available,omitempty"`
	// Version orders a drop's sold_out and restocked events: it grows
	// with each, so a node applies only news newer than what it has.
	Version int64 `json:"version,omitempty"`
	// CheckoutURL is where a winner pays, from the drop's template; the
	// publisher fills it in with EnrichWon.
	CheckoutURL string `json:"checkout_url,omitempty"`

	// The fields below belong to the week's events (series, draw,
	// invitations, reminders); Enrich fills in those that follow from
	// the drop.

	// Series is the drop's series, on every event of a series drop.
	Series string `json:"series,omitempty"`
	// URL is the drop's public page, on drop_created, invited, reminder
	// and sale_opened, so an integration can link the shopper there; the
	// publisher fills it in, as only it knows the public base URL.
	URL string `json:"url,omitempty"`
	// SaleStartsAt is the drop's sale start, on the same events.
	SaleStartsAt time.Time `json:"sale_starts_at,omitzero"`
	// SeedHash is a draw drop's commitment, on every event of the drop.
	SeedHash string `json:"seed_hash,omitempty"`
	// Seed, FrozenDigest and the counts describe a finished draw, on the
	// drawn event (the counts present there, zero included).
	Seed         string `json:"seed,omitempty"`
	FrozenDigest string `json:"frozen_digest,omitempty"`
	Registrants  *int64 `json:"registrants,omitempty"`
	Winners      *int64 `json:"winners,omitempty"`
	// HoldsGiven is how many winners got a hold: Winners, unless the sale
	// closed before the draw reached them.
	HoldsGiven *int64 `json:"holds_given,omitempty"`
	Waitlisted *int64 `json:"waitlisted,omitempty"`

	// Webhook and Reason describe a webhook_disabled event.
	Webhook string `json:"webhook,omitempty"`
	Reason  string `json:"reason,omitempty"`

	// Rehearsal marks every event of a rehearsal drop (Drop.Rehearsal):
	// nobody real registered or won. The publisher fills it in.
	Rehearsal bool `json:"rehearsal,omitempty"`
}

// HasPage reports whether an event of this type links the drop's page
// (Event.URL).
func (t EventType) HasPage() bool {
	switch t {
	case EventDropCreated, EventInvited, EventReminder, EventSaleOpened:
		return true
	}
	return false
}

// Enrich fills in every field of an event that follows from its drop:
// EnrichWon's, and the series, the seed hash and the sale start. The
// store leaves them out of the outbox to keep entries small.
func (e *Event) Enrich(d Drop) {
	e.EnrichWon(d)
	if e.Type == EventConfirmed && e.ShareCode != "" {
		// A paid win is the one worth posting: its card's product, drop
		// name and how it was won too (the won_at of an older version's
		// entry is missing: then no seconds, and no won_by to guess).
		e.Product = d.Product
		e.DropName = d.Name
		if !e.WonAt.IsZero() {
			e.SecondsAfterStart = secondsAfterStart(e.WonAt, d)
			e.WonBy = wonBy(e.FromWaitlist, d)
		}
	}
	e.Series = d.Series
	e.SeedHash = d.SeedHash
	e.Rehearsal = d.Rehearsal
	if e.Type.HasPage() {
		e.SaleStartsAt = d.SaleStartsAt
	}
}

// EnrichWon fills in the fields of a won event that follow from its drop.
func (e *Event) EnrichWon(d Drop) {
	if e.Type != EventWon {
		return
	}
	e.Product = d.Product
	e.DropName = d.Name
	e.CheckoutURL = d.CheckoutURLFor(e.Reservation)
	e.SecondsAfterStart = secondsAfterStart(e.Time, d)
	e.WonBy = wonBy(e.FromWaitlist, d)
}

// The ways a win comes (Event.WonBy).
const (
	WonByReserve  = "reserve"
	WonByWaitlist = "waitlist"
	WonByDraw     = "draw"
)

// wonBy is how a win came, with the share card's precedence (cardWon): a
// draw drop's wins are the draw's, its waitlist's too.
func wonBy(fromWaitlist bool, d Drop) string {
	switch {
	case d.Mode == ModeDraw:
		return WonByDraw
	case fromWaitlist:
		return WonByWaitlist
	}
	return WonByReserve
}

// secondsAfterStart is how long after d's sale start at is, zero before.
func secondsAfterStart(at time.Time, d Drop) *float64 {
	secs := 0.0
	if at.After(d.SaleStartsAt) {
		secs = at.Sub(d.SaleStartsAt).Seconds()
	}
	return &secs
}
