// Package history checks what clients saw of a sale against a sequential
// model of a drop: every request's invocation and answer (client, input,
// output, call and return times) is recorded, and the history must be
// linearizable with github.com/anishathalye/porcupine. A history that is
// not — a unit sold twice, a win that vanished, an Idempotency-Key
// answered twice differently — is a bug, whatever the final counters say.
//
// The model is one drop: stock, per-shopper limit, registrations, holds
// (held, confirmed, cancelled, expired), idempotency keys and the waitlist
// with its promotions. It does not model time: an answer that depends on
// the clock (sale not open, closed, paused) changes nothing and is always
// allowed, and a confirm or cancel may find its hold expired. Expiries done
// by the server's sweeper are recorded as Expire operations from when the
// hold was due until a client saw it expired.
package history

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Kind is what an operation does.
type Kind uint8

// Operation kinds.
const (
	Register Kind = iota + 1
	Reserve
	Confirm
	Cancel
	// Expire is a hold the server expired on its own (the sweeper).
	Expire
	// Read is a reservation read back by id (status or not_found).
	Read
)

func (k Kind) String() string {
	switch k {
	case Register:
		return "register"
	case Reserve:
		return "reserve"
	case Confirm:
		return "confirm"
	case Cancel:
		return "cancel"
	case Expire:
		return "expire"
	case Read:
		return "read"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Input is an operation's request.
type Input struct {
	Kind Kind
	// User is the shopper: who registers or reserves, and who owns the
	// reservation a confirm, cancel, expire or read names ("" when the
	// history does not know).
	User string
	// Key is a reserve's Idempotency-Key ("" for none).
	Key      string
	Quantity int64
	Waitlist bool
	// ID is the reservation a confirm, cancel, expire or read names.
	ID string
	// Actor is who confirms or cancels: the owner, or "" for the shop.
	Actor string
}

// Output is an operation's answer.
type Output struct {
	// Unknown: no answer came (timeout, connection lost, 5xx). The request
	// may or may not have taken effect.
	Unknown bool
	// Code is the outcome: "won", "ok" or a problem code (sold_out,
	// limit_reached, not_registered, idempotency_mismatch, sale_not_open,
	// sale_closed, sale_paused, expired, cancelled, confirmed, not_found,
	// forbidden, registration_closed...).
	Code string
	// ID is the reservation a win names.
	ID string
	// Status is the reservation's status in an "ok" answer to confirm,
	// cancel or read.
	Status string
	// Position is a sold-out answer's waitlist position (0: not on it).
	Position int64
}

// Drop is what the model needs of a drop's configuration.
type Drop struct {
	Stock        int64
	PerUserLimit int64
}

type resv struct {
	user   string
	qty    int64
	status string // held, confirmed, cancelled, expired
}

type stored struct {
	code string
	id   string // a win's reservation
	pos  int64  // a sold out's waitlist position
	qty  int64
	wl   bool
}

type wlEntry struct {
	user string
	qty  int64
}

// state is the drop after some operations. Steps never change a state:
// they return a changed copy (porcupine keeps every state it reached).
type state struct {
	avail int64
	reg   map[string]bool
	units map[string]int64 // held + confirmed units per shopper
	res   map[string]resv
	keys  map[string]stored // user "\x00" key -> first final answer
	wl    []wlEntry
	// next numbers reservations the model created without knowing their
	// id (a win whose answer was lost, a waitlist promotion): "?<n>" until
	// an answer names them.
	next int
}

// clone copies the state's header; its maps and waitlist are shared, and
// whoever changes one in the copy copies it first (copy on write).
func (s *state) clone() *state {
	c := *s
	return &c
}

// setRes and setUnits change one entry of a clone's map, copying the map.
func (s *state) setRes(id string, r resv) {
	s.res = maps.Clone(s.res)
	s.res[id] = r
}

func (s *state) addUnits(user string, q int64) {
	s.units = maps.Clone(s.units)
	s.units[user] += q
}

func synthetic(id string) bool { return strings.HasPrefix(id, "?") }

// model is the sequential specification of one drop.
type model struct{ d Drop }

func (m model) init() *state {
	return &state{avail: m.d.Stock, reg: map[string]bool{}, units: map[string]int64{},
		res: map[string]resv{}, keys: map[string]stored{}}
}

// step returns every state the drop can be in after in answered out, from
// s; none when the answer is impossible.
func (m model) step(s *state, in Input, out Output) []*state {
	switch in.Kind {
	case Register:
		return m.register(s, in, out)
	case Reserve:
		return m.reserve(s, in, out)
	case Confirm, Cancel:
		return m.settle(s, in, out)
	case Expire:
		return m.expire(s, in)
	case Read:
		return m.read(s, in, out)
	}
	return nil
}

func (m model) register(s *state, in Input, out Output) []*state {
	done := func() *state {
		if s.reg[in.User] {
			return s
		}
		n := s.clone()
		n.reg = maps.Clone(n.reg)
		n.reg[in.User] = true
		return n
	}
	switch {
	case out.Unknown:
		return []*state{s, done()}
	case out.Code == "ok":
		return []*state{done()}
	default:
		// Refusals (registration closed, not open) change nothing.
		return []*state{s}
	}
}

// noEffect are answers that depend on the clock or the kill switch, which
// the model does not track; they change nothing.
var noEffect = map[string]bool{"sale_not_open": true, "sale_closed": true, "sale_paused": true}

func (m model) reserve(s *state, in Input, out Output) []*state {
	ik := ""
	if in.Key != "" {
		ik = in.User + "\x00" + in.Key
	}
	if st, ok := s.keys[ik]; ik != "" && ok {
		// The key's first final answer, again.
		if out.Unknown {
			return []*state{s}
		}
		if st.qty != in.Quantity || st.wl != in.Waitlist {
			return when(out.Code == "idempotency_mismatch", s)
		}
		if out.Code != st.code {
			return nil
		}
		switch st.code {
		case "won":
			return bind(s, st.id, out.ID, in.User)
		case "sold_out":
			return when(out.Position == st.pos, s)
		}
		return []*state{s}
	}
	if !out.Unknown && noEffect[out.Code] {
		return []*state{s}
	}
	if !out.Unknown && out.Code != m.verdict(s, in).code {
		return nil
	}
	next, want := m.decide(s, in, ik)
	if out.Unknown {
		// Never reached the store, or decided as the model would.
		return []*state{s, next}
	}
	if out.Code != want.code {
		return nil
	}
	switch want.code {
	case "won":
		// The new hold is named by the answer.
		if _, taken := next.res[out.ID]; taken || out.ID == "" {
			return nil
		}
		return rename(next, want.id, out.ID)
	case "sold_out":
		return when(out.Position == want.pos, next)
	}
	return []*state{next}
}

// decide is reserve.lua's decide: the one answer the store gives a fresh
// request from s, and the state after it. A win's reservation gets a
// synthetic id; the caller renames it when the answer names it. Only what
// changes is copied: a rush checks thousands of steps.
func (m model) decide(s *state, in Input, ik string) (*state, stored) {
	ans := m.verdict(s, in)
	if ans.code == "not_registered" || (ans.code == "sold_out" && ik == "" && !in.Waitlist) {
		return s, ans
	}
	n := s.clone()
	switch ans.code {
	case "won":
		n.avail -= in.Quantity
		ans.id = n.newHold(in.User, in.Quantity)
	case "sold_out":
		if ans.pos == 0 && in.Waitlist {
			n.wl = append(slices.Clone(n.wl), wlEntry{user: in.User, qty: in.Quantity})
			ans.pos = int64(len(n.wl))
		}
	}
	if ik != "" {
		ans.qty, ans.wl = in.Quantity, in.Waitlist
		n.keys = maps.Clone(n.keys)
		n.keys[ik] = ans
	}
	return n, ans
}

// verdict is decide's answer without the state it leads to.
func (m model) verdict(s *state, in Input) stored {
	switch {
	case !s.reg[in.User]:
		return stored{code: "not_registered"}
	case s.units[in.User]+in.Quantity > m.d.PerUserLimit:
		return stored{code: "limit_reached"}
	case s.avail >= in.Quantity:
		return stored{code: "won"}
	}
	pos := int64(0)
	if i := slices.IndexFunc(s.wl, func(e wlEntry) bool { return e.user == in.User }); i >= 0 {
		pos = int64(i + 1)
	}
	return stored{code: "sold_out", pos: pos}
}

// newHold adds a held reservation with a synthetic id to n (a clone).
func (n *state) newHold(user string, q int64) string {
	n.next++
	id := fmt.Sprintf("?%d", n.next)
	n.setRes(id, resv{user: user, qty: q, status: "held"})
	n.addUnits(user, q)
	return id
}

// release is lib.lua's release: the hold ends as status and its units go
// to the waitlist's head first (never back to the releasing shopper), then
// to stock.
func (m model) release(n *state, id, status string) {
	r := n.res[id]
	r.status = status
	n.setRes(id, r)
	n.addUnits(r.user, -r.qty)
	n.wl = slices.Clone(n.wl)
	pool := r.qty
	for i := 0; pool > 0 && i < len(n.wl); {
		e := n.wl[i]
		if e.user == r.user {
			i++
			continue
		}
		n.wl = slices.Delete(n.wl, i, i+1)
		g := min(e.qty, m.d.PerUserLimit-n.units[e.user], pool)
		if n.reg[e.user] && g > 0 {
			n.newHold(e.user, g)
			pool -= g
		}
	}
	n.avail += pool
}

// find returns the ids in s that the reservation id can be: itself when
// known, else each synthetic reservation of the owner (any owner when the
// history does not know it).
func find(s *state, id, user string) []string {
	if _, ok := s.res[id]; ok {
		return []string{id}
	}
	var ids []string
	for sid, r := range s.res {
		if synthetic(sid) && (user == "" || r.user == user) {
			ids = append(ids, sid)
		}
	}
	sort.Strings(ids)
	return ids
}

func (m model) settle(s *state, in Input, out Output) []*state {
	var outs []*state
	if out.Unknown {
		outs = append(outs, s) // it may never have run
	}
	cands := find(s, in.ID, in.User)
	if len(cands) == 0 {
		// Not a reservation the drop has.
		if out.Unknown || out.Code == "not_found" {
			return append(outs, s)
		}
		return outs
	}
	for _, cid := range cands {
		for _, n := range rename(s, cid, in.ID) {
			outs = append(outs, m.settleOne(n, in, out)...)
		}
	}
	return outs
}

// settleOne is settle.lua on a reservation the state knows by in.ID.
func (m model) settleOne(s *state, in Input, out Output) []*state {
	r := s.res[in.ID]
	if in.Actor != "" && in.Actor != r.user {
		return when(out.Unknown || out.Code == "forbidden", s)
	}
	final := "confirmed"
	if in.Kind == Cancel {
		final = "cancelled"
	}
	var outs []*state
	switch r.status {
	case "held":
		// Past its deadline the hold expires here instead; the model has
		// no clock, so both are possible.
		exp := s.clone()
		m.release(exp, in.ID, "expired")
		did := s.clone()
		if final == "cancelled" {
			m.release(did, in.ID, "cancelled")
		} else {
			r.status = "confirmed"
			did.setRes(in.ID, r)
		}
		switch {
		case out.Unknown:
			outs = append(outs, exp, did)
		case out.Code == "expired":
			outs = append(outs, exp)
		case out.Code == "ok" && (out.Status == "" || out.Status == final):
			outs = append(outs, did)
		}
	case final:
		// Already in the asked-for final state: answered ok again.
		outs = when(out.Unknown || (out.Code == "ok" && (out.Status == "" || out.Status == final)), s)
	default:
		// expired, cancelled (confirm of), confirmed (cancel of).
		outs = when(out.Unknown || out.Code == r.status, s)
	}
	return outs
}

func (m model) expire(s *state, in Input) []*state {
	var outs []*state
	for _, cid := range find(s, in.ID, in.User) {
		for _, n := range rename(s, cid, in.ID) {
			switch n.res[in.ID].status {
			case "expired":
				outs = append(outs, n)
			case "held":
				e := n.clone()
				m.release(e, in.ID, "expired")
				outs = append(outs, e)
			}
		}
	}
	return outs
}

func (m model) read(s *state, in Input, out Output) []*state {
	if out.Unknown {
		return []*state{s}
	}
	cands := find(s, in.ID, in.User)
	if out.Code == "not_found" {
		_, known := s.res[in.ID]
		return when(!known, s)
	}
	var outs []*state
	for _, cid := range cands {
		for _, n := range rename(s, cid, in.ID) {
			if out.Code == "ok" && n.res[in.ID].status == out.Status {
				outs = append(outs, n)
			}
		}
	}
	return outs
}

// bind checks that a replayed win names the stored reservation, learning
// its id when the model only had a synthetic one.
func bind(s *state, have, got, user string) []*state {
	if have == got {
		return []*state{s}
	}
	if !synthetic(have) {
		return nil
	}
	if _, taken := s.res[got]; taken {
		return nil
	}
	if s.res[have].user != user {
		return nil
	}
	return rename(s, have, got)
}

// rename gives synthetic reservation from the id an answer named.
func rename(s *state, from, to string) []*state {
	if from == to {
		return []*state{s}
	}
	if _, taken := s.res[to]; taken || to == "" {
		return nil
	}
	n := s.clone()
	n.res = maps.Clone(n.res)
	n.res[to] = n.res[from]
	delete(n.res, from)
	n.keys = maps.Clone(n.keys)
	for k, st := range n.keys {
		if st.id == from {
			st.id = to
			n.keys[k] = st
		}
	}
	return []*state{n}
}

func when(ok bool, s *state) []*state {
	if ok {
		return []*state{s}
	}
	return nil
}

func equal(a, b *state) bool {
	return a.avail == b.avail && a.next == b.next && reflect.DeepEqual(a.res, b.res) &&
		reflect.DeepEqual(a.units, b.units) && reflect.DeepEqual(a.keys, b.keys) &&
		slices.Equal(a.wl, b.wl) && reflect.DeepEqual(a.reg, b.reg)
}

func describe(s *state) string {
	held, confirmed := 0, 0
	for _, r := range s.res {
		switch r.status {
		case "held":
			held++
		case "confirmed":
			confirmed++
		}
	}
	return fmt.Sprintf("available %d, held %d, confirmed %d, reservations %d, waitlist %d", s.avail, held, confirmed, len(s.res), len(s.wl))
}

func describeOp(in Input, out Output) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(%s", in.Kind, in.User)
	if in.ID != "" {
		fmt.Fprintf(&b, ", %s", in.ID)
	}
	if in.Key != "" {
		fmt.Fprintf(&b, ", key %s", in.Key)
	}
	if in.Kind == Reserve {
		fmt.Fprintf(&b, ", q%d", in.Quantity)
		if in.Waitlist {
			b.WriteString(", waitlist")
		}
	}
	b.WriteString(") → ")
	if out.Unknown {
		b.WriteString("unknown")
		return b.String()
	}
	b.WriteString(out.Code)
	if out.ID != "" {
		fmt.Fprintf(&b, " %s", out.ID)
	}
	if out.Status != "" {
		fmt.Fprintf(&b, " %s", out.Status)
	}
	if out.Position > 0 {
		fmt.Fprintf(&b, " #%d", out.Position)
	}
	return b.String()
}
