package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"time"
)

// The verifiable draw (mode draw), "flashdrop-draw-1":
//
//  1. Commit. When a draw drop is created, the engine picks a secret
//     32-byte seed and publishes seed_hash = hex(sha256(seed)).
//  2. Tickets. Each registrant has a ticket, hex of the first 16 bytes of
//     HMAC-SHA256(ticket key, user id), with a second secret key that is
//     never published: tickets identify nobody, and each registrant sees
//     her own.
//  3. Freeze. When registration closes, the list of tickets is frozen and
//     its digest published: hex(sha256(the tickets in ascending order,
//     each followed by "\n")).
//  4. Draw, at sale_starts_at. The tickets are ordered by
//     HMAC-SHA256(key = seed, message = ticket) ascending (as bytes; a tie,
//     never seen, by ticket). With q = draw_quantity units per winner,
//     the first min(registrants, floor(stock / q)) tickets win a hold of q
//     units; the rest join the waitlist in that order.
//  5. Reveal. The drawn event and GET /v1/drops/{drop}/draw publish the
//     seed and the whole order, so anyone can recompute all of it.

// DrawAlgorithm names the algorithm above in public records.
const DrawAlgorithm = "flashdrop-draw-1"

// DrawSecrets are a draw drop's two secrets.
type DrawSecrets struct {
	// Seed decides the draw: its hash is published at creation, the seed
	// itself after the draw.
	Seed []byte
	// TicketKey turns user ids into tickets. It is never published, so
	// tickets cannot be traced back to user ids.
	TicketKey []byte
}

// NewDrawSecrets picks fresh secrets from crypto/rand.
func NewDrawSecrets() *DrawSecrets {
	s := &DrawSecrets{Seed: make([]byte, 32), TicketKey: make([]byte, 32)}
	_, _ = rand.Read(s.Seed) // crypto/rand.Read never fails on supported platforms
	_, _ = rand.Read(s.TicketKey)
	return s
}

// SeedHash is the commitment to a seed: hex(sha256(seed)).
func SeedHash(seed []byte) string {
	h := sha256.Sum256(seed)
	return hex.EncodeToString(h[:])
}

