package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/flashdrop/flashdrop/engine"
)

// The pages: GET / (upcoming and live drops), GET /d/{drop} (one drop's
// page), GET /d/{drop}.ics (its sale as a calendar entry), GET /ops (the
// ops page), and the share card (share.go). They are html/template pages
// with a little plain JavaScript and CSS from api/web, embedded in the
// binary: no build step, and nothing from another host, which the
// Content-Security-Policy of every page enforces. The pages call the same
// JSON API as any client; they add no rule of their own.

//go:embed web/templates/*.html web/static/*
var webFS embed.FS

// contentSecurityPolicy allows this origin only, and no inline script or
// style: every script and stylesheet is a file under /assets/.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// web is what the pages need, built once per server.
type web struct {
	pages  map[string]*template.Template
	assets map[string]asset
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

func newWeb() (*web, error) {
	w := &web{pages: map[string]*template.Template{}, assets: map[string]asset{}}
	static, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml"}
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		ct, ok := types[path.Ext(p)]
		if !ok {
			return fmt.Errorf("api: web/static/%s: no content type for its extension", p)
		}
		w.assets[p] = asset{body: b, contentType: ct, etag: etagOf(b)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		// asset names a static file with its content hash, so a page
		// never runs an older script or stylesheet than it was built with.
		"asset": func(name string) (string, error) {
			a, ok := w.assets[name]
			if !ok {
				return "", fmt.Errorf("no asset %q", name)
			}
			return "/assets/" + name + "?v=" + strings.Trim(a.etag, `"`)[:12], nil
		},
		"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"human":   func(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006, 15:04 MST") },
		"units": func(n int64) string {
			if n == 1 {
				return "1 unit"
			}
			return thousands(n) + " units"
		},
		"num": thousands,
	}
	pages, err := fs.Glob(webFS, "web/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := path.Base(p)
		if name == "layout.html" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(webFS, "web/templates/layout.html", p)
		if err != nil {
			return nil, err
		}
		w.pages[name] = t
	}
	return w, nil
}

// thousands writes n with commas between groups of three digits, as the
// pages' script does (toLocaleString('en')): 100,000 units, not 100000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func etagOf(b []byte) string {
	h := sha256.Sum256(b)
	return `"` + hex.EncodeToString(h[:12]) + `"`
}

// pageBase is what every page template gets.
type pageBase struct {
	Title string
	// Now is the engine's clock when the page was made: the pages count
	// down against the server's clock, never the device's.
	Now time.Time
	// NoIndex asks search engines not to list the page (a rehearsal's).
	NoIndex bool
}

func (s *Server) newPageBase(_ *request, title string) pageBase {
	return pageBase{Title: title, Now: s.drops.Now()}
}

// pageHeaders are the security headers of every page and asset.
func pageHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// renderPage executes a page template and answers it, with an ETag when
// cacheControl allows caching.
func (s *Server) renderPage(r *request, name string, data any, cacheControl string) error {
	return s.renderStatus(r, name, data, cacheControl, fasthttp.StatusOK)
}

func (s *Server) renderStatus(r *request, name string, data any, cacheControl string, status int) error {
	t, ok := s.web.pages[name]
	if !ok {
		return fmt.Errorf("api: no page template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("api: page %s: %w", name, err)
	}
	pageHeaders(r.ctx)
	if status != fasthttp.StatusOK {
		r.ctx.Response.Header.SetContentType("text/html; charset=utf-8")
		r.ctx.Response.Header.Set("Cache-Control", "no-store")
		r.ctx.SetStatusCode(status)
		r.ctx.SetBody(buf.Bytes())
		return nil
	}
	return writeCached(r, "text/html; charset=utf-8", buf.Bytes(), cacheControl)
}

// writeCached answers body with an ETag and Cache-Control, or 304 when
// the client holds the same body.
func writeCached(r *request, contentType string, body []byte, cacheControl string) error {
	pageHeaders(r.ctx)
	h := &r.ctx.Response.Header
	h.Set("Cache-Control", cacheControl)
	if cacheControl == "no-store" {
		h.SetContentType(contentType)
		r.ctx.SetBody(body)
		return nil
	}
	tag := etagOf(body)
	h.Set("ETag", tag)
	if inm := string(r.ctx.Request.Header.Peek("If-None-Match")); inm != "" && etagMatch(inm, tag) {
		r.ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	h.SetContentType(contentType)
	r.ctx.SetBody(body)
	return nil
}

func etagMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == tag || t == "*" {
			return true
		}
	}
	return false
}

