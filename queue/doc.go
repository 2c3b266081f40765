// Package queue is flashdrop's NATS side: the JetStream stream, the relay
// that publishes each drop's outbox to it, the sold-out flag every node
// keeps from the stream, and the in-process NATS server of the embedded
// default. Webhook delivery is in queue/webhook.
//
// Events are CloudEvents 1.0 JSON envelopes on subjects
// flashdrop.<drop>.<type>, with the JetStream Nats-Msg-Id equal to the
// event id: a publish repeated after a crash is absorbed by JetStream's
// duplicate window, which is what makes delivery effectively once (I4).
package queue
