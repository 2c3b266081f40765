package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/run"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

// ConsumerPrefix starts the name of every webhook's durable consumer
// on the stream: webhook-<id>. Consumers with this prefix belong to the
// Deliverer, which deletes those whose webhook no longer exists.
const ConsumerPrefix = "webhook-"

// Headers of a webhook delivery, besides webhooksig.Header.
const (
	EventIDHeader = "Flashdrop-Event-Id"
	// SequenceHeader is the event's position in the FLASHDROP stream
	// (the id GET /v1/admin/events gives it): the one total order of
	// events, where two of one script call share a time to the
	// millisecond. Absent on a test delivery, which is in no stream.
	SequenceHeader = "Flashdrop-Sequence"
	// KindHeader says what sent a delivery, as the delivery log's kind
	// does: delivery (the live path), replay or test; AttemptHeader is a
	// live delivery's attempt, from 1. A receiver debugging a duplicate
	// tells a retry or a replay from the first (an integration review:
	// nothing did).
	KindHeader    = "Flashdrop-Delivery-Kind"
	AttemptHeader = "Flashdrop-Attempt"
	// UserAgent is every delivery's (and flashdrop listen --forward-to's).
	UserAgent          = "flashdrop-webhooks"
	webhookContentType = "application/cloudevents+json"
)

// DefaultMaxAttempts is how many attempts an event gets by default: with
// the backoff (1 s doubling, at most 5 min) the last comes about 18.5
// minutes after the first: a receiver down that long loses nothing, and
// one down longer while events flow is disabled first (by default 20
// failures in a row over 10 minutes), its events waiting for Enable
// rather than dead-lettered. With 8 attempts they were dead-lettered
// after about 2 minutes, which docs that said "doubling to 5 min" let an
// integrator read as more (an integration review).
const DefaultMaxAttempts = 12

// Options configure a Deliverer. Zero values mean the defaults.
type Options struct {
	// AllowPrivate lets webhooks target private, loopback and link-local
	// addresses (--webhooks-allow-private). Off, such targets are refused
	// when connecting, whatever name they were reached by.
	AllowPrivate bool
	// Timeout bounds one delivery attempt, connecting included (default 5s).
	Timeout time.Duration
	// MaxBody is how much of a response body is read, then discarded
	// (default 64 KiB).
	MaxBody int64
	// MaxAttempts is how many attempts an event gets before it is
	// dead-lettered (DefaultMaxAttempts).
	MaxAttempts int
	// BaseBackoff is the wait after a first failed attempt (default 1s);
	// attempt n waits BaseBackoff*2^(n-1), at most MaxBackoff (default 5m).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Refresh is how often the webhook list is re-read from the store
	// (default 2s): a new webhook starts receiving events within about that
	// long (it receives every event from its creation time on), a deleted
	// one stops.
	Refresh time.Duration
	// ForgetDeletedAfter is how long a deleted webhook's mark is kept
	// (default 10 minutes): its consumer is removed whenever a node sees
	// it meanwhile, also one a node with an older read made again.
	ForgetDeletedAfter time.Duration
	// Concurrency is how many deliveries of one webhook this node makes at
	// a time (default 4). Events of a webhook are not delivered in order.
	Concurrency int
	// Client sends the deliveries. The default refuses private targets
	// (unless AllowPrivate), follows no redirects, uses no proxy, and has
	// Timeout. A custom client is responsible for all of that itself.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock of signatures and delivery records (default time.Now).
	Now func() time.Time
	// EngineNow is the engine's clock (serve: Redis's time, --clock), on
	// which a secret rotation's grace was set; the grace is judged on it,
	// so a node whose own clock is off does not sign with the old secret
	// longer or shorter than the rotation said (default Now).
	EngineNow func() time.Time
	// Disable is when a failing webhook is disabled (zero: the engine's
	// default, 20 failures in a row over at least 10 minutes).
	Disable engine.DisableRule
	// ReplayBudget bounds the time of one replay call (default 8s, within
	// an HTTP request's write timeout); past it the call answers a cursor.
	ReplayBudget time.Duration
	// OnAttempt, if set, is told the outcome of every ordinary delivery
	// attempt this node makes (not tests or replays), by webhook id, for
	// metrics. It runs on the delivery's goroutine: it must be quick.
	OnAttempt func(webhook string, o Outcome)
	// DeadLetterLogEvery is how often the log sums up a webhook's dead
	// letters after the first, which it logs whole (default 1m).
	DeadLetterLogEvery time.Duration
}

