package queue

import (
	"strings"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// WeekData is the part of an event's data that the week's features add:
// the series, the drop's public page, the sale start, and the draw's
// commitment and result. It is embedded in EventData, so its fields sit
// beside the others in the JSON.
type WeekData struct {
	// Series is the drop's series, on every event of a series drop.
	Series string `json:"series,omitempty"`
	// URL is the drop's public page, on drop_created, invited, reminder
	// and sale_opened, so an integration can link the shopper there.
	URL string `json:"url,omitempty"`
	// SaleStartsAt is the sale's start, on the same events.
	SaleStartsAt time.Time `json:"sale_starts_at,omitzero"`
	// SeedHash is a draw drop's commitment, on every event of the drop.
	SeedHash string `json:"seed_hash,omitempty"`
	// The draw's result, on drawn: the revealed seed, the frozen list's
	// digest and the counts.
	Seed         string `json:"seed,omitempty"`
	FrozenDigest string `json:"frozen_digest,omitempty"`
	Registrants  *int64 `json:"registrants,omitempty"`
	Winners      *int64 `json:"winners,omitempty"`
	Waitlisted   *int64 `json:"waitlisted,omitempty"`
}

func weekData(ev engine.Event, publicURL string) WeekData {
	w := WeekData{Series: ev.Series, SeedHash: ev.SeedHash, SaleStartsAt: ev.SaleStartsAt}
	switch ev.Type {
	case engine.EventDropCreated, engine.EventInvited, engine.EventReminder, engine.EventSaleOpened:
		w.URL = strings.TrimSuffix(publicURL, "/") + "/d/" + ev.Drop
	case engine.EventDrawn:
		n, win, wait := ev.Registrants, ev.Winners, ev.Waitlisted
		w.Seed, w.FrozenDigest, w.Registrants, w.Winners, w.Waitlisted = ev.Seed, ev.FrozenDigest, &n, &win, &wait
	}
	return w
}