// Ticket is user's ticket under a ticket key.
func Ticket(key []byte, user string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(user))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// FrozenDigest is the digest of a ticket list: hex(sha256 of the tickets
// in ascending order, each followed by "\n"). It does not change tickets.
func FrozenDigest(tickets []string) string {
	sorted := append([]string(nil), tickets...)
	sort.Strings(sorted)
	h := sha256.New()
	for _, t := range sorted {
		h.Write([]byte(t))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DrawWinners is how many tickets win: min(registrants, stock / quantity).
func DrawWinners(registrants, stock, quantity int64) int64 {
	if quantity < 1 {
		quantity = 1
	}
	return min(registrants, stock/quantity)
}

// rankKey is a ticket's place in the draw: HMAC-SHA256(seed, ticket).
func rankKey(mac func([]byte) []byte, ticket string) [32]byte {
	var k [32]byte
	copy(k[:], mac([]byte(ticket)))
	return k
}

// DrawEntry is one registrant in the drawn order.
type DrawEntry struct {
	Ticket string
	User   string
}

// DrawOrderOf puts entries in drawn order under seed (step 4 above). It
// sorts entries in place and returns them.
func DrawOrderOf(seed []byte, entries []DrawEntry) []DrawEntry {
	mac := hmac.New(sha256.New, seed)
	sum := func(b []byte) []byte { mac.Reset(); mac.Write(b); return mac.Sum(nil) }
	keys := make([][32]byte, len(entries))
	for i, e := range entries {
		keys[i] = rankKey(sum, e.Ticket)
	}
	sort.Sort(byRank{entries, keys})
	return entries
}

type byRank struct {
	e []DrawEntry
	k [][32]byte
}

func (b byRank) Len() int { return len(b.e) }
func (b byRank) Less(i, j int) bool {
	if c := bytes.Compare(b.k[i][:], b.k[j][:]); c != 0 {
		return c < 0
	}
	return b.e[i].Ticket < b.e[j].Ticket
}
func (b byRank) Swap(i, j int) { b.e[i], b.e[j] = b.e[j], b.e[i]; b.k[i], b.k[j] = b.k[j], b.k[i] }

// DrawPhase is where a draw is.
type DrawPhase string

// Draw phases, in order.
const (
	DrawCommitted DrawPhase = "committed" // seed hash published, registration running
	DrawFrozen    DrawPhase = "frozen"    // registrant list frozen and its digest published
	DrawDrawn     DrawPhase = "drawn"     // holds given, seed revealed
)

// DrawState is where one drop's draw is.
type DrawState struct {
	Phase        DrawPhase
	FrozenDigest string
	Registrants  int64
	Winners      int64
	Quantity     int64
	// Cursor counts the entries of the drawn order already applied.
	Cursor int64
	// Seed is the revealed seed (hex), set only once drawn.
	Seed string
	// HoldsGiven and Waitlisted, set once drawn, count the winners given a
	// hold and the others put on the waitlist: Winners and Registrants −
	// Winners, unless the sale closed before the draw reached them (every
	// node down through the sale), when the order is recorded but a closed
	// sale gives nothing.
	HoldsGiven, Waitlisted int64
}

// ErrBusy means another node is doing this work now (it holds the lease).
var ErrBusy = errors.New("engine: another node is doing this now")

// MaxDrawStep is the most entries of a draw one store call applies.
const MaxDrawStep = 2000

// DrawOptions configure one RunDraw call. Zero values mean the defaults.
type DrawOptions struct {
	// Owner names the caller for the draw's lease (default: random).
	Owner string
	// Step is the most entries one store call applies (default 500, at
	// most MaxDrawStep), which bounds how long the draw holds the drop's
	// shard at a time.
	Step int
	// LeaseTTL is how long a node that died mid-draw keeps others off
	// it (default 30s); a live node renews it at every step.
	LeaseTTL time.Duration
	// MaxSteps stops the call after that many store steps (0: until the
	// draw is done), leaving the draw to be resumed by a later call.
	MaxSteps int
}

func (o DrawOptions) withDefaults() DrawOptions {
	if o.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Owner = hex.EncodeToString(b[:])
	}
	if o.Step <= 0 {
		o.Step = 500
	}
	o.Step = min(o.Step, MaxDrawStep)
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	return o
}

// RunDraw moves drop's draw as far as the clock allows: once registration
// has closed it freezes the registrant list and publishes its digest, and
// once the sale has started it draws, in steps of o.Step entries. It is
// safe on many nodes at once and resumes where a dead node stopped: every
// step applies only at the draw's current position, so nothing is drawn
// twice, and the order is a function of the seed and the frozen list, so
// every node computes the same one. ErrBusy if another node holds the
// draw's lease.
func (e *Engine) RunDraw(ctx context.Context, drop string, o DrawOptions) (DrawState, error) {
	o = o.withDefaults()
	ws, err := e.weekStore()
	if err != nil {
		return DrawState{}, err
	}
	d, err := e.Drop(ctx, drop)
	if err != nil {
		return DrawState{}, err
	}
	if d.Mode != ModeDraw {
		return DrawState{}, fmt.Errorf("%w: drop %q is not a draw", ErrNotFound, drop)
	}
	st, err := ws.DrawState(ctx, drop)
	if err != nil || st.Phase == DrawDrawn {
		return st, err
	}
	now := e.clock.Now()
	if now.Before(d.RegistrationClosesAt) {
		return st, nil
	}
	lease := func() error {
		ok, err := ws.TakeDrawLease(ctx, drop, o.Owner, e.clock.Now(), o.LeaseTTL)
		if err == nil && !ok {
			err = ErrBusy
		}
		return err
	}
	if err := lease(); err != nil {
		return st, err
	}
	var entries []DrawEntry
	if st.Phase == DrawCommitted {
		if err := ws.FreezeDraw(ctx, drop, now); err != nil {
			return st, err
		}
		if entries, err = e.frozenEntries(ctx, ws, drop); err != nil {
			return st, err
		}
		tickets := make([]string, len(entries))
		for i, en := range entries {
			tickets[i] = en.Ticket
		}
		if st, err = ws.SealDraw(ctx, drop, FrozenDigest(tickets), int64(len(entries))); err != nil {
			return st, err
		}
	}
	if now = e.clock.Now(); now.Before(d.SaleStartsAt) || d.Paused {
		return st, nil
	}
	if entries == nil {
		if entries, err = e.frozenEntries(ctx, ws, drop); err != nil {
			return st, err
		}
	}
	// The frozen list is what was published: a registrant list that
	// differs now (it cannot, registration is frozen) must not be drawn.
	tickets := make([]string, len(entries))
	for i, en := range entries {
		tickets[i] = en.Ticket
	}
	if dg := FrozenDigest(tickets); int64(len(entries)) != st.Registrants || dg != st.FrozenDigest {
		return st, fmt.Errorf("engine: draw %s: the registrants (%d, digest %s) differ from the frozen list (%d, %s); not drawing",
			drop, len(entries), dg, st.Registrants, st.FrozenDigest)
	}
	sec, err := ws.DrawSecrets(ctx, drop)
	if err != nil {
		return st, err
	}
	if sec == nil {
		return st, fmt.Errorf("engine: draw %s has no seed", drop)
	}
	order := DrawOrderOf(sec.Seed, entries)
	for steps := 0; st.Phase != DrawDrawn; steps++ {
		if o.MaxSteps > 0 && steps >= o.MaxSteps {
			return st, nil
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if steps > 0 {
			if err := lease(); err != nil {
				return st, err
			}
		}
		end := min(st.Cursor+int64(o.Step), int64(len(order)))
		if st.Cursor > end {
			return st, fmt.Errorf("engine: draw %s is at %d of %d", drop, st.Cursor, len(order))
		}
		next, err := ws.DrawStep(ctx, drop, e.clock.Now(), st.Cursor, order[st.Cursor:end])
		if errors.Is(err, ErrSalePaused) {
			return st, nil // paused mid-draw: it goes on after the resume
		}
		if err != nil {
			return st, err
		}
		st = next
	}
	return st, nil
}

// frozenEntries reads every registrant of drop once and gives each her
// ticket.
func (e *Engine) frozenEntries(ctx context.Context, ws WeekStore, drop string) ([]DrawEntry, error) {
	sec, err := ws.DrawSecrets(ctx, drop)
	if err != nil {
		return nil, err
	}
	if sec == nil {
		return nil, fmt.Errorf("engine: draw %s has no ticket key", drop)
	}
	users, err := e.allRegistrants(ctx, ws, drop)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, sec.TicketKey)
	out := make([]DrawEntry, len(users))
	for i, u := range users {
		mac.Reset()
		mac.Write([]byte(u))
		out[i] = DrawEntry{Ticket: hex.EncodeToString(mac.Sum(nil)[:16]), User: u}
	}
	return out, nil
}

// allRegistrants walks a drop's registrants, each once.
func (e *Engine) allRegistrants(ctx context.Context, ws WeekStore, drop string) ([]string, error) {
	var users []string
	cursor := ""
	for {
		page, next, err := ws.Registrants(ctx, drop, cursor, 5000)
		if err != nil {
			return nil, err
		}
		users = append(users, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	sort.Strings(users)
	out := users[:0]
	for i, u := range users {
		if i == 0 || u != users[i-1] {
			out = append(out, u)
		}
	}
	return out, nil
}

// DrawRecord is the public record of a draw, GET /v1/drops/{drop}/draw:
// everything needed to recompute it, the order one page at a time.
type DrawRecord struct {
	Drop      string    `json:"drop"`
	Algorithm string    `json:"algorithm"`
	State     DrawPhase `json:"state"`
	SeedHash  string    `json:"seed_hash"`
	// FrozenDigest and Registrants are published once registration closed.
	FrozenDigest string `json:"frozen_digest,omitempty"`
	Registrants  int64  `json:"registrants"`
	Stock        int64  `json:"stock"`
	Quantity     int64  `json:"quantity"`
	// Winners, Seed and Tickets are published after the draw. Tickets is
	// one page of the drawn order: the first Winners tickets of the whole
	// order won, the rest are the waitlist in order.
	Winners int64 `json:"winners"`
	// HoldsGiven, published after the draw, is how many of the winners
	// got a hold: all of them, unless the sale had closed before the draw
	// reached them (every node down through the sale), when the order
	// stands, verifiable, but those winners got nothing.
	HoldsGiven *int64   `json:"holds_given,omitempty"`
	Seed       string   `json:"seed,omitempty"`
	Offset     int64    `json:"offset"`
	Tickets    []string `json:"tickets"`
	NextOffset *int64   `json:"next_offset"`
}

// Unheld is how many winners of a drawn record got no hold: 0, unless
// the sale had closed before the draw reached them.
func (r DrawRecord) Unheld() int64 {
	if r.HoldsGiven == nil || *r.HoldsGiven >= r.Winners {
		return 0
	}
	return r.Winners - *r.HoldsGiven
}

// MaxDrawPage bounds one page of a draw record.
const MaxDrawPage = 10000

// DrawRecord returns drop's public draw record with up to limit tickets
// of the drawn order from offset.
func (e *Engine) DrawRecord(ctx context.Context, drop string, offset, limit int64) (DrawRecord, error) {
	if offset < 0 {
		return DrawRecord{}, invalid("offset", "must not be negative")
	}
	if limit < 1 || limit > MaxDrawPage {
		return DrawRecord{}, invalid("limit", "must be between 1 and %d", MaxDrawPage)
	}
	d, err := e.Drop(ctx, drop)
	if err != nil {
		return DrawRecord{}, err
	}
	if d.Mode != ModeDraw {
		return DrawRecord{}, &DetailError{Err: ErrNotFound, Detail: "drop " + drop + " is not a draw"}
	}
	ws, err := e.weekStore()
	if err != nil {
		return DrawRecord{}, err
	}
	st, err := ws.DrawState(ctx, drop)
	if err != nil {
		return DrawRecord{}, err
	}
	rec := DrawRecord{Drop: d.ID, Algorithm: DrawAlgorithm, State: st.Phase, SeedHash: d.SeedHash,
		FrozenDigest: st.FrozenDigest, Registrants: st.Registrants, Stock: d.Stock, Quantity: d.DrawQuantity,
		Offset: offset, Tickets: []string{}}
	if st.Phase != DrawDrawn {
		return rec, nil
	}
	rec.Winners, rec.Seed, rec.HoldsGiven = st.Winners, st.Seed, &st.HoldsGiven
	if offset < st.Registrants {
		if rec.Tickets, err = ws.DrawOrder(ctx, drop, offset, limit); err != nil {
			return DrawRecord{}, err
		}
	}
	if next := offset + int64(len(rec.Tickets)); next < st.Registrants && len(rec.Tickets) > 0 {
		rec.NextOffset = &next
	}
	return rec, nil
}

// ticketOf is user's ticket in drop, or "" when drop is no draw. The
// ticket key never changes, so each node asks the store once per drop.
func (e *Engine) ticketOf(ctx context.Context, drop, user string) (string, error) {
	key, ok := e.ticketKeys.Load(drop)
	if !ok {
		ws, err := e.weekStore()
		if err != nil {
			return "", nil // nothing to show, not a failure of the view
		}
		sec, err := ws.DrawSecrets(ctx, drop)
		if err != nil {
			return "", err
		}
		var k []byte
		if sec != nil {
			k = sec.TicketKey
		}
		key, _ = e.ticketKeys.LoadOrStore(drop, k)
	}
	if k := key.([]byte); k != nil {
		return Ticket(k, user), nil
	}
	return "", nil
}

// DrawState returns where drop's draw is (the seed only once drawn).
func (e *Engine) DrawState(ctx context.Context, drop string) (DrawState, error) {
	if err := ValidateDropID(drop); err != nil {
		return DrawState{}, fmt.Errorf("%w: drop %q", ErrNotFound, drop)
	}
	ws, err := e.weekStore()
	if err != nil {
		return DrawState{}, err
	}
	return ws.DrawState(ctx, drop)
}
