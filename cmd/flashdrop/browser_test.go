package main

// The pages in a real browser: headless Chromium (Debian's chromium,
// driven over the DevTools protocol by chromedp) against a real `serve` on
// a real redis-server and the embedded NATS, with the engine's clock in
// the test's hands. `make test` installs chromium when it is missing;
// outside CI a missing browser skips these tests, under CI=true it fails
// them.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/internal/testkit"
)

// chromiumPath finds the browser: $FLASHDROP_CHROMIUM, or Debian's.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("FLASHDROP_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal("chromium not found (CI=true, so this is a failure rather than a skip): run `make test`, which installs it")
	}
	t.Skip("skipping the browser tests: chromium not found; `make test` installs it (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium for a test, and what its pages said:
// console errors, uncaught exceptions, and requests to another host.
type browser struct {
	t      *testing.T
	ctx    context.Context // the browser's first tab; new tabs derive from it
	origin string
	shots  string // where screenshots go

	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, origin string) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		// This machine's network is closed: Chromium's own background
		// traffic would only flood refused connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(375, 900),
	}
	// One bound for the whole browser: a hung page fails the test instead
	// of hanging it.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 3*time.Minute)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	b := &browser{t: t, ctx: bctx, origin: origin, shots: screenshotDir(t)}
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	b.watch(bctx, "first tab")
	return b
}

// screenshotDir is $FLASHDROP_SCREENSHOTS when set (kept), else a
// temporary directory that is kept, and named in the log, only when the
// test fails.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("FLASHDROP_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d, err := os.MkdirTemp("", "flashdrop-browser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots kept in %s", d)
			return
		}
		_ = os.RemoveAll(d)
	})
	return d
}

// tab opens a new tab in a browser context of its own (a shopper of her
// own: no storage shared with other tabs).
func (b *browser) tab(name string, width, height int64) context.Context {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	b.watch(ctx, name)
	b.run(ctx, chromedp.EmulateViewport(width, height))
	return ctx
}

// watch records what a tab must never do.
func (b *browser) watch(ctx context.Context, name string) {
	err := chromedp.Listen(ctx, func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problem = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			problem = "uncaught exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				problem += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			e := ev.Entry
			// An API answer such as 409 sold_out is a normal outcome the
			// page turns into a sentence; Chromium still logs it. Every
			// other error entry (CSP violations, failed assets) counts.
			api := e.Source == cdplog.EntrySourceNetwork && strings.HasPrefix(e.URL, b.origin+"/v1/")
			if e.Level == cdplog.EntryLevelError && !api {
				problem = fmt.Sprintf("console %s error: %s %s", e.Source, e.Text, e.URL)
			}
		case *network.EventRequestWillBeSent:
			u := ev.Request.URL
			if !strings.HasPrefix(u, b.origin+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "about:") {
				problem = "request to another host: " + u
			}
		}
		if problem != "" {
			b.mu.Lock()
			b.problems = append(b.problems, name+": "+problem)
			b.mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatalf("watching %s: %v", name, err)
	}
}

// clean fails the test if any page logged an error or asked another host.
func (b *browser) clean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Error(p)
	}
}

func (b *browser) run(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	// One bound per step, so a step that hangs fails at once with its line.
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, steps...); err != nil {
		b.shot(ctx, "failure-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		b.t.Fatalf("browser: %v", err)
	}
}

