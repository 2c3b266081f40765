package redisstore_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

// win registers user on d (the clock in its window), opens the sale and
// reserves one unit for her, leaving the clock at the sale start + after.
func (f *fixture) win(t *testing.T, d engine.Drop, user string, after time.Duration) engine.Reservation {
	t.Helper()
	f.clock.Set(d.RegistrationOpensAt)
	f.register(t, d.ID, user)
	f.clock.Set(d.SaleStartsAt.Add(after))
	r, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: user, Quantity: 1})
	if err != nil {
		t.Fatalf("reserve for %s: %v", user, err)
	}
	return r
}

// TestShareCodes: every win's code carries its drop and 80 random bits, and
// finds its win, through the index written with the win (waitlist
// promotions too); anything else is not found.
func TestShareCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		d := f.newDrop(t, 1, 1)
		r := f.win(t, d, "alice", 1500*time.Millisecond)
		form := regexp.MustCompile(`^` + regexp.QuoteMeta(d.ID) + `\.[0-9a-f]{20}$`)
		if !form.MatchString(r.ShareCode) {
			t.Fatalf("share code %q: want %s.<20 hex digits>", r.ShareCode, d.ID)
		}
		got, err := f.store.ReservationByShareCode(ctx(t), r.ShareCode)
		if err != nil || got.ID != r.ID || got.User != "alice" || got.ShareCode != r.ShareCode {
			t.Fatalf("lookup: %+v %v", got, err)
		}
		card, err := f.eng.ShareCard(ctx(t), r.ShareCode)
		if err != nil || card.Drop.ID != d.ID || card.Quantity != 1 || card.SecondsAfterStart != 1.5 ||
			card.ByDraw || card.Next.ID != d.ID {
			t.Fatalf("card: %+v %v", card, err)
		}
		// A waitlist promotion is a win with a code of its own.
		f.clock.Set(d.RegistrationOpensAt)
		f.register(t, d.ID, "bob")
		f.clock.Set(d.SaleStartsAt.Add(time.Minute))
		if _, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: "bob", Quantity: 1, Waitlist: true}); !errors.Is(err, engine.ErrSoldOut) {
			t.Fatalf("bob joins the waitlist: %v", err)
		}
		if _, err := f.eng.Cancel(ctx(t), r.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		v, err := f.eng.ShopperView(ctx(t), d.ID, "bob")
		if err != nil || v.Reservation == nil || !form.MatchString(v.Reservation.ShareCode) {
			t.Fatalf("bob's promotion: %+v %v", v, err)
		}
		if card, err := f.eng.ShareCard(ctx(t), v.Reservation.ShareCode); err != nil || !card.FromWaitlist {
			t.Fatalf("promotion card: %+v %v", card, err)
		}
		for _, bad := range []string{
			d.ID + ".00000000000000000000",            // well formed, no win
			"nosuchdrop." + r.ShareCode[len(d.ID)+1:], // another drop
			r.ID, // a reservation id is not a share code
			strings.ToUpper(r.ShareCode), "x", "", d.ID + ".", "." + r.ShareCode,
		} {
			if _, err := f.eng.ShareCard(ctx(t), bad); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("card of %q: %v, want not found", bad, err)
			}
		}
	})
}