// Deliverer delivers events to webhooks: each webhook has a durable pull
// consumer on the FLASHDROP stream, webhook-<id>, filtered to its event
// types, and each event is POSTed, signed, to its URL until a 2xx answer,
// with exponential backoff, then dead-lettered (SPEC §5).
//
// Every node may run a Deliverer: they share each webhook's durable
// consumer, so an event is with one node at a time. Delivery is at least
// once (a node may die after the receiver processed an event but before
// the ack); receivers deduplicate by the event id, which makes it exactly
// once in effect.
type Deliverer struct {
	// deadLog words dead letters in the log: a line per webhook and
	// interval, not per event (observe.go).
	deadLog   *deadLetterLog
	js        jetstream.JetStream
	store     engine.WebhookStore
	o         Options
	client    *http.Client
	ownClient bool

	run run.Lifecycle

	// subs is owned by the watch goroutine.
	subs map[string]*webhookSub
	// unknown holds the webhook consumers left alone and logged once
	// (refresh), owned by the watch goroutine.
	unknown map[string]bool
}

// NewDeliverer returns a stopped Deliverer.
func NewDeliverer(js jetstream.JetStream, store engine.WebhookStore, o Options) *Deliverer {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.DeadLetterLogEvery <= 0 {
		o.DeadLetterLogEvery = time.Minute
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = o.BaseBackoff
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.ForgetDeletedAfter <= 0 {
		o.ForgetDeletedAfter = 10 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.EngineNow == nil {
		o.EngineNow = o.Now
	}
	o.Disable = o.Disable.WithDefaults()
	if o.ReplayBudget <= 0 {
		o.ReplayBudget = 8 * time.Second
	}
	d := &Deliverer{js: js, store: store, o: o, client: o.Client, subs: map[string]*webhookSub{}, unknown: map[string]bool{}}
	if d.client == nil {
		d.client = newWebhookClient(o)
		d.ownClient = true
	}
	d.deadLog = newDeadLetterLog(o.Logger, o.DeadLetterLogEvery)
	return d
}

func newWebhookClient(o Options) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			// No Proxy: a proxy would connect on our behalf, past the
			// private-address check of the dialer.
			DialContext:           safeDialer(o.AllowPrivate, o.Timeout),
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   o.Concurrency * 2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   o.Timeout,
			ResponseHeaderTimeout: o.Timeout,
			DisableCompression:    true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       o.Timeout,
	}
}

// Start runs the Deliverer in the background until ctx ends or Close.
// Starting twice does nothing.
func (d *Deliverer) Start(ctx context.Context) {
	d.run.Start(ctx, d.watch)
}

// Close stops consuming and waits for the deliveries in flight (each
// bounded by Timeout). Events taken but not yet attempted are handed back
// to the stream for another node. The dead letters the log has counted
// but not yet said are said. Safe to call twice.
func (d *Deliverer) Close() error {
	d.run.Stop()
	d.deadLog.close()
	if d.ownClient {
		d.client.CloseIdleConnections()
	}
	return nil
}

// watch keeps one consume loop per webhook in the store, re-reading the
// list every Refresh, and stops them all when ctx ends.
func (d *Deliverer) watch(ctx context.Context) {
	defer d.stopAll()
	defer d.watchDeadLetters(ctx)()
	run.Every(ctx, d.o.Refresh, d.refresh)
}

func webhookConsumerName(id string) string { return ConsumerPrefix + id }

func sameWebhook(a, b engine.Webhook) bool {
	return a.URL == b.URL && a.Secret == b.Secret && a.PreviousSecret == b.PreviousSecret && a.PreviousUntil.Equal(b.PreviousUntil) &&
		a.CreatedAt.Equal(b.CreatedAt) && slices.Equal(a.Types, b.Types) &&
		a.Disabled == b.Disabled && a.Rehearsals == b.Rehearsals
}

