package api

import (
	"errors"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/flashdrop/flashdrop/engine"
)

// Metrics are a node's Prometheus instruments, on a registry of its own so
// that tests and several servers in one process do not collide. The parts
// beside the server (admission, sweeper, relay) report into them through
// the exported methods.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec   // route, status
	latency   *prometheus.HistogramVec // route
	outcomes  *prometheus.CounterVec   // outcome
	batchSize prometheus.Histogram
	batchTime prometheus.Histogram
	storeErrs prometheus.Counter
	expired   prometheus.Counter
	inflight  prometheus.Gauge
	// soldOutMemory counts reserve requests answered sold_out from the
	// sold-out flag, without the store.
	soldOutMemory prometheus.Counter
	// soldOutKeyed counts keyed presses answered by soldout.lua.
	soldOutKeyed prometheus.Counter
	// webhookAttempts counts ordinary webhook delivery attempts by
	// webhook id and outcome; webhookStates is each webhook's disabled
	// state, as last read.
	webhookAttempts *prometheus.CounterVec
	webhookStates   *webhookStates
	handler         fasthttp.RequestHandler

	// The children of the vectors, found once per label set: a lookup by
	// label values costs allocations on every request.
	mu        sync.RWMutex
	byStatus  map[routeStatus]prometheus.Counter
	byRoute   map[string]prometheus.Observer
	byOutcome map[string]prometheus.Counter
	byWebhook map[[2]string]prometheus.Counter // webhook id, outcome

	// history keeps the outcomes a second (outcomes.go).
	history outcomeHistory
}

type routeStatus struct {
	route  string
	status int
}