// TestReferrals: a code of another drop is credited once per new
// registrant; a repeat, the registrant's own code, an unknown or malformed
// code credit nothing and are not errors; the referral event names the
// code and the drop, never the registrant.
func TestReferrals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		first := f.newDrop(t, 5, 1)
		alice := f.win(t, first, "alice", time.Second).ShareCode
		bob := f.win(t, first, "bob", 2*time.Second).ShareCode

		next := f.newDrop(t, 5, 1, func(d *engine.Drop) {
			d.RegistrationOpensAt, d.RegistrationClosesAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
			d.SaleStartsAt = t0.Add(3 * time.Hour)
		})
		f.clock.Set(next.RegistrationOpensAt)
		for _, c := range []struct {
			user, ref string
		}{
			{"carol", alice}, {"dave", alice}, {"erin", bob},
			{"carol", bob},   // a repeat registration credits nothing
			{"alice", alice}, // her own code: nothing
			{"frank", first.ID + ".0123456789abcdef0123"}, // no such win
			{"gina", "friend-code"},                       // not a code the engine makes
			{"hal", ""},
		} {
			if _, _, err := f.eng.Register(ctx(t), next.ID, c.user, c.ref); err != nil {
				t.Fatalf("register %s with %q: %v", c.user, c.ref, err)
			}
		}
		if _, _, err := f.eng.Register(ctx(t), next.ID, "ivy", "has space"); !errors.Is(err, engine.ErrInvalid) {
			t.Fatalf("a ref outside the code charset: %v", err)
		}
		st := f.stats(t, next.ID)
		if st.Registered != 7 || st.Referrals != 3 {
			t.Fatalf("stats: %+v", st)
		}
		top, err := f.eng.TopReferrals(ctx(t), next.ID, 10)
		if err != nil || len(top) != 2 || top[0] != (engine.ReferralCount{Code: alice, Referrals: 2}) ||
			top[1] != (engine.ReferralCount{Code: bob, Referrals: 1}) {
			t.Fatalf("top referrals: %+v %v", top, err)
		}
		if top, err := f.eng.TopReferrals(ctx(t), next.ID, 1); err != nil || len(top) != 1 || top[0].Code != alice {
			t.Fatalf("top 1: %+v %v", top, err)
		}
		if _, err := f.eng.TopReferrals(ctx(t), "nosuchdrop", 10); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("top referrals of no drop: %v", err)
		}
		if st := f.stats(t, first.ID); st.Referrals != 0 {
			t.Fatalf("the referrer's drop counts nothing: %+v", st)
		}
		var refs, regs []engine.Event
		for _, e := range f.events(t, next.ID) {
			switch e.Type {
			case engine.EventReferral:
				refs = append(refs, e)
			case engine.EventRegistered:
				regs = append(regs, e)
			}
		}
		if len(refs) != 3 {
			t.Fatalf("referral events: %+v", refs)
		}
		for _, e := range refs {
			if e.User != "" || e.Drop != next.ID || (e.Ref != alice && e.Ref != bob) {
				t.Fatalf("referral event %+v: want the code and the drop only", e)
			}
			for _, r := range regs {
				if prefix(e.ID) == prefix(r.ID) {
					t.Fatalf("referral event %s shares its id nonce with registered event %s", e.ID, r.ID)
				}
			}
		}
	})
}

// TestGivenBackWinsShareNothing: a win cancelled, or whose hold expired,
// has no share card, and its code credits no referral: its unit went back
// to the sale, and a win taken and cancelled at once (a review did it in a
// loop) must not mint "I won" cards and referral codes. A confirmed win
// keeps both.
func TestGivenBackWinsShareNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		first := f.newDrop(t, 5, 1, func(d *engine.Drop) { d.HoldSeconds = 60 })
		cancelled := f.win(t, first, "alice", time.Second)
		expired := f.win(t, first, "bob", time.Second)
		kept := f.win(t, first, "carol", time.Second)
		if _, err := f.eng.Cancel(ctx(t), cancelled.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.eng.Confirm(ctx(t), kept.ID, ""); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(expired.ExpiresAt.Add(time.Second))
		if _, err := f.eng.ExpireDrop(ctx(t), first.ID); err != nil {
			t.Fatal(err)
		}
		for _, r := range []engine.Reservation{cancelled, expired} {
			_, err := f.eng.ShareCard(ctx(t), r.ShareCode)
			if !errors.Is(err, engine.ErrNotFound) || !errors.Is(err, engine.ErrWinGivenBack) {
				t.Errorf("the card of a win given back (%s): %v, want not found, given back", r.User, err)
			}
		}
		if _, err := f.eng.ShareCard(ctx(t), kept.ShareCode); err != nil {
			t.Errorf("the card of a confirmed win: %v", err)
		}

		next := f.newDrop(t, 5, 1, func(d *engine.Drop) {
			d.RegistrationOpensAt, d.RegistrationClosesAt = expired.ExpiresAt.Add(time.Hour), expired.ExpiresAt.Add(2*time.Hour)
			d.SaleStartsAt = expired.ExpiresAt.Add(3 * time.Hour)
		})
		f.clock.Set(next.RegistrationOpensAt)
		for _, c := range []struct{ user, ref string }{{"dave", cancelled.ShareCode}, {"erin", expired.ShareCode}, {"fay", kept.ShareCode}} {
			if _, _, err := f.eng.Register(ctx(t), next.ID, c.user, c.ref); err != nil {
				t.Fatalf("register %s: %v", c.user, err)
			}
		}
		if st := f.stats(t, next.ID); st.Registered != 3 || st.Referrals != 1 {
			t.Fatalf("stats %+v: want 3 registered and the kept win's referral only", st)
		}
		top, err := f.eng.TopReferrals(ctx(t), next.ID, 10)
		if err != nil || len(top) != 1 || top[0].Code != kept.ShareCode {
			t.Fatalf("top referrals: %+v %v", top, err)
		}
	})
}