// shot writes a screenshot of the tab's whole page as name.png.
func (b *browser) shot(ctx context.Context, name string) {
	b.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// shotViewport writes a screenshot of what the tab shows as name.png.
func (b *browser) shotViewport(ctx context.Context, name string) {
	b.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// eval runs a JavaScript expression and returns its value.
func eval[T any](b *browser, ctx context.Context, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.shot(ctx, "failure-eval")
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// until waits until the JavaScript condition holds in the page.
func (b *browser) until(ctx context.Context, what, cond string) {
	b.t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.shot(ctx, "failure-until")
		b.t.Fatalf("browser: waiting for %s: %v", what, err)
	}
}

// tabTo presses Tab until the element with id has the focus: the page
// must be usable with the keyboard alone.
func (b *browser) tabTo(ctx context.Context, id string) {
	b.t.Helper()
	for range 40 {
		if eval[string](b, ctx, "document.activeElement ? document.activeElement.id : ''") == id {
			return
		}
		b.run(ctx, chromedp.KeyEvent(kb.Tab))
	}
	b.shot(ctx, "no-focus-"+id)
	b.t.Fatalf("#%s never got the keyboard focus", id)
}

// signInOps opens the ops page in tab ctx and signs in with token, typed
// as an operator does; the caller waits for what it needs next.
func (b *browser) signInOps(ctx context.Context, token string) {
	b.t.Helper()
	b.run(ctx, chromedp.Navigate(b.origin+"/ops"), chromedp.WaitVisible(chromedp.ID("admin-token")))
	b.tabTo(ctx, "admin-token")
	b.run(ctx, chromedp.KeyEvent(token), chromedp.KeyEvent(kb.Enter))
}

// outcomeTotal is the node's count of one outcome series over the seconds
// its history (GET /v1/admin/outcomes) holds.
func outcomeTotal(t *testing.T, base, admin, series string) int {
	t.Helper()
	n := 0
	for _, s := range call(t, "GET", base+"/v1/admin/outcomes", admin, "").body["seconds"].([]any) {
		n += int(s.(map[string]any)[series].(float64))
	}
	return n
}

// press reaches a button with Tab and presses Enter.
func (b *browser) press(ctx context.Context, id string) {
	b.t.Helper()
	b.tabTo(ctx, id)
	b.run(ctx, chromedp.KeyEvent(kb.Enter))
}

// fitsWidth checks nothing on the page is wider than the viewport.
func (b *browser) fitsWidth(ctx context.Context, page string) {
	b.t.Helper()
	if w := eval[int](b, ctx, "document.documentElement.scrollWidth"); w > 375 {
		b.shot(ctx, "too-wide")
		b.t.Errorf("%s is %d px wide on a 375-px screen", page, w)
	}
}

// TestBrowserFlows runs the shopper and ops flows of issue 13 in Chromium:
// register, T0, buy, win with the hold's countdown, confirm, share, the
// card and its image, a friend through the card (one referral); sold out,
// the waitlist, a promotion; ops pause and the shopper page follows;
// every page without console errors and without a request elsewhere.
func TestBrowserFlows(t *testing.T) {
	t.Parallel()
	redis := testkit.OwnRedis(t)
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--admin-token", "browser-admin-token-0123456789", "--webhooks-allow-private")
	base := "http://" + m.Addr
	b := newBrowser(t, base)
	admin := m.Config.AdminToken
	now := clock.Now() // 09:00 UTC
	sale := now.Add(30 * time.Minute)
	mkDrop := func(body map[string]any) {
		t.Helper()
		d := map[string]any{"stock": 2, "per_user_limit": 1, "hold_seconds": 600,
			"registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale,
			"sale_starts_at": sale, "sale_ends_at": sale.Add(90 * time.Minute)}
		for k, v := range body {
			d[k] = v
		}
		if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, d)); r.status != 201 {
			t.Fatalf("create %v: %d %s", d["id"], r.status, r.raw)
		}
	}
	// A weekly series' two drops: this week's on sale at 09:30, next
	// week's open for registration, where a card sends friends.
	mkDrop(map[string]any{"id": "tee-2026-11-24", "name": "Tuesday Tee", "product": "Aurora Tee", "confirm_by": "shopper"})
	mkDrop(map[string]any{"id": "tee-2026-12-01", "name": "Next Tuesday Tee", "product": "Aurora Tee",
		"registration_closes_at": sale.Add(7 * 24 * time.Hour), "sale_starts_at": sale.Add(7 * 24 * time.Hour),
		"sale_ends_at": sale.Add(7*24*time.Hour + time.Hour)})
	// One unit, paid at the shop.
	mkDrop(map[string]any{"id": "solo", "name": "Solo Jacket", "stock": 1, "checkout_url": "https://shop.example/pay/{reservation}"})
	mkDrop(map[string]any{"id": "lucky", "name": "Lucky Draw", "mode": "draw"})
	// A load test's drop, sold at the same moment.
	mkDrop(map[string]any{"id": "rehearse", "name": "Load Rehearsal", "rehearsal": true})

	alice := "alice-7f3a9c-winner" // distinctive: it must appear on no card
	carol, dave := "carol", "dave"
	for _, u := range []string{carol, dave} {
		if r := call(t, "POST", base+"/v1/drops/solo/registrations", mint(t, m, u), "{}"); r.status != 201 {
			t.Fatalf("register %s: %d %s", u, r.status, r.raw)
		}
	}
	if r := call(t, "POST", base+"/v1/drops/rehearse/registrations", mint(t, m, "load-shopper"), "{}"); r.status != 201 {
		t.Fatalf("register for the rehearsal: %d %s", r.status, r.raw)
	}
	// Three in the draw of two units: one is not drawn.
	drawn := []string{"lucky-ann", "lucky-bob", "lucky-cid"}
	for _, u := range drawn {
		if r := call(t, "POST", base+"/v1/drops/lucky/registrations", mint(t, m, u), "{}"); r.status != 201 {
			t.Fatalf("register %s for the draw: %d %s", u, r.status, r.raw)
		}
	}

	// --- A shopper wins, on a phone, with the keyboard alone. ---
	shop := b.tab("alice", 375, 900)
	b.run(shop, chromedp.Navigate(base+"/d/tee-2026-11-24#token="+mint(t, m, alice)),
		chromedp.WaitVisible(chromedp.ID("register")))
	b.press(shop, "register")
	b.run(shop, chromedp.WaitVisible(chromedp.ID("registered")))
	// Register is gone: the focus (and a screen reader) is on the news.
	b.until(shop, "the focus on her registration", `document.activeElement && document.activeElement.id === 'registered'`)
	// A thumb's targets: at least 44 px high.
	if h := eval[float64](b, shop, "document.getElementById('calendar').getBoundingClientRect().height"); h < 44 {
		t.Errorf("Add to calendar is %.0f px high, want at least 44", h)
	}
	b.until(shop, "a countdown to the sale", `/^Sale starts in \d+:\d\d$/.test(document.getElementById('countdown').textContent)`)
	b.fitsWidth(shop, "the drop page")
	b.shot(shop, "drop-registered")
	if n := eval[int](b, shop, `document.querySelectorAll('#message, #registered').length - document.querySelectorAll('#message:empty, #registered[hidden]').length`); n != 1 {
		t.Errorf("%d sentences say she is registered, want 1", n)
	}
	// A countdown read out every second would drown the news: it is in
	// no live region.
	if eval[bool](b, shop, `!!document.getElementById('countdown').closest('[aria-live], [role=status], [role=alert]')`) {
		t.Error("the countdown is inside a live region")
	}
	// The buttons' text is readable: WCAG AA, 4.5:1.
	if c := eval[float64](b, shop, contrastJS("register")); c < 4.5 {
		t.Errorf("the Register button's contrast is %.2f:1, want at least 4.5:1", c)
	}

	clock.Set(sale.Add(1500 * time.Millisecond)) // T0 + 1.5 s; the page learns it from the live stream
	b.run(shop, chromedp.WaitEnabled(chromedp.ID("buy")))
	b.press(shop, "buy")
	b.run(shop, chromedp.WaitVisible(chromedp.ID("hold")))
	// Buy is gone: the keyboard's focus moved to the news, not to the page.
	b.until(shop, "the focus on the win", `document.activeElement && document.activeElement.id === 'hold-title'`)
	b.until(shop, "the hold's countdown", `/^(9|10):\d\d$/.test(document.getElementById('hold-left').textContent)`)
	b.until(shop, "the live stock", `document.getElementById('available').textContent === '1'`)
	b.fitsWidth(shop, "the drop page after a win")
	b.shot(shop, "shopper-win")
	// The share link's field is told apart from the panel: its border at
	// least 3:1 against the field and the panel (WCAG 1.4.11).
	if c := eval[float64](b, shop, `(() => {
		const lum = (c) => {
			const [r, g, b] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
				v /= 255;
				return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
			});
			return 0.2126 * r + 0.7152 * g + 0.0722 * b;
		};
		const ratio = (x, y) => { const a = lum(x), b = lum(y); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
		const f = document.getElementById('share-url'), line = getComputedStyle(f).borderTopColor;
		return Math.min(ratio(line, getComputedStyle(f).backgroundColor), ratio(line, getComputedStyle(document.getElementById('share')).backgroundColor));
	})()`); c < 3 {
		t.Errorf("the share link's border has %.2f:1 against the field or the panel, want at least 3:1", c)
	}

	// A rehearsal's page says what it is, and its win offers no share
	// link (its card would be a made-up win; the server answers 404).
	reh := b.tab("rehearsal", 375, 900)
	b.run(reh, chromedp.Navigate(base+"/d/rehearse#token="+mint(t, m, "load-shopper")), chromedp.WaitEnabled(chromedp.ID("buy")))
	if !eval[bool](b, reh, `!!document.getElementById('rehearsal') && document.getElementById('rehearsal').offsetParent !== null`) {
		t.Error("the rehearsal's page does not show that it is one")
	}
	if c := eval[float64](b, reh, contrastJS("rehearsal")); c < 4.5 {
		t.Errorf("the rehearsal banner's contrast is %.2f:1, want at least 4.5:1", c)
	}
	b.press(reh, "buy")
	b.run(reh, chromedp.WaitVisible(chromedp.ID("hold")))
	if eval[bool](b, reh, `document.getElementById('share').offsetParent !== null`) {
		t.Error("a rehearsal's win offers a share link")
	}
	b.press(shop, "confirm")
	b.run(shop, chromedp.WaitVisible(chromedp.ID("confirmed")))
	// Her own confirmation is not told as the shop's (the render that
	// showed it confirmed is the one that would have said so).
	if msg := eval[string](b, shop, "document.getElementById('message').textContent"); msg != "Confirmed. Enjoy!" {
		t.Fatalf("after her own confirmation the page says %q", msg)
	}
	shareURL := eval[string](b, shop, "document.getElementById('share-url').value")
	code := strings.TrimPrefix(shareURL, base+"/s/")
	if !strings.HasPrefix(code, "tee-2026-11-24.") {
		t.Fatalf("share link %q", shareURL)
	}

	// The card: its image is the server's 1200×630 drawing; nothing on the
	// page names the winner; it invites friends to next week's drop.
	card := b.tab("card", 375, 900)
	b.run(card, chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.ID("card-image")))
	b.until(card, "the card image", `(() => { const i = document.getElementById('card-image'); return i.complete && i.naturalWidth === 1200 && i.naturalHeight === 630 })()`)
	b.fitsWidth(card, "the share card")
	b.shot(card, "share-card")
	html := eval[string](b, card, "document.documentElement.outerHTML")
	if strings.Contains(html, alice) || strings.Contains(html, "7f3a9c") {
		t.Error("the share card shows the winner's id")
	}
	join := eval[string](b, card, "document.getElementById('join').getAttribute('href')")
	if join != "/d/tee-2026-12-01?ref="+url.QueryEscape(code) {
		t.Fatalf("the card's link: %q", join)
	}
	if txt := eval[string](b, card, "document.getElementById('join').textContent"); txt != "Register for Next Tuesday Tee" {
		t.Errorf("the card's link reads %q", txt)
	}

	// A friend arrives through the card (her shop signs her in with the
	// fragment) and registers: one referral for the code.
	friend := b.tab("friend", 375, 900)
	b.run(friend, chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.ID("join")))
	b.press(friend, "join")
	b.run(friend, chromedp.WaitVisible(chromedp.ID("signin"))) // not signed in yet
	// No sign-in page configured: where to sign in, in words, and no Buy
	// that cannot work.
	if !eval[bool](b, friend, `document.getElementById('buy').hidden && document.getElementById('signin-link').hidden
		&& document.getElementById('signin').textContent.includes('sign in on the shop’s site or app')`) {
		t.Errorf("a signed-out friend reads: %q", eval[string](b, friend, "document.getElementById('main').innerText"))
	}
	// (about:blank first: a fragment added to the same address would not load the page again)
	b.run(friend, chromedp.Navigate("about:blank"), chromedp.Navigate(base+join+"#token="+mint(t, m, "bob")),
		chromedp.WaitVisible(chromedp.ID("register")))
	b.press(friend, "register")
	b.run(friend, chromedp.WaitVisible(chromedp.ID("registered")))
	// Again, and the winner through her own card: nothing more.
	call(t, "POST", base+"/v1/drops/tee-2026-12-01/registrations", mint(t, m, "bob"), `{"ref":"`+code+`"}`)
	call(t, "POST", base+"/v1/drops/tee-2026-12-01/registrations", mint(t, m, alice), `{"ref":"`+code+`"}`)
	refs := call(t, "GET", base+"/v1/admin/drops/tee-2026-12-01/referrals", admin, "")
	if refs.status != 200 || refs.body["referrals"] != float64(1) || !strings.Contains(refs.raw, `{"code":"`+code+`","referrals":1}`) {
		t.Fatalf("referrals: %d %s", refs.status, refs.raw)
	}

	// --- Sold out, the waitlist, and a promotion. ---
	// Dave watches the page as the last unit goes: the live stream turns
	// it to sold out and offers the waitlist.
	wait := b.tab("dave", 375, 900)
	b.run(wait, chromedp.Navigate(base+"/d/solo#token="+mint(t, m, dave)), chromedp.WaitEnabled(chromedp.ID("buy")))
	r := call(t, "POST", base+"/v1/drops/solo/reservations", mint(t, m, carol), `{"quantity":1}`)
	if r.status != 201 {
		t.Fatalf("carol's buy: %d %s", r.status, r.raw)
	}
	carolRes := r.body["reservation"].(map[string]any)["id"].(string)
	b.run(wait, chromedp.WaitVisible(chromedp.ID("join")))
	b.until(wait, "sold out, live", `document.getElementById('state').textContent === 'Sold out' && document.getElementById('available').textContent === '0'`)
	b.press(wait, "join")
	b.run(wait, chromedp.WaitVisible(chromedp.ID("waitlist")))
	b.until(wait, "position 1", `document.getElementById('position').textContent === '1'`)
	b.until(wait, "the focus on the waitlist", `document.activeElement && document.activeElement.id === 'waitlist-title'`)
	// Sold out, the countdown to the sale's end is gone: the waitlist
	// says until when it runs.
	b.until(wait, "until when the waitlist runs", `/^ The waitlist runs until the sale ends, (at|on) .+, your time\.$/.test(document.getElementById('waitlist-until').textContent)`)
	b.shot(wait, "waitlist")
	// While nothing is released the waiting page does not ask for its
	// view (it asked every 2 s before the live stream counted releases):
	// after a moment to settle, no request in 5 s. The span is the test's
	// point, a quiet stretch, so it is waited for on the page's clock.
	eval[bool](b, wait, `(() => {
		window.viewAsks = 0;
		const f = window.fetch;
		window.fetch = function (u, o) {
			if ((!o || !o.method || o.method === 'GET') && /\/v1\/drops\/solo$/.test(String(u))) window.viewAsks++;
			return f.apply(this, arguments);
		};
		window.quietFrom = performance.now() + 3000;
		return true;
	})()`)
	b.until(wait, "a moment to settle", `performance.now() >= window.quietFrom`)
	eval[bool](b, wait, `(() => { window.viewAsks = 0; return true })()`)
	b.until(wait, "5 quiet seconds", `performance.now() >= window.quietFrom + 5000`)
	if n := eval[float64](b, wait, "window.viewAsks"); n != 0 {
		t.Errorf("the waiting page asked for its view %v times in 5 s with nothing released", n)
	}
	if r := call(t, "POST", base+"/v1/reservations/"+carolRes+"/cancel", mint(t, m, carol), ""); r.status != 200 {
		t.Fatalf("carol cancels: %d %s", r.status, r.raw)
	}
	b.run(wait, chromedp.WaitVisible(chromedp.ID("hold")), chromedp.WaitVisible(chromedp.ID("checkout")))
	// The promotion came while she waited: the focus goes to the news.
	b.until(wait, "the focus on the promotion", `document.activeElement && document.activeElement.id === 'hold-title'`)
	if href := eval[string](b, wait, "document.getElementById('checkout').href"); !strings.HasPrefix(href, "https://shop.example/pay/solo.") {
		t.Errorf("checkout link %q", href)
	}
	if eval[bool](b, wait, "!document.getElementById('confirm').hidden") {
		t.Error("a drop the shop confirms offers the shopper Confirm")
	}
	b.shot(wait, "waitlist-promoted")
	b.until(wait, "the promotion said", `document.getElementById('message').textContent.startsWith('A unit came free')`)
	if eval[bool](b, wait, "!document.getElementById('pay-note').hidden") {
		t.Error("a hold with a checkout page also shows the note for drops without one")
	}
	// The shop confirms the paid hold on its backend: the page, which no
	// live event tells (a confirmation moves neither state nor stock),
	// turns to confirmed by itself.
	daveView := call(t, "GET", base+"/v1/drops/solo", mint(t, m, dave), "")
	daveRes, _ := daveView.body["me"].(map[string]any)["reservation"].(map[string]any)["id"].(string)
	if r := call(t, "POST", base+"/v1/reservations/"+daveRes+"/confirm", admin, ""); r.status != 200 {
		t.Fatalf("the shop confirms dave's hold: %d %s", r.status, r.raw)
	}
	b.run(wait, chromedp.WaitVisible(chromedp.ID("confirmed")))
	b.until(wait, "the confirmation said", `document.getElementById('message').textContent === 'The shop confirmed your order.'`)

	// Eve never registered: the page tells her so instead of offering a
	// Buy that can only fail.
	eve := b.tab("eve", 375, 900)
	b.run(eve, chromedp.Navigate(base+"/d/tee-2026-11-24#token="+mint(t, m, "eve")), chromedp.WaitVisible(chromedp.ID("outsider")))
	if eval[bool](b, eve, "!document.getElementById('buy').hidden") {
		t.Error("a shopper who did not register is offered Buy")
	}

	// A draw: no Buy button, the draw explained.
	lucky := b.tab("lucky", 375, 900)
	b.run(lucky, chromedp.Navigate(base+"/d/lucky"), chromedp.WaitVisible(chromedp.ID("draw")))
	if eval[bool](b, lucky, "!document.getElementById('buy').hidden") {
		t.Error("a draw offers Buy")
	}
	if h := eval[float64](b, lucky, "document.querySelector('#check-draw summary').getBoundingClientRect().height"); h < 44 {
		t.Errorf("Check the draw yourself is %.0f px high, want at least 44", h)
	}
	// Once drawn, each shopper's result comes first on her phone, above
	// the draw's account (its proof folded), and the state says drawn,
	// not sold out; the one not drawn is told so.
	testkit.Eventually(t, 20*time.Second, "the draw", func() bool {
		r := call(t, "GET", base+"/v1/drops/lucky/draw", "", "")
		return r.status == 200 && r.body["state"] == "drawn"
	})
	won, lost := 0, 0
	for _, u := range drawn {
		tab := b.tab(u, 375, 900)
		b.run(tab, chromedp.Navigate(base+"/d/lucky#token="+mint(t, m, u)))
		b.until(tab, "her result", `!document.getElementById('hold').hidden || !document.getElementById('waitlist').hidden`)
		if st := eval[string](b, tab, "document.getElementById('state').textContent"); st != "The draw has been made" {
			t.Errorf("%s's page says %q", u, st)
		}
		if eval[bool](b, tab, `!document.getElementById('hold').hidden`) {
			won++
			if !eval[bool](b, tab, `document.getElementById('hold').getBoundingClientRect().top < document.getElementById('draw').getBoundingClientRect().top
				&& document.getElementById('hold').getBoundingClientRect().top < 900`) {
				t.Errorf("%s's win is not on her first screen, above the draw's account", u)
			}
			b.shot(tab, "draw-won")
		} else {
			lost++
			if h := eval[string](b, tab, `document.querySelector('#waitlist h2').textContent`); !strings.HasPrefix(h, "Not drawn this time") {
				t.Errorf("%s, not drawn, reads %q", u, h)
			}
		}
		if eval[bool](b, tab, `document.getElementById('check-draw').open`) {
			t.Errorf("%s's page shows the draw's proof unfolded", u)
		}
	}
	if won != 2 || lost != 1 {
		t.Errorf("%d drawn and %d not, want 2 and 1", won, lost)
	}
	// Signed out during the sale: who may take part, and where to go.
	anon := b.tab("anon", 375, 900)
	b.run(anon, chromedp.Navigate(base+"/d/tee-2026-11-24"), chromedp.WaitVisible(chromedp.ID("closed-note")))
	if eval[bool](b, anon, "!document.getElementById('buy').hidden || !document.getElementById('calendar-link').hidden") {
		t.Error("a signed-out visitor during the sale is offered Buy or a calendar entry")
	}

	// --- Ops pause the sale; the shopper page follows; resume. ---
	ops := b.tab("ops", 1200, 1000)
	b.signInOps(ops, admin)
	b.run(ops, chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="tee-2026-11-24"] button[data-role="pause"]`)))
	b.run(shop, chromedp.Navigate(base+"/d/tee-2026-11-24"), chromedp.WaitVisible(chromedp.ID("confirmed")))
	b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-drop="tee-2026-11-24"] button[data-role="pause"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="tee-2026-11-24"] button[data-role="yes"]`)))
	paused := time.Now()
	b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-drop="tee-2026-11-24"] button[data-role="yes"]`)))
	b.run(shop, chromedp.WaitVisible(chromedp.ID("paused")))
	t.Logf("the shopper page showed the pause %v after the operator confirmed it", time.Since(paused).Round(10*time.Millisecond))
	b.until(ops, "the stats", `document.querySelector('tr[data-drop="tee-2026-11-24"]').textContent.includes('paused')`)
	// Some traffic for the chart: shoppers who never registered press Buy.
	for i := range 12 {
		call(t, "POST", base+"/v1/drops/tee-2026-11-24/reservations", mint(t, m, "walk-in-"+strconv.Itoa(i)), "")
	}
	b.until(ops, "the chart", `/other: [1-9]/.test(document.getElementById('legend').textContent)`)
	b.shotViewport(ops, "ops")
	// An ops page opened after those presses draws them at once, from the
	// node's own history: its own sampling counts only what comes after.
	// (The node samples once a second: a page opened within that second
	// of a press misses it, so the test waits for the sample.)
	testkit.Eventually(t, 10*time.Second, "the presses in the node's history", func() bool {
		return outcomeTotal(t, base, admin, "other") >= 12
	})
	late := b.tab("ops-late", 1200, 1000)
	b.signInOps(late, admin)
	b.until(late, "the presses before it opened", `(() => {
		const m = /other: [^·]*· peak [^·]*· ([\d,]+) in/.exec(document.getElementById('legend').textContent);
		return !!m && Number(m[1].replace(/,/g, '')) >= 12;
	})()`)
	b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-drop="tee-2026-11-24"] button[data-role="resume"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-drop="tee-2026-11-24"] button[data-role="yes"]`)))
	b.run(shop, chromedp.WaitNotVisible(chromedp.ID("paused")))

	// A webhook's delivery log: a test delivery shows on the ops page
	// with its event id, status and latency.
	hookRcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "receiver says no", http.StatusTeapot)
	}))
	defer hookRcv.Close()
	// Of a type this sale never emits: the sale's wins, delivered to a
	// receiver that refuses them and retried, would push the test's row
	// out of the page's last ten (its consumer starts at the manual
	// clock's creation time, in the stream's past).
	wh := call(t, "POST", base+"/v1/admin/webhooks", admin, `{"url":"`+hookRcv.URL+`/hook","types":["drop_created"]}`)
	if wh.status != 201 {
		t.Fatalf("webhook: %d %s", wh.status, wh.raw)
	}
	tested := call(t, "POST", base+"/v1/admin/webhooks/"+wh.body["id"].(string)+"/test", admin, "")
	if tested.status != 200 || tested.body["status"] != float64(418) {
		t.Fatalf("webhook test: %d %s", tested.status, tested.raw)
	}
	ev := tested.body["event_id"].(string)
	b.until(ops, "the delivery log", `(function () { var tr = document.querySelector('#deliveries tr[data-event="`+ev+`"]');
		return !!tr && tr.textContent.includes('418') && tr.textContent.includes('receiver says no') && tr.textContent.includes('test'); })()`)
	// What each webhook gets, rehearsals said.
	if r := call(t, "POST", base+"/v1/admin/webhooks", admin, `{"url":"`+hookRcv.URL+`/all","rehearsals":true}`); r.status != 201 {
		t.Fatalf("webhook: %d %s", r.status, r.raw)
	}
	b.until(ops, "what each webhook gets", `(function () { var t = document.querySelector('#webhooks tbody').textContent;
		return t.includes('/hook · drop_created') && !t.includes('/hook · drop_created, rehearsals') && t.includes('/all · every event, rehearsals too'); })()`)

	// The front page lists what is on and what comes, never a rehearsal.
	front := b.tab("front", 375, 900)
	b.run(front, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`a[href="/d/tee-2026-12-01"]`)))
	if eval[bool](b, front, `!!document.querySelector('a[href="/d/rehearse"]')`) {
		t.Error("the front page lists the rehearsal")
	}
	b.fitsWidth(front, "the front page")
	// Each drop is one link, the whole of its item, at least 44 px high.
	if bad := eval[string](b, front, `Array.from(document.querySelectorAll('.drops li')).map((li) => {
		const a = li.querySelector('a'), r = a ? a.getBoundingClientRect() : null, l = li.getBoundingClientRect();
		return !r || r.height < 44 || r.height < l.height - 2 || r.width < l.width - 2 ? li.textContent.trim().slice(0, 40) : '';
	}).filter(Boolean).join('; ')`); bad != "" {
		t.Errorf("front page items whose link is not the whole item or under 44 px: %s", bad)
	}
	b.shot(front, "front")

	b.clean()
}