type errorPage struct {
	pageBase
	Status  int
	Heading string
	Message string
}

// pageError answers a page request's failure as an HTML page: 404 for
// what does not exist, the problem's status otherwise (logged when it is
// the server's fault, as for the API).
func (s *Server) pageError(r *request, err error) error {
	p := problemFor(err)
	page := errorPage{pageBase: s.newPageBase(r, "Not found"), Status: p.Status,
		Heading: "Nothing here", Message: "This link leads nowhere: the drop or the share card does not exist."}
	if errors.Is(err, engine.ErrWinGivenBack) {
		// A friend who follows a winner's link after the win was let go
		// (cancelled, or not paid in time) is told so, not "nowhere".
		page.Heading = "This win was given back"
		page.Message = "Its unit went back to the sale, so there is no win to show here. The drops coming up are open to everyone who registers."
	}
	if p.Status != fasthttp.StatusNotFound {
		if p.Status >= 500 {
			s.log.Error("page failed", "request_id", string(r.ctx.Response.Header.Peek(headerRequestID)),
				"route", r.route, "status", p.Status, "err", err.Error())
			s.metrics.storeError(err)
			setRetryAfter(r.ctx, 1)
		}
		page.Title, page.Heading = "Something went wrong", "Something went wrong"
		page.Message = "We could not show this page just now. Try again in a moment."
	}
	return s.renderStatus(r, "error.html", page, "no-store", p.Status)
}

// webRoute matches the pages' paths: "/", "/ops", "/d/{drop}[.ics]",
// "/s/{code}[.png]" and "/assets/{file}". ok is false for any other path.
func (s *Server) webRoute(seg []string) (route string, args []string, h handlerFunc, ok bool) {
	switch {
	case len(seg) == 1 && seg[0] == "":
		return "/", nil, s.pageIndex, true
	case len(seg) == 1 && seg[0] == "ops":
		return "/ops", nil, s.pageOps, true
	case len(seg) == 2 && seg[0] == "d":
		if id, ok := strings.CutSuffix(seg[1], ".ics"); ok {
			return "/d/{drop}.ics", []string{id}, s.dropCalendar, true
		}
		return "/d/{drop}", seg[1:2], s.pageDrop, true
	case len(seg) == 2 && seg[0] == "s" && s.cfg.Shares != nil:
		if code, ok := strings.CutSuffix(seg[1], ".png"); ok {
			return "/s/{code}.png", []string{code}, s.shareImage, true
		}
		return "/s/{code}", seg[1:2], s.shareCard, true
	case len(seg) == 2 && seg[0] == "assets":
		return "/assets/{file}", seg[1:2], s.serveAsset, true
	}
	return "", nil, nil, false
}

