package loadtest

import (
	"math"
	"time"
)

// The rush's throughput over time. Answers are counted per tick after T0
// (10 ms in a burst) and reported in buckets whose width follows the
// rush's length, at most maxBuckets of them: a 0.1 s rush is ten buckets
// of 10 ms, a minute's sixty of 1 s. A bucket's rate is its count over
// the time it covers, and the last one covers only the part of its width
// the rush lasted. (The chart used to draw one-second counts as rates: a
// 0.1 s rush of 800 answers at 800 req/s where the rush ran at 8,000, and
// a rush ending 0.425 s into its second as a slowdown.)

const (
	// minTick is the finest bucket: a release-day burst often lasts less
	// than a second, and its shape is what the chart is for.
	minTick = 10 * time.Millisecond
	// maxBuckets bounds the points of a chart (and of the JSON).
	maxBuckets = 100
)

// bucketWidth is the narrowest width of the 1-2-5 ladder (10 ms, 20 ms,
// 50 ms, 100 ms, …) that cuts span into at most maxBuckets buckets and is
// a multiple of every width in srcs (the buckets being re-counted, such
// as several shards'). Each width of the ladder divides every one ten
// times it and more, so such a multiple is never far.
func bucketWidth(span time.Duration, srcs ...time.Duration) time.Duration {
	fits := func(w time.Duration, strict bool) bool {
		if span > w*maxBuckets {
			return false
		}
		for _, s := range srcs {
			if s > 0 && (w < s || strict && w%s != 0) {
				return false
			}
		}
		return true
	}
	// A width off the ladder (a hand-made report) has no multiple on it:
	// then the widest source's is as good as it gets.
	for _, strict := range []bool{true, false} {
		for dec := minTick; dec <= 1000*time.Hour; dec *= 10 {
			for _, f := range []time.Duration{1, 2, 5} {
				if w := dec * f; fits(w, strict) {
					return w
				}
			}
		}
	}
	return 1000 * time.Hour
}

// timelineTick is the resolution the rush's answers are counted at: the
// finest bucket in a burst, whose length is unknown, and a tenth of the
// finest the planned length allows in the rate modes (so a long open-model
// run does not keep a count per 10 ms per connection). At most a second,
// so the per-second timeline is exact.
func timelineTick(o Options) time.Duration {
	if o.Arrival == ArrivalBurst || o.Duration <= 0 {
		return minTick
	}
	return min(bucketWidth(o.Duration/10), time.Second)
}

// Throughput is the rush's answers over time, in buckets of BucketS
// seconds after T0: every bucket from T0 to the last answer, empty ones
// included. The width follows the rush's length (at most 100 buckets).
type Throughput struct {
	BucketS float64  `json:"bucket_s"`
	Buckets []Bucket `json:"buckets"`
}

// Bucket counts the rush's answers from StartS to StartS + BucketS after
// T0. Seconds is the part of that the rush lasted: BucketS but for the
// last bucket, which ends with the last answer. The bucket's rate is
// Requests / Seconds.
type Bucket struct {
	StartS   float64          `json:"start_s"`
	Seconds  float64          `json:"seconds"`
	Requests int64            `json:"requests"`
	Errors   int64            `json:"errors"`
	Outcomes map[string]int64 `json:"outcomes"`
}

// span is counted answers of one stretch of the rush: from start, for
// covered (less than its width only where the rush ended).
type span struct {
	start, covered   time.Duration
	requests, errors int64
	outcomes         map[string]int64
}

// bucketize counts spans of the given widths into buckets of a width
// bucketWidth chooses for a rush that lasted until end (its last answer
// after T0).
func bucketize(spans []span, widths []time.Duration, end time.Duration) Throughput {
	w := bucketWidth(end, widths...)
	out := Throughput{BucketS: w.Seconds(), Buckets: []Bucket{}}
	last := -1
	counts := map[int]*span{}
	for _, s := range spans {
		i := int(s.start / w)
		c := counts[i]
		if c == nil {
			c = &span{start: time.Duration(i) * w, outcomes: map[string]int64{}}
			counts[i] = c
		}
		c.requests += s.requests
		c.errors += s.errors
		for k, n := range s.outcomes {
			c.outcomes[k] += n
		}
		c.covered = max(c.covered, s.start+s.covered-c.start)
		last = max(last, i)
	}
	for i := 0; i <= last; i++ {
		b := Bucket{StartS: (time.Duration(i) * w).Seconds(), Seconds: w.Seconds(), Outcomes: map[string]int64{}}
		if c := counts[i]; c != nil {
			b.Requests, b.Errors, b.Outcomes = c.requests, c.errors, c.outcomes
			// Only the last bucket can end early: the rush went on past
			// every other one, whatever its own spans covered.
			if i == last && c.covered < w {
				b.Seconds = max(c.covered, time.Microsecond).Round(time.Microsecond).Seconds()
			}
		}
		out.Buckets = append(out.Buckets, b)
	}
	return out
}

