package api

import (
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// This node's reserve outcomes a second, kept for the ops page: opened
// after a rush, its chart (fed by /metrics from then on) was empty, and
// ops look at a rush after it as much as during it. A sampler reads the
// outcome counters once a second, so nothing is added to a reserve's path.

// historySeconds is how far back the node keeps its outcomes.
const historySeconds = 900

// outcomeSeries are the ops chart's series, in its order: what shoppers
// got (won, sold out), the server failing them (unavailable: 503 and
// 500), the rate limit, and every other refusal.
var outcomeSeries = [...]string{"won", "sold_out", "unavailable", "rate_limited", "other"}

func seriesOf(outcome string) int {
	switch outcome {
	case "won":
		return 0
	case "sold_out":
		return 1
	case "unavailable", "internal":
		return 2
	case "rate_limited":
		return 3
	}
	return 4
}

// outcomeSecond is one second's counts, by outcomeSeries.
type outcomeSecond struct {
	at     time.Time // the second's end
	counts [len(outcomeSeries)]float64
}

type outcomeHistory struct {
	mu    sync.Mutex
	ring  [historySeconds]outcomeSecond
	n     int // seconds kept
	next  int // where the next one goes
	last  map[string]float64
	start sync.Once
}

// sample records the outcomes counted since the previous sample.
func (m *Metrics) sample(now time.Time) {
	totals := map[string]float64{}
	m.mu.RLock()
	for o, c := range m.byOutcome {
		var pb dto.Metric
		if c.Write(&pb) == nil {
			totals[o] = pb.GetCounter().GetValue()
		}
	}
	m.mu.RUnlock()
	h := &m.history
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last != nil {
		s := outcomeSecond{at: now}
		for o, v := range totals {
			s.counts[seriesOf(o)] += v - h.last[o]
		}
		h.ring[h.next] = s
		h.next = (h.next + 1) % historySeconds
		h.n = min(h.n+1, historySeconds)
	}
	h.last = totals
}

// sampleEverySecond samples until stop is closed; only the first call
// starts it (servers sharing their metrics share one history).
func (m *Metrics) sampleEverySecond(stop <-chan struct{}) {
	m.history.start.Do(func() {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			m.sample(time.Now())
			for {
				select {
				case <-stop:
					return
				case now := <-t.C:
					m.sample(now)
				}
			}
		}()
	})
}

// outcomesSince returns the seconds kept that ended after since, oldest
// first.
func (m *Metrics) outcomesSince(since time.Time) []outcomeSecond {
	h := &m.history
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]outcomeSecond, 0, h.n)
	for i := 0; i < h.n; i++ {
		s := h.ring[(h.next-h.n+i+historySeconds)%historySeconds]
		if s.at.After(since) {
			out = append(out, s)
		}
	}
	return out
}

// adminOutcomes is GET /v1/admin/outcomes?seconds=N: this node's reserve
// outcomes a second over the last N seconds (default 120, at most 900),
// the seconds without any left out.
func (s *Server) adminOutcomes(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsRead); err != nil {
		return err
	}
	secs, err := queryCount(r, "seconds", 120, historySeconds)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	from := now.Add(-time.Duration(secs) * time.Second)
	type second struct {
		At          time.Time `json:"at"`
		Won         int64     `json:"won"`
		SoldOut     int64     `json:"sold_out"`
		Unavailable int64     `json:"unavailable"`
		RateLimited int64     `json:"rate_limited"`
		Other       int64     `json:"other"`
	}
	out := struct {
		Now     time.Time `json:"now"`
		From    time.Time `json:"from"`
		Seconds []second  `json:"seconds"`
	}{Now: now, From: from, Seconds: []second{}}
	for _, x := range s.cfg.Metrics.outcomesSince(from) {
		c := x.counts
		if c == ([len(outcomeSeries)]float64{}) {
			continue
		}
		out.Seconds = append(out.Seconds, second{At: x.at.UTC(), Won: int64(c[0]), SoldOut: int64(c[1]),
			Unavailable: int64(c[2]), RateLimited: int64(c[3]), Other: int64(c[4])})
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, out)
}

// queryCount reads the query parameter name as a whole number from 1 to
// most, def when it is absent, and refuses anything else naming it.
func queryCount(r *request, name string, def, most int) (int, error) {
	v := r.ctx.QueryArgs().Peek(name)
	if len(v) == 0 {
		return def, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 || n > most {
		return 0, &engine.ValidationError{Field: name, Reason: "must be a whole number from 1 to " + strconv.Itoa(most)}
	}
	return n, nil
}