// passOver reports whether h does not get msg: a rehearsal drop's event,
// for a webhook that did not ask for rehearsals.
func passOver(h engine.Webhook, msg jetstream.Msg) bool {
	return !h.Rehearsals && queue.IsRehearsal(msg.Headers())
}

// refresh brings the consume loops and consumers in line with the store.
func (d *Deliverer) refresh(ctx context.Context) {
	// Consumer names are listed before the webhooks: a consumer another
	// node created is then for a webhook this read sees, unless it was
	// deleted since, so the orphan sweep below never deletes the consumer
	// of a webhook just created.
	existing, listErr := d.webhookConsumers(ctx)
	if listErr != nil && ctx.Err() == nil {
		d.o.Logger.Warn("webhooks: listing consumers failed", "err", listErr.Error())
	}
	hooks, err := d.store.Webhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.o.Logger.Warn("webhooks: listing webhooks failed", "err", err.Error())
		}
		return
	}
	want := make(map[string]engine.Webhook, len(hooks))
	for _, h := range hooks {
		want[h.ID] = h
	}
	// Only the consumers of webhooks deleted through this store are
	// removed. A consumer of a webhook this store does not know is left
	// alone: it may be another deployment's on the same NATS, or this
	// node's Redis may be the wrong one or have lost its data (a node
	// started with another --redis-url removed every consumer of the
	// deployment's, which its nodes made again from each webhook's
	// creation, redelivering everything).
	deleted, err := d.store.DeletedWebhooks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.o.Logger.Warn("webhooks: listing deleted webhooks failed", "err", err.Error())
		}
		deleted = nil
	}
	gone := make(map[string]time.Time, len(deleted))
	for _, g := range deleted {
		if _, ok := want[g.ID]; !ok {
			gone[g.ID] = g.At
		}
	}

	for id, s := range d.subs {
		h, ok := want[id]
		lost := listErr == nil && !existing[webhookConsumerName(id)]
		if ok && sameWebhook(h, s.hook) && !lost && !s.broken.Load() {
			continue
		}
		d.stopSub(s)
		delete(d.subs, id)
	}

	for _, h := range hooks {
		if ctx.Err() != nil {
			return
		}
		if _, ok := d.subs[h.ID]; ok || h.Disabled {
			// A disabled webhook keeps its consumer, where its events
			// wait until it is enabled again.
			continue
		}
		s, err := d.startSub(ctx, h)
		if err != nil {
			if ctx.Err() == nil {
				d.o.Logger.Warn("webhooks: starting delivery failed; retrying", "webhook", h.ID, "err", err.Error())
			}
			continue
		}
		d.subs[h.ID] = s
	}

	if listErr != nil {
		return // which consumers exist is unknown: nothing is removed or forgotten
	}
	for id, at := range gone {
		if existing[webhookConsumerName(id)] && !d.deleteConsumer(ctx, id) {
			continue
		}
		// Forgotten only long after the deletion: a node whose last read
		// still had the webhook may make its consumer again (within a
		// refresh and a create's timeout), and the mark must outlive that
		// to have it removed too.
		if time.Since(at) >= d.o.ForgetDeletedAfter {
			if err := d.store.ForgetDeletedWebhook(ctx, id); err != nil && ctx.Err() == nil {
				d.o.Logger.Warn("webhooks: forgetting a deleted webhook failed", "webhook", id, "err", err.Error())
			}
		}
	}
	for name := range existing {
		id := strings.TrimPrefix(name, ConsumerPrefix)
		_, marked := gone[id]
		if _, ok := want[id]; !ok && !marked && !d.unknown[id] {
			d.unknown[id] = true
			d.o.Logger.Info("webhooks: a consumer of a webhook this store does not know is left alone (another deployment's on the same NATS, or a Redis that lost its data?); delete it by hand if it is neither",
				"consumer", name)
		}
	}
}

// webhookConsumers returns the names of the stream's webhook consumers.
func (d *Deliverer) webhookConsumers(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := d.js.Stream(ctx, queue.StreamName)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	l := st.ConsumerNames(ctx)
	for n := range l.Name() {
		if strings.HasPrefix(n, ConsumerPrefix) {
			names[n] = true
		}
	}
	return names, l.Err()
}

