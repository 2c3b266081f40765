package webhook

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/queue"
)

var _ engine.WebhookSender = (*Deliverer)(nil)

// TestEventType is the CloudEvent type of a test delivery. It is never
// published to the stream: it goes to one webhook, when ops ask.
const TestEventType = "flashdrop.webhook_test"

// Test delivers a signed test event to h now, as a real delivery would be
// made (same signature, headers and private-address rules), and reports
// the receiver's answer. It is logged in the delivery log, and does not
// count towards disabling.
func (d *Deliverer) Test(ctx context.Context, h engine.Webhook) (engine.WebhookTestResult, error) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "test-" + hex.EncodeToString(b[:])
	now := d.o.Now()
	ce := queue.CloudEvent{SpecVersion: "1.0", ID: id, Source: "/flashdrop/webhooks/" + h.ID, Type: TestEventType,
		Subject: h.ID, Time: now.UTC().Truncate(time.Millisecond), DataContentType: "application/json",
		Data: engine.Event{Webhook: h.ID, Reason: "a test delivery asked for by an operator"}}
	body, _ := ce.Marshal()
	start := time.Now()
	status, head, err := d.send(ctx, h, id, 0, body, engine.TestBodyBytes, engine.DeliveryKindTest, 0)
	lat := time.Since(start)
	rec := engine.Delivery{EventID: id, At: now, Status: status, Latency: lat, Kind: engine.DeliveryKindTest}
	res := engine.WebhookTestResult{EventID: id, Status: status, LatencyMS: lat.Milliseconds(), Body: printableBody(head)}
	if err != nil {
		rec.Err, res.Error = err.Error(), err.Error()
	}
	res.OK = rec.OK()
	d.record(context.WithoutCancel(ctx), h.ID, rec)
	return res, nil
}

// printableBody keeps the receiver's answer readable in JSON: invalid
// UTF-8 becomes U+FFFD (encoding/json does that too, but says nothing).
func printableBody(b []byte) string { return string([]rune(string(b))) }

// replayBatch is how many events a replay fetches at a time.
const replayBatch = 100

