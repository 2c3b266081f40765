package loadtest

import (
	"runtime"
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

// recorder is the metrics of a few workers (metrics.rec): recording takes
// a rarely contended lock. The coordinator merges them at the end.
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
// ms in a burst: see timelineTick). Every worker keeps one per tick in
// which it answered, so a long burst on many connections holds millions:
// the outcomes are a short list (a tick sees one to three), a third of
// what a map per tick took (about 120 bytes a tick against 460).
type tickCount struct {
	requests int64
	errors   int64
	outcomes []outcomeCount
}

type outcomeCount struct {
	key outcomeKey
	n   int64
}

// add counts n answers of key.
func (t *tickCount) add(key outcomeKey, n int64) {
	for i := range t.outcomes {
		if t.outcomes[i].key == key {
			t.outcomes[i].n += n
			return
		}
	}
	t.outcomes = append(t.outcomes, outcomeCount{key, n})
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
			b = &tickCount{}
			r.timeline[i] = b
		}
		b.requests++
		b.add(outcomeKey{endpoint, a.code}, 1)
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
			rb = &tickCount{}
			r.timeline[s] = rb
		}
		rb.requests += b.requests
		rb.errors += b.errors
		for _, o := range b.outcomes {
			rb.add(o.key, o.n)
		}
	}
	r.sendLag.Merge(o.sendLag)
	r.pacerLag.Merge(o.pacerLag)
}

// metrics is the recorders the workers and the coordinator record in.
type metrics struct {
	mu      sync.Mutex
	tick    time.Duration // of every recorder's timeline (0: minTick)
	recs    []*recorder
	stripes int // how many recorders there are at most (0: not set yet)
}

// rec returns the recorder of worker i (0 is the coordinator), creating
// it. Workers share recorders, four per core: each recorder holds its own
// latency histograms (about 100 KB each) and timeline, so one per worker
// took about half a megabyte a connection before the first answer (half
// a gigabyte with --connections 1000); a recorder's lock is held for
// microseconds, and with four per core it is rarely contended.
func (m *metrics) rec(i int) *recorder {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stripes == 0 {
		m.stripes = max(4*runtime.GOMAXPROCS(0), 1)
	}
	i %= m.stripes
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