// deleteConsumer removes the consumer of deleted webhook id and reports
// whether it is gone.
func (d *Deliverer) deleteConsumer(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := d.js.DeleteConsumer(ctx, queue.StreamName, webhookConsumerName(id))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		if ctx.Err() == nil {
			d.o.Logger.Warn("webhooks: deleting the consumer of a deleted webhook failed", "webhook", id, "err", err.Error())
		}
		return false
	}
	if err == nil {
		d.o.Logger.Info("webhooks: webhook deleted, consumer removed", "webhook", id)
	}
	return true
}

// consumerConfig is the durable consumer of a webhook, but for where it
// starts (ensureConsumer). Every node derives the same configuration from
// the same stored webhook, so creating it is idempotent across nodes.
func (d *Deliverer) consumerConfig(h engine.Webhook) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:     webhookConsumerName(h.ID),
		Description: "flashdrop webhook " + h.ID,
		AckPolicy:   jetstream.AckExplicitPolicy,
		// An event may wait for a free delivery slot (Concurrency of them,
		// each busy at most Timeout) before its own attempt: the ack wait
		// covers both, so a slow receiver does not cause redeliveries.
		AckWait:    3*d.o.Timeout + 10*time.Second,
		MaxDeliver: d.o.MaxAttempts,
		// Never more unacknowledged events per webhook than this: a dead
		// receiver holds back its own events only.
		MaxAckPending: 1000,
	}
	if h.CreatedAt.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	} else {
		cfg.Metadata = map[string]string{createdMeta: createdStamp(h)}
	}
	var subjects []string
	for _, t := range h.Types {
		subjects = append(subjects, queue.Subject("*", t))
	}
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	switch len(subjects) {
	case 0:
		cfg.FilterSubject = queue.StreamSubjects
	case 1:
		cfg.FilterSubject = subjects[0]
	default:
		cfg.FilterSubjects = subjects
	}
	return cfg
}

// createdMeta is the consumer's metadata naming the webhook's creation it
// delivers for (createdStamp): a consumer left from an earlier webhook of
// the same id (deleted and created again) is told apart by it.
const createdMeta = "flashdrop_webhook_created_at"

func createdStamp(h engine.Webhook) string { return h.CreatedAt.UTC().Format(time.RFC3339Nano) }

// servesCreation tells whether the consumer of configuration oc delivers
// for h as created: its metadata says so, or, made by a version before
// the metadata, it starts at h's creation time.
func servesCreation(oc jetstream.ConsumerConfig, h engine.Webhook) bool {
	if h.CreatedAt.IsZero() {
		return oc.DeliverPolicy == jetstream.DeliverNewPolicy
	}
	if v, ok := oc.Metadata[createdMeta]; ok {
		return v == createdStamp(h)
	}
	return oc.DeliverPolicy == jetstream.DeliverByStartTimePolicy && oc.OptStartTime != nil && oc.OptStartTime.Equal(h.CreatedAt)
}

// ensureConsumer creates or updates the webhook's consumer. A new one
// delivers the events from the webhook's creation on, even those published
// before this node noticed the webhook: it starts at the stream sequence
// stored first at or after that time (queue.SeqAt), never by time, where
// the server skips events of a consumer with several types. An existing
// one keeps its start (a start cannot be updated); one left from an
// earlier webhook with the same id is replaced.
func (d *Deliverer) ensureConsumer(ctx context.Context, h engine.Webhook) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg := d.consumerConfig(h)
	for made := false; ; made = true {
		old, err := d.js.Consumer(ctx, queue.StreamName, cfg.Durable)
		switch {
		case err == nil && servesCreation(old.CachedInfo().Config, h):
			oc := old.CachedInfo().Config
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = oc.DeliverPolicy, oc.OptStartSeq, oc.OptStartTime
			return d.js.CreateOrUpdateConsumer(ctx, queue.StreamName, cfg)
		case err == nil:
			d.o.Logger.Info("webhooks: webhook re-created, replacing its consumer", "webhook", h.ID)
			if derr := d.js.DeleteConsumer(ctx, queue.StreamName, cfg.Durable); derr != nil && !errors.Is(derr, jetstream.ErrConsumerNotFound) {
				return nil, derr
			}
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return nil, err
		}
		if !h.CreatedAt.IsZero() {
			seq, err := queue.SeqAt(ctx, d.js, h.CreatedAt)
			if err != nil {
				return nil, err
			}
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverByStartSequencePolicy, seq, nil
		}
		c, err := d.js.CreateConsumer(ctx, queue.StreamName, cfg)
		if err == nil || made || !errors.Is(err, jetstream.ErrConsumerExists) {
			return c, err
		}
		// Another node made it meanwhile, perhaps a sequence later if an
		// event came between the two probes: take its start.
	}
}

