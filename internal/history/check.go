package history

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Op is one recorded operation on one drop.
type Op struct {
	Drop   string
	Client int
	In     Input
	Out    Output
	// Call is when the request was sent, Return when its answer came;
	// zero Return (or Out.Unknown) is a request whose answer never came:
	// it may take effect any time after Call.
	Call, Return time.Time
}

// Recorder collects operations from many goroutines.
type Recorder struct {
	mu  sync.Mutex
	ops []Op
}

// Add records op.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Ops returns a copy of what was recorded.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// Options tune Check.
type Options struct {
	// Timeout bounds the search per drop (default 1 minute); a search
	// cut short is an error too: an unproven history proves nothing.
	Timeout time.Duration
	// VisualizeDir, when set, receives porcupine's HTML visualization of
	// every drop whose history is not linearizable.
	VisualizeDir string
}

// Result is the check of one drop.
type Result struct {
	Drop string
	Ops  int
	// Pending is how many operations never got an answer.
	Pending int
	// Verdict is porcupine's: Ok, Illegal or Unknown (timed out).
	Verdict porcupine.CheckResult
	// Visualization is the HTML file written for an illegal history.
	Visualization string
	Took          time.Duration
}

// Check checks every drop's operations, partitioned by drop, against the
// model of that drop. The error lists each drop whose history is not
// linearizable (or could not be decided in time).
func Check(drops map[string]Drop, ops []Op, o Options) ([]Result, error) {
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	byDrop := map[string][]Op{}
	for _, op := range ops {
		byDrop[op.Drop] = append(byDrop[op.Drop], op)
	}
	ids := make([]string, 0, len(byDrop))
	for id := range byDrop {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var results []Result
	var errs []error
	for _, id := range ids {
		d, ok := drops[id]
		if !ok {
			errs = append(errs, fmt.Errorf("history: %d operations on drop %q, whose configuration was not given", len(byDrop[id]), id))
			continue
		}
		res := checkDrop(id, d, byDrop[id], o)
		results = append(results, res)
		switch res.Verdict {
		case porcupine.Ok:
		case porcupine.Illegal:
			msg := fmt.Sprintf("history: drop %q: %d operations (%d without answer) are not linearizable", id, res.Ops, res.Pending)
			if res.Visualization != "" {
				msg += "; see " + res.Visualization
			}
			errs = append(errs, errors.New(msg))
		default:
			errs = append(errs, fmt.Errorf("history: drop %q: %d operations not decided within %v", id, res.Ops, o.Timeout))
		}
	}
	return results, errors.Join(errs...)
}

func checkDrop(id string, d Drop, ops []Op, o Options) Result {
	m := model{d: d}
	nm := porcupine.NondeterministicModel{
		Init: func() []any { return []any{m.init()} },
		Step: func(st, in, out any) []any {
			next := m.step(st.(*state), in.(Input), out.(Output))
			v := make([]any, len(next))
			for i, n := range next {
				v[i] = n
			}
			return v
		},
		Equal:             func(a, b any) bool { return equal(a.(*state), b.(*state)) },
		DescribeOperation: func(in, out any) string { return describeOp(in.(Input), out.(Output)) },
		DescribeState:     func(st any) string { return describe(st.(*state)) },
	}
	ops = coalesce(ops)
	res := Result{Drop: id, Ops: len(ops)}
	hist := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		ret := int64(math.MaxInt64)
		if op.Out.Unknown || op.Return.IsZero() {
			res.Pending++
			op.Out = Output{Unknown: true}
		} else {
			ret = op.Return.UnixNano()
		}
		hist = append(hist, porcupine.Operation{ClientId: op.Client, Input: op.In, Output: op.Out,
			Call: op.Call.UnixNano(), Return: ret})
	}
	start := time.Now()
	verdict, info := porcupine.CheckOperationsVerbose(nm.ToModel(), hist, o.Timeout)
	res.Took, res.Verdict = time.Since(start), verdict
	if verdict == porcupine.Illegal && o.VisualizeDir != "" {
		path := filepath.Join(o.VisualizeDir, "history-"+sanitize(id)+".html")
		if f, err := os.Create(path); err == nil {
			if porcupine.Visualize(nm.ToModel(), info, f) == nil {
				res.Visualization = path
			}
			_ = f.Close()
		}
	}
	return res
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// coalesce folds each request whose answer was lost into the next attempt
// of the same request that got a final answer: a reserve with the same
// shopper and key (the key makes them one request that took effect at
// most once), a confirm or cancel of the same reservation, a registration
// of the same shopper (both idempotent: a second one finds the first's
// final state and answers as the first would have). The folded operation
// spans from the first send to the final answer. Sound, and it spares the
// checker the branches of every lost answer, which multiply.
func coalesce(ops []Op) []Op {
	sorted := append([]Op(nil), ops...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Call.Before(sorted[j].Call) })
	type ident struct {
		kind      Kind
		user, key string
	}
	identOf := func(op Op) (ident, bool) {
		switch op.In.Kind {
		case Reserve:
			return ident{Reserve, op.In.User, op.In.Key}, op.In.Key != ""
		case Confirm, Cancel:
			return ident{op.In.Kind, op.In.Actor, op.In.ID}, true
		case Register:
			return ident{Register, op.In.User, ""}, true
		}
		return ident{}, false
	}
	lost := func(op Op) bool { return op.Out.Unknown || op.Return.IsZero() }
	first := map[ident]time.Time{} // earliest unanswered attempt not yet folded
	out := sorted[:0:0]
	for _, op := range sorted {
		id, ok := identOf(op)
		if !ok {
			out = append(out, op)
			continue
		}
		if lost(op) {
			if _, ok := first[id]; !ok {
				first[id] = op.Call
			}
			continue
		}
		if at, ok := first[id]; ok {
			op.Call = at
			delete(first, id)
		}
		out = append(out, op)
	}
	// Attempts never followed by an answer stay unknown, from the first.
	for _, op := range sorted {
		id, ok := identOf(op)
		if !ok || !lost(op) {
			continue
		}
		if at, ok := first[id]; ok && at.Equal(op.Call) {
			out = append(out, op)
			delete(first, id)
		}
	}
	return out
}