func (s *Server) serveAsset(r *request) error {
	a, ok := s.web.assets[r.args[0]]
	if !ok {
		return s.pageError(r, engine.ErrNotFound)
	}
	pageHeaders(r.ctx)
	h := &r.ctx.Response.Header
	// Pages name assets with their hash (?v=), so a cached copy is never stale.
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", a.etag)
	if etagMatch(string(r.ctx.Request.Header.Peek("If-None-Match")), a.etag) {
		r.ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	h.SetContentType(a.contentType)
	r.ctx.SetBody(a.body)
	return nil
}

// indexDrop is one line of the front page.
type indexDrop struct {
	engine.Drop
	State engine.State
	// Available is what is left (a live drop shows it).
	Available int64
}

type indexPage struct {
	pageBase
	Live, Upcoming []indexDrop
}

// pageIndex lists the drops whose sale is live or still to come.
func (s *Server) pageIndex(r *request) error {
	ctx, cancel := r.context()
	defer cancel()
	// Both the list and each drop's view are a moment old at most (the
	// admission's caches): a page view reads nothing from the store, and
	// a sale's crowd loading this page before it opens does not compete
	// with the sale for Redis.
	ds, err := s.adm.Drops(ctx)
	if err != nil {
		return s.pageError(r, err)
	}
	p := indexPage{pageBase: s.newPageBase(r, "Drops")}
	for _, d := range ds {
		if d.SaleEnded(p.Now) || d.Rehearsal {
			// Over, whatever its stock, or a load test's: not listed, not
			// read.
			continue
		}
		d, st, err := s.adm.View(ctx, d.ID)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return s.pageError(r, err)
		}
		switch state := d.State(p.Now, st.Available); state {
		case engine.StateSaleOpen, engine.StateSoldOut:
			p.Live = append(p.Live, indexDrop{d, state, st.Available})
		case engine.StateScheduled, engine.StateRegistrationOpen, engine.StateRegistrationClosed:
			p.Upcoming = append(p.Upcoming, indexDrop{d, state, st.Available})
		}
	}
	bySale := func(l []indexDrop) {
		sort.Slice(l, func(i, j int) bool { return l[i].SaleStartsAt.Before(l[j].SaleStartsAt) })
	}
	bySale(p.Live)
	bySale(p.Upcoming)
	return s.renderPage(r, "index.html", p, "no-store")
}

type dropPage struct {
	pageBase
	Drop      engine.Drop
	State     engine.State
	Available int64
	// Drawn is a draw drop's public record once drawn (its first page,
	// without tickets), and Verify the command that checks it: the page
	// leads a shopper to check the draw instead of only promising it can
	// be.
	Drawn  *engine.DrawRecord
	Verify string
	// Target is the URL verify-draw is pointed at: the page's script
	// writes the same command when the draw is made while it is open.
	Target string
	// SignInURL is Config.SignInURL: the shop's sign-in, offered to a
	// visitor who is not signed in.
	SignInURL string
}

// HoldText is how long a win is held, in words ("10 minutes"): a draw's
// winner must pay within it from the draw, and must be told so before.
func (p dropPage) HoldText() string { return holdText(p.Drop.HoldSeconds) }

func holdText(seconds int64) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case seconds >= 3600 && seconds%3600 == 0:
		return plural(seconds/3600, "hour")
	case seconds >= 60 && seconds%60 == 0:
		return plural(seconds/60, "minute")
	}
	return plural(seconds, "second")
}

// leadText is how long before the sale registration closes, in words:
// whole days as days ("3 days"), else as holdText says it.
func leadText(d time.Duration) string {
	if day := 24 * time.Hour; d >= day && d%day == 0 {
		if d == day {
			return "1 day"
		}
		return strconv.FormatInt(int64(d/day), 10) + " days"
	}
	return holdText(int64(d / time.Second))
}

// drawnCacheSize bounds the drawn records' summaries kept for the drop
// pages: a drawn record never changes, and every page view of a drawn
// drop would read it from Redis.
const drawnCacheSize = 256

// drawnSummary returns drop d's draw record once drawn (nil before, or
// when it cannot be read: the page goes on without it).
func (s *Server) drawnSummary(ctx context.Context, d engine.Drop, now time.Time) *engine.DrawRecord {
	if d.Mode != engine.ModeDraw || s.cfg.Draws == nil || now.Before(d.SaleStartsAt) {
		return nil
	}
	if rec, ok := s.drawn.get(d.ID); ok {
		return &rec
	}
	rec, err := s.cfg.Draws.DrawRecord(ctx, d.ID, 0, 1)
	if err != nil || rec.State != engine.DrawDrawn {
		return nil
	}
	rec.Tickets, rec.NextOffset = nil, nil
	s.drawn.put(d.ID, rec)
	return &rec
}

