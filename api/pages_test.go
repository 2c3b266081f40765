package api_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// get fetches a page (not the JSON API: pages answer HTML, also on 404).
func (h *harness) get(path string, headers ...string) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest("GET", "http://flashdrop.test"+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// winner registers a shopper with a distinctive id, opens the sale 2.5 s
// ago and wins a unit for her; it returns the share code.
func (h *harness) winner(drop, user string) string {
	h.t.Helper()
	h.register(drop, user)
	h.clock.Set(t0.Add(2500 * time.Millisecond))
	r := h.do("POST", "/v1/drops/"+drop+"/reservations", h.token(user), nil)
	h.expect(r, 201, "")
	return r.str("reservation", "share_code")
}

const secretUser = "user-4bd1f0c7-Zoë-never-shown"

// TestShareCard: the card's page has its OpenGraph and Twitter tags, the
// win's product, drop and time, the odds line, a link to register with
// the code; it is cacheable, and nothing on it or in its image names the
// winner.
func TestShareCard(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.PublicURL = "https://shop.example/" })
	drop := h.createDrop(3, 1, map[string]any{"name": "Tuesday Drop", "product": "Aurora Sneaker"})
	code := h.winner(drop, secretUser)
	if !strings.HasPrefix(code, drop+".") {
		t.Fatalf("share code %q does not carry its drop", code)
	}
	status, hdr, page := h.get("/s/" + code)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("card page: %d %s", status, hdr.Get("Content-Type"))
	}
	html := string(page)
	for _, want := range []string{
		`<meta property="og:title" content="Aurora Sneaker: won in 2.5 seconds">`,
		`<meta property="og:image" content="https://shop.example/s/` + code + `.png">`,
		`<meta property="og:url" content="https://shop.example/s/` + code + `">`,
		// Its preview says the same as its link: see the drop, not register.
		`<meta property="og:description" content="Won in 2.5 seconds in the drop “Tuesday Drop”. See Tuesday Drop.">`,
		`<meta name="twitter:card" content="summary_large_image">`,
		`<meta property="og:image:width" content="1200">`,
		`href="/d/` + drop + `?ref=` + code + `"`,
		"Sharing never changes anyone’s odds",
		"A shopper won in 2.5 seconds in the drop “Tuesday Drop”.",
		// No next drop yet: the link goes to this one, whose registration
		// has closed, so it does not promise a registration.
		">See Tuesday Drop</a>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("card page lacks %s", want)
		}
	}
	if strings.Contains(html, secretUser) || strings.Contains(html, "4bd1f0c7") {
		t.Fatal("the card page shows the winner's id")
	}
	if hdr.Get("ETag") == "" || hdr.Get("Cache-Control") != "public, max-age=60" ||
		!strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("card page headers: %v", hdr)
	}
	if st, _, _ := h.get("/s/"+code, "If-None-Match", hdr.Get("ETag")); st != 304 {
		t.Fatalf("a repeat with the ETag: %d, want 304", st)
	}

	status, ihdr, img := h.get("/s/" + code + ".png")
	// A hold may still be given back (its card then goes): caches keep
	// its image a minute; a confirmed win's, a day (below).
	if status != 200 || ihdr.Get("Content-Type") != "image/png" || ihdr.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("card image: %d %v", status, ihdr)
	}
	pic, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if b := pic.Bounds(); b.Dx() != 1200 || b.Dy() != 630 {
		t.Fatalf("card image is %v, want 1200×630", b)
	}
	// The product's line is drawn: the band where it goes has text pixels
	// (light on the dark background), the empty right margin has none.
	if n := lightPixels(pic, image.Rect(80, 170, 1100, 260)); n < 2000 {
		t.Fatalf("only %d text pixels where the product goes", n)
	}
	if n := lightPixels(pic, image.Rect(1150, 0, 1200, 500)); n != 0 {
		t.Fatalf("%d light pixels in the empty margin", n)
	}
	if bytes.Contains(img, []byte(secretUser)) || bytes.Contains(img, []byte("4bd1f0c7")) {
		t.Fatal("the card image carries the winner's id")
	}
	if st, _, again := h.get("/s/" + code + ".png"); st != 200 || !bytes.Equal(again, img) {
		t.Fatal("the cached image differs")
	}
	if st, _, _ := h.get("/s/"+code+".png", "If-None-Match", ihdr.Get("ETag")); st != 304 {
		t.Fatalf("image with its ETag: %d", st)
	}
	v := h.do("GET", "/v1/drops/"+drop, h.token(secretUser), nil)
	h.expect(h.do("POST", "/v1/reservations/"+v.str("me", "reservation", "id")+"/confirm", admin, nil), 200, "")
	testkit.Eventually(t, 0, "a confirmed win's image cached for a day", func() bool {
		st, hd, _ := h.get("/s/" + code + ".png")
		return st == 200 && hd.Get("Cache-Control") == "public, max-age=86400"
	})

	// Unknown and malformed codes: an HTML 404 page.
	for _, bad := range []string{drop + ".00000000000000000000", "nope", drop + ".zz", "x.png", strings.Repeat("a", 300)} {
		st, hd, body := h.get("/s/" + bad)
		if st != 404 || !strings.HasPrefix(hd.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "Nothing here") {
			t.Errorf("/s/%s: %d %s", bad, st, hd.Get("Content-Type"))
		}
		if st, _, _ := h.get("/s/" + bad + ".png"); st != 404 {
			t.Errorf("/s/%s.png: %d", bad, st)
		}
	}
}