// contrastJS is a JavaScript expression: the WCAG contrast ratio of the
// element's text against its background, both as the page computes them.
func contrastJS(id string) string {
	return `(() => {
		const st = getComputedStyle(document.getElementById('` + id + `'));
		const lum = (c) => {
			const [r, g, b] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
				v /= 255;
				return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
			});
			return 0.2126 * r + 0.7152 * g + 0.0722 * b;
		};
		const a = lum(st.color), b = lum(st.backgroundColor);
		return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
	})()`
}

func jsonBody(t *testing.T, v map[string]any) string {
	t.Helper()
	var parts []string
	for k, x := range v {
		var s string
		switch x := x.(type) {
		case string:
			s = strconv.Quote(x)
		case int:
			s = strconv.Itoa(x)
		case bool:
			s = strconv.FormatBool(x)
		case time.Time:
			s = strconv.Quote(x.UTC().Format(time.RFC3339Nano))
		default:
			t.Fatalf("jsonBody: %T", x)
		}
		parts = append(parts, strconv.Quote(k)+":"+s)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestBrowserDemoLink: the link embedded serve prints opens the demo
// drop's page signed in, and the token leaves the address bar at once.
func TestBrowserDemoLink(t *testing.T) {
	t.Parallel()
	m, _, banner := startServe(t)
	link := regexp.MustCompile(`http://\S+/d/demo#token=\S+`).FindString(banner.String())
	if link == "" {
		t.Fatalf("the banner has no demo link:\n%s", banner)
	}
	b := newBrowser(t, "http://"+m.Addr)
	demo := b.tab("demo", 375, 900)
	b.run(demo, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("register")))
	if u := eval[string](b, demo, "location.href"); strings.Contains(u, "token") {
		t.Errorf("the token stays in the address bar: %s", u)
	}
	b.press(demo, "register")
	b.run(demo, chromedp.WaitVisible(chromedp.ID("registered")))
	b.clean()
}

// TestBrowserOpsForms: issue 13's ops forms in Chromium. The create-drop
// and create-series forms, filled in with the keyboard, first check
// themselves: an empty submit sends nothing and marks every required
// field at once. Then they show the API's validation error next to the
// field it names, as a sentence without the API's field names (and
// create nothing); once corrected they create the drop and the series
// (the series' registration lead typed in hours, sent in seconds), which
// the admin API then returns and the ops page lists.
func TestBrowserOpsForms(t *testing.T) {
	t.Parallel()
	redis := testkit.OwnRedis(t)
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--admin-token", "browser-admin-token-0123456789")
	base := "http://" + m.Addr
	b := newBrowser(t, base)
	admin := m.Config.AdminToken
	now := clock.Now() // Tuesday 2026-11-24, 09:00 UTC

	ops := b.tab("ops", 1200, 1000)
	b.signInOps(ops, admin)
	b.run(ops, chromedp.WaitVisible(chromedp.ID("drop-form")))

	sel := func(form, name string) string { return `#` + form + ` [name="` + name + `"]` }
	// typeIn replaces what a field holds with text, from the keyboard:
	// Ctrl+A, Delete, the keys.
	typeIn := func(form, name, text string) {
		t.Helper()
		s := sel(form, name)
		b.run(ops, chromedp.Focus(s), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
			chromedp.KeyEvent(kb.Delete), chromedp.KeyEvent(text))
		if got := eval[string](b, ops, `document.querySelector('`+s+`').value`); got != text {
			t.Fatalf("%s holds %q after typing %q", s, got, text)
		}
	}
	// setTime sets a datetime-local field. Its keyboard entry goes by the
	// browser's locale (month/day/year, AM/PM, …), so the value is set
	// directly; the page reads it the same way either way.
	setTime := func(form, name string, at time.Time) {
		t.Helper()
		v := at.UTC().Format("2006-01-02T15:04")
		b.run(ops, chromedp.SetValue(sel(form, name), v))
		if got := eval[string](b, ops, `document.querySelector('`+sel(form, name)+`').value`); got != v {
			t.Fatalf("%s holds %q after setting %q", sel(form, name), got, v)
		}
	}
	submit := func(form string) {
		t.Helper()
		b.run(ops, chromedp.Focus(`#`+form+` button[type="submit"]`), chromedp.KeyEvent(kb.Enter))
	}
	// The page's POSTs, counted: a form the page refuses sends nothing.
	eval[bool](b, ops, `(() => { window.posts = 0; const f = window.fetch; window.fetch = function (u, o) {
		if (o && o.method === 'POST') window.posts++;
		return f.apply(this, arguments);
	}; return true })()`)
	posts := func() int { return eval[int](b, ops, `window.posts`) }
	// fieldError waits for the API's error text want in the error element
	// that follows the field's label, and checks that the page marks that
	// field (aria-invalid, the focus), shows the error beside the field (or
	// just under it, where the form is one column wide),
	// says "Check the marked field." and leaves every other field unmarked.
	fieldError := func(form, name, want string) {
		t.Helper()
		b.until(ops, form+"'s error next to "+name, `(() => {
			const input = document.getElementById('`+form+`').elements['`+name+`'];
			const err = input && input.closest('label') && input.closest('label').nextElementSibling;
			return !!err && err.matches('.error[data-for="`+name+`"]') && err.textContent === `+strconv.Quote(want)+`; })()`)
		got := eval[map[string]any](b, ops, `(() => {
			const f = document.getElementById('`+form+`'), input = f.elements['`+name+`'];
			const l = input.closest('label').getBoundingClientRect(), e = input.closest('label').nextElementSibling.getBoundingClientRect();
			return {
				invalid: input.getAttribute('aria-invalid'),
				focused: document.activeElement === input,
				onRow: e.width > 0 && e.height > 0 && e.top < l.bottom + 16 && e.bottom > l.top,
				message: f.querySelector('.form-message').textContent,
				others: Array.from(f.querySelectorAll('.error')).filter(el => el.dataset.for !== '`+name+`' && el.textContent !== '').map(el => el.dataset.for + ': ' + el.textContent).join('; ')
					+ Array.from(f.elements).filter(el => el !== input && el.getAttribute('aria-invalid')).map(el => ' ' + el.name + ' aria-invalid').join(''),
			}; })()`)
		if got["invalid"] != "true" || got["focused"] != true || got["onRow"] != true || got["message"] != "Check the marked field." || got["others"] != "" {
			b.shot(ops, "field-error-"+name)
			t.Errorf("%s, error on %s: %v", form, name, got)
		}
		if regexp.MustCompile(`[a-z]+_[a-z]+`).MatchString(want) {
			t.Errorf("the test wants an error with an API field name in it: %q", want)
		}
	}
	// noErrors checks the form shows no field error after a success.
	noErrors := func(form string) {
		t.Helper()
		if s := eval[string](b, ops, `Array.from(document.querySelectorAll('#`+form+` .error')).map(el => el.textContent).join('')
			+ Array.from(document.getElementById('`+form+`').elements).filter(el => el.getAttribute('aria-invalid')).map(el => el.name).join('')`); s != "" {
			t.Errorf("%s still shows an error after a success: %q", form, s)
		}
	}

	// What is typed is not in the labels' bold; the required fields say so.
	if fw := eval[string](b, ops, `getComputedStyle(document.querySelector('`+sel("drop-form", "name")+`')).fontWeight`); fw != "400" {
		t.Errorf("the drop form's inputs are in font weight %s, want 400", fw)
	}
	required := eval[[]string](b, ops, `Array.from(document.querySelectorAll('#drop-form [required]')).map(el => el.name)`)
	if want := []string{"id", "name", "stock", "registration_opens_at", "registration_closes_at", "sale_starts_at"}; !slices.Equal(required, want) {
		t.Errorf("the drop form's required fields: %q, want %q", required, want)
	}

	// --- A drop: submitted empty (nothing sent, every required field
	// marked at once), then too much stock, then a sale before
	// registration closes, then right. ---
	submit("drop-form")
	b.until(ops, "the empty form's fields marked", `document.querySelector('#drop-form .form-message').textContent === 'Check the 6 marked fields.'`)
	empty := eval[map[string]any](b, ops, `(() => {
		const f = document.getElementById('drop-form'), out = {};
		for (const el of f.querySelectorAll('[required]')) {
			const err = el.closest('label').nextElementSibling;
			out[el.name] = el.getAttribute('aria-invalid') === 'true' && err.textContent !== '' && err.textContent === el.validationMessage;
		}
		out.focusedId = document.activeElement === f.elements.id;
		out.othersClean = Array.from(f.querySelectorAll('.error')).filter(e => !e.previousElementSibling.querySelector('[required]')).every(e => e.textContent === '');
		return out; })()`)
	for k, v := range empty {
		if v != true {
			t.Errorf("the empty drop form: %s is %v (%v)", k, v, empty)
		}
	}
	if n := posts(); n != 0 {
		t.Errorf("the empty drop form was sent (%d POSTs)", n)
	}
	b.shotViewport(ops, "ops-form-empty")
	typeIn("drop-form", "id", "ops-hoodie")
	if s := eval[string](b, ops, `document.querySelector('.error[data-for="id"]').textContent + (document.querySelector('`+sel("drop-form", "id")+`').getAttribute('aria-invalid') || '')`); s != "" {
		t.Errorf("a field typed in keeps its mark: %q", s)
	}
	typeIn("drop-form", "name", "Ops Hoodie")
	typeIn("drop-form", "product", "Aurora Hoodie")
	typeIn("drop-form", "stock", strconv.Itoa(engine.MaxStock+1))
	setTime("drop-form", "registration_opens_at", now.Add(-time.Hour))
	setTime("drop-form", "registration_closes_at", now.Add(30*time.Minute))
	setTime("drop-form", "sale_starts_at", now.Add(30*time.Minute))
	setTime("drop-form", "sale_ends_at", now.Add(2*time.Hour))
	submit("drop-form")
	fieldError("drop-form", "stock", fmt.Sprintf("Must be between 1 and %d.", engine.MaxStock))
	if n := posts(); n != 1 {
		t.Errorf("the filled-in drop form made %d POSTs, want 1", n)
	}
	if r := call(t, "GET", base+"/v1/admin/drops/ops-hoodie", admin, ""); r.status != 404 {
		t.Fatalf("after a refused form the drop exists: %d %s", r.status, r.raw)
	}

	typeIn("drop-form", "stock", "5")
	setTime("drop-form", "sale_starts_at", now.Add(15*time.Minute))
	submit("drop-form")
	fieldError("drop-form", "sale_starts_at", "Must not be before registration closes.")
	b.shotViewport(ops, "ops-form-error")
	if r := call(t, "GET", base+"/v1/admin/drops/ops-hoodie", admin, ""); r.status != 404 {
		t.Fatalf("after a refused form the drop exists: %d %s", r.status, r.raw)
	}

	setTime("drop-form", "sale_starts_at", now.Add(30*time.Minute))
	submit("drop-form")
	b.until(ops, "the drop created", `document.querySelector('#drop-form .form-message').textContent === 'Created drop ops-hoodie.'`)
	noErrors("drop-form")
	d := call(t, "GET", base+"/v1/admin/drops/ops-hoodie", admin, "")
	if d.status != 200 || d.body["name"] != "Ops Hoodie" || d.body["product"] != "Aurora Hoodie" || d.body["stock"] != float64(5) ||
		d.body["sale_starts_at"] != now.Add(30*time.Minute).Format(time.RFC3339) || d.body["sale_ends_at"] != now.Add(2*time.Hour).Format(time.RFC3339) {
		t.Fatalf("the drop the form created: %d %s", d.status, d.raw)
	}
	b.until(ops, "the new drop on the ops page", `(() => { const tr = document.querySelector('#drops tr[data-drop="ops-hoodie"]');
		return !!tr && tr.textContent.includes('registration open'); })()`)

	// --- A weekly series: an unknown time zone, then right. ---
	typeIn("series-form", "id", "ops-tee")
	typeIn("series-form", "name", "Ops Weekly Tee")
	typeIn("series-form", "stock", "3")
	b.run(ops, chromedp.Focus(sel("series-form", "weekday")), chromedp.KeyEvent("Sun"))
	if v := eval[string](b, ops, `document.querySelector('`+sel("series-form", "weekday")+`').selectedOptions[0].textContent`); v != "Sunday" {
		t.Fatalf("the weekday after typing Sun: %q", v)
	}
	// The time zone offers the browser's IANA zones as it is typed in.
	if n := eval[int](b, ops, `(() => { const i = document.querySelector('`+sel("series-form", "time_zone")+`');
		const names = Array.from(i.list ? i.list.options : []).map(o => o.value);
		return names.includes('Europe/Berlin') && names.includes('America/New_York') ? names.length : 0; })()`); n < 100 {
		t.Errorf("the time zone field offers %d zones (or lacks Europe/Berlin, America/New_York)", n)
	}
	typeIn("series-form", "registration_opens_before_hours", "36")
	typeIn("series-form", "time_zone", "Europe/Atlantis")
	submit("series-form")
	fieldError("series-form", "time_zone", `Must be an IANA time zone name such as Europe/Berlin; "Europe/Atlantis" is not one this server knows.`)
	if r := call(t, "GET", base+"/v1/admin/series/ops-tee", admin, ""); r.status != 404 {
		t.Fatalf("after a refused form the series exists: %d %s", r.status, r.raw)
	}

	typeIn("series-form", "time_zone", "Europe/Berlin")
	submit("series-form")
	b.until(ops, "the series created", `document.querySelector('#series-form .form-message').textContent === 'Created series ops-tee.'`)
	noErrors("series-form")
	list := call(t, "GET", base+"/v1/admin/series", admin, "")
	var got map[string]any
	if ss, ok := list.body["series"].([]any); ok && list.status == 200 {
		for _, s := range ss {
			if s, ok := s.(map[string]any); ok && s["id"] == "ops-tee" {
				got = s
			}
		}
	}
	if got == nil || got["name"] != "Ops Weekly Tee" || got["stock"] != float64(3) || got["weekday"] != float64(7) ||
		got["sale_time"] != "10:00" || got["time_zone"] != "Europe/Berlin" || got["registration_opens_before_seconds"] != float64(36*3600) {
		t.Fatalf("the series the form created: %d %s", list.status, list.raw)
	}
	if next, _ := got["next_drop"].(map[string]any); next["id"] != "ops-tee-2026-11-29" {
		t.Errorf("the series' next drop: %v, want Sunday's ops-tee-2026-11-29", got["next_drop"])
	}

	b.shotViewport(ops, "ops-forms")
	b.clean()
}

// TestBrowserWithoutLiveStream: the shopper page when the node refuses
// its live stream (past --max-streams-per-client, as behind a carrier's
// shared address) still follows the sale by asking for its view: Buy
// turns on at T0, the pause shows, an expired hold is said. It also
// checks what a press whose outcome is unknown does (the next press
// repeats it with the same Idempotency-Key), Cancel's second question,
// the note of a hold the shop confirms without a checkout page, and that
// the page's own clock turns Buy on at T0 with no event at all.
func TestBrowserWithoutLiveStream(t *testing.T) {
	t.Parallel()
	redis := testkit.OwnRedis(t)
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--admin-token", "browser-admin-token-0123456789", "--max-streams-per-client", "1")
	base := "http://" + m.Addr
	b := newBrowser(t, base)
	admin := m.Config.AdminToken
	now := clock.Now()
	mkDrop := func(id string, stock int, sale time.Time, limit ...int) {
		t.Helper()
		perUser := 1
		if len(limit) > 0 {
			perUser = limit[0]
		}
		d := map[string]any{"id": id, "name": "Drop " + id, "stock": stock, "per_user_limit": perUser, "hold_seconds": 120,
			"registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale,
			"sale_starts_at": sale, "sale_ends_at": sale.Add(time.Hour)}
		if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, d)); r.status != 201 {
			t.Fatalf("create %s: %d %s", id, r.status, r.raw)
		}
	}
	sale := now.Add(30 * time.Minute)
	mkDrop("nostream", 2, sale)
	mkDrop("soon", 1, now.Add(10*time.Second)) // T0 in 10 s by the page's clock; the server's stands still
	mkDrop("pair", 5, sale, 3)                 // up to 3 each
	mkDrop("pairlater", 5, sale.Add(time.Hour), 2)
	register := func(drop, user string) {
		t.Helper()
		if r := call(t, "POST", base+"/v1/drops/"+drop+"/registrations", mint(t, m, user), "{}"); r.status != 201 {
			t.Fatalf("register %s for %s: %d %s", user, drop, r.status, r.raw)
		}
	}
	register("soon", "nina")
	register("nostream", "nina")
	register("nostream", "oscar")
	register("pair", "oscar")
	nina := mint(t, m, "nina")

	// --- Another stream of the same address takes the one slot: the
	// pages' streams are refused. ---
	holder := &http.Client{}
	var stream *http.Response
	testkit.Eventually(t, 10*time.Second, "a live stream of the test's own", func() bool {
		resp, err := holder.Get(base + "/v1/drops/nostream/live")
		if err != nil {
			return false
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
			return false
		}
		stream = resp
		return true
	})
	defer stream.Body.Close()
	if r := call(t, "GET", base+"/v1/drops/nostream/live", "", ""); r.status != 503 {
		t.Fatalf("a second stream from the address: %d, want 503", r.status)
	}

	// --- T0 by the page's clock: no live event comes (no stream, and the
	// engine's clock stands still), yet Buy turns on when the countdown
	// ends. ---
	shop := b.tab("nina", 375, 900)
	b.run(shop, chromedp.Navigate(base+"/d/soon#token="+nina), chromedp.WaitVisible(chromedp.ID("buy")))
	b.until(shop, "a countdown to T0", `/^Sale starts in 0:(0\d|10)$/.test(document.getElementById('countdown').textContent)`)
	if eval[bool](b, shop, "!document.getElementById('buy').disabled") {
		t.Fatal("Buy is on before T0")
	}
	b.run(shop, chromedp.WaitEnabled(chromedp.ID("buy")))

	b.run(shop, chromedp.Navigate(base+"/d/nostream#token="+nina), chromedp.WaitVisible(chromedp.ID("buy")))
	b.until(shop, "a countdown to the sale", `/^Sale starts in \d+:\d\d$/.test(document.getElementById('countdown').textContent)`)
	clock.Set(sale.Add(time.Second)) // the sale opens; no stream tells the page
	b.run(shop, chromedp.WaitEnabled(chromedp.ID("buy")))

	// The first press gets no answer it can trust (the shop is too busy
	// to say, 503): the next press repeats it with the same key.
	eval[bool](b, shop, `(() => {
		window.pressKeys = [];
		const f = window.fetch;
		window.fetch = function (u, o) {
			if (o && o.method === 'POST' && /\/reservations$/.test(String(u))) {
				window.pressKeys.push(o.headers['Idempotency-Key']);
				if (window.pressKeys.length === 1) {
					return Promise.resolve(new Response(JSON.stringify({ code: 'unavailable', status: 503 }),
						{ status: 503, headers: { 'Content-Type': 'application/problem+json' } }));
				}
			}
			return f.apply(this, arguments);
		};
		return true;
	})()`)
	b.press(shop, "buy")
	b.until(shop, "the busy sentence", `document.getElementById('message').textContent.startsWith('The shop is very busy')`)
	b.press(shop, "buy")
	b.run(shop, chromedp.WaitVisible(chromedp.ID("hold")))
	keys := eval[[]string](b, shop, "window.pressKeys")
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("the presses' keys %q: the repeat of an unknown outcome must carry the first key", keys)
	}
	// The shop confirms (the default) and has no checkout page: the hold
	// says what happens next.
	b.run(shop, chromedp.WaitVisible(chromedp.ID("pay-note")))
	b.fitsWidth(shop, "the hold without a checkout page")
	b.shot(shop, "hold-pay-note")

	// Cancel asks once more before it gives the unit up.
	b.press(shop, "cancel")
	b.run(shop, chromedp.WaitVisible(chromedp.ID("cancel-note")))
	if txt := eval[string](b, shop, "document.getElementById('cancel').textContent"); txt != "Yes, give it up" {
		t.Fatalf("Cancel after one press reads %q", txt)
	}
	if st := call(t, "GET", base+"/v1/admin/drops/nostream/stats", admin, ""); st.body["held"] != float64(1) {
		t.Fatalf("one press of Cancel released the hold: %s", st.raw)
	}
	b.run(shop, chromedp.KeyEvent(kb.Enter)) // the focus is still on it
	b.until(shop, "the cancellation", `document.getElementById('message').textContent.startsWith('Cancelled.') && document.getElementById('hold').hidden`)

	// A press whose answer is lost after the server decided it (a win):
	// the view the page then asks for shows the hold, so the outcome is
	// known and the next press, after a cancel, is a new one with a new
	// key (the old key would replay the cancelled win, and nothing would
	// happen on the page).
	eval[bool](b, shop, `(() => {
		const f = window.fetch;
		window.loseNext = true;
		window.fetch = function (u, o) {
			const p = f.apply(this, arguments);
			if (window.loseNext && o && o.method === 'POST' && /\/reservations$/.test(String(u))) {
				window.loseNext = false;
				return p.then(() => Promise.reject(new TypeError('the answer was lost')));
			}
			return p;
		};
		return true;
	})()`)
	b.press(shop, "buy")
	b.run(shop, chromedp.WaitVisible(chromedp.ID("hold")))
	b.press(shop, "cancel")
	b.run(shop, chromedp.WaitVisible(chromedp.ID("cancel-note")))
	b.run(shop, chromedp.KeyEvent(kb.Enter))
	b.until(shop, "the second cancellation", `document.getElementById('message').textContent.startsWith('Cancelled.') && document.getElementById('hold').hidden && !document.getElementById('buy').disabled`)
	b.press(shop, "buy")
	b.until(shop, "the press after it answered", `(() => {
		const msg = document.getElementById('message').textContent;
		return window.pressKeys.length === 4 && (!document.getElementById('hold').hidden || (msg !== '' && !msg.startsWith('Cancelled.')));
	})()`)
	keys = eval[[]string](b, shop, "window.pressKeys")
	if len(keys) != 4 || keys[2] == keys[3] || keys[3] == keys[0] {
		t.Fatalf("the presses' keys %q: a press after a known outcome must carry a new key", keys)
	}
	t.Logf("the press after two cancels: hold shown %v, message %q", eval[bool](b, shop, "!document.getElementById('hold').hidden"),
		eval[string](b, shop, "document.getElementById('message').textContent"))

	// Oscar wins the unit back and lets his hold run out: his page, with
	// no stream, says so.
	oscar := b.tab("oscar", 375, 900)
	b.run(oscar, chromedp.Navigate(base+"/d/nostream#token="+mint(t, m, "oscar")), chromedp.WaitEnabled(chromedp.ID("buy")))
	b.press(oscar, "buy")
	b.run(oscar, chromedp.WaitVisible(chromedp.ID("hold")))
	clock.Advance(3 * time.Minute) // past the 120-s hold
	b.until(oscar, "the expiry said", `document.getElementById('message').textContent === 'Your hold ran out and the unit was released.' && document.getElementById('hold').hidden`)

	// Ops pause the sale: the page without a stream shows it.
	if r := call(t, "POST", base+"/v1/admin/drops/nostream/pause", admin, ""); r.status != 200 {
		t.Fatalf("pause: %d %s", r.status, r.raw)
	}
	b.run(oscar, chromedp.WaitVisible(chromedp.ID("paused")))

	// A drop that allows up to 3 each: the page asks how many, up to the
	// limit, and the win says how many are held.
	b.run(oscar, chromedp.Navigate(base+"/d/pair#token="+mint(t, m, "oscar")), chromedp.WaitEnabled(chromedp.ID("buy")))
	b.run(oscar, chromedp.WaitVisible(chromedp.ID("qty")))
	if n := eval[int](b, oscar, "document.getElementById('quantity').options.length"); n != 3 {
		t.Fatalf("the quantity offers %d choices, want 1 to 3", n)
	}
	b.run(oscar, chromedp.SetValue(chromedp.ID("quantity"), "2"))
	b.press(oscar, "buy")
	b.run(oscar, chromedp.WaitVisible(chromedp.ID("hold")))
	if title := eval[string](b, oscar, "document.getElementById('hold-title').textContent"); title != "You got 2!" {
		t.Fatalf("the win of two reads %q", title)
	}
	if st := call(t, "GET", base+"/v1/admin/drops/pair/stats", admin, ""); st.body["held"] != float64(2) {
		t.Fatalf("two chosen, held: %s", st.raw)
	}
	b.fitsWidth(oscar, "a win of two")

	// The shop confirms his two; from another device he holds one more
	// and cancels it. His latest reservation is then the cancelled one,
	// but the two confirmed still count against the limit of 3: the page
	// offers him one more, not three (which could only be refused).
	var pairID string
	if r := call(t, "GET", base+"/v1/drops/pair", mint(t, m, "oscar"), ""); r.status == 200 {
		me, _ := r.body["me"].(map[string]any)
		res, _ := me["reservation"].(map[string]any)
		pairID, _ = res["id"].(string)
	}
	if r := call(t, "POST", base+"/v1/reservations/"+pairID+"/confirm", admin, ""); r.status != 200 {
		t.Fatalf("the shop confirms %q: %d %s", pairID, r.status, r.raw)
	}
	third := call(t, "POST", base+"/v1/drops/pair/reservations", mint(t, m, "oscar"), `{"quantity":1}`)
	thirdRes, _ := third.body["reservation"].(map[string]any)
	thirdID, _ := thirdRes["id"].(string)
	if third.status != 201 || thirdID == "" {
		t.Fatalf("a third unit from another device: %d %s", third.status, third.raw)
	}
	if r := call(t, "POST", base+"/v1/reservations/"+thirdID+"/cancel", mint(t, m, "oscar"), ""); r.status != 200 {
		t.Fatalf("cancelling it: %d %s", r.status, r.raw)
	}
	// The same address: a reload, not a change of its #fragment.
	b.run(oscar, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("buy")), chromedp.WaitEnabled(chromedp.ID("buy")))
	if eval[bool](b, oscar, "!document.getElementById('qty').hidden") {
		t.Fatalf("with 2 of 3 confirmed the page still asks how many, offering %d",
			eval[int](b, oscar, "document.getElementById('quantity').options.length"))
	}
	b.press(oscar, "buy")
	b.run(oscar, chromedp.WaitVisible(chromedp.ID("hold")))
	if title := eval[string](b, oscar, "document.getElementById('hold-title').textContent"); title != "You got one!" {
		t.Fatalf("his last allowed unit reads %q", title)
	}

	// Before the sale she can choose already: the list is on while Buy
	// waits for T0.
	b.run(oscar, chromedp.Navigate(base+"/d/pairlater#token="+mint(t, m, "oscar")), chromedp.WaitVisible(chromedp.ID("qty")))
	if !eval[bool](b, oscar, "!document.getElementById('quantity').disabled && document.getElementById('buy').disabled") {
		t.Fatal("before the sale the quantity cannot be chosen (or Buy is on)")
	}
	b.clean()
}