// StateText is the state as the page's script words it (app.js
// stateText), so that the page reads right before the script has run.
func (p dropPage) StateText() string {
	if p.Drop.Paused {
		return "Paused"
	}
	switch p.State {
	case engine.StateScheduled:
		return "Registration is not open yet"
	case engine.StateRegistrationOpen:
		return "Registration is open"
	case engine.StateRegistrationClosed:
		if p.Drop.Mode == engine.ModeDraw {
			return "Registration has closed; the draw comes next"
		}
		return "Registration has closed; the sale starts soon"
	case engine.StateSaleOpen:
		return "On sale now"
	case engine.StateSoldOut:
		return "Sold out"
	case engine.StateSaleClosed:
		return "The sale has ended"
	}
	return string(p.State)
}

// pageDrop is one drop's page; its script does the rest through the API.
func (s *Server) pageDrop(r *request) error {
	ctx, cancel := r.context()
	defer cancel()
	d, st, err := s.adm.View(ctx, r.args[0])
	if err != nil {
		return s.pageError(r, err)
	}
	p := dropPage{pageBase: s.newPageBase(r, d.Name), Drop: d, Available: st.Available, SignInURL: s.cfg.SignInURL}
	if d.Rehearsal {
		// The header too: a crawler may read it without the page.
		p.NoIndex = true
		r.ctx.Response.Header.Set("X-Robots-Tag", "noindex")
	}
	p.State = d.State(p.Now, st.Available)
	p.Target = s.publicBase(r)
	if p.Drawn = s.drawnSummary(ctx, d, p.Now); p.Drawn != nil {
		p.Verify = "flashdrop verify-draw --target " + p.Target + " --drop " + d.ID
	}
	return s.renderPage(r, "drop.html", p, "no-store")
}

// pageOps is the ops page: everything on it comes from the admin API,
// with the token the operator types into it.
func (s *Server) pageOps(r *request) error {
	return s.renderPage(r, "ops.html", s.newPageBase(r, "Ops"), "no-store")
}

