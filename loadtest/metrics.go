package loadtest

import (
	"sort"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms hold microseconds from 1 µs to 100 s at 3 significant
// digits: a latency is known to 0.1 %, and slower answers are clamped (a
// request times out long before).
const (
	histMin     = 1
	histMax     = 100_000_000
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigFigs) }

func recordUS(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	_ = h.RecordValue(us)
}

// seriesKey names one histogram: a phase, an endpoint and an outcome.
type seriesKey struct {
	Phase    Phase
	Endpoint string
	Outcome  string
}

// recorder is one worker's metrics; workers never share one, so recording
// takes an uncontended lock. The coordinator merges them at the end.
type recorder struct {
	mu       sync.Mutex
	latency  map[seriesKey]*hdrhistogram.Histogram
	service  map[seriesKey]*hdrhistogram.Histogram // from the actual send, where latency is from the intended one
	errors   map[Phase]int64
	tick     time.Duration           // the rush timeline's resolution
	timeline map[int]*tickCount      // by tick after T0
	sendLag  *hdrhistogram.Histogram // rush: actual send - intended send
	pacerLag *hdrhistogram.Histogram // rush, rate modes: the pacer's own lateness
}

// tickCount is what one tick of the rush timeline counted (a tick is 10
// ms in a burst: see timelineTick).
type tickCount struct {
	requests int64
	errors   int64
	outcomes map[outcomeKey]int64
}

// outcomeKey is endpoint and outcome, joined only for the report: the hot
// path must not build a string per request.
type outcomeKey struct{ endpoint, outcome string }

func (k outcomeKey) String() string { return k.endpoint + ":" + k.outcome }

func newRecorder(tick time.Duration) *recorder {
	if tick <= 0 {
		tick = minTick
	}
	return &recorder{
		latency: map[seriesKey]*hdrhistogram.Histogram{}, service: map[seriesKey]*hdrhistogram.Histogram{},
		errors: map[Phase]int64{}, tick: tick, timeline: map[int]*tickCount{}, sendLag: newHist(), pacerLag: newHist(),
	}
}

// record adds one answer. intended is when the request should have been
// sent (zero: when it was); t0 anchors the rush timeline.
func (r *recorder) record(p Phase, endpoint string, a answer, intended, t0 time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := seriesKey{p, endpoint, a.code}
	h := r.latency[k]
	if h == nil {
		h = newHist()
		r.latency[k] = h
	}
	start := a.sent
	if !intended.IsZero() && intended.Before(start) {
		start = intended
	}
	recordUS(h, a.done.Sub(start))
	if !intended.IsZero() {
		s := r.service[k]
		if s == nil {
			s = newHist()
			r.service[k] = s
		}
		recordUS(s, a.done.Sub(a.sent))
		recordUS(r.sendLag, a.sent.Sub(intended))
	}
	if a.failed() {
		r.errors[p]++
	}
	if p == PhaseRush && !t0.IsZero() {
		i := int(a.done.Sub(t0) / r.tick)
		if a.done.Before(t0) {
			i = 0
		}
		b := r.timeline[i]
		if b == nil {
			b = &tickCount{outcomes: map[outcomeKey]int64{}}
			r.timeline[i] = b
		}
		b.requests++
		b.outcomes[outcomeKey{endpoint, a.code}]++
		if a.failed() {
			b.errors++
		}
	}
}

func (r *recorder) recordPacerLag(d time.Duration) {
	r.mu.Lock()
	recordUS(r.pacerLag, d)
	r.mu.Unlock()
}

// merge adds o into r; both have the same tick.
func (r *recorder) merge(o *recorder) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, h := range o.latency {
		if r.latency[k] == nil {
			r.latency[k] = newHist()
		}
		r.latency[k].Merge(h)
	}
	for k, h := range o.service {
		if r.service[k] == nil {
			r.service[k] = newHist()
		}
		r.service[k].Merge(h)
	}
	for p, n := range o.errors {
		r.errors[p] += n
	}
	for s, b := range o.timeline {
		rb := r.timeline[s]
		if rb == nil {
			rb = &tickCount{outcomes: map[outcomeKey]int64{}}
			r.timeline[s] = rb
		}
		rb.requests += b.requests
		rb.errors += b.errors
		for k, n := range b.outcomes {
			rb.outcomes[k] += n
		}
	}
	r.sendLag.Merge(o.sendLag)
	r.pacerLag.Merge(o.pacerLag)
}

// metrics is every worker's recorder plus the coordinator's.
type metrics struct {
	mu   sync.Mutex
	tick time.Duration // of every recorder's timeline (0: minTick)
	recs []*recorder
}

// rec returns recorder i (0 is the coordinator's), creating it.
func (m *metrics) rec(i int) *recorder {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.recs) <= i {
		m.recs = append(m.recs, newRecorder(m.tick))
	}
	return m.recs[i]
}

func (m *metrics) total() *recorder {
	m.mu.Lock()
	recs := append([]*recorder(nil), m.recs...)
	m.mu.Unlock()
	out := newRecorder(m.tick)
	for _, r := range recs {
		out.merge(r)
	}
	return out
}

func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) bool) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return less(ks[i], ks[j]) })
	return ks
}

// latAcc merges encoded histograms.
type latAcc struct{ h *hdrhistogram.Histogram }

func (a *latAcc) add(enc string) {
	h, err := decodeHist(enc)
	if err != nil {
		return
	}
	if a.h == nil {
		a.h = newHist()
	}
	a.h.Merge(h)
}
