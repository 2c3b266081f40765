package queue

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestSetHeadersOnARecycledMessage: the relay reuses its messages from
// one publish to the next, so a message that carried a rehearsal drop's
// event must lose the mark when it carries an ordinary drop's.
func TestSetHeadersOnARecycledMessage(t *testing.T) {
	var msg nats.Msg
	setHeaders(&msg, "ev-1", true)
	if !IsRehearsal(msg.Header) || msg.Header.Get(jetstream.MsgIDHeader) != "ev-1" || msg.Header.Get("Content-Type") != "application/cloudevents+json" {
		t.Fatalf("a rehearsal's headers: %v", msg.Header)
	}
	setHeaders(&msg, "ev-2", false)
	if IsRehearsal(msg.Header) || msg.Header.Get(jetstream.MsgIDHeader) != "ev-2" {
		t.Fatalf("an ordinary event on the recycled message: %v", msg.Header)
	}
	setHeaders(&msg, "ev-3", true)
	if !IsRehearsal(msg.Header) || msg.Header.Get(jetstream.MsgIDHeader) != "ev-3" {
		t.Fatalf("a rehearsal again: %v", msg.Header)
	}
}
