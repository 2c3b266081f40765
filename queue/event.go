package queue

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// CloudEvent is the CloudEvents 1.0 JSON envelope of every event.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            EventData `json:"data"`
}

// EventData is the data of every event type; fields that do not apply are
// omitted. Won events carry the share card fields (SPEC §5).
type EventData struct {
	Drop              string    `json:"drop"`
	Reservation       string    `json:"reservation,omitempty"`
	User              string    `json:"user,omitempty"`
	Quantity          int64     `json:"quantity,omitempty"`
	ExpiresAt         time.Time `json:"expires_at,omitzero"`
	ShareCode         string    `json:"share_code,omitempty"`
	ShareURL          string    `json:"share_url,omitempty"`
	Product           string    `json:"product,omitempty"`
	SecondsAfterStart *float64  `json:"seconds_after_start,omitempty"`
	FromWaitlist      bool      `json:"from_waitlist,omitempty"`
	WaitlistPosition  int64     `json:"waitlist_position,omitempty"`
	Ref               string    `json:"ref,omitempty"`
	Available         *int64    `json:"available,omitempty"`
	// Version orders a drop's sold_out and restocked events.
	Version int64 `json:"version,omitempty"`
	// CheckoutURL is where a winner pays, when the drop has one.
	CheckoutURL string `json:"checkout_url,omitempty"`
	WeekData
}

// Subject is the NATS subject of an event: flashdrop.<drop>.<type>. Drop
// ids are limited to [A-Za-z0-9_-], so they are always one subject token.
func Subject(drop string, t engine.EventType) string {
	return "flashdrop." + drop + "." + string(t)
}

// TypeOf returns the engine event type of a CloudEvent type.
func TypeOf(ceType string) engine.EventType {
	return engine.EventType(strings.TrimPrefix(ceType, "flashdrop."))
}

// Envelope wraps an outbox event for publishing. publicURL, if set, makes
// the share URL of won events absolute.
func Envelope(ev engine.Event, publicURL string) CloudEvent {
	d := EventData{
		Drop: ev.Drop, Reservation: ev.Reservation, User: ev.User, Quantity: ev.Quantity,
		ExpiresAt: ev.ExpiresAt, ShareCode: ev.ShareCode, Product: ev.Product,
		FromWaitlist: ev.FromWaitlist, WaitlistPosition: ev.WaitlistPosition, Ref: ev.Ref,
	}
	switch ev.Type {
	case engine.EventWon:
		secs := ev.SecondsAfterStart
		d.SecondsAfterStart = &secs
		d.ShareURL = strings.TrimSuffix(publicURL, "/") + "/s/" + ev.ShareCode
		d.CheckoutURL = ev.CheckoutURL
	case engine.EventSoldOut, engine.EventRestocked:
		avail := ev.Available
		d.Available = &avail
		d.Version = ev.Version
	}
	d.WeekData = weekData(ev, publicURL)
	subject := ev.Drop
	if ev.Reservation != "" {
		subject = ev.Reservation
	}
	return CloudEvent{
		SpecVersion: "1.0", ID: ev.ID, Source: "/flashdrop/drops/" + ev.Drop,
		Type: "flashdrop." + string(ev.Type), Subject: subject, Time: ev.Time.UTC(),
		DataContentType: "application/json", Data: d,
	}
}

// Marshal is the wire form of a CloudEvent.
func (c CloudEvent) Marshal() ([]byte, error) { return json.Marshal(c) }