// dropCalendar is the sale as an iCalendar entry (RFC 5545), with a
// reminder ten minutes before, and one before registration closes while
// that is still ahead.
func (s *Server) dropCalendar(r *request) error {
	ctx, cancel := r.context()
	defer cancel()
	d, _, err := s.adm.View(ctx, r.args[0])
	if err != nil {
		return s.pageError(r, err)
	}
	base := s.publicBase(r)
	end := d.SaleEndsAt
	if end.IsZero() {
		end = d.SaleStartsAt.Add(time.Hour)
	}
	stamp := func(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
	var b strings.Builder
	line := func(name, value string) { b.WriteString(foldICS(name + ":" + value)) }
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//flashdrop//flashdrop//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", "PUBLISH")
	line("BEGIN", "VEVENT")
	line("UID", d.ID+"@"+hostOf(base))
	// When this calendar was made: it depends on the time (the reminders
	// and the wording follow whether registration is still open).
	now := s.drops.Now()
	line("DTSTAMP", stamp(now))
	line("DTSTART", stamp(d.SaleStartsAt))
	line("DTEND", stamp(end))
	summary := d.Name + ": the sale starts"
	if d.Mode == engine.ModeDraw {
		summary = d.Name + ": the draw"
	}
	if d.Rehearsal {
		summary = "Rehearsal (not a sale): " + summary
		r.ctx.Response.Header.Set("X-Robots-Tag", "noindex")
	}
	line("SUMMARY", escapeICS(summary))
	page := base + "/d/" + d.ID
	// No clock time in the words: the calendar shows the event in the
	// reader's zone, and "01:26 UTC" beside it read as another time.
	// Registration's close is said from the event's start.
	regCloses := "when this event starts"
	if lead := d.SaleStartsAt.Sub(d.RegistrationClosesAt); lead > 0 {
		regCloses = leadText(lead) + " before this event starts"
	}
	// A draw's winner has the hold's time from the draw to pay, with
	// nothing on the page to press before: the entry says so.
	pay := "pay"
	if d.ConfirmBy == engine.ConfirmByShopper {
		pay = "confirm on the drop's page"
	}
	winnerPays := " A winner has " + holdText(d.HoldSeconds) + " from the draw to " + pay + "."
	switch {
	case !now.Before(d.RegistrationClosesAt) && d.Mode == engine.ModeDraw:
		line("DESCRIPTION", escapeICS("Registration has closed; the winners are drawn when this event starts."+winnerPays+" "+page))
	case !now.Before(d.RegistrationClosesAt):
		line("DESCRIPTION", escapeICS("Registration has closed; registered shoppers, be there when this event starts and press Buy: "+page))
	case d.Mode == engine.ModeDraw:
		// Nothing to press in a draw: what matters is being registered
		// before the list freezes.
		line("DESCRIPTION", escapeICS("Register on the drop's page to be in the draw: registration closes "+regCloses+
			", and the winners are drawn then."+winnerPays+" "+page))
	default:
		line("DESCRIPTION", escapeICS("Register on the drop's page before registration closes, "+regCloses+
			"; then be there when it starts and press Buy: "+page))
	}
	line("URL", page)
	// The sale's reminder says nothing of registering, and comes after
	// registration has closed when that closes first: while registration
	// is still to close, a second reminder before it closes, an hour
	// before (or a quarter of an hour, when the hour is already past), at
	// a time registration is open by and still ahead.
	for _, lead := range []struct {
		d    time.Duration
		text string
	}{{time.Hour, "an hour"}, {15 * time.Minute, "15 minutes"}} {
		remind := d.RegistrationClosesAt.Add(-lead.d)
		if remind.Before(d.RegistrationOpensAt) || !now.Before(remind) {
			continue
		}
		line("BEGIN", "VALARM")
		line("ACTION", "DISPLAY")
		line("DESCRIPTION", escapeICS("Registration for "+d.Name+" closes in "+lead.text))
		line("TRIGGER;VALUE=DATE-TIME", stamp(remind))
		line("END", "VALARM")
		break
	}
	line("BEGIN", "VALARM")
	line("ACTION", "DISPLAY")
	if d.Mode == engine.ModeDraw {
		line("DESCRIPTION", escapeICS(d.Name+": the draw is in 10 minutes"))
	} else {
		line("DESCRIPTION", escapeICS(d.Name+" starts in 10 minutes"))
	}
	line("TRIGGER", "-PT10M")
	line("END", "VALARM")
	line("END", "VEVENT")
	line("END", "VCALENDAR")
	r.ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+d.ID+`.ics"`)
	return writeCached(r, "text/calendar; charset=utf-8", []byte(b.String()), "public, max-age=60")
}

// escapeICS escapes a TEXT value (RFC 5545 §3.3.11).
func escapeICS(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`, "\r", "").Replace(s)
}

// foldICS ends a content line with CRLF, folded at 75 octets without
// splitting a UTF-8 sequence.
func foldICS(l string) string {
	var b strings.Builder
	n := 0
	for _, r := range l {
		size := len(string(r))
		if n+size > 75 {
			b.WriteString("\r\n ")
			n = 1
		}
		b.WriteRune(r)
		n += size
	}
	b.WriteString("\r\n")
	return b.String()
}

// publicBase is the URL shoppers reach this service at: Config.PublicURL,
// or else the request's own host.
func (s *Server) publicBase(r *request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.ctx.IsTLS() {
		scheme = "https"
	}
	return scheme + "://" + string(r.ctx.Host())
}