// TestBrowserOpsLive: the ops page's live view in Chromium, as the review
// of the ops page asked. A row's buttons stay the same elements while its
// figures move; Pause asks at once, and the row shows the pause from the
// POST's answer, even while the drops list hangs. Stock, Owed and
// Waitlisted are shown, and a row whose stats do not add up is marked.
// While the drops list answers 503, fails or hangs (every request has a
// deadline), a banner says so with the time of the figures, and it goes
// when the list answers again. /metrics errors are skipped, counters that
// go back are a new baseline rather than a spike, unavailable is a series
// of its own, and the token goes along. A key without webhooks:read is
// told so, and a revoked key is told why it was signed out.
func TestBrowserOpsLive(t *testing.T) {
	t.Parallel()
	redis := testkit.OwnRedis(t)
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--admin-token", "browser-admin-token-0123456789", "--webhooks-allow-private")
	base := "http://" + m.Addr
	b := newBrowser(t, base)
	admin := m.Config.AdminToken
	now := clock.Now()
	sale := now.Add(30 * time.Minute)
	mkDrop := func(id string, stock int, sale time.Time) {
		t.Helper()
		d := map[string]any{"id": id, "name": "Drop " + id, "stock": stock, "per_user_limit": 1, "hold_seconds": 600,
			"registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale,
			"sale_starts_at": sale, "sale_ends_at": sale.Add(time.Hour)}
		if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, d)); r.status != 201 {
			t.Fatalf("create %s: %d %s", id, r.status, r.raw)
		}
	}
	mkDrop("ledger", 1, sale)
	mkDrop("upcoming", 5, sale.Add(7*24*time.Hour)) // registration open all along
	// Ids as long as they come: a `flashdrop load` rehearsal's, and the
	// longest id there may be, with no dash to break at. Neither may push
	// the Sale column off a laptop's screen.
	longIDs := []string{"load-20261206-100017-4378", "zz" + strings.Repeat("x", 62)}
	for _, id := range longIDs {
		d := map[string]any{"id": id, "name": "Drop " + id, "stock": 30, "per_user_limit": 1, "hold_seconds": 600,
			"registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale,
			"sale_starts_at": sale, "sale_ends_at": sale.Add(time.Hour), "rehearsal": strings.HasPrefix(id, "load-")}
		if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, d)); r.status != 201 {
			t.Fatalf("create %s: %d %s", id, r.status, r.raw)
		}
	}
	// Two more `flashdrop load` runs: one whose 24-hour sale opened before
	// the real ones', one over. Their ids sort before the real drop zz…x.
	rehearsals := []string{"load-20261206-090000-0001", longIDs[0], "load-20261206-080000-0002"}
	for _, r := range []struct {
		id         string
		sale, ends time.Time
	}{{rehearsals[0], now, now.Add(24 * time.Hour)}, {rehearsals[2], now.Add(-3 * time.Hour), now.Add(-2 * time.Hour)}} {
		d := map[string]any{"id": r.id, "name": "Drop " + r.id, "stock": 30, "per_user_limit": 1, "hold_seconds": 600,
			"registration_opens_at": r.sale.Add(-time.Hour), "registration_closes_at": r.sale,
			"sale_starts_at": r.sale, "sale_ends_at": r.ends, "rehearsal": true}
		if c := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, d)); c.status != 201 {
			t.Fatalf("create %s: %d %s", r.id, c.status, c.raw)
		}
	}
	// A sale already over: nothing to pause.
	if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, map[string]any{"id": "bygone", "name": "Bygone", "stock": 1,
		"per_user_limit": 1, "hold_seconds": 600, "registration_opens_at": now.Add(-4 * time.Hour), "registration_closes_at": now.Add(-3 * time.Hour),
		"sale_starts_at": now.Add(-3 * time.Hour), "sale_ends_at": now.Add(-2 * time.Hour)})); r.status != 201 {
		t.Fatalf("create bygone: %d %s", r.status, r.raw)
	}
	for _, u := range []string{"lena", "liam"} {
		if r := call(t, "POST", base+"/v1/drops/ledger/registrations", mint(t, m, u), "{}"); r.status != 201 {
			t.Fatalf("register %s: %d %s", u, r.status, r.raw)
		}
	}
	clock.Set(sale.Add(time.Second))

	// Ledger: Lena holds the one unit, Liam waits, the sale is paused and
	// Lena cancels: the unit is owed to the waitlist.
	won := call(t, "POST", base+"/v1/drops/ledger/reservations", mint(t, m, "lena"), `{"quantity":1}`)
	if won.status != 201 {
		t.Fatalf("lena's buy: %d %s", won.status, won.raw)
	}
	if r := call(t, "POST", base+"/v1/drops/ledger/reservations", mint(t, m, "liam"), `{"quantity":1,"waitlist":true}`); r.body["waitlist_position"] != float64(1) {
		t.Fatalf("liam joins the waitlist: %d %s", r.status, r.raw)
	}
	if r := call(t, "POST", base+"/v1/admin/drops/ledger/pause", admin, ""); r.status != 200 {
		t.Fatalf("pause: %d %s", r.status, r.raw)
	}
	lenaRes := won.body["reservation"].(map[string]any)["id"].(string)
	if r := call(t, "POST", base+"/v1/reservations/"+lenaRes+"/cancel", mint(t, m, "lena"), ""); r.status != 200 {
		t.Fatalf("lena cancels: %d %s", r.status, r.raw)
	}
	st := call(t, "GET", base+"/v1/admin/drops/ledger/stats", admin, "")
	if st.body["owed"] != float64(1) || st.body["waitlisted"] != float64(1) || st.body["stock"] != float64(1) {
		t.Fatalf("ledger's stats, want one owed and one waiting: %s", st.raw)
	}
	ledgerState := call(t, "GET", base+"/v1/admin/drops/ledger", admin, "").body["state"].(string)

	// The wins the node counted before the page opened, which the page
	// draws from the node's history (GET /v1/admin/outcomes) when it opens.
	wonBefore := 0
	testkit.Eventually(t, 10*time.Second, "lena's win in the node's history", func() bool {
		wonBefore = outcomeTotal(t, base, admin, "won")
		return wonBefore >= 1
	})
	ops := b.tab("ops", 1200, 1000)
	b.signInOps(ops, admin)
	b.run(ops, chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="upcoming"] button[data-role="pause"]`)))
	row := func(drop string) string { return `document.querySelector('tr[data-drop="` + drop + `"]')` }
	stat := func(drop, k string) string {
		return row(drop) + `.querySelector('[data-stat="` + k + `"]').textContent`
	}

	// --- Stock, Owed, Waitlisted; the state and the pause together. ---
	b.until(ops, "ledger's figures", stat("ledger", "stock")+` === '1' && `+stat("ledger", "owed")+` === '1' && `+
		stat("ledger", "waitlisted")+` === '1' && `+stat("ledger", "available")+` === '0' && `+stat("ledger", "held")+` === '0'`)
	// The state and the pause are two facts: the state in words, the
	// pause as a flag and on the whole row.
	if s := stateOf(b, ops, "ledger"); s != strings.ReplaceAll(ledgerState, "_", " ")+" [paused] row paused" {
		t.Errorf("ledger's state cell reads %q, want its state %q flagged paused", s, ledgerState)
	}
	if s := stateOf(b, ops, "upcoming"); s != "registration open" {
		t.Errorf("upcoming's state cell reads %q", s)
	}

	// --- What an operator acts on first: the real drops whose sale is
	// open or next to open, by sale start (then id); then the real sales
	// over; the rehearsals last, in the same order, folded under a heading
	// row while a real drop is listed. ---
	order := `Array.from(document.querySelectorAll('#drops tr[data-drop]')).map(tr => tr.dataset.drop)`
	shown := `Array.from(document.querySelectorAll('#drops tr[data-drop]')).filter(tr => tr.getClientRects().length > 0).map(tr => tr.dataset.drop)`
	orderIs := func(want ...string) string {
		w, _ := json.Marshal(want)
		return `JSON.stringify(` + order + `) === ` + strconv.Quote(string(w))
	}
	realIDs := []string{"ledger", longIDs[1], "upcoming", "bygone"}
	b.until(ops, "every drop's row", `document.querySelectorAll('#drops tr[data-drop]').length === 7`)
	if got := eval[[]string](b, ops, order); !slices.Equal(got, append(slices.Clone(realIDs), rehearsals...)) {
		t.Errorf("the rows' order %q, want the real drops %q, then the rehearsals %q", got, realIDs, rehearsals)
	}
	if got := eval[[]string](b, ops, shown); !slices.Equal(got, realIDs) {
		t.Errorf("the rows shown %q, want only the real drops %q (the rehearsals folded)", got, realIDs)
	}
	toggle := `document.getElementById('rehearsals-toggle')`
	if got := eval[string](b, ops, toggle+`.textContent + '|' + `+toggle+`.getAttribute('aria-expanded')`); got != "Rehearsals (3)|false" {
		t.Errorf("the rehearsals' heading: %q", got)
	}
	salesOnScreen(b, ops, "the drops table, rehearsals folded")
	b.shotViewport(ops, "ops-rehearsals-folded")
	b.run(ops, chromedp.Click(chromedp.ID("rehearsals-toggle")))
	b.until(ops, "the rehearsals unfolded", `JSON.stringify(`+shown+`) === JSON.stringify(`+order+`) && `+toggle+`.getAttribute('aria-expanded') === 'true'`)
	// The order holds from one refresh to the next.
	for range 2 {
		stamp := eval[string](b, ops, `document.getElementById('updated').textContent`)
		b.until(ops, "a refresh", `document.getElementById('updated').textContent !== `+strconv.Quote(stamp))
	}
	if got := eval[[]string](b, ops, order); !slices.Equal(got, append(slices.Clone(realIDs), rehearsals...)) {
		t.Errorf("the rows' order after two refreshes: %q", got)
	}
	if s := stateOf(b, ops, longIDs[0]); s != "sale open [rehearsal]" {
		t.Errorf("the rehearsal's state cell reads %q", s)
	}
	// A rehearsal's Pause works, unfolded.
	b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-drop="`+rehearsals[0]+`"] button[data-role="pause"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="`+rehearsals[0]+`"] button[data-role="yes"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-drop="`+rehearsals[0]+`"] button[data-role="yes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="`+rehearsals[0]+`"] button[data-role="resume"]`)))
	if r := call(t, "GET", base+"/v1/admin/drops/"+rehearsals[0], admin, ""); r.body["paused"] != true {
		t.Errorf("the rehearsal's Pause did not pause it: %s", r.raw)
	}
	// A sale over offers no Pause; every other row's Sale control is on
	// screen at 1200 px, the longest ids notwithstanding, with nothing to
	// scroll.
	b.until(ops, "bygone's row", row("bygone")+` !== null && `+stateOf0("bygone")+` === 'sale closed'`)
	if s := eval[string](b, ops, row("bygone")+`.querySelector('.sale-action').textContent + '|' + `+row("bygone")+`.querySelectorAll('button').length`); s != "—|0" {
		t.Errorf("bygone's Sale cell: %q, want a dash and no button", s)
	}
	salesOnScreen(b, ops, "the drops table at 1200 px")
	b.shotViewport(ops, "ops-long-ids")
	if eval[bool](b, ops, row("ledger")+`.classList.contains('mismatch')`) {
		t.Error("ledger's stats add up, yet its row is marked")
	}
	if h := eval[string](b, ops, `Array.from(document.querySelectorAll('#drops thead th')).map(th => th.textContent).join(',')`); !strings.Contains(h, "Stock") ||
		!strings.Contains(h, "Owed") || !strings.Contains(h, "Waitlisted") {
		t.Errorf("the drops table's columns: %s", h)
	}

	// --- A figure moves; the row's Pause button is the same element. ---
	b.until(ops, "upcoming's figures", stat("upcoming", "registered")+` === '0'`)
	eval[bool](b, ops, `(() => { const btn = `+row("upcoming")+`.querySelector('button[data-role="pause"]'); btn.mark = 'kept'; btn.focus(); return true })()`)
	if r := call(t, "POST", base+"/v1/drops/upcoming/registrations", mint(t, m, "ursula"), "{}"); r.status != 201 {
		t.Fatalf("register ursula: %d %s", r.status, r.raw)
	}
	b.until(ops, "the new registration", stat("upcoming", "registered")+` === '1'`)
	if !eval[bool](b, ops, `(() => { const btn = `+row("upcoming")+`.querySelector('button[data-role="pause"]'); return !!btn && btn.mark === 'kept' && document.activeElement === btn })()`) {
		t.Error("a change of the stats replaced the row's Pause button (or took its focus)")
	}
	// A new drop (as the scheduler makes one at a sale's start) takes its
	// place in the order, here first (the same sale start as ledger's, an
	// id before it); the focused button stays.
	mkDrop("aardvark", 1, sale)
	b.until(ops, "the new drop's row", row("aardvark")+` !== null`)
	realIDs = append([]string{"aardvark"}, realIDs...)
	if got := eval[[]string](b, ops, order); !slices.Equal(got, append(slices.Clone(realIDs), rehearsals...)) {
		t.Errorf("the rows' order with a new drop: %q", got)
	}
	if !eval[bool](b, ops, `(() => { const btn = `+row("upcoming")+`.querySelector('button[data-role="pause"]'); return btn.mark === 'kept' && document.activeElement === btn })()`) {
		t.Error("a new drop's row took the focus from a Pause button")
	}

	// --- The question Pause asks moves no column; No takes it back. ---
	columns := `Array.from(document.querySelectorAll('#drops thead th')).map(th => { const r = th.getBoundingClientRect(); return Math.round(r.left) + '+' + Math.round(r.width); }).join(' ')`
	before := eval[string](b, ops, columns)
	b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-drop="`+longIDs[0]+`"] button[data-role="pause"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="`+longIDs[0]+`"] button[data-role="no"]`)))
	if after := eval[string](b, ops, columns); after != before {
		t.Errorf("the question moved the columns:\n before %s\n after  %s", before, after)
	}
	salesOnScreen(b, ops, "the drops table with a question open")
	b.shotViewport(ops, "ops-pause-question")
	b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-drop="`+longIDs[0]+`"] button[data-role="no"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="`+longIDs[0]+`"] button[data-role="pause"]`)))
	if r := call(t, "GET", base+"/v1/admin/drops/"+longIDs[0], admin, ""); r.body["paused"] != false {
		t.Errorf("No paused the drop: %s", r.raw)
	}

	// The page's requests, faulted on demand: faults maps a path to an
	// answer ({status, body, type}, after: ms to wait for it, unless the
	// page's deadline aborts it first), 'network', or 'hang' (until the
	// page's deadline aborts it).
	eval[bool](b, ops, `(() => {
		const f = window.fetch;
		window.faults = {};
		window.aborted = 0;
		window.metricsAuth = [];
		window.fetch = function (u, o) {
			const path = new URL(String(u), location.href).pathname;
			if (path === '/metrics') window.metricsAuth.push(o && o.headers && o.headers.Authorization);
			const fault = window.faults[path];
			if (fault === 'network') return Promise.reject(new TypeError('Failed to fetch'));
			if (fault === 'hang') return new Promise((_, reject) => o.signal.addEventListener('abort', () => {
				window.aborted++;
				reject(new DOMException('The operation was aborted.', 'AbortError'));
			}));
			if (fault && fault.after) return new Promise((resolve, reject) => {
				const t = setTimeout(() => resolve(new Response(fault.body, { status: fault.status, headers: { 'Content-Type': fault.type || 'application/problem+json' } })), fault.after);
				o.signal.addEventListener('abort', () => {
					clearTimeout(t);
					window.aborted++;
					reject(new DOMException('The operation was aborted.', 'AbortError'));
				});
			});
			if (fault && fault.edit) return f.apply(this, arguments).then(r => r.json()).then(j => {
				fault.edit(j);
				return new Response(JSON.stringify(j), { status: 200, headers: { 'Content-Type': 'application/json' } });
			});
			if (fault) return Promise.resolve(new Response(fault.body, { status: fault.status, headers: { 'Content-Type': fault.type || 'application/problem+json' } }));
			return f.apply(this, arguments);
		};
		return true;
	})()`)
	setFault := func(path, js string) {
		t.Helper()
		eval[bool](b, ops, `(() => { window.faults[`+strconv.Quote(path)+`] = `+js+`; return true })()`)
	}
	clearFault := func(path string) {
		t.Helper()
		eval[bool](b, ops, `(() => { delete window.faults[`+strconv.Quote(path)+`]; return true })()`)
	}
	banner := `document.getElementById('stale').textContent`

	// --- A sale that ends moves its row to the sales over, not while a
	// mouse button is down on the table, and the focus stays where it is
	// (upcoming's Pause, among the rows that move). ---
	eval[bool](b, ops, `(() => { `+row("upcoming")+`.querySelector('button[data-role="pause"]').focus(); `+
		`document.activeElement.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true })); return true })()`)
	setFault("/v1/admin/drops", `{ edit: j => { j.drops.find(d => d.id === 'ledger').state = 'sale_closed'; } }`)
	b.until(ops, "ledger's sale over", stateOf0("ledger")+` === 'sale closed'`)
	stamp := eval[string](b, ops, `document.getElementById('updated').textContent`)
	b.until(ops, "a refresh", `document.getElementById('updated').textContent !== `+strconv.Quote(stamp))
	if got := eval[[]string](b, ops, order); !slices.Equal(got, append(slices.Clone(realIDs), rehearsals...)) {
		t.Errorf("the rows moved while a mouse button was down on the table: %q", got)
	}
	eval[bool](b, ops, `(() => { document.dispatchEvent(new PointerEvent('pointerup', { bubbles: true })); return true })()`)
	b.until(ops, "ledger among the sales over", orderIs(append([]string{"aardvark", longIDs[1], "upcoming", "ledger", "bygone"}, rehearsals...)...))
	if !eval[bool](b, ops, `(() => { const btn = `+row("upcoming")+`.querySelector('button[data-role="pause"]'); return btn.mark === 'kept' && document.activeElement === btn })()`) {
		t.Errorf("moving the rows took the focus from upcoming's Pause (it is on %s)", eval[string](b, ops, "document.activeElement.tagName + '#' + document.activeElement.id"))
	}
	clearFault("/v1/admin/drops")
	b.until(ops, "ledger back among the open sales", orderIs(append(slices.Clone(realIDs), rehearsals...)...))

	// --- While the list hangs, Pause asks at once, and the pause shows
	// from the POST's answer. ---
	b.until(ops, "no banner", banner+` === ''`)
	setFault("/v1/admin/drops", `'hang'`)
	b.run(ops, chromedp.Click(chromedp.CSS(`tr[data-drop="upcoming"] button[data-role="pause"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="upcoming"] button[data-role="yes"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-drop="upcoming"] button[data-role="yes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="upcoming"] button[data-role="resume"]`)))
	if s := stateOf(b, ops, "upcoming"); s != "registration open [paused] row paused" {
		t.Errorf("upcoming after Yes, pause: %q", s)
	}
	if r := call(t, "GET", base+"/v1/admin/drops/upcoming", admin, ""); r.body["paused"] != true {
		t.Fatalf("the page's pause did not reach the server: %s", r.raw)
	}

	// --- The hung list: the deadline aborts it, and the banner says so,
	// blaming the node no more than Redis behind it. ---
	late := `/^No answer from the node in 4 s: the node, or Redis behind it, is not answering — figures as of \d\d:\d\d:\d\d$/.test(` + banner + `)`
	b.until(ops, "the banner for a hung list", late+` && window.aborted > 0`)
	if !eval[bool](b, ops, `document.getElementById('console').classList.contains('is-stale') && /^Updated \d\d:\d\d:\d\d$/.test(document.getElementById('updated').textContent)`) {
		t.Errorf("while stale: console marked %v, stamp %q", eval[bool](b, ops, `document.getElementById('console').classList.contains('is-stale')`),
			eval[string](b, ops, `document.getElementById('updated').textContent`))
	}
	b.shotViewport(ops, "ops-stale")
	// A Redis that hangs: the node's 503 comes after 5 s, its deadline on
	// Redis, the page's own (4 s) has passed.
	redis503 := `'{"type":"urn:flashdrop:problem:unavailable","title":"A backing service is unavailable","status":503,"code":"unavailable","request_id":"r1"}'`
	eval[bool](b, ops, `(() => { window.abortedBefore = window.aborted; return true })()`)
	setFault("/v1/admin/drops", `{ status: 503, after: 5000, body: `+redis503+` }`)
	b.until(ops, "a late 503 aborted", `window.aborted > window.abortedBefore`)
	if !eval[bool](b, ops, late) {
		t.Errorf("the banner while the node's 503 comes after 5 s: %q", eval[string](b, ops, banner))
	}
	// The 503 in time: the banner says what its problem names.
	setFault("/v1/admin/drops", `{ status: 503, body: `+redis503+` }`)
	b.until(ops, "the banner for a 503", `/^The node answered 503: A backing service is unavailable — figures as of \d\d:\d\d:\d\d$/.test(`+banner+`)`)
	setFault("/v1/admin/drops", `{ status: 403, body: '{"title":"Missing scope","status":403,"code":"forbidden","detail":"this credential lacks the scope drops:read"}' }`)
	b.until(ops, "the banner for a 403", banner+`.startsWith('The node answered 403: Missing scope (this credential lacks the scope drops:read) — ')`)
	// A 502 without a problem (a balancer's page) is not the node's.
	setFault("/v1/admin/drops", `{ status: 502, type: 'text/html', body: '<h1>Bad Gateway</h1>' }`)
	b.until(ops, "the banner for a 502 page", banner+`.startsWith('The server answered 502, with no details — ')`)
	setFault("/v1/admin/drops", `'network'`)
	b.until(ops, "the banner for no connection", banner+`.startsWith('Cannot reach the server: the connection failed — ')`)
	asOf := eval[string](b, ops, `document.getElementById('updated').textContent`)
	clearFault("/v1/admin/drops")
	b.until(ops, "the banner gone", banner+` === '' && !document.getElementById('console').classList.contains('is-stale')`)
	b.until(ops, "a newer stamp", `document.getElementById('updated').textContent !== `+strconv.Quote(asOf))

	// --- One drop's stats, carried by the list: failing, then not
	// adding up; the page asks nothing more of the server. ---
	eval[bool](b, ops, `(() => { window.statsAsked = 0; const f = window.fetch; window.fetch = function (u) {
		if (/\/stats$/.test(new URL(String(u), location.href).pathname)) window.statsAsked++;
		return f.apply(this, arguments);
	}; return true })()`)
	setFault("/v1/admin/drops", `{ edit: j => { const d = j.drops.find(d => d.id === 'ledger'); delete d.stats; d.stats_error = 'unavailable'; } }`)
	b.until(ops, "ledger's stats unavailable", row("ledger")+`.querySelector('.row-note').textContent === 'stats unavailable (the store did not answer)'`)
	setFault("/v1/admin/drops", `{ edit: j => { j.drops.find(d => d.id === 'ledger').stats = {stock: 5, available: 0, owed: 1, held: 0, confirmed: 0, released: 1, registered: 2, waitlisted: 1, referrals: 0, reservations: 1}; } }`)
	b.until(ops, "the mismatch marked", row("ledger")+`.classList.contains('mismatch') && `+row("ledger")+`.querySelector('.row-note').textContent === '⚠ available + owed + held + confirmed = 1, not the stock 5'`)
	// Holds long past their deadline and not expired: no worker node is
	// sweeping (a few seconds late is a sweep's own time, not worth a word).
	setFault("/v1/admin/drops", `{ edit: j => { j.drops.find(d => d.id === 'ledger').stats = {stock: 5, available: 3, owed: 0, held: 2, confirmed: 0, released: 0, registered: 2, waitlisted: 1, referrals: 0, reservations: 2, expiries_overdue_seconds: 4}; } }`)
	b.until(ops, "a sweep's own lateness unmarked", row("ledger")+`.querySelector('[data-stat="held"]').textContent === '2' && `+row("ledger")+`.querySelector('.row-note').textContent === ''`)
	setFault("/v1/admin/drops", `{ edit: j => { j.drops.find(d => d.id === 'ledger').stats = {stock: 5, available: 3, owed: 0, held: 2, confirmed: 0, released: 0, registered: 2, waitlisted: 1, referrals: 0, reservations: 2, expiries_overdue_seconds: 25}; } }`)
	b.until(ops, "the overdue holds marked", row("ledger")+`.classList.contains('mismatch') && `+row("ledger")+`.querySelector('.row-note').textContent === '⚠ holds 25 s past their deadline are not expired: is a worker node (--role all) running?'`)
	// Paused with units owed: what Resume will do, said, not warned.
	setFault("/v1/admin/drops", `{ edit: j => { const d = j.drops.find(d => d.id === 'ledger'); d.paused = true; d.stats = {stock: 5, available: 0, owed: 3, held: 2, confirmed: 0, released: 3, registered: 4, waitlisted: 2, referrals: 0, reservations: 5}; } }`)
	b.until(ops, "the owed units explained", `!`+row("ledger")+`.classList.contains('mismatch') && `+row("ledger")+`.querySelector('.row-note').textContent === 'On resume the 3 owed units go down the waitlist (2 waiting), and what nobody there takes back to stock'`)
	clearFault("/v1/admin/drops")
	// ledger is paused with a unit owed and a shopper waiting.
	b.until(ops, "ledger's row clean again", `!`+row("ledger")+`.classList.contains('mismatch') && `+row("ledger")+`.querySelector('.row-note').textContent === 'On resume the 1 owed unit goes down the waitlist (1 waiting), and what nobody there takes back to stock'`)
	if n := eval[int](b, ops, `window.statsAsked`); n != 0 {
		t.Errorf("the page asked for stats %d times; the list carries them", n)
	}
	// A list without a drop's figures (an older server, or a sale long
	// over): the page asks for them itself.
	setFault("/v1/admin/drops", `{ edit: j => { delete j.drops.find(d => d.id === 'ledger').stats; } }`)
	setFault("/v1/admin/drops/ledger/stats", `{ status: 503, body: '{"code":"unavailable","status":503}' }`)
	b.until(ops, "ledger's own stats read failing", row("ledger")+`.querySelector('.row-note').textContent === 'stats unavailable (status 503)'`)
	clearFault("/v1/admin/drops/ledger/stats")
	b.until(ops, "ledger's own stats read", row("ledger")+`.querySelector('.row-note').textContent.startsWith('On resume the 1 owed unit goes')`)
	clearFault("/v1/admin/drops")

	// --- /metrics: an error is no sample; a jump after it, or counters
	// that go back, are a new baseline, never a spike. ---
	eval[bool](b, ops, `(() => {
		window.maxWon = 0;
		new MutationObserver(() => {
			const m = /won: ([\d.]+)\/s/.exec(document.getElementById('legend').textContent);
			if (m) window.maxWon = Math.max(window.maxWon, parseFloat(m[1]));
		}).observe(document.getElementById('legend'), { childList: true, subtree: true, characterData: true });
		return true;
	})()`)
	metrics := func(won, unavailable int) string {
		return `{ status: 200, type: 'text/plain', body: 'flashdrop_reserve_outcomes_total{outcome="won"} ` + strconv.Itoa(won) +
			`\nflashdrop_reserve_outcomes_total{outcome="unavailable"} ` + strconv.Itoa(unavailable) +
			`\nflashdrop_reserve_outcomes_total{outcome="sale_paused"} 3\n' }`
	}
	samplesAfter := func(what string, n int) {
		t.Helper()
		eval[bool](b, ops, `(() => { window.samplesFrom = window.metricsAuth.length; return true })()`)
		b.until(ops, what, `window.metricsAuth.length >= window.samplesFrom + `+strconv.Itoa(n))
	}
	// The node's own health from its real /metrics: requests in flight
	// (this one at least) and its 5xx and Redis error rates.
	b.until(ops, "the node's health", `/^[1-9]\d*$/.test(document.getElementById('inflight').textContent) && `+
		`/^\d+\.\d$/.test(document.getElementById('http5xx').textContent) && /^\d+\.\d$/.test(document.getElementById('redis-errors').textContent)`)
	// This node runs on the test's manual clock: its own, not Redis's.
	if got := eval[string](b, ops, `document.getElementById('clock').textContent`); got != "this node's own" {
		t.Errorf("the clock of a node on its own clock reads %q", got)
	}
	outbox := `document.getElementById('outbox').textContent`
	if got := eval[string](b, ops, outbox); got != "Outbox lag: 0 events waiting to be published." {
		t.Errorf("the outbox lag of the node's own metrics reads %q", got)
	}
	setFault("/metrics", `{ status: 503, body: '{"code":"unavailable","status":503}' }`)
	b.until(ops, "metrics unavailable", `document.getElementById('metrics-note').textContent === 'metrics unavailable (status 503)' && `+
		`document.getElementById('inflight').textContent === 'unknown' && document.getElementById('http5xx').textContent === 'unknown'`)
	if got := eval[string](b, ops, outbox); got != "Outbox lag: unknown (no metrics)." {
		t.Errorf("the outbox lag without metrics reads %q", got)
	}
	setFault("/metrics", `{ status: 200, type: 'text/plain', body: 'process_start_time_seconds 1.76e+09\nflashdrop_http_requests_in_flight 7\nflashdrop_http_requests_total{route="/v1/drops/{drop}/reservations",status="503"} 100\nflashdrop_http_requests_total{route="unmatched",status="503"} 50\nflashdrop_http_requests_total{route="/healthz",status="200"} 900\nflashdrop_redis_errors_total 4\nflashdrop_outbox_lag 1\n' }`)
	samplesAfter("a health baseline", 2)
	// One event waiting, then three: the words agree with the count.
	if got := eval[string](b, ops, outbox); got != "Outbox lag: 1 event waiting to be published." {
		t.Errorf("the outbox lag of one event reads %q", got)
	}
	setFault("/metrics", `{ status: 200, type: 'text/plain', body: 'process_start_time_seconds 1.76e+09\nflashdrop_http_requests_in_flight 9\nflashdrop_http_requests_total{route="/v1/drops/{drop}/reservations",status="503"} 400\nflashdrop_http_requests_total{route="unmatched",status="503"} 350\nflashdrop_http_requests_total{route="/healthz",status="200"} 90000\nflashdrop_redis_errors_total 4\nflashdrop_clock_offset_seconds -1.25e+00\nflashdrop_outbox_lag 3\n' }`)
	b.until(ops, "the 5xx rate", `document.getElementById('inflight').textContent === '9' && parseFloat(document.getElementById('http5xx').textContent) > 50 && `+
		`document.getElementById('redis-errors').textContent === '0.0'`)
	if got := eval[string](b, ops, outbox); got != "Outbox lag: 3 events waiting to be published." {
		t.Errorf("the outbox lag of three events reads %q", got)
	}
	// A node 1.25 s fast sells on Redis's time, and its clock wants a look.
	if got := eval[string](b, ops, `document.getElementById('clock').textContent + '|' + document.getElementById('clock').className`); got != "Redis's (this node's is 1.3 s ahead: check its time service)|bad" {
		t.Errorf("the clock of a node 1.25 s fast reads %q", got)
	}
	// Redis away from the node: its lag is a count from before, which can
	// be 0 with events waiting, so the page says it does not know.
	setFault("/metrics", `{ status: 200, type: 'text/plain', body: 'process_start_time_seconds 1.76e+09\nflashdrop_http_requests_in_flight 9\nflashdrop_outbox_lag 0\nflashdrop_outbox_lag_unknown_seconds 12.4\n' }`)
	b.until(ops, "the lag unknown", `/unknown/.test(document.getElementById('lag').textContent)`)
	if got := eval[string](b, ops, outbox); got != "Outbox lag: unknown: the node has not been able to read it for 12 s (0 events waiting when it last could)." {
		t.Errorf("the outbox lag while the node cannot read it reads %q", got)
	}
	// Then another node (its own start time) whose counters are far
	// higher: a new baseline, not a spike. It runs no relay (an API node).
	setFault("/metrics", metrics(1000000, 100))
	b.until(ops, "metrics back", `document.getElementById('metrics-note').textContent === ''`)
	b.until(ops, "the lag of a node without a relay", `document.getElementById('lag').textContent.startsWith('unknown: this node runs no relay')`)
	if got := eval[string](b, ops, outbox); got != "Outbox lag: unknown: this node runs no relay (an API node); open /ops on a worker node (--role all) to see it." {
		t.Errorf("the outbox lag of a node without a relay reads %q", got)
	}
	samplesAfter("two samples", 2)
	setFault("/metrics", metrics(1000000, 130))
	b.until(ops, "unavailable in a series of its own", `/unavailable: [1-9]/.test(document.getElementById('legend').textContent) && /other: 0\.0/.test(document.getElementById('legend').textContent)`)
	// The legend keeps the window's peak and count: the 30 refusals of
	// one second, once the rate is back to nothing.
	b.until(ops, "unavailable's peak and count", `/unavailable: 0\.0\/s now · peak [1-9][\d.,]*\/s · 30 in (\d+ s|2 min)/.test(document.getElementById('legend').textContent)`)
	setFault("/metrics", metrics(10, 0)) // another node, or a restart
	samplesAfter("two samples after the counters went back", 2)
	setFault("/metrics", metrics(12, 0))
	b.until(ops, "won again", `/won: [1-9]/.test(document.getElementById('legend').textContent)`)
	// The jump to another node's millions counted nothing: the window
	// holds the two units won since, and the node's own wins from before
	// the page opened while they are in it.
	l := eval[string](b, ops, `document.querySelector('#legend .c-won').textContent`)
	if m := regexp.MustCompile(`^won: [\d.]+/s now · peak [\d.]+/s · (\d+) in (\d+ s|2 min)$`).FindStringSubmatch(l); m == nil || (m[1] != "2" && m[1] != strconv.Itoa(2+wonBefore)) {
		t.Errorf("the legend's won: %q, want its rate now, the peak and 2 won in the window (%d with the %d before the page)", l, 2+wonBefore, wonBefore)
	}
	eval[bool](b, ops, `(() => { document.getElementById('chart').scrollIntoView(); return true })()`)
	b.shotViewport(ops, "ops-chart")
	if mx := eval[float64](b, ops, "window.maxWon"); mx > 100 {
		t.Errorf("the chart's won rate reached %v/s: a jump after an error or a reset was drawn as a spike", mx)
	}
	clearFault("/metrics")
	if auth := eval[[]string](b, ops, "window.metricsAuth"); len(auth) == 0 || auth[0] != "Bearer "+admin || auth[len(auth)-1] != "Bearer "+admin {
		t.Errorf("the /metrics requests' Authorization: %q", auth)
	}

	// A sale ends while its Pause button has the keyboard's focus: the
	// button goes (a dash), and the focus moves to the drop's name in its
	// row, not to the top of the page.
	loadRow := `tr[data-drop="load-20261206-100017-4378"]`
	b.run(ops, chromedp.Focus(chromedp.CSS(loadRow+` button[data-role="pause"]`)))
	clock.Set(sale.Add(2 * time.Hour))
	b.until(ops, "the ended sale's dash", `!!document.querySelector('`+loadRow+` .no-action')`)
	if !eval[bool](b, ops, `document.activeElement === document.querySelector('`+loadRow+` th a')`) {
		t.Errorf("the focus fell to %s when the sale ended under it", eval[string](b, ops, "document.activeElement.tagName + '#' + document.activeElement.id"))
	}
	// The sales over, the latest first, after the one still to come; the
	// rehearsal whose sale goes on first among the rehearsals.
	b.until(ops, "the order once the sales ended", orderIs("upcoming", "aardvark", "ledger", longIDs[1], "bygone", rehearsals[0], rehearsals[1], rehearsals[2]))

	// --- A key without webhooks:read (or webhooks:write), then revoked. ---
	key := call(t, "POST", base+"/v1/admin/keys", admin, `{"name":"ops page","scopes":["drops:read","ops"]}`)
	if key.status != 201 {
		t.Fatalf("create a key: %d %s", key.status, key.raw)
	}
	keyOps := b.tab("ops-key", 1200, 1000)
	b.signInOps(keyOps, key.body["secret"].(string))
	b.run(keyOps, chromedp.WaitVisible(chromedp.CSS(`tr[data-drop="ledger"]`)))
	b.until(keyOps, "the missing scope said", `document.querySelector('#webhooks tbody').textContent.includes('lacks the scope webhooks:read (or webhooks:write, which includes it)')
		&& document.querySelector('#deliveries tbody').textContent.includes('lacks the scope webhooks:read (or webhooks:write, which includes it)')`)
	if r := call(t, "DELETE", base+"/v1/admin/keys/"+key.body["id"].(string), admin, ""); r.status >= 300 {
		t.Fatalf("revoke the key: %d %s", r.status, r.raw)
	}
	b.until(keyOps, "the sign-in form, with the reason", `!document.getElementById('signin').hidden && document.getElementById('console').hidden
		&& document.getElementById('signin-message').textContent === 'Your token is no longer accepted (expired, rotated or revoked). Sign in again.'`)
	b.shotViewport(keyOps, "ops-revoked")
	b.clean()
}