// TestShareCardOfAWinGivenBack: once a win is cancelled its card's page
// says the win was given back (a 404 with the way to the drops), and its
// image, drawn before, is no longer served.
func TestShareCardOfAWinGivenBack(t *testing.T) {
	h := newHarness(t, nil)
	drop := h.createDrop(3, 1, map[string]any{"name": "Tuesday Drop", "product": "Aurora Sneaker"})
	h.register(drop, "alice")
	h.clock.Set(t0.Add(2500 * time.Millisecond))
	r := h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("alice"), nil)
	h.expect(r, 201, "")
	code, id := r.str("reservation", "share_code"), r.str("reservation", "id")
	if st, _, _ := h.get("/s/" + code + ".png"); st != 200 {
		t.Fatalf("the image of a held win: %d", st)
	}
	h.expect(h.do("POST", "/v1/reservations/"+id+"/cancel", h.token("alice"), nil), 200, "")
	// The card's data is kept for a second on the node.
	var body []byte
	testkit.Eventually(t, 0, "the card page to say the win was given back", func() bool {
		var st int
		st, _, body = h.get("/s/" + code)
		return st == 404
	})
	if !strings.Contains(string(body), "This win was given back") || !strings.Contains(string(body), `href="/"`) ||
		strings.Contains(string(body), "won in") {
		t.Errorf("the page of a win given back: %s", body)
	}
	if st, _, _ := h.get("/s/" + code + ".png"); st != 404 {
		t.Errorf("the image of a win given back: %d, want 404", st)
	}
}

func lightPixels(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr > 0x8000 && cg > 0x8000 && cb > 0x8000 {
				n++
			}
		}
	}
	return n
}

// TestReferralsRoute: a card's code credits a friend's registration once;
// the admin sees the top codes; shoppers may not.
func TestReferralsRoute(t *testing.T) {
	h := newHarness(t, nil)
	first := h.createDrop(2, 1, nil)
	code := h.winner(first, "alice")
	next := h.createDrop(2, 1, nil)
	for _, u := range []string{"bob", "carol"} {
		h.expect(h.do("POST", "/v1/drops/"+next+"/registrations", h.token(u), map[string]any{"ref": code}), 201, "")
	}
	h.expect(h.do("POST", "/v1/drops/"+next+"/registrations", h.token("bob"), map[string]any{"ref": code}), 200, "")
	h.expect(h.do("POST", "/v1/drops/"+next+"/registrations", h.token("alice"), map[string]any{"ref": code}), 201, "")
	h.expect(h.do("POST", "/v1/drops/"+next+"/registrations", h.token("dan"), map[string]any{"ref": first + ".0123456789abcdef0123"}), 201, "")
	top := h.do("GET", "/v1/admin/drops/"+next+"/referrals", admin, nil)
	h.expect(top, 200, "")
	if top.num("referrals") != 2 || !regexp.MustCompile(`"top":\[\{"code":"`+regexp.QuoteMeta(code)+`","referrals":2\}\]`).Match(top.raw) {
		t.Fatalf("top referrals: %s", top.raw)
	}
	h.expect(h.do("GET", "/v1/admin/drops/"+next+"/referrals", h.token("bob"), nil), 403, "forbidden")
	h.expect(h.do("GET", "/v1/admin/drops/"+next+"/referrals?limit=0", admin, nil), 400, "invalid")
	h.expect(h.do("GET", "/v1/admin/drops/nosuch/referrals", admin, nil), 404, "not_found")
}

