// Package queue is flashdrop's NATS side: the JetStream stream, the relay
// that publishes each drop's outbox, the sold-out broadcast and webhook
// delivery.
//
// It arrives with the events issue; until then this package is only its
// place in the layout.
package queue