func prefix(eventID string) string { return eventID[:strings.LastIndex(eventID, "-")] }

// TestReferralsNeverChangeOdds: two drops alike in everything, one whose
// registrants came through share codes and one whose did not. The stored
// registrations (what a draw draws from) are identical, and the same
// presses of Buy in the same order get the same answers: a referrer is
// treated exactly like everyone else, in fcfs and on the waitlist.
func TestReferralsNeverChangeOdds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		src := f.newDrop(t, 5, 1)
		shoppers := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
		codes := map[string]string{}
		for _, u := range []string{"u0", "u2", "u4"} {
			codes[u] = f.win(t, src, u, time.Second).ShareCode
		}
		mk := func() engine.Drop {
			return f.newDrop(t, 2, 1, func(d *engine.Drop) {
				d.RegistrationOpensAt, d.RegistrationClosesAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
				d.SaleStartsAt = t0.Add(3 * time.Hour)
			})
		}
		plain, referred := mk(), mk()
		f.clock.Set(plain.RegistrationOpensAt)
		for _, u := range shoppers {
			if _, _, err := f.eng.Register(ctx(t), plain.ID, u, ""); err != nil {
				t.Fatal(err)
			}
			// In the referred drop, every shopper came through someone
			// else's card, the referrers too.
			ref := codes[map[string]string{"u0": "u2", "u1": "u0", "u2": "u4", "u3": "u2", "u4": "u0", "u5": "u4"}[u]]
			if _, _, err := f.eng.Register(ctx(t), referred.ID, u, ref); err != nil {
				t.Fatal(err)
			}
		}
		if st := f.stats(t, referred.ID); st.Referrals != 6 {
			t.Fatalf("every registrant of the referred drop came through a code: %+v", st)
		}
		regPlain, err := redisstore.RegistrantsForTest(ctx(t), f.rdb, plain.ID)
		if err != nil {
			t.Fatal(err)
		}
		regReferred, err := redisstore.RegistrantsForTest(ctx(t), f.rdb, referred.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(regPlain) != 6 || !equalMaps(regPlain, regReferred) {
			t.Fatalf("registrations differ:\n%v\n%v", regPlain, regReferred)
		}
		f.clock.Set(plain.SaleStartsAt)
		order := []string{"u4", "u1", "u0", "u5", "u2", "u3"} // referrers first, last and between
		outcome := func(d engine.Drop) []string {
			var out []string
			for _, u := range order {
				_, err := f.eng.Reserve(ctx(t), d.ID, engine.ReserveRequest{User: u, Quantity: 1, Waitlist: true})
				var so *engine.SoldOutError
				switch {
				case err == nil:
					out = append(out, u+" won")
				case errors.As(err, &so):
					out = append(out, u+" waitlist "+itoa(int(so.WaitlistPosition)))
				default:
					out = append(out, u+" "+err.Error())
				}
			}
			return out
		}
		a, b := outcome(plain), outcome(referred)
		if strings.Join(a, ",") != strings.Join(b, ",") {
			t.Fatalf("answers differ with referrals:\n%v\n%v", a, b)
		}
		if a[0] != "u4 won" || a[1] != "u1 won" || a[2] != "u0 waitlist 1" {
			t.Fatalf("answers: %v", a)
		}
	})
}