// webhookSub is one webhook's consume loop on this node.
type webhookSub struct {
	hook     engine.Webhook
	cc       jetstream.ConsumeContext
	slots    chan struct{}
	stopping chan struct{}
	broken   atomic.Bool // the consumer vanished under the loop

	mu       sync.Mutex
	stopped  bool
	inflight sync.WaitGroup
}

func (d *Deliverer) startSub(ctx context.Context, h engine.Webhook) (*webhookSub, error) {
	c, err := d.ensureConsumer(ctx, h)
	if err != nil {
		return nil, err
	}
	s := &webhookSub{
		hook:     h,
		slots:    make(chan struct{}, d.o.Concurrency),
		stopping: make(chan struct{}),
	}
	// Deliveries outlive a cancelled Start context: in-flight attempts
	// finish (within Timeout) and are acknowledged.
	base := context.WithoutCancel(ctx)
	s.cc, err = c.Consume(func(msg jetstream.Msg) { d.dispatch(base, s, msg) },
		jetstream.PullMaxMessages(d.o.Concurrency),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				s.broken.Store(true)
			}
			d.o.Logger.Debug("webhooks: consume", "webhook", h.ID, "err", err.Error())
		}))
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	return s, nil
}

// dispatch runs in the consumer's message goroutine: it waits for a free
// delivery slot, then delivers in the background.
func (d *Deliverer) dispatch(base context.Context, s *webhookSub, msg jetstream.Msg) {
	if passOver(s.hook, msg) {
		// Not this webhook's: settled at once, with no attempt logged. A
		// lost ack brings it back after the ack wait, to be passed over
		// again.
		_ = msg.Ack()
		return
	}
	select {
	case s.slots <- struct{}{}:
	case <-s.stopping:
		_ = msg.Nak() // to another node, now
		return
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		<-s.slots
		_ = msg.Nak()
		return
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.inflight.Done()
		defer func() { <-s.slots }()
		d.deliver(base, s.hook, msg)
	}()
}

// stopSub stops a consume loop and waits for its deliveries in flight.
func (d *Deliverer) stopSub(s *webhookSub) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.stopping)
	s.mu.Unlock()
	s.cc.Stop()
	t := time.NewTimer(d.o.Timeout + 5*time.Second)
	defer t.Stop()
	select {
	case <-s.cc.Closed():
	case <-t.C:
		d.o.Logger.Warn("webhooks: consumer did not stop in time", "webhook", s.hook.ID)
	}
	s.inflight.Wait()
}

func (d *Deliverer) stopAll() {
	var wg sync.WaitGroup
	for id, s := range d.subs {
		wg.Go(func() { d.stopSub(s) })
		delete(d.subs, id)
	}
	wg.Wait()
}

// retryDelay is the wait after failed attempt n (1-based).
func (d *Deliverer) retryDelay(n int) time.Duration {
	b := d.o.BaseBackoff
	for i := 1; i < n && b < d.o.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.o.MaxBackoff)
}

