package api

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// Share cards and referrals: GET /s/{code} (the card's page, with
// OpenGraph and Twitter tags), GET /s/{code}.png (its image) and the
// admin's GET /v1/admin/drops/{drop}/referrals.

// ShareService answers share cards and referral counts (engine.Engine).
type ShareService interface {
	ShareCard(ctx context.Context, code string) (engine.ShareCard, error)
	TopReferrals(ctx context.Context, drop string, n int) ([]engine.ReferralCount, error)
}

// cardCacheSize bounds the rendered card images kept in memory (about
// 40 KB each).
const cardCacheSize = 512

// cardDataSize bounds the share cards' data kept for their pages, and
// cardDataTTL how old it may be. A winner's link shared on social media
// is opened by the thousand a second, during the sale: each opening read
// the win and its drop from Redis (two round trips, five Redis
// commands). Now a code costs one read per node per TTL, however often it
// is opened; the data changes only when its series' next drop appears,
// and the page itself may be cached for a minute (cardPageCache).
const (
	cardDataSize    = 4096
	cardDataTTL     = time.Second
	cardReadTimeout = 5 * time.Second
)

// cachedCard is a share card's data and when it was read.
type cachedCard struct {
	card engine.ShareCard
	at   time.Time
}

// shareCardOf returns code's card, read at most cardDataTTL ago. A code
// that names no win is not kept: anyone can make up codes.
func (s *Server) shareCardOf(ctx context.Context, code string) (engine.ShareCard, error) {
	if c, ok := s.cardData.get(code); ok && time.Since(c.at) < cardDataTTL {
		return c.card, nil
	}
	// The crowd that finds the card's second over asks at once: one of
	// them reads it, the others wait for that answer. The read is not
	// cut short when the asker who started it goes away (its request's
	// context), since the others wait for it too.
	v, err, _ := s.cardFlight.Do(code, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cardReadTimeout)
		defer cancel()
		c, err := s.cfg.Shares.ShareCard(rctx, code)
		if err != nil {
			return nil, err
		}
		s.cardData.put(code, cachedCard{card: c, at: time.Now()})
		return c, nil
	})
	if err != nil {
		return engine.ShareCard{}, err
	}
	return v.(engine.ShareCard), nil
}

// Cache lifetimes: a confirmed win's image never changes; a hold's may go
// (a win given back has no card), so caches keep it a minute, as the page,
// which names the next drop of a series, appearing later.
const (
	cardImageCache     = "public, max-age=86400"
	cardHeldImageCache = "public, max-age=60"
	cardPageCache      = "public, max-age=60"
)

type sharePage struct {
	pageBase
	Card    engine.ShareCard
	Won     string
	Product string
	Title   string
	Desc    string
	PageURL string
	Image   string
	Join    string // where a friend registers, with the referral
	Next    engine.Drop
	// DropName is the card's drop's name as the page quotes it.
	DropName string
	// CanRegister says the next drop's registration is open: the link
	// says "Register for" only then (until the series' next drop exists,
	// Next is the card's own drop, closed during its sale).
	CanRegister bool
	// OpensLater says the next drop's registration has not opened yet:
	// the page says when it opens rather than invite to register.
	OpensLater bool
	// NextAhead says the next drop's sale (or draw) is still to come: the
	// page says when.
	NextAhead bool
}

func (s *Server) shareCard(r *request) error {
	code := r.args[0]
	ctx, cancel := r.context()
	defer cancel()
	c, err := s.shareCardOf(ctx, code)
	if err != nil {
		return s.pageError(r, err)
	}
	base := s.publicBase(r)
	won := cardWon(c)
	of := " in" // "won in the draw of the drop", not "in the draw in the drop"
	if c.ByDraw {
		of = " of"
	}
	// Open is opened and not closed: a card read before next week's
	// registration opens invited to a registration that would be refused.
	now := s.drops.Now()
	opensLater := now.Before(c.Next.RegistrationOpensAt)
	canRegister := !opensLater && now.Before(c.Next.RegistrationClosesAt)
	invite := " Register for " + c.Next.Name + " too: sharing never changes anyone’s odds."
	switch {
	case opensLater:
		// The preview is read where no script runs: the time in UTC,
		// named. The page says it in the reader's zone.
		invite = " Registration for " + c.Next.Name + " opens " + c.Next.RegistrationOpensAt.UTC().Format("Mon 2 Jan, 15:04 MST") + "."
	case !canRegister:
		invite = " See " + c.Next.Name + "."
	}
	p := sharePage{
		pageBase: s.newPageBase(r, c.Drop.Product+" — "+won),
		Card:     c, Won: won, Product: c.Drop.Product,
		Title:   c.Drop.Product + ": " + won,
		Desc:    "Won " + strings.TrimPrefix(won, "won ") + of + " the drop " + quotedName(c.Drop.Name) + "." + invite,
		PageURL: base + "/s/" + code,
		Image:   base + "/s/" + code + ".png",
		Join:    "/d/" + c.Next.ID + "?ref=" + code,
		Next:    c.Next,

		DropName: quotedName(c.Drop.Name),

		CanRegister: canRegister,
		OpensLater:  opensLater,
		NextAhead:   now.Before(c.Next.SaleStartsAt),
	}
	return s.renderPage(r, "share.html", p, cardPageCache)
}

func (s *Server) shareImage(r *request) error {
	code := r.args[0]
	// The card's data first, even for an image drawn before: a win given
	// back since has no card (its data is read at most once a second).
	ctx, cancel := r.context()
	defer cancel()
	c, err := s.shareCardOf(ctx, code)
	if err != nil {
		return s.pageError(r, err)
	}
	body, ok := s.cards.get(code)
	if !ok {
		l := layoutCard(c, hostOf(s.publicBase(r)), s.cfg.CardFont)
		if l.substituted {
			s.cardFontWarn.Do(func() {
				s.log.Warn("a share card's product or drop name has characters no card font has: the card says \"" + cardNoProduct +
					"\" or leaves the drop out; serve's --card-font with a font that has them (e.g. Noto Sans CJK) would draw them")
			})
		}
		if body, err = renderCard(l); err != nil {
			return err
		}
		s.cards.put(code, body)
	}
	cache := cardHeldImageCache
	if c.Confirmed {
		cache = cardImageCache
	}
	return writeCached(r, "image/png", body, cache)
}

func hostOf(base string) string {
	_, host, ok := strings.Cut(base, "://")
	if !ok {
		return base
	}
	return host
}

// adminReferrals is GET /v1/admin/drops/{drop}/referrals[?limit=N]: the
// drop's share codes that brought the most new registrants.
func (s *Server) adminReferrals(r *request) error {
	if err := s.requireScope(r, engine.ScopeDropsRead); err != nil {
		return err
	}
	n := 20
	if v := r.ctx.QueryArgs().Peek("limit"); len(v) > 0 {
		var err error
		if n, err = strconv.Atoi(string(v)); err != nil {
			return &engine.ValidationError{Field: "limit", Reason: "must be a number"}
		}
	}
	ctx, cancel := r.context()
	defer cancel()
	top, err := s.cfg.Shares.TopReferrals(ctx, r.args[0], n)
	if err != nil {
		return err
	}
	st, err := s.drops.Stats(ctx, r.args[0])
	if err != nil {
		return err
	}
	return writeJSON(r.ctx, fasthttp.StatusOK, map[string]any{"drop": r.args[0], "referrals": st.Referrals, "top": top})
}