// NewMetrics returns a fresh set of instruments.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashdrop_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flashdrop_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashdrop_reserve_outcomes_total", Help: "Reserve answers by outcome (won, or the problem code).",
		}, []string{"outcome"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flashdrop_reserve_batch_size", Help: "Reserve requests decided per script call.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000},
		}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flashdrop_reserve_batch_duration_seconds", Help: "Time of one batched reserve script call.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		storeErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashdrop_redis_errors_total", Help: "Store (Redis) calls that failed.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashdrop_holds_expired_total", Help: "Holds released by this node's expiry sweeper.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flashdrop_http_requests_in_flight", Help: "Requests being handled now.",
		}),
		soldOutMemory: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashdrop_reserve_sold_out_from_memory_total", Help: "Reserve requests answered sold_out by the sold-out flag, without Redis.",
		}),
		soldOutKeyed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flashdrop_reserve_sold_out_keyed_total", Help: "Keyed reserve presses on a sold-out drop answered by the sold-out script (two Redis calls each, no reserve decision).",
		}),
		webhookAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flashdrop_webhook_deliveries_total", Help: "Ordinary webhook delivery attempts this node made, by webhook id and outcome: delivered, failed (to be tried again), dead_lettered (the event's last attempt failed). Not tests or replays.",
		}, []string{"webhook", "outcome"}),
		webhookStates: &webhookStates{desc: prometheus.NewDesc("flashdrop_webhook_disabled",
			"1 for a webhook disabled after failing deliveries (its events wait until it is enabled), 0 for one enabled, by webhook id; the stored state, as this node last read it.",
			[]string{"webhook"}, nil)},
	}
	m.byStatus, m.byRoute, m.byOutcome = map[routeStatus]prometheus.Counter{}, map[string]prometheus.Observer{}, map[string]prometheus.Counter{}
	m.byWebhook = map[[2]string]prometheus.Counter{}
	reg.MustRegister(m.requests, m.latency, m.outcomes, m.batchSize, m.batchTime, m.storeErrs, m.expired, m.inflight, m.soldOutMemory, m.soldOutKeyed,
		m.webhookAttempts, m.webhookStates,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

func (m *Metrics) observeRequest(route string, status int, took time.Duration) {
	key := routeStatus{route, status}
	m.mu.RLock()
	c, okC := m.byStatus[key]
	o, okO := m.byRoute[route]
	m.mu.RUnlock()
	if !okC || !okO {
		// Routes are templates and statuses few: the maps stay small.
		c, o = m.requests.WithLabelValues(route, strconv.Itoa(status)), m.latency.WithLabelValues(route)
		m.mu.Lock()
		m.byStatus[key], m.byRoute[route] = c, o
		m.mu.Unlock()
	}
	c.Inc()
	o.Observe(took.Seconds())
}

// countOutcome counts one reserve answer by outcome (won, or a problem
// code: a fixed set).
func (m *Metrics) countOutcome(outcome string) {
	m.mu.RLock()
	c, ok := m.byOutcome[outcome]
	m.mu.RUnlock()
	if !ok {
		c = m.outcomes.WithLabelValues(outcome)
		m.mu.Lock()
		m.byOutcome[outcome] = c
		m.mu.Unlock()
	}
	c.Inc()
}

// ObserveBatch records one batched reserve store call
// (engine.AdmissionOptions.OnBatch).
func (m *Metrics) ObserveBatch(size int, took time.Duration, err error) {
	m.batchSize.Observe(float64(size))
	m.batchTime.Observe(took.Seconds())
	if err != nil {
		m.storeErrs.Inc()
	}
}

// storeError counts err if it came from the store rather than from a rule.
func (m *Metrics) storeError(err error) {
	if err != nil && problemFor(err).Status >= 500 && !errors.Is(err, errOverloaded) && !errors.Is(err, engine.ErrOverloaded) {
		m.storeErrs.Inc()
	}
}

// CountSoldOutFromMemory records a reserve answered sold_out by the
// sold-out flag (engine.AdmissionOptions.OnSoldOutFromMemory).
func (m *Metrics) CountSoldOutFromMemory() { m.soldOutMemory.Inc() }

// CountSoldOutKeyed records n keyed presses answered by the store's
// sold-out script (engine.AdmissionOptions.OnSoldOutKeyed).
func (m *Metrics) CountSoldOutKeyed(n int) { m.soldOutKeyed.Add(float64(n)) }

// CountExpired records holds released by the expiry sweeper.
func (m *Metrics) CountExpired(n int) { m.expired.Add(float64(n)) }

// CountStoreError records a failed store call made outside a request.
func (m *Metrics) CountStoreError() { m.storeErrs.Inc() }

// AddGauge exports fn as a gauge, for parts that run beside the server
// (the outbox relay's lag, say).
func (m *Metrics) AddGauge(name, help string, fn func() float64) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// AddWebhookAttempts counts n ordinary delivery attempts of webhook
// (its id: random, no secret) with outcome (webhook.Options.OnAttempt); n
// 0 makes the series, so that it starts at 0 rather than at its first
// attempt. The children are found once per pair, as countOutcome's.
func (m *Metrics) AddWebhookAttempts(webhook, outcome string, n int) {
	key := [2]string{webhook, outcome}
	m.mu.RLock()
	c, ok := m.byWebhook[key]
	m.mu.RUnlock()
	if !ok {
		c = m.webhookAttempts.WithLabelValues(webhook, outcome)
		m.mu.Lock()
		m.byWebhook[key] = c
		m.mu.Unlock()
	}
	if n > 0 {
		c.Add(float64(n))
	}
}

// ForgetWebhook drops a deleted webhook's delivery series, which would
// otherwise stay on every node until it restarts.
func (m *Metrics) ForgetWebhook(webhook string) {
	m.mu.Lock()
	for key := range m.byWebhook {
		if key[0] == webhook {
			delete(m.byWebhook, key)
		}
	}
	m.mu.Unlock()
	m.webhookAttempts.DeletePartialMatch(prometheus.Labels{"webhook": webhook})
}

// SetWebhookStates replaces flashdrop_webhook_disabled with disabled:
// every webhook's id, and whether it is disabled. A webhook no longer in
// it is no longer exported.
func (m *Metrics) SetWebhookStates(disabled map[string]bool) {
	m.webhookStates.mu.Lock()
	m.webhookStates.disabled = maps.Clone(disabled)
	m.webhookStates.mu.Unlock()
}

// webhookStates exports the webhooks' disabled states as last set, at
// once: a scrape never waits on the store.
type webhookStates struct {
	desc     *prometheus.Desc
	mu       sync.Mutex
	disabled map[string]bool
}

func (w *webhookStates) Describe(ch chan<- *prometheus.Desc) { ch <- w.desc }

func (w *webhookStates) Collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, off := range w.disabled {
		v := 0.0
		if off {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(w.desc, prometheus.GaugeValue, v, id)
	}
}