// TestPages: the front page lists live and upcoming drops, a drop's page
// and its calendar entry exist, every page carries the strict CSP, assets
// are served from this origin with their hash, and a missing drop is an
// HTML 404.
func TestPages(t *testing.T) {
	h := newHarness(t, func(c *api.Config) { c.PublicURL = "https://shop.example" })
	drop := h.createDrop(5, 1, map[string]any{"name": "Night, Sale; \\ Special"})
	single := h.createDrop(1, 1, nil)
	// A big drop whose registration opens later: the front page says when.
	big := h.createDrop(100000, 1, map[string]any{"registration_opens_at": t0.Add(-30 * time.Minute), "registration_closes_at": t0.Add(-10 * time.Minute)})
	status, hdr, body := h.get("/")
	if status != 200 || !strings.Contains(string(body), `href="/d/`+drop+`"`) || !strings.Contains(string(body), `href="/d/`+single+`"`) {
		t.Fatalf("front page: %d", status)
	}
	if front := string(body); !strings.Contains(front, "· 5 units<") || !strings.Contains(front, "· 1 unit<") || strings.Contains(front, "1 units") ||
		!strings.Contains(front, "· 100,000 units<") {
		t.Errorf("the front page counts units wrongly:\n%s", front)
	}
	// Each drop is one link as a whole, and says until when registration
	// is open, or when it opens.
	front := string(body)
	for _, want := range []string{
		`<li><a class="drop-link" href="/d/` + drop + `">`,
		`register by <time datetime="2026-11-24T09:59:00Z">Tue 24 Nov 2026, 09:59 UTC</time>`,
		`registration opens <time datetime="2026-11-24T09:30:00Z">Tue 24 Nov 2026, 09:30 UTC</time>`,
	} {
		if !strings.Contains(front, want) {
			t.Errorf("the front page lacks %s:\n%s", want, front)
		}
	}
	if strings.Contains(front, "opens soon") {
		t.Errorf("the front page says registration opens soon, not when:\n%s", front)
	}
	if _, _, bp := h.get("/d/" + big); !strings.Contains(string(bp), `<span id="available">100,000</span> of 100,000 left`) {
		t.Errorf("the big drop's page writes its stock without separators:\n%s", bp)
	}
	csp := hdr.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	status, _, body = h.get("/d/" + drop)
	page := string(body)
	if status != 200 || !strings.Contains(page, `data-drop="`+drop+`"`) || !strings.Contains(page, `href="/d/`+drop+`.ics"`) {
		t.Fatalf("drop page: %d %s", status, page)
	}
	// Before its script runs the page reads right: the state in words,
	// the stock as counted.
	if !strings.Contains(page, `role="status">Registration is open</p>`) || !strings.Contains(page, `<span id="available">5</span> of 5 left`) {
		t.Errorf("the drop page before its script:\n%s", page)
	}
	// No inline script or style, and nothing from another host.
	if regexp.MustCompile(`<script>|<style|style="|\son[a-z]+="`).MatchString(page) {
		t.Fatal("inline script or style on the drop page")
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "/") {
			t.Errorf("the drop page refers to %s", m[1])
		}
	}
	script := regexp.MustCompile(`src="(/assets/app\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if script == nil {
		t.Fatal("no hashed app.js")
	}
	st, ahdr, js := h.get(script[1])
	if st != 200 || !strings.HasPrefix(ahdr.Get("Content-Type"), "text/javascript") || !strings.Contains(ahdr.Get("Cache-Control"), "immutable") || len(js) == 0 {
		t.Fatalf("asset: %d %v", st, ahdr)
	}
	if st, _, _ := h.get("/assets/nope.js"); st != 404 {
		t.Fatalf("missing asset: %d", st)
	}

	st, chdr, ics := h.get("/d/" + drop + ".ics")
	cal := string(ics)
	if st != 200 || !strings.HasPrefix(chdr.Get("Content-Type"), "text/calendar") {
		t.Fatalf("calendar: %d %v", st, chdr)
	}
	for _, want := range []string{"BEGIN:VCALENDAR\r\n", "DTSTART:20261124T100000Z\r\n", "DTEND:20261124T110000Z\r\n",
		`SUMMARY:Night\, Sale\; \\ Special: the sale starts` + "\r\n", "URL:https://shop.example/d/" + drop + "\r\n", "END:VCALENDAR\r\n"} {
		if !strings.Contains(cal, want) {
			t.Errorf("calendar lacks %q:\n%s", want, cal)
		}
	}
	for _, l := range strings.Split(cal, "\r\n") {
		if len(l) > 75 {
			t.Errorf("calendar line over 75 octets: %q", l)
		}
	}
	// Stamped when it was made (it depends on the time).
	if !strings.Contains(cal, "DTSTAMP:"+h.clock.Now().UTC().Format("20060102T150405Z")+"\r\n") {
		t.Errorf("calendar not stamped with the time it was made:\n%s", cal)
	}
	// Registration still open: a reminder before it closes too (an hour
	// before is past already: a quarter of an hour before).
	if strings.Count(cal, "BEGIN:VALARM") != 2 || !strings.Contains(cal, "TRIGGER;VALUE=DATE-TIME:20261124T094400Z\r\n") {
		t.Errorf("a drop whose registration, open, closes a minute before the sale has %d reminders, want 2 (one at 09:44):\n%s", strings.Count(cal, "BEGIN:VALARM"), cal)
	}
	// Its words have no clock time (the calendar shows the event in the
	// reader's zone; "09:59 UTC" beside it read as another time).
	unfoldedCal := strings.ReplaceAll(cal, "\r\n ", "")
	for _, l := range strings.Split(unfoldedCal, "\r\n") {
		if strings.HasPrefix(l, "DESCRIPTION:") && (strings.Contains(l, "UTC") || regexp.MustCompile(`\d:\d\d`).MatchString(l)) {
			t.Errorf("a calendar description states a clock time: %s", l)
		}
	}
	if !strings.Contains(unfoldedCal, `DESCRIPTION:Register on the drop's page before registration closes\, 1 minute before this event starts\; then be there when it starts and press Buy: https://shop.example/d/`+drop+"\r\n") {
		t.Errorf("the calendar's description:\n%s", unfoldedCal)
	}
	// A draw whose registration closes a day before: nothing to press,
	// and a reminder an hour before registration closes.
	lucky := h.createDrop(5, 1, map[string]any{"mode": "draw", "name": "Lucky",
		"registration_opens_at": t0.Add(-48 * time.Hour), "registration_closes_at": t0.Add(-24 * time.Hour)})
	h.clock.Set(t0.Add(-40 * time.Hour)) // registration is open
	_, _, ics = h.get("/d/" + lucky + ".ics")
	unfolded := strings.ReplaceAll(string(ics), "\r\n ", "")
	for _, want := range []string{"to be in the draw", "TRIGGER;VALUE=DATE-TIME:20261123T090000Z\r\n",
		"DESCRIPTION:Registration for Lucky closes in an hour\r\n", "DESCRIPTION:Lucky: the draw is in 10 minutes\r\n"} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("the draw's calendar lacks %q:\n%s", want, unfolded)
		}
	}
	if strings.Contains(unfolded, "press Buy") {
		t.Errorf("the draw's calendar says to press Buy:\n%s", unfolded)
	}
	if !strings.Contains(unfolded, "registration closes 1 day before this event starts") {
		t.Errorf("the draw's calendar does not say when registration closes:\n%s", unfolded)
	}
	// Once that reminder's time has passed, a calendar fetched then has
	// one a quarter of an hour before registration closes; fetched later
	// still, the sale's alone.
	h.clock.Set(t0.Add(-24*time.Hour - 30*time.Minute))
	if _, _, ics = h.get("/d/" + lucky + ".ics"); strings.Count(string(ics), "BEGIN:VALARM") != 2 ||
		!strings.Contains(string(ics), "DESCRIPTION:Registration for Lucky closes in 15 minutes\r\n") {
		t.Errorf("a calendar fetched half an hour before registration closes has %d reminders, want 2:\n%s", strings.Count(string(ics), "BEGIN:VALARM"), ics)
	}
	h.clock.Set(t0.Add(-24*time.Hour - 10*time.Minute))
	if _, _, ics = h.get("/d/" + lucky + ".ics"); strings.Count(string(ics), "BEGIN:VALARM") != 1 {
		t.Errorf("a calendar fetched after its registration reminders' times has %d reminders, want 1", strings.Count(string(ics), "BEGIN:VALARM"))
	}
	h.clock.Set(t0.Add(-time.Hour))
	// Fetched after registration closed: it says so instead of inviting
	// to register.
	_, _, ics = h.get("/d/" + lucky + ".ics")
	if unfolded := strings.ReplaceAll(string(ics), "\r\n ", ""); !strings.Contains(unfolded, `DESCRIPTION:Registration has closed\; the winners are drawn`) {
		t.Errorf("the draw's calendar after registration closed:\n%s", unfolded)
	}
	// A registration window shorter than an hour: no reminder before it
	// opens that it closes in an hour.
	brief := h.createDrop(5, 1, map[string]any{"name": "Brief",
		"registration_opens_at": t0.Add(-30 * time.Minute), "registration_closes_at": t0.Add(-20 * time.Minute)})
	if _, _, ics = h.get("/d/" + brief + ".ics"); strings.Count(string(ics), "BEGIN:VALARM") != 1 {
		t.Errorf("a 10-minute registration window has %d reminders, want the sale's alone:\n%s", strings.Count(string(ics), "BEGIN:VALARM"), ics)
	}

	for _, p := range []string{"/d/nosuchdrop", "/d/no%20such", "/d/nosuchdrop.ics"} {
		if st, hd, _ := h.get(p); st != 404 || !strings.HasPrefix(hd.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", p, st, hd.Get("Content-Type"))
		}
	}
	if st, _, body := h.get("/ops"); st != 200 || !strings.Contains(string(body), `id="admin-token"`) {
		t.Fatalf("ops page: %d", st)
	} else if strings.Contains(string(body), "never change anyone’s odds") || !strings.Contains(page, "never change anyone’s odds") {
		t.Errorf("the shoppers' promise belongs under the shoppers' pages, not the ops page: ops has it %v, the drop page %v",
			strings.Contains(string(body), "never change anyone’s odds"), strings.Contains(page, "never change anyone’s odds"))
	}
	// Pages answer GET (and HEAD) only.
	if r := h.do("POST", "/d/"+drop, "", nil); r.status != 405 {
		t.Fatalf("POST to a page: %d", r.status)
	}
}

