package queue

import (
	"strings"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// CloudEvent is the CloudEvents 1.0 JSON envelope of every event. Its data
// is the engine.Event itself: one shape from the outbox to the wire.
type CloudEvent struct {
	SpecVersion     string       `json:"specversion"`
	ID              string       `json:"id"`
	Source          string       `json:"source"`
	Type            string       `json:"type"`
	Subject         string       `json:"subject"`
	Time            time.Time    `json:"time"`
	DataContentType string       `json:"datacontenttype"`
	Data            engine.Event `json:"data"`
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

// CEType is the CloudEvent type of an engine event type; TypeOf inverts it.
func CEType(t engine.EventType) string { return "flashdrop." + string(t) }

// sourceOf is the CloudEvent source of a drop's events.
func sourceOf(drop string) string { return "/flashdrop/drops/" + drop }

// Envelope wraps an outbox event for publishing: the one conversion at the
// edge. publicURL, if set, makes the share URL of won events and the drop
// page of the events that link it absolute.
func Envelope(ev engine.Event, publicURL string) CloudEvent {
	return envelope(ev, publicURL, sourceOf(ev.Drop), CEType(ev.Type))
}

// envelope is Envelope with the source and type strings, which the relay
// builds once per drop and event type rather than once per event.
func envelope(ev engine.Event, publicURL, source, ceType string) CloudEvent {
	if ev.Type == engine.EventWon || (ev.Type == engine.EventConfirmed && ev.ShareCode != "") {
		ev.ShareURL = strings.TrimSuffix(publicURL, "/") + "/s/" + ev.ShareCode
		ev.ShareImageURL = ev.ShareURL + ".png"
	}
	if ev.Type.HasPage() {
		ev.URL = strings.TrimSuffix(publicURL, "/") + "/d/" + ev.Drop
	}
	subject := ev.Drop
	if ev.Reservation != "" {
		subject = ev.Reservation
	}
	return CloudEvent{
		SpecVersion: "1.0", ID: ev.ID, Source: source,
		Type: ceType, Subject: subject, Time: ev.Time.UTC(),
		DataContentType: "application/json", Data: ev,
	}
}

// Event is the engine event a CloudEvent carries, with the envelope's id,
// type and time back in place: what a consumer works with.
func (c CloudEvent) Event() engine.Event {
	ev := c.Data
	ev.ID, ev.Type, ev.Time = c.ID, TypeOf(c.Type), c.Time
	return ev
}
