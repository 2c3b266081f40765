package webhook_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// severalTypes publishes a won, then (after since) two more wins, the
// first sold_out ever and a last win: the layout where nats-server starts
// a consumer of won and sold_out by time at the sold_out, skipping the two
// wins before it (queue.SeqAt). It returns since and the ids after it.
func (e *whEnv) severalTypes() (before string, since time.Time, after []string) {
	e.t.Helper()
	before = e.publish("tuesday", engine.EventWon)
	since = time.Now()
	for _, typ := range []engine.EventType{engine.EventWon, engine.EventWon, engine.EventSoldOut, engine.EventWon} {
		after = append(after, e.publish("tuesday", typ))
	}
	return before, since, after
}

// TestWebhookOfSeveralTypesGetsEveryEventSinceItsCreation: a webhook of
// won and sold_out whose consumer is made after events came (a node that
// noticed it late, or its consumer made again) gets every event since its
// creation. Made by time, its consumer started at the first sold_out ever,
// and the wins before it were neither delivered nor dead-lettered.
func TestWebhookOfSeveralTypesGetsEveryEventSinceItsCreation(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	rec := newWHReceiver(t, nil)
	before := e.publish("tuesday", engine.EventWon)
	// The store keeps a webhook's creation to the millisecond: a webhook
	// created in the millisecond of the win would start at it.
	stored := time.Now()
	time.Sleep(time.Until(stored.Truncate(time.Millisecond).Add(time.Millisecond)))
	hook := e.webhook("several", rec.srv.URL, engine.EventWon, engine.EventSoldOut)
	rec.receive(hook)
	var after []string
	for _, typ := range []engine.EventType{engine.EventWon, engine.EventWon, engine.EventSoldOut, engine.EventWon} {
		after = append(after, e.publish("tuesday", typ))
	}
	e.deliverer(webhook.Options{AllowPrivate: true})
	testkit.Eventually(t, 10*time.Second, "every event since the webhook's creation", func() bool {
		for _, id := range after {
			if !rec.has(id) {
				return false
			}
		}
		return true
	})
	if rec.has(before) {
		t.Errorf("the win before the webhook's creation was delivered")
	}
	rec.checkNoProblems()
	c, err := e.js.Consumer(e.ctx(), queue.StreamName, webhook.ConsumerPrefix+hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := c.CachedInfo().Config; cfg.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cfg.OptStartSeq != 2 ||
		cfg.OptStartTime != nil || len(cfg.FilterSubjects) != 2 {
		t.Errorf("consumer starts %v at seq %d, time %v, filters %v; want by sequence at 2, both types",
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime, cfg.FilterSubjects)
	}
}

// TestWebhookConsumerKeepsItsStart: a consumer made by a version that
// started it by time is kept, start and all (a start cannot be updated,
// and a consumer made anew would deliver again what it delivered), and so
// is one this version made; one left from an earlier webhook of the same
// id, created at another time, is replaced.
func TestWebhookConsumerKeepsItsStart(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	rec := newWHReceiver(t, nil)
	hook := e.webhook("kept", rec.srv.URL, engine.EventWon, engine.EventSoldOut)
	rec.receive(hook)
	stale := e.webhook("stale", "https://hooks.example.com/x", engine.EventWon, engine.EventSoldOut)
	name := webhook.ConsumerPrefix + hook.ID
	// As an older version made them: from the stored webhook's creation,
	// and, for the stale one, an earlier webhook's of the same id.
	stored, err := e.store.Webhooks(e.ctx())
	if err != nil || len(stored) != 2 {
		t.Fatalf("the stored webhooks: %v %v", stored, err)
	}
	var start time.Time
	for _, w := range stored {
		at := w.CreatedAt.UTC()
		if w.ID == hook.ID {
			start = at
		} else {
			at = at.Add(-time.Hour)
		}
		if _, err := e.js.CreateConsumer(e.ctx(), queue.StreamName, jetstream.ConsumerConfig{Durable: webhook.ConsumerPrefix + w.ID,
			AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &at,
			FilterSubjects: []string{queue.Subject("*", engine.EventSoldOut), queue.Subject("*", engine.EventWon)}}); err != nil {
			t.Fatal(err)
		}
	}
	e.deliverer(webhook.Options{AllowPrivate: true})
	id := e.publish("tuesday", engine.EventWon)
	testkit.Eventually(t, 10*time.Second, "the event delivered", func() bool { return rec.has(id) })
	c, err := e.js.Consumer(e.ctx(), queue.StreamName, name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.CachedInfo().Config
	if cfg.DeliverPolicy != jetstream.DeliverByStartTimePolicy || cfg.OptStartTime == nil || !cfg.OptStartTime.Equal(start) ||
		cfg.Metadata["flashdrop_webhook_created_at"] == "" || cfg.MaxDeliver != webhook.DefaultMaxAttempts {
		t.Errorf("the older version's consumer: %v from %v, metadata %v, max deliver %d; want kept by time, updated",
			cfg.DeliverPolicy, cfg.OptStartTime, cfg.Metadata, cfg.MaxDeliver)
	}
	rec.checkNoProblems()
	testkit.Eventually(t, 10*time.Second, "the stale consumer replaced", func() bool {
		c, err := e.js.Consumer(e.ctx(), queue.StreamName, webhook.ConsumerPrefix+stale.ID)
		if err != nil {
			return false
		}
		cfg := c.CachedInfo().Config
		return cfg.DeliverPolicy == jetstream.DeliverByStartSequencePolicy && cfg.Metadata["flashdrop_webhook_created_at"] != ""
	})
}

// TestReplaySinceWithSeveralTypes: a replay since an outage, of two
// types, sends every event of both since then, in order. By time, it
// sent the sold_out and the win after it, and answered done.
func TestReplaySinceWithSeveralTypes(t *testing.T) {
	t.Parallel()
	e := newWHEnv(t)
	rec := newWHReceiver(t, nil)
	_, since, after := e.severalTypes()
	// Made after the events: its own consumer delivers none of them.
	hook := e.webhook("replayed", rec.srv.URL, engine.EventWon, engine.EventSoldOut)
	rec.receive(hook)
	d := e.deliverer(webhook.Options{AllowPrivate: true})
	res, err := d.Replay(e.ctx(), hook, engine.ReplayRequest{Since: since, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || fmt.Sprint(res.EventIDs) != fmt.Sprint(after) {
		t.Fatalf("replay since %s: done %v, %v; want done, %v", since.Format(time.StampMicro), res.Done, res.EventIDs, after)
	}
	rec.checkNoProblems()
}
