package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/queue"
)

// maxDeliveriesSubject is where JetStream announces a message that ran out
// of deliveries without being acknowledged or terminated. For a webhook
// that happens only when the node making the last attempt stopped in the
// middle of it: the normal last attempt terminates the message and is
// recorded as a dead letter there. (A NATS wildcard is a whole token, so
// this takes every consumer of the stream; the handler keeps webhooks'.)
const maxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + queue.StreamName + ".*"

// deadLetterGroup makes one node, not all, record each such dead letter.
const deadLetterGroup = "flashdrop-webhook-dead-letters"

// maxDeliveriesAdvisory is the part of JetStream's advisory used here.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// watchDeadLetters records the dead letters no node recorded itself; it
// returns a function that stops it.
func (d *Deliverer) watchDeadLetters(ctx context.Context) func() {
	sub, err := d.js.Conn().QueueSubscribe(maxDeliveriesSubject, deadLetterGroup, func(m *nats.Msg) {
		if err := d.recordLostLastAttempt(ctx, m.Data); err != nil && ctx.Err() == nil {
			d.o.Logger.Warn("webhooks: recording an unfinished last attempt failed", "err", err.Error())
		}
	})
	if err != nil {
		d.o.Logger.Warn("webhooks: watching for unfinished last attempts failed", "err", err.Error())
		return func() {}
	}
	return func() { _ = sub.Unsubscribe() }
}

func (d *Deliverer) recordLostLastAttempt(ctx context.Context, data []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil {
		return err
	}
	id, ok := strings.CutPrefix(adv.Consumer, ConsumerPrefix)
	if !ok || adv.Stream != queue.StreamName || adv.StreamSeq == 0 {
		return nil // not ours
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := d.store.Webhook(ctx, id); errors.Is(err, engine.ErrNotFound) {
		return nil // deleted meanwhile: nothing to report to
	} else if err != nil {
		return err
	}
	eventID, typ := "", engine.EventType("")
	stream, err := d.js.Stream(ctx, queue.StreamName)
	if err == nil {
		var msg *jetstream.RawStreamMsg
		if msg, err = stream.GetMsg(ctx, adv.StreamSeq); err == nil {
			eventID, typ = msg.Header.Get(jetstream.MsgIDHeader), subjectType(msg.Subject)
		}
	}
	if eventID == "" {
		// The event aged out of the stream; still count the dead letter.
		eventID = "stream-seq-" + jsonNumber(adv.StreamSeq)
	}
	const why = "the last attempt did not finish (the delivering node stopped)"
	d.deadLog.add(id, eventID, 0, why, "webhooks: event dead-lettered after an unfinished last attempt")
	d.observe(id, DeadLettered)
	d.record(ctx, id, engine.Delivery{EventID: eventID, At: d.o.Now(), Dead: true, Err: why, Sequence: adv.StreamSeq, Type: typ})
	return nil
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