// countingShares counts the share cards read from the engine.
type countingShares struct {
	api.ShareService
	reads atomic.Int64
}

func (c *countingShares) ShareCard(ctx context.Context, code string) (engine.ShareCard, error) {
	c.reads.Add(1)
	return c.ShareService.ShareCard(ctx, code)
}

// TestShareCardReadOncePerMoment: a winner's link opened many times in a
// moment (a share going round during the sale) reads the card from the
// store once per second per node, page and image alike; it is read again
// once that second has passed. A code that names no win is never kept.
func TestShareCardReadOncePerMoment(t *testing.T) {
	cs := &countingShares{}
	h := newHarness(t, func(c *api.Config) { cs.ShareService = c.Shares; c.Shares = cs })
	drop := h.createDrop(3, 1, nil)
	h.register(drop, "bob")
	code := h.winner(drop, "alice")
	start := time.Now()
	for range 50 {
		if status, _, page := h.get("/s/" + code); status != 200 || !strings.Contains(string(page), "won in 2.5 seconds") {
			t.Fatalf("card page: %d", status)
		}
		if st, _, _ := h.get("/s/" + code + ".png"); st != 200 {
			t.Fatalf("card image: %d", st)
		}
	}
	took := time.Since(start)
	if n, most := cs.reads.Load(), int64(took/time.Second)+1; n < 1 || n > most {
		t.Fatalf("100 openings in %v read the card %d times, want 1 to %d (once a second)", took.Round(time.Millisecond), n, most)
	}
	before := cs.reads.Load()
	testkit.Eventually(t, 5*time.Second, "the card read again after its second", func() bool {
		h.get("/s/" + code)
		return cs.reads.Load() > before
	})

	// A crowd opening a card at once reads it once: the first reads, the
	// others wait for its answer.
	r := h.do("POST", "/v1/drops/"+drop+"/reservations", h.token("bob"), nil)
	h.expect(r, 201, "")
	other := r.str("reservation", "share_code")
	before = cs.reads.Load()
	start = time.Now()
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 3 {
				if st, _, _ := h.get("/s/" + other); st != 200 {
					t.Errorf("card page: %d", st)
				}
			}
		})
	}
	wg.Wait()
	took = time.Since(start)
	if n, most := cs.reads.Load()-before, int64(took/time.Second)+1; n < 1 || n > most {
		t.Fatalf("96 openings by 32 at once in %v read the card %d times, want 1 to %d", took.Round(time.Millisecond), n, most)
	}

	bogus := drop + ".000000000000000000000000"
	before = cs.reads.Load()
	for range 2 {
		if st, _, _ := h.get("/s/" + bogus); st != 404 {
			t.Fatalf("a made-up code: %d, want 404", st)
		}
	}
	if n := cs.reads.Load() - before; n != 2 {
		t.Fatalf("two openings of a made-up code read %d times, want 2 (not kept)", n)
	}
}