// TestReferralsNeverChangeDrawOdds: in a draw, a referral buys nothing.
// Registrants of a draw drop come through share codes of another drop's
// wins, the code owners (referrers) among them, and the draw is checked
// three ways: (a) the frozen list holds exactly one ticket per
// registrant, each her ticket key's ticket, so a referral adds no ticket
// and changes none; (b) every registrant's rank and outcome are what the
// revealed seed and the ticket list alone give, recomputed here with no
// referral input; (c) a twin drop with the same seed, the same ticket key
// and the same registrants, none referred, draws the same order and
// gives everyone the same outcome. (a) and (b) already pin every rank to
// inputs that carry no referral; (c) says it the way the issue does: a
// referrer's rank is the one she would have had without any referral.
func TestReferralsNeverChangeDrawOdds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		src := f.newDrop(t, 5, 1)
		codes := map[string]string{}
		for _, u := range []string{"u-0", "u-3", "u-7", "outsider"} {
			codes[u] = f.win(t, src, u, time.Second).ShareCode
		}
		// 12 registrants for 4 units: ranks decide, and a referrer can
		// land on either side of the line.
		referred, _ := f.newDraw(t, 4, 0)
		us := users("u", 12)

		// The engine picks a draw's secrets when it creates the drop, but
		// the store takes them from its caller: the twin, created through
		// the store, gets the referred drop's seed and ticket key, so
		// nothing but the referrals sets the two drops apart.
		sec, err := f.store.DrawSecrets(ctx(t), referred.ID)
		if err != nil || sec == nil {
			t.Fatalf("draw secrets: %v %v", sec, err)
		}
		twin := referred
		twin.ID, twin.Secrets = uniqueID(t), sec
		if created, err := f.store.CreateDrop(ctx(t), twin); err != nil || !created {
			t.Fatalf("create the twin: %v %v", created, err)
		}
		twin.Secrets = nil

		refs := map[string]string{
			// The referrers came through each other's codes and an
			// outsider's.
			"u-0": codes["u-3"], "u-3": codes["u-0"], "u-7": codes["outsider"],
			// u-0 brings the most.
			"u-1": codes["u-0"], "u-2": codes["u-0"], "u-4": codes["u-0"],
			"u-5": codes["u-3"], "u-6": codes["u-7"], "u-9": codes["u-7"],
			// u-8, u-10 and u-11 came on their own.
		}
		f.clock.Set(referred.RegistrationOpensAt)
		for _, u := range us {
			if _, _, err := f.eng.Register(ctx(t), referred.ID, u, refs[u]); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.eng.Register(ctx(t), twin.ID, u, ""); err != nil {
				t.Fatal(err)
			}
		}
		// A repeat through another code, and a referrer's own code: no
		// credit, and no second registration.
		for u, ref := range map[string]string{"u-1": codes["u-3"], "u-7": codes["u-7"], "u-0": codes["u-0"]} {
			if _, created, err := f.eng.Register(ctx(t), referred.ID, u, ref); err != nil || created {
				t.Fatalf("repeat of %s through %s: %v %v", u, ref, created, err)
			}
		}
		if st := f.stats(t, referred.ID); st.Referrals != 9 {
			t.Fatalf("the referrals were not credited, the test proves nothing: %+v", st)
		}
		if st := f.stats(t, twin.ID); st.Referrals != 0 {
			t.Fatalf("the twin has referrals: %+v", st)
		}

		f.clock.Set(referred.SaleStartsAt)
		for _, d := range []engine.Drop{referred, twin} {
			if st, err := f.eng.RunDraw(ctx(t), d.ID, engine.DrawOptions{Owner: "node", Step: 5}); err != nil || st.Phase != engine.DrawDrawn {
				t.Fatalf("draw %s: %+v %v", d.ID, st, err)
			}
		}
		rec := f.record(t, referred.ID, 5)

		// (a) One ticket per registrant, and each the README's ticket of
		// her user id (HMAC-SHA256(ticket key, user), first 16 bytes):
		// nothing about her referrals goes into it.
		ticketOf := map[string]string{}
		userOf := map[string]string{}
		for _, u := range us {
			m := hmac.New(sha256.New, sec.TicketKey)
			m.Write([]byte(u))
			tk := hex.EncodeToString(m.Sum(nil)[:16])
			ticketOf[u], userOf[tk] = tk, u
		}
		if rec.Registrants != int64(len(us)) || len(rec.Tickets) != len(us) {
			t.Errorf("(a) %d registrants, %d tickets, want %d of each", rec.Registrants, len(rec.Tickets), len(us))
		}
		seen := map[string]bool{}
		for _, tk := range rec.Tickets {
			if _, ok := userOf[tk]; !ok {
				t.Errorf("(a) ticket %s is no registrant's ticket", tk)
			} else if seen[tk] {
				t.Errorf("(a) ticket %s (%s) is listed twice", tk, userOf[tk])
			}
			seen[tk] = true
		}

		// (b) Ranks from the seed and the ticket list alone: the list is
		// the registrants' tickets, which (a) found to be the frozen list,
		// sorted first, so the published order is not an input.
		if why := recompute(rec); why != "" {
			t.Errorf("(b) independent recomputation: %s", why)
		}
		seed, err := hex.DecodeString(rec.Seed)
		if err != nil || len(seed) == 0 {
			t.Fatalf("revealed seed %q", rec.Seed)
		}
		want := make([]string, 0, len(us))
		for _, u := range us {
			want = append(want, ticketOf[u])
		}
		sort.Strings(want)
		rankOf := map[string]int{}
		for i, tk := range seedOrder(seed, want) {
			rankOf[userOf[tk]] = i
		}
		winners := int(min(int64(len(us)), referred.Stock/referred.DrawQuantity))
		outcome := func(d engine.Drop, u string) string {
			v, err := f.eng.ShopperView(ctx(t), d.ID, u)
			switch {
			case err != nil:
				return err.Error()
			case v.Ticket != ticketOf[u]:
				return "ticket " + v.Ticket
			case v.Reservation != nil && v.Reservation.Status == engine.StatusHeld && v.WaitlistPosition == nil:
				return "won"
			case v.Reservation == nil && v.WaitlistPosition != nil:
				return "waitlist " + itoa(int(*v.WaitlistPosition))
			}
			return fmt.Sprintf("%+v", v)
		}
		for _, u := range us {
			r := rankOf[u]
			exp := "won"
			if r >= winners {
				exp = "waitlist " + itoa(r-winners+1)
			}
			if got := outcome(referred, u); got != exp {
				t.Errorf("(b) %s (referred by %q, a referrer: %v) has rank %d by the seed, so %s; she has %s",
					u, refs[u], codes[u] != "", r, exp, got)
			}
		}

		// (c) The twin, with no referrals, draws the same.
		tw := f.record(t, twin.ID, 5)
		if tw.Seed != rec.Seed || tw.FrozenDigest != rec.FrozenDigest || tw.Winners != rec.Winners ||
			!slices.Equal(tw.Tickets, rec.Tickets) {
			t.Errorf("(c) the twin without referrals drew otherwise:\nwithout: seed %s digest %s winners %d %v\nwith:    seed %s digest %s winners %d %v",
				tw.Seed, tw.FrozenDigest, tw.Winners, tw.Tickets, rec.Seed, rec.FrozenDigest, rec.Winners, rec.Tickets)
		}
		for _, u := range us {
			if a, b := outcome(referred, u), outcome(twin, u); a != b {
				t.Errorf("(c) %s: %s with referrals, %s without", u, a, b)
			}
		}
		checkInvariants(t, f, referred, nil)
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestReferralLostReply: the reply of a registration that credits a code
// is lost and go-redis sends it again: the code is credited once.
func TestReferralLostReply(t *testing.T) {
	t.Parallel()
	var armed atomic.Int32 // drop the reply of the armed-th script call from now
	f, p := proxied(t, func(req []byte) redistest.Fault {
		if redistest.IsScript(req) && armed.Load() > 0 && armed.Add(-1) == 0 {
			return redistest.DropReply
		}
		return redistest.Pass
	}, nil)
	src := f.newDrop(t, 2, 1)
	code := f.win(t, src, "alice", time.Second).ShareCode
	next := f.newDrop(t, 2, 1, func(d *engine.Drop) {
		d.RegistrationOpensAt, d.RegistrationClosesAt = t0.Add(time.Hour), t0.Add(2*time.Hour)
		d.SaleStartsAt = t0.Add(3 * time.Hour)
	})
	f.clock.Set(next.RegistrationOpensAt)
	armed.Store(2) // the code's lookup passes, the registration's reply is lost
	if _, created, err := f.eng.Register(ctx(t), next.ID, "bob", code); err != nil || !created {
		t.Fatalf("register through a lost reply: %v %v", created, err)
	}
	if p.Faults() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1", p.Faults())
	}
	if st := f.stats(t, next.ID); st.Referrals != 1 || st.Registered != 1 {
		t.Fatalf("stats: %+v", st)
	}
	if n := countEvents(f.events(t, next.ID), engine.EventReferral); n != 1 {
		t.Fatalf("referral events: %d", n)
	}
}