// timelines turns the recorder's ticks into the per-second timeline and
// the throughput buckets of a rush whose last answer came end after T0.
func timelines(tot *recorder, end time.Duration) ([]TimelineSecond, Throughput) {
	spans := make([]span, 0, len(tot.timeline))
	secs := map[int]*TimelineSecond{}
	for _, i := range sortedKeys(tot.timeline, func(a, b int) bool { return a < b }) {
		t := tot.timeline[i]
		s := span{start: time.Duration(i) * tot.tick, covered: tot.tick, requests: t.requests, errors: t.errors,
			outcomes: make(map[string]int64, len(t.outcomes))}
		if left := end - s.start; left > 0 && left < s.covered {
			s.covered = left
		}
		for _, o := range t.outcomes {
			s.outcomes[o.key.String()] += o.n
		}
		spans = append(spans, s)
		sec := int(s.start / time.Second)
		ts := secs[sec]
		if ts == nil {
			ts = &TimelineSecond{Second: sec, Seconds: 1, Outcomes: map[string]int64{}}
			secs[sec] = ts
		}
		ts.Requests += t.requests
		ts.Errors += t.errors
		for k, n := range s.outcomes {
			ts.Outcomes[k] += n
		}
	}
	var tl []TimelineSecond
	for _, sec := range sortedKeys(secs, func(a, b int) bool { return a < b }) {
		ts := secs[sec]
		if left := end - time.Duration(sec)*time.Second; left > 0 && left < time.Second {
			ts.Seconds = left.Round(time.Microsecond).Seconds()
		}
		tl = append(tl, *ts)
	}
	return tl, bucketize(spans, []time.Duration{tot.tick}, end)
}

// spans gives the report's throughput as spans to count again (Merge),
// with their width: its buckets, or, in a report written before they
// existed, its per-second timeline.
func (rep *Report) spans() ([]span, time.Duration) {
	var out []span
	if rep.Throughput.BucketS > 0 {
		for _, b := range rep.Throughput.Buckets {
			out = append(out, span{start: seconds(b.StartS), covered: seconds(b.Seconds), requests: b.Requests, errors: b.Errors, outcomes: b.Outcomes})
		}
		return out, seconds(rep.Throughput.BucketS)
	}
	for _, t := range rep.Timeline {
		s := span{start: time.Duration(t.Second) * time.Second, covered: time.Second, requests: t.Requests, errors: t.Errors, outcomes: t.Outcomes}
		if left := seconds(rep.Rush.DrainS) - s.start; left > 0 && left < time.Second {
			s.covered = left
		}
		if t.Seconds > 0 {
			s.covered = seconds(t.Seconds)
		}
		out = append(out, s)
	}
	return out, time.Second
}

// seconds is a report's seconds as a duration, to the microsecond the
// report keeps.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s*1e6)) * time.Microsecond }

// throughput is the report's buckets, from its timeline if it has none.
func (rep *Report) throughput() Throughput {
	if rep.Throughput.BucketS > 0 {
		return rep.Throughput
	}
	spans, w := rep.spans()
	return bucketize(spans, []time.Duration{w}, seconds(rep.Rush.DrainS))
}

// rateLine is one line of the throughput chart: a series' rate in each
// bucket, drawn as steps.
type rateLine struct {
	name   string
	points []ratePoint
}

// ratePoint is one bucket of a rateLine: its start (x, seconds after T0),
// its rate (y, answers per second) and how long it lasted.
type ratePoint struct{ x, y, seconds float64 }

// rateLines computes the throughput chart: all answers, then each outcome
// by name, each bucket's count over the time it covers. A last bucket
// shorter than half the width is drawn with the one before it: a few
// stragglers in its first milliseconds are no spike of thousands a second.
func rateLines(tp Throughput) (width time.Duration, lines []rateLine) {
	width = seconds(tp.BucketS)
	bs := append([]Bucket(nil), tp.Buckets...)
	if n := len(bs); n > 1 && bs[n-1].Seconds < tp.BucketS/2 {
		last, prev := bs[n-1], bs[n-2]
		merged := Bucket{StartS: prev.StartS, Seconds: prev.Seconds + last.Seconds, Requests: prev.Requests + last.Requests,
			Errors: prev.Errors + last.Errors, Outcomes: map[string]int64{}}
		for _, b := range []Bucket{prev, last} {
			for k, v := range b.Outcomes {
				merged.Outcomes[k] += v
			}
		}
		bs = append(bs[:n-2], merged)
	}
	outcomes := map[string]bool{}
	for _, b := range bs {
		for k := range b.Outcomes {
			outcomes[k] = true
		}
	}
	names := append([]string{"all requests"}, sortedKeys(outcomes, func(a, b string) bool { return a < b })...)
	for _, name := range names {
		l := rateLine{name: name}
		for _, b := range bs {
			n := b.Outcomes[name]
			if name == "all requests" {
				n = b.Requests
			}
			y := 0.0
			if b.Seconds > 0 {
				y = float64(n) / b.Seconds
			}
			l.points = append(l.points, ratePoint{x: b.StartS, y: y, seconds: b.Seconds})
		}
		if len(l.points) > 0 {
			lines = append(lines, l)
		}
	}
	return width, lines
}