// stateOf is how a drop's row on the ops page shows its state: the state
// in words, each flag in brackets, and "row paused" when the whole row is
// marked paused.
func stateOf(b *browser, ctx context.Context, drop string) string {
	b.t.Helper()
	return eval[string](b, ctx, `(() => { const tr = document.querySelector('tr[data-drop="`+drop+`"]');
		const flags = Array.from(tr.querySelectorAll('.ops-flag')).filter(f => f.textContent && getComputedStyle(f).display !== 'none').map(f => ' [' + f.textContent + ']').join('');
		return tr.querySelector('.drop-state').textContent + flags + (tr.classList.contains('is-paused') && getComputedStyle(tr).backgroundColor !== getComputedStyle(document.querySelector('#drops tr[data-drop]:not(.is-paused)') || document.body).backgroundColor ? ' row paused' : ''); })()`)
}

// stateOf0 is a JavaScript expression for a drop's state in words.
func stateOf0(drop string) string {
	return `document.querySelector('tr[data-drop="` + drop + `"] .drop-state').textContent`
}

// salesOnScreen checks that every shown row's Sale cell (a folded
// section's rows are not), and the control in it, lies inside the ops
// page's drops table as shown, with nothing to scroll sideways: the kill
// switch is never cut off.
func salesOnScreen(b *browser, ctx context.Context, what string) {
	b.t.Helper()
	got := eval[string](b, ctx, `(() => {
		const wrap = document.getElementById('drops').parentElement, w = wrap.getBoundingClientRect(), bad = [];
		if (wrap.scrollWidth > wrap.clientWidth) bad.push('the table scrolls: ' + wrap.scrollWidth + ' > ' + wrap.clientWidth);
		if (document.documentElement.scrollWidth > window.innerWidth) bad.push('the page is ' + document.documentElement.scrollWidth + ' px wide');
		for (const tr of document.querySelectorAll('#drops tr[data-drop]')) {
			if (!tr.getClientRects().length) continue; // in a folded section
			const cell = tr.querySelector('.sale-action'), c = cell.getBoundingClientRect();
			const ctl = cell.querySelector('button') || cell.querySelector('.no-action');
			if (!ctl) { bad.push(tr.dataset.drop + ': no control'); continue; }
			const r = ctl.getBoundingClientRect();
			if (r.width === 0 || r.left < w.left || r.right > w.right || r.right > window.innerWidth || r.right > c.right + 1)
				bad.push(tr.dataset.drop + ': control at ' + Math.round(r.left) + '..' + Math.round(r.right) + ', table ' + Math.round(w.left) + '..' + Math.round(w.right));
		}
		return bad.join('; '); })()`)
	if got != "" {
		b.shot(ctx, "sale-off-screen")
		b.t.Errorf("%s: %s", what, got)
	}
}