// deliver makes one attempt to deliver msg and settles it: ack on a 2xx,
// dead letter after the last attempt, else a retry after the backoff.
func (d *Deliverer) deliver(base context.Context, h engine.Webhook, msg jetstream.Msg) {
	attempt := 1
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 0 {
		attempt = int(md.NumDelivered)
	}
	id := webhookEventID(msg)
	// The log's time is when the attempt started, for every kind (test,
	// replay), so that the log is newest first however long each took.
	at, start := d.o.Now(), time.Now()
	seq := streamSeq(msg)
	status, err := d.post(base, h, id, seq, msg.Data(), engine.DeliveryKindEvent, attempt)
	rec := engine.Delivery{EventID: id, At: at, Status: status, Latency: time.Since(start), Sequence: seq, Type: subjectType(msg.Subject()),
		Attempt: attempt}
	if err != nil {
		rec.Err = err.Error()
	}

	if rec.OK() {
		actx, cancel := context.WithTimeout(base, 5*time.Second)
		if aerr := msg.DoubleAck(actx); aerr != nil {
			// Delivered, but the stream will offer it again: the receiver
			// sees a duplicate, which it drops by id.
			d.o.Logger.Warn("webhooks: ack failed", "webhook", h.ID, "event", id, "err", aerr.Error())
		}
		cancel()
		d.observe(h.ID, Delivered)
		d.record(base, h.ID, rec)
		return
	}

	if attempt >= d.o.MaxAttempts {
		rec.Dead = true
		d.observe(h.ID, DeadLettered)
		d.record(base, h.ID, rec)
		if terr := msg.Term(); terr != nil {
			d.o.Logger.Warn("webhooks: dead-lettering failed", "webhook", h.ID, "event", id, "err", terr.Error())
		}
		d.deadLog.add(h.ID, id, status, rec.Err, "webhooks: event dead-lettered",
			"attempts", attempt, "status", status, "err", rec.Err)
		return
	}
	d.observe(h.ID, Failed)
	d.record(base, h.ID, rec)
	wait := d.retryDelay(attempt)
	if nerr := msg.NakWithDelay(wait); nerr != nil {
		// Redelivered after the ack wait instead.
		d.o.Logger.Debug("webhooks: nak failed", "webhook", h.ID, "event", id, "err", nerr.Error())
	}
	d.o.Logger.Debug("webhooks: delivery failed; retrying", "webhook", h.ID, "event", id,
		"attempt", attempt, "status", status, "err", rec.Err, "retry_in", wait)
}

func (d *Deliverer) record(base context.Context, id string, rec engine.Delivery) {
	ctx, cancel := context.WithTimeout(base, 5*time.Second)
	defer cancel()
	disabled, err := d.store.RecordDelivery(ctx, id, rec, d.o.Disable)
	if err != nil {
		d.o.Logger.Warn("webhooks: recording a delivery failed", "webhook", id, "event", rec.EventID, "err", err.Error())
		return
	}
	if disabled {
		d.announceDisabled(ctx, id, rec.At)
	}
}

// DisabledSubject is the subject of webhook_disabled events: "~" is no
// drop id's character, so it is no drop's subject.
var DisabledSubject = "flashdrop.~webhooks." + string(engine.EventWebhookDisabled)

// announceDisabled publishes the webhook_disabled event. Its id follows
// from the webhook and the time, so a retried publish is deduplicated by
// JetStream. Its reason is the one the webhook shows (disabled_reason),
// read back from the store, so the two never disagree.
func (d *Deliverer) announceDisabled(ctx context.Context, id string, at time.Time) {
	d.o.Logger.Warn("webhooks: webhook disabled after failing deliveries", "webhook", id,
		"after", d.o.Disable.After, "span", d.o.Disable.Span)
	reason := d.o.Disable.Reason()
	if w, err := d.store.Webhook(ctx, id); err == nil && w.DisabledReason != "" {
		reason = w.DisabledReason
	}
	evID := fmt.Sprintf("webhook_disabled-%s-%d", id, at.UnixMilli())
	ce := queue.CloudEvent{SpecVersion: "1.0", ID: evID, Source: "/flashdrop/webhooks/" + id,
		Type: queue.CEType(engine.EventWebhookDisabled), Subject: id, Time: at.UTC().Truncate(time.Millisecond), // ms, as every event
		DataContentType: "application/json",
		Data:            engine.Event{Webhook: id, Reason: reason}}
	body, _ := ce.Marshal()
	// With the headers every event on the stream has, as the relay sets
	// them: it had the message id alone.
	msg := queue.EventMsg(DisabledSubject, evID, body)
	for attempt := 0; attempt < 3; attempt++ {
		if _, err := d.js.PublishMsg(ctx, msg); err == nil {
			return
		} else if attempt == 2 || ctx.Err() != nil {
			d.o.Logger.Error("webhooks: publishing webhook_disabled failed", "webhook", id, "err", err.Error())
			return
		}
	}
}