// TestShareCardNextDrop: a card whose next drop's registration has not
// opened yet says when it opens, in a <time> the page's script shows in
// the reader's zone, and does not invite to register; once it is open,
// the card invites and says until when. Either way it says when the next
// drop's sale is.
func TestShareCardNextDrop(t *testing.T) {
	h := newHarness(t, nil)
	series := dropID(t)
	// createDrop answers its own id; the body's "id" is the one made.
	this, next := series+"-2026-11-24", series+"-2026-12-01"
	h.createDrop(3, 1, map[string]any{"id": this, "name": "Tee", "product": "Aurora Tee"})
	week := 7 * 24 * time.Hour
	h.createDrop(3, 1, map[string]any{"id": next, "name": "Next Tee", "product": "Aurora Tee",
		"registration_opens_at": t0.Add(24 * time.Hour), "registration_closes_at": t0.Add(week - time.Minute),
		"sale_starts_at": t0.Add(week), "sale_ends_at": t0.Add(week + time.Hour)})
	code := h.winner(this, secretUser)
	st, _, body := h.get("/s/" + code)
	page := string(body)
	for _, want := range []string{
		`href="/d/` + next + `?ref=` + code + `">See Next Tee</a>`,
		`Next Tee: the sale <time datetime="2026-12-01T10:00:00Z">Tue 1 Dec 2026, 10:00 UTC</time>.`,
		`Registration opens <time datetime="2026-11-25T10:00:00Z">Wed 25 Nov 2026, 10:00 UTC</time>.`,
		`content="Won in 2.5 seconds in the drop “Tee”. Registration for Next Tee opens Wed 25 Nov, 10:00 UTC."`,
		`src="/assets/app.js?v=`, // which shows the times in the reader's zone
	} {
		if !strings.Contains(page, want) {
			t.Errorf("before the next drop's registration opens, the card page lacks %s:\n%s", want, page)
		}
	}
	if st != 200 || strings.Contains(page, "Register for") || strings.Contains(page, secretUser) {
		t.Errorf("before the next drop's registration opens, the card page (%d) invites to register, or names the winner:\n%s", st, page)
	}
	h.clock.Set(t0.Add(25 * time.Hour))
	_, _, body = h.get("/s/" + code)
	page = string(body)
	for _, want := range []string{
		`href="/d/` + next + `?ref=` + code + `">Register for Next Tee</a>`,
		`Register by <time datetime="2026-12-01T09:59:00Z">Tue 1 Dec 2026, 09:59 UTC</time>.`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("with the next drop's registration open, the card page lacks %s:\n%s", want, page)
		}
	}
}