// Replay re-delivers to h the stored events of its types (and req's) since
// req.Since, or from req.Cursor, in stream order, with their original ids
// and bodies, until req.Limit events, the stream's end at the start of the
// call, the first refusal, or Options.ReplayBudget. The answer's cursor
// resumes where it stopped, so a refused event is the first of the next
// call: each event is delivered once per completed replay.
//
// With req.DeadLetters it re-delivers h's dead letters instead
// (replayDeadLetters).
func (d *Deliverer) Replay(ctx context.Context, h engine.Webhook, req engine.ReplayRequest) (engine.ReplayResult, error) {
	res := engine.ReplayResult{EventIDs: []string{}}
	ctx, cancel := context.WithTimeout(ctx, d.o.ReplayBudget)
	defer cancel()
	if req.DeadLetters {
		return d.replayDeadLetters(ctx, h, req)
	}
	types := req.Types
	if len(h.Types) > 0 {
		if len(types) == 0 {
			types = h.Types
		} else {
			types = slices.DeleteFunc(slices.Clone(types), func(t engine.EventType) bool { return !slices.Contains(h.Types, t) })
			if len(types) == 0 {
				res.Done = true // none of the asked types is the webhook's
				return res, nil
			}
		}
	}
	dropTok := "*"
	if req.Drop != "" {
		dropTok = req.Drop
	}
	var subjects []string
	for _, t := range types {
		subjects = append(subjects, "flashdrop."+dropTok+"."+string(t))
	}
	if len(subjects) == 0 {
		subjects = []string{"flashdrop." + dropTok + ".*"}
	}
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)

	st, err := d.js.Stream(ctx, queue.StreamName)
	if err != nil {
		return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	last := info.State.LastSeq
	start := req.Cursor
	if start == 0 && last > 0 {
		// Since a time, as the sequence stored first at or after it: by
		// time with several types, the server skipped events (SeqAt).
		if start, err = queue.SeqAt(ctx, d.js, req.Since); err != nil {
			return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
		}
	}
	if last == 0 || start > last {
		res.Done = true
		return res, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: subjects,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start}
	cons, err := d.js.OrderedConsumer(ctx, queue.StreamName, cfg)
	if err != nil {
		return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	for res.Delivered < req.Limit {
		// No wait: every event a replay sends is stored already (it stops
		// at the stream's end when the call began), and a pull that waited
		// for more outlived a replay that returned within its batch (for
		// up to its wait, a goroutine and a pull request on the server).
		// A whole batch whatever the limit left: events passed over (a
		// rehearsal's) count toward no limit, and each fetch of an ordered
		// consumer makes the consumer anew (3,000 of them passed over one
		// at a time took 1.6 s).
		batch, err := cons.FetchNoWait(replayBatch)
		if err != nil {
			if ctx.Err() != nil {
				res.Error = "time ran out; call again with the cursor"
				return res, nil
			}
			return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			seq := md.Sequence.Stream
			if seq > last {
				res.Done, res.Cursor = true, 0
				return res, nil
			}
			if res.Delivered == req.Limit {
				// The rest of the batch is the next call's (a fetch that
				// waits for nothing leaves nothing behind).
				res.Cursor = seq
				return res, nil
			}
			if ctx.Err() != nil {
				res.Cursor, res.Error = seq, "time ran out; call again with the cursor"
				return res, nil
			}
			if passOver(h, msg) {
				res.Cursor = seq + 1
				if seq == last {
					res.Done, res.Cursor = true, 0
					return res, nil
				}
				continue
			}
			id := webhookEventID(msg)
			at, start := d.o.Now(), time.Now() // logged at its start, as every attempt
			status, perr := d.post(ctx, h, id, seq, msg.Data(), engine.DeliveryKindReplay, 0)
			rec := engine.Delivery{EventID: id, At: at, Status: status, Latency: time.Since(start), Kind: engine.DeliveryKindReplay,
				Sequence: seq, Type: subjectType(msg.Subject())}
			if perr != nil {
				rec.Err = perr.Error()
			}
			d.record(context.WithoutCancel(ctx), h.ID, rec)
			if !rec.OK() {
				res.Cursor, res.Error = seq, fmt.Sprintf("event %s: %s", id, rec.Err)
				return res, nil
			}
			res.Delivered++
			res.EventIDs = append(res.EventIDs, id)
			res.Cursor = seq + 1
			if seq == last {
				res.Done, res.Cursor = true, 0
				return res, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
		}
		if got == 0 {
			// Nothing more matches before the stream's end, unless the
			// server was slow to answer (the fetch gives up after a
			// second): the consumer's count of what is left tells.
			if info, ierr := cons.Info(ctx); ierr == nil && info.NumPending > 0 && ctx.Err() == nil {
				continue
			}
			res.Done, res.Cursor = true, 0
			return res, nil
		}
	}
	return res, nil
}

// Why a replay of dead letters passes one over (engine.MissingDeadLetter).
const (
	missingNoSequence = "dead-lettered before its stream sequence was kept: replay it by since"
	missingGone       = "the stream no longer holds its event (it keeps 7 days)"
	missingOther      = "the stream holds another event at its sequence (the stream was made anew)"
)

// replayDeadLetters re-delivers h's dead letters as they stand at the
// start of the call (from req.Cursor on, of req.Types and req.Drop if
// set), each read from the stream by its sequence, in stream order, with
// their original ids and bodies, until req.Limit events, the first
// refusal or the budget; each delivered one leaves the dead letters (the
// store, on recording the delivery). One whose event the stream does not
// hold is passed over, reported in Missing, and stays a dead letter. The
// answer's cursor, when not done, is the sequence of the first dead letter
// not sent: call again with dead_letters and it.
func (d *Deliverer) replayDeadLetters(ctx context.Context, h engine.Webhook, req engine.ReplayRequest) (engine.ReplayResult, error) {
	res := engine.ReplayResult{EventIDs: []string{}}
	entries, err := d.store.DeadLetterEntries(ctx, h.ID, engine.MaxDeadLetters)
	if err != nil {
		return res, engine.AsUnavailable(err)
	}
	seen := map[uint64]bool{}
	todo := entries[:0]
	for _, e := range entries {
		switch {
		case e.Sequence == 0:
			res.Missing = append(res.Missing, engine.MissingDeadLetter{EventID: e.EventID, Reason: missingNoSequence})
		case e.Sequence >= req.Cursor && !seen[e.Sequence]:
			seen[e.Sequence] = true
			todo = append(todo, e)
		}
	}
	slices.SortFunc(todo, func(a, b engine.DeadLetter) int { return cmp.Compare(a.Sequence, b.Sequence) })
	if len(todo) == 0 {
		res.Done = true
		return res, nil
	}
	st, err := d.js.Stream(ctx, queue.StreamName)
	if err != nil {
		return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	for _, e := range todo {
		if res.Delivered == req.Limit {
			res.Cursor = e.Sequence
			return res, nil
		}
		if ctx.Err() != nil {
			res.Cursor, res.Error = e.Sequence, "time ran out; call again with the cursor"
			return res, nil
		}
		msg, why, err := heldDeadLetter(ctx, st, e)
		switch {
		case err != nil && ctx.Err() != nil:
			res.Cursor, res.Error = e.Sequence, "time ran out; call again with the cursor"
			return res, nil
		case err != nil:
			return res, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
		case why != "":
			res.Missing = append(res.Missing, engine.MissingDeadLetter{EventID: e.EventID, Sequence: e.Sequence, Reason: why})
			continue
		}
		id := e.EventID
		typ := subjectType(msg.Subject)
		if !deadLetterWanted(msg.Subject, typ, req) {
			continue
		}
		at, start := d.o.Now(), time.Now()
		status, perr := d.post(ctx, h, id, e.Sequence, msg.Data, engine.DeliveryKindReplay, 0)
		rec := engine.Delivery{EventID: id, At: at, Status: status, Latency: time.Since(start), Kind: engine.DeliveryKindReplay,
			Sequence: e.Sequence, Type: typ}
		if perr != nil {
			rec.Err = perr.Error()
		}
		d.record(context.WithoutCancel(ctx), h.ID, rec)
		if !rec.OK() {
			res.Cursor, res.Error = e.Sequence, fmt.Sprintf("event %s: %s", id, rec.Err)
			return res, nil
		}
		res.Delivered++
		res.EventIDs = append(res.EventIDs, id)
	}
	res.Done = true
	return res, nil
}

// heldDeadLetter reads dead letter e's event from st by its sequence: the
// message, or why no replay can resend it (missingGone, missingOther).
// A replay of dead letters and MissingDeadLetters judge by this alike, so
// that what a replay reported missing is what a dismissal of the missing
// takes off.
func heldDeadLetter(ctx context.Context, st jetstream.Stream, e engine.DeadLetter) (*jetstream.RawStreamMsg, string, error) {
	msg, err := st.GetMsg(ctx, e.Sequence)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, missingGone, nil
	}
	if err != nil {
		return nil, "", err
	}
	if id := msg.Header.Get(jetstream.MsgIDHeader); id != "" && id != e.EventID {
		return nil, missingOther, nil
	}
	return msg, "", nil
}

// MissingDeadLetters lists h's dead letters that no replay can deliver:
// those whose events the stream no longer holds (it keeps 7 days, or was
// made anew), or holds another event at their sequence, with the reason,
// as a replay of dead letters reports them (engine.WebhookSender). One
// kept without its sequence is left out: its event may still be stored.
// A sequence below the stream's first is not asked for one by one, so the
// usual case, dead letters aged out, costs one request.
func (d *Deliverer) MissingDeadLetters(ctx context.Context, h engine.Webhook) ([]engine.MissingDeadLetter, error) {
	entries, err := d.store.DeadLetterEntries(ctx, h.ID, engine.MaxDeadLetters)
	if err != nil {
		return nil, engine.AsUnavailable(err)
	}
	out := []engine.MissingDeadLetter{}
	if !slices.ContainsFunc(entries, func(e engine.DeadLetter) bool { return e.Sequence != 0 }) {
		return out, nil
	}
	st, err := d.js.Stream(ctx, queue.StreamName)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
	}
	for _, e := range entries {
		if e.Sequence == 0 {
			continue
		}
		why := missingGone
		if e.Sequence >= info.State.FirstSeq {
			if _, why, err = heldDeadLetter(ctx, st, e); err != nil {
				return nil, fmt.Errorf("%w: %w", engine.ErrUnavailable, err)
			}
		}
		if why != "" {
			out = append(out, engine.MissingDeadLetter{EventID: e.EventID, Sequence: e.Sequence, Reason: why})
		}
	}
	return out, nil
}

// deadLetterWanted reports whether a dead letter's event, on subject
// flashdrop.<drop>.<type>, is of req's types and drop (if set).
func deadLetterWanted(subject string, typ engine.EventType, req engine.ReplayRequest) bool {
	if len(req.Types) > 0 && !slices.Contains(req.Types, typ) {
		return false
	}
	if req.Drop != "" {
		rest, ok := strings.CutPrefix(subject, "flashdrop.")
		if !ok || rest != req.Drop+"."+string(typ) {
			return false
		}
	}
	return true
}