// webhookEventID is the event id: the Nats-Msg-Id, which is the
// CloudEvent id, or failing that the id in the body.
func webhookEventID(msg jetstream.Msg) string {
	if id := msg.Headers().Get(jetstream.MsgIDHeader); id != "" {
		return id
	}
	var ce struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(msg.Data(), &ce) == nil && ce.ID != "" {
		return ce.ID
	}
	if md, err := msg.Metadata(); err == nil {
		return fmt.Sprintf("%s:%d", md.Stream, md.Sequence.Stream)
	}
	return ""
}

// subjectType is the event type of a stream subject,
// flashdrop.<drop>.<type>: its last token.
func subjectType(subject string) engine.EventType {
	return engine.EventType(subject[strings.LastIndexByte(subject, '.')+1:])
}

// streamSeq is msg's position in the stream, 0 when unknown.
func streamSeq(msg jetstream.Msg) uint64 {
	if md, err := msg.Metadata(); err == nil {
		return md.Sequence.Stream
	}
	return 0
}

// maxDeliveryErrLen bounds the error text kept in a delivery record.
const maxDeliveryErrLen = 200

// post sends one delivery and returns the receiver's status. A non-2xx
// status comes with an error quoting the start of the response body.
// seq is the event's stream position (SequenceHeader), 0 for none; kind
// and attempt are KindHeader's and AttemptHeader's (attempt 0: none).
func (d *Deliverer) post(base context.Context, h engine.Webhook, id string, seq uint64, body []byte, kind string, attempt int) (int, error) {
	status, _, err := d.send(base, h, id, seq, body, 120, kind, attempt)
	return status, err
}

// send is post that also returns the first head bytes of the answer.
func (d *Deliverer) send(base context.Context, h engine.Webhook, id string, seq uint64, body []byte, headN int, kind string, attempt int) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(base, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, errors.New("invalid webhook URL")
	}
	req.Header.Set("Content-Type", webhookContentType)
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(EventIDHeader, id)
	if seq != 0 {
		req.Header.Set(SequenceHeader, strconv.FormatUint(seq, 10))
	}
	req.Header.Set(KindHeader, kind)
	if attempt > 0 {
		req.Header.Set(AttemptHeader, strconv.Itoa(attempt))
	}
	secrets := [][]byte{[]byte(h.Secret)}
	if h.PreviousSecret != "" && d.o.EngineNow().Before(h.PreviousUntil) {
		// A rotation's grace: the receiver may still have the old one.
		secrets = append(secrets, []byte(h.PreviousSecret))
	}
	req.Header.Set(webhooksig.Header, webhooksig.SignWith(body, d.o.Now(), secrets...))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, nil, errors.New(truncateDeliveryErr(describeDeliveryErr(err, d.o.Timeout)))
	}
	defer resp.Body.Close()
	limited := io.LimitReader(resp.Body, d.o.MaxBody)
	head := make([]byte, headN)
	n, _ := io.ReadFull(limited, head)
	head = head[:n]
	_, _ = io.Copy(io.Discard, limited)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, head, nil
	}
	msg := "HTTP " + resp.Status
	if excerpt := printableExcerpt(head[:min(n, 120)]); excerpt != "" {
		msg += ": " + excerpt
	}
	return resp.StatusCode, head, errors.New(truncateDeliveryErr(msg))
}

// describeDeliveryErr words a client error for the delivery record: the
// underlying cause without the URL (which may carry a token of the
// receiver's), and timeouts as such.
func describeDeliveryErr(err error, timeout time.Duration) string {
	if errors.Is(err, errPrivateTarget) || errors.Is(err, errMetadataTarget) {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return op.Err.Error()
		}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("timed out after %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

func printableExcerpt(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, string(b))
	return strings.Join(strings.Fields(s), " ")
}

func truncateDeliveryErr(s string) string {
	if len(s) <= maxDeliveryErrLen {
		return s
	}
	cut := maxDeliveryErrLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
