package main

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// mintAt mints a shopper token valid for ttl from the wall clock's now
// (the server judges a token's exp by its wall clock, not the engine's).
func mintAt(t *testing.T, m *Main, user string, ttl time.Duration) string {
	t.Helper()
	var out bytes.Buffer
	lookup := func(k string) (string, bool) {
		if k == "FLASHDROP_JWT_SECRET" {
			return m.Config.JWTSecret, true
		}
		return "", false
	}
	if err := token([]string{"--user", user, "--ttl", ttl.String()}, &out, io.Discard, lookup, time.Now()); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

// contrastAt is a JavaScript expression: the WCAG contrast ratio of the
// element's text against the first background behind it that is not
// transparent (contrastJS reads the element's own only).
func contrastAt(id string) string {
	return `(() => {
		const e = document.getElementById('` + id + `');
		let bg = null;
		for (let n = e; n; n = n.parentElement) {
			const c = getComputedStyle(n).backgroundColor;
			if (!/rgba\(.*, 0\)$/.test(c) && c !== 'transparent') { bg = c; break; }
		}
		bg = bg || getComputedStyle(document.documentElement).backgroundColor;
		const lum = (c) => {
			const [r, g, b] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
				v /= 255;
				return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
			});
			return 0.2126 * r + 0.7152 * g + 0.0722 * b;
		};
		const a = lum(getComputedStyle(e).color), b = lum(bg);
		return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
	})()`
}

// TestBrowserShopperReview walks the findings of the release-day review
// of the shopper page: a sign-in that runs out before the sale is warned
// of at once and, refused at T0, does not read as "not registered"; a
// lost connection's message goes when the connection is back; a page
// open through a draw shows its proof; registration's close is counted
// down to, a draw worded as one, and the series' next drop linked; a
// draw's winner is told how long she has to pay; a referral survives a
// signed-out visit; a press in flight says so; a partial promotion says
// the waitlist is over for her; a dark palette; and the wording fixes.
// From the shopper and designer review after it: the shop's sign-in page
// offered to a visitor not signed in (--sign-in-url), Buy released as soon
// as a 503 answers, the focus on news that arrives (registered, the
// waitlist, a hold from the draw or a promotion), a drop gone, a token
// arriving in the fragment of an open page, the hold's deadline as a time,
// the stock with separators, and 44-px targets.
func TestBrowserShopperReview(t *testing.T) {
	t.Parallel()
	redis := testkit.OwnRedis(t)
	const signIn = "https://shop.example/login?next={url}"
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--admin-token", "browser-admin-token-0123456789", "--sign-in-url", signIn)
	base := "http://" + m.Addr
	b := newBrowser(t, base)
	admin := m.Config.AdminToken
	now := clock.Now() // Tue 24 Nov 2026 09:00 UTC
	sale := now.Add(80 * time.Second)
	mkDrop := func(id string, body map[string]any) {
		t.Helper()
		d := map[string]any{"id": id, "name": "Drop " + id, "stock": 5, "per_user_limit": 1, "hold_seconds": 600,
			"registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale,
			"sale_starts_at": sale, "sale_ends_at": sale.Add(time.Hour)}
		for k, v := range body {
			d[k] = v
		}
		if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, d)); r.status != 201 {
			t.Fatalf("create %s: %d %s", id, r.status, r.raw)
		}
	}
	register := func(drop, user string) {
		t.Helper()
		if r := call(t, "POST", base+"/v1/drops/"+drop+"/registrations", mint(t, m, user), "{}"); r.status != 201 {
			t.Fatalf("register %s for %s: %d %s", user, drop, r.status, r.raw)
		}
	}
	mkDrop("early", nil)
	mkDrop("trio", map[string]any{"stock": 3, "per_user_limit": 3})
	mkDrop("big", map[string]any{"stock": 12000})
	mkDrop("later", map[string]any{"registration_opens_at": now.Add(time.Hour), "registration_closes_at": now.Add(2 * time.Hour),
		"sale_starts_at": now.Add(2 * time.Hour), "sale_ends_at": now.Add(3 * time.Hour)})
	// A weekly draw on Tuesdays at 09:02 UTC, registration closing a
	// minute before: this week's drop exists at once, next week's once
	// this week's registration has closed.
	if r := call(t, "POST", base+"/v1/admin/series", admin, `{"id":"wk","name":"Weekly Raffle","stock":2,"weekday":2,
		"sale_time":"09:02","time_zone":"UTC","mode":"draw","hold_seconds":600,
		"registration_opens_before_seconds":518400,"registration_closes_before_seconds":60}`); r.status != 201 {
		t.Fatalf("create the series: %d %s", r.status, r.raw)
	}
	week, next := "wk-2026-11-24", "wk-2026-12-01"
	testkit.Eventually(t, 20*time.Second, "this week's drop", func() bool {
		return call(t, "GET", base+"/v1/drops/"+week, "", "").status == 200
	})
	for _, u := range []string{"kay", "mia", "p1", "p2"} {
		register("early", u)
	}
	for _, u := range []string{"una", "ula", "vic"} {
		register("trio", u)
	}
	register(week, "gina")

	// --- 1. A sign-in that runs out before the sale is told at once. ---
	lena := b.tab("lena", 375, 900)
	b.run(lena, chromedp.Navigate(base+"/d/early#token="+mintAt(t, m, "lena", 45*time.Second)), chromedp.WaitVisible(chromedp.ID("register")))
	b.press(lena, "register")
	b.run(lena, chromedp.WaitVisible(chromedp.ID("registered")))
	// Register is gone: the focus is on the sentence that says she is in.
	b.until(lena, "the focus on her registration", `document.activeElement && document.activeElement.id === 'registered'`)
	b.until(lena, "the warning that her sign-in runs out before the sale",
		`/^Your sign-in runs out at .+, before the sale: sign in again at the shop before then\.$/.test(document.getElementById('signin-note').textContent) && !document.getElementById('signin-note').hidden`)
	b.shot(lena, "signin-runs-out")

	// Kay registered; her token runs out in 3 s: the page says so then,
	// not at T0, and that she is still registered.
	kay := b.tab("kay", 375, 900)
	b.run(kay, chromedp.Navigate(base+"/d/early#token="+mintAt(t, m, "kay", 3*time.Second)), chromedp.WaitVisible(chromedp.ID("registered")))
	b.until(kay, "the sign-in ran out, said before T0", `document.getElementById('signin-note').textContent.startsWith('Your sign-in has run out, but you are still registered')
		&& document.getElementById('registered').hidden`)

	// A drop whose registration opens later says it once, not "soon"
	// beside a countdown.
	anon := b.tab("anon", 375, 900)
	b.run(anon, chromedp.Navigate(base+"/d/later"), chromedp.WaitVisible(chromedp.ID("countdown")))
	b.until(anon, "registration's countdown", `/^Registration opens in \d+:\d\d(:\d\d)?$/.test(document.getElementById('countdown').textContent)`)
	if st := eval[string](b, anon, "document.getElementById('state').textContent"); st != "Registration is not open yet" {
		t.Errorf("before registration the state reads %q", st)
	}
	// Not signed in, with the shop's sign-in page: a button to it, which
	// brings her back to this page; no Buy that cannot work.
	b.until(anon, "the sign-in button", `!document.getElementById('signin-link').hidden && document.getElementById('signin-link').textContent === 'Sign in to register'
		&& document.getElementById('signin-link').getAttribute('href') === 'https://shop.example/login?next=' + encodeURIComponent(location.origin + '/d/later')
		&& document.getElementById('buy').hidden && document.getElementById('signin').hidden`)
	// The shop signs her in on this very page: the token in a new
	// fragment is taken, and leaves the address bar.
	eval[bool](b, anon, `(() => { location.hash = '#token=`+mint(t, m, "ann")+`'; return true })()`)
	b.until(anon, "the token from the new fragment", `location.hash === '' && !!sessionStorage.getItem('flashdrop.token')
		&& !document.getElementById('register').hidden && document.getElementById('signin-link').hidden`)
	// The drop is gone (deleted while the page was open): a closed page,
	// nothing to press, no countdown.
	eval[bool](b, anon, `(() => {
		const f = window.fetch;
		window.fetch = function (u, o) {
			if ((!o || !o.method || o.method === 'GET') && /\/v1\/drops\/later$/.test(String(u))) {
				return Promise.resolve(new Response(JSON.stringify({ code: 'not_found', status: 404 }),
					{ status: 404, headers: { 'Content-Type': 'application/problem+json' } }));
			}
			return f.apply(this, arguments);
		};
		// The page asks again when it comes back into view (at most once a
		// second): until it has.
		setInterval(() => document.dispatchEvent(new Event('visibilitychange')), 500);
		return true;
	})()`)
	b.until(anon, "the drop gone", `document.getElementById('state').textContent === 'This drop no longer exists'
		&& document.getElementById('countdown').textContent === '' && document.getElementById('register').hidden
		&& document.getElementById('calendar-link').hidden && document.getElementById('stock').hidden`)
	// Stock with separators, as the page's script writes it too.
	b.run(anon, chromedp.Navigate(base+"/d/big"))
	b.until(anon, "the big drop's page drawn by its script", `document.getElementById('countdown').textContent !== ''`)
	if txt := eval[string](b, anon, "document.getElementById('stock').textContent"); !strings.HasPrefix(txt, "12,000 of 12,000 left") {
		t.Errorf("the stock reads %q", txt)
	}

	// --- 4. Registration's close, counted down to by one not registered. ---
	kim := b.tab("kim", 375, 900)
	b.run(kim, chromedp.Navigate(base+"/d/"+week+"#token="+mint(t, m, "kim")), chromedp.WaitVisible(chromedp.ID("register")))
	b.until(kim, "the countdown to registration's close", `/^Registration closes in (0:[0-5]\d|1:00)$/.test(document.getElementById('countdown').textContent)`)
	// --- 5. A draw's registrant is told how long a winner has to pay. ---
	gina := b.tab("gina", 375, 900)
	b.run(gina, chromedp.Navigate(base+"/d/"+week+"#token="+mint(t, m, "gina")), chromedp.WaitVisible(chromedp.ID("registered")))
	if txt := eval[string](b, gina, "document.getElementById('registered').textContent"); !strings.Contains(txt, "If you win, you have 10 minutes from the draw to pay") {
		t.Errorf("a draw's registrant reads %q", txt)
	}
	b.until(gina, "the countdown to the draw", `/^The draw is in \d:\d\d$/.test(document.getElementById('countdown').textContent)`)
	ics := call(t, "GET", base+"/d/"+week+".ics", "", "").raw
	if unfolded := strings.ReplaceAll(ics, "\r\n ", ""); !strings.Contains(unfolded, `A winner has 10 minutes from the draw to pay.`) {
		t.Errorf("the calendar entry does not tell the winner's time to pay:\n%s", ics)
	}

	// --- 8. Dark: the page follows the reader's setting, readably. ---
	dark := b.tab("dark", 375, 900)
	b.run(dark, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}),
		chromedp.Navigate(base+"/d/early#token="+mint(t, m, "dana")), chromedp.WaitVisible(chromedp.ID("register")))
	if !eval[bool](b, dark, `(() => { const m = getComputedStyle(document.documentElement).backgroundColor.match(/\d+/g).map(Number); return m[0] + m[1] + m[2] < 120 })()`) {
		t.Error("with a dark setting the page stays light")
	}
	eval[bool](b, dark, `(() => {
		const m = document.getElementById('message'); m.textContent = 'No connection'; m.className = 'message bad';
		const n = document.getElementById('signin-note'); n.textContent = 'Your sign-in runs out'; n.hidden = false;
		return true })()`)
	for _, id := range []string{"name", "state", "countdown", "stock", "register", "calendar", "message", "signin-note"} {
		if c := eval[float64](b, dark, contrastAt(id)); c < 4.5 {
			t.Errorf("dark: #%s's contrast is %.2f:1, want at least 4.5:1", id, c)
		}
	}
	b.shot(dark, "dark")

	// --- 1 again, at T0: the server refuses Kay's token. ---
	eval[bool](b, kay, `(() => {
		const f = window.fetch;
		window.fetch = function (u, o) {
			// The server refuses the token: a request without one is answered.
			if (o && o.method === 'GET' && o.headers && o.headers.Authorization && /\/v1\/drops\/early$/.test(String(u))) {
				return Promise.resolve(new Response(JSON.stringify({ code: 'unauthorized', status: 401 }),
					{ status: 401, headers: { 'Content-Type': 'application/problem+json' } }));
			}
			return f.apply(this, arguments);
		};
		return true;
	})()`)
	clock.Set(sale.Add(time.Second))
	b.until(kay, "her page at T0, signed out", `document.getElementById('state').textContent === 'On sale now' && document.getElementById('buy').hidden
		&& document.getElementById('signin-note').textContent.startsWith('Your sign-in has run out, but you are still registered')
		&& !document.getElementById('signin-link').hidden && document.getElementById('signin-link').textContent === 'Sign in to buy'`)
	if txt := eval[string](b, kay, "document.getElementById('main').innerText"); strings.Contains(txt, "Only shoppers who registered") ||
		strings.Count(txt, "sign-in has run out") != 1 {
		t.Errorf("a registered shopper signed out at T0 reads that only registered shoppers take part, or not once that her sign-in ran out:\n%s", txt)
	}
	b.shot(kay, "signed-out-at-t0")

	// --- 4 again: registration closed, a draw worded as one, and the
	// series' next drop linked. ---
	b.until(kim, "the outsider's link to next week", `document.getElementById('state').textContent === 'Registration has closed; the draw comes next'
		&& !document.getElementById('outsider').hidden && !document.querySelector('#outsider .next-link').hidden
		&& document.querySelector('#outsider .next-link').getAttribute('href') === '/d/`+next+`'`)
	if txt := eval[string](b, kim, "document.getElementById('outsider').textContent"); !strings.HasPrefix(txt, "Only shoppers who registered before registration closed are in the draw") {
		t.Errorf("the draw's outsider reads %q", txt)
	}

	// --- 7. A press in flight says so. 10. Her win's stock line. ---
	mia := b.tab("mia", 375, 900)
	b.run(mia, chromedp.Navigate(base+"/d/early#token="+mint(t, m, "mia")), chromedp.WaitEnabled(chromedp.ID("buy")))
	eval[bool](b, mia, `(() => {
		const f = window.fetch;
		window.offline = false;
		window.fetch = function (u, o) {
			if (o && o.method === 'POST' && /\/reservations$/.test(String(u)) && !window.released) {
				return new Promise((resolve) => { window.release = () => { window.released = true; resolve(f.call(window, u, o)); }; });
			}
			if (window.offline && (!o || !o.method || o.method === 'GET') && /\/v1\/drops\/early$/.test(String(u))) {
				return Promise.reject(new TypeError('offline'));
			}
			return f.apply(this, arguments);
		};
		return true;
	})()`)
	// A press answered 503 while the view hangs on the same busy backend:
	// the button is hers again with the answer, not once the view comes.
	eval[bool](b, mia, `(() => {
		const f = window.fetch;
		window.hung = [];
		window.fetch = function (u, o) {
			if (window.busy503 && o && o.method === 'POST' && /\/reservations$/.test(String(u))) {
				return Promise.resolve(new Response(JSON.stringify({ code: 'unavailable', status: 503 }),
					{ status: 503, headers: { 'Content-Type': 'application/problem+json' } }));
			}
			if (window.busy503 && (!o || !o.method || o.method === 'GET') && /\/v1\/drops\/early$/.test(String(u))) {
				return new Promise((resolve) => { window.hung.push(() => resolve(f.call(window, u, o))); });
			}
			return f.apply(this, arguments);
		};
		window.busy503 = true;
		return true;
	})()`)
	b.press(mia, "buy")
	b.until(mia, "Buy released with the 503's answer, the view still waiting", `document.getElementById('message').textContent.startsWith('The shop is very busy')
		&& document.getElementById('buy').textContent === 'Buy' && !document.getElementById('buy').disabled && window.hung.length > 0`)
	// Pressed again while still busy: the same sentence says she was
	// tried again, and when, rather than stand still.
	b.press(mia, "buy")
	b.until(mia, "the press tried again said", `/^The shop is very busy.* Tried again at .+\.$/.test(document.getElementById('message').textContent)
		&& !document.getElementById('buy').disabled`)
	eval[bool](b, mia, "(() => { window.busy503 = false; window.hung.forEach((go) => go()); return true })()")
	b.press(mia, "buy")
	b.until(mia, "the press in flight", `document.getElementById('buy').textContent === 'Reserving…' && document.getElementById('buy').getAttribute('aria-busy') === 'true' && !!window.release`)
	b.shot(mia, "reserving")
	eval[bool](b, mia, "(() => { window.release(); return true })()")
	b.run(mia, chromedp.WaitVisible(chromedp.ID("hold")))
	// The deadline as a time too, and the tab's title says she won.
	if txt := eval[string](b, mia, "document.getElementById('hold-until').textContent"); !regexp.MustCompile(`^, until \d\d:\d\d( [AP]M)?, your time$`).MatchString(txt) {
		t.Errorf("the hold's deadline reads %q", txt)
	}
	if title := eval[string](b, mia, "document.title"); !strings.HasPrefix(title, "You got one! · ") {
		t.Errorf("the tab's title after a win: %q", title)
	}
	// The press ends with the view asked after the win, a moment after the
	// hold shows.
	b.until(mia, "Buy no longer busy once the press is over", `document.getElementById('buy').textContent === 'Buy' && !document.getElementById('buy').hasAttribute('aria-busy')`)
	if !eval[bool](b, mia, "!document.getElementById('stock-others').hidden") {
		t.Error("after her win the stock line does not say it is what is left for the others")
	}
	b.press(mia, "cancel")
	b.run(mia, chromedp.WaitVisible(chromedp.ID("cancel-note")))
	if txt := eval[string](b, mia, "document.getElementById('cancel-note').textContent"); strings.Contains(txt, "cannot get it back") || !strings.Contains(txt, "goes back to the sale") {
		t.Errorf("the cancel note reads %q", txt)
	}

	// --- 2. The connection goes and comes back: its message goes too. ---
	eval[bool](b, mia, "(() => { window.offline = true; return true })()")
	if r := call(t, "POST", base+"/v1/drops/early/reservations", mint(t, m, "p1"), `{"quantity":1}`); r.status != 201 {
		t.Fatalf("p1's buy: %d %s", r.status, r.raw)
	}
	b.until(mia, "the lost connection said", `document.getElementById('message').textContent.startsWith('No connection')`)
	eval[bool](b, mia, "(() => { window.offline = false; return true })()")
	if r := call(t, "POST", base+"/v1/drops/early/reservations", mint(t, m, "p2"), `{"quantity":1}`); r.status != 201 {
		t.Fatalf("p2's buy: %d %s", r.status, r.raw)
	}
	b.until(mia, "the message gone with the connection back", `document.getElementById('message').textContent === '' && document.getElementById('available').textContent === '2'`)

	// --- 9. Waiting for 3, promoted with 1: off the line for the rest. ---
	var unaRes string
	for _, u := range []struct {
		who string
		n   int
	}{{"una", 1}, {"ula", 2}} {
		r := call(t, "POST", base+"/v1/drops/trio/reservations", mint(t, m, u.who), `{"quantity":`+strconv.Itoa(u.n)+`}`)
		if r.status != 201 {
			t.Fatalf("%s's buy: %d %s", u.who, r.status, r.raw)
		}
		if u.who == "una" {
			unaRes = r.body["reservation"].(map[string]any)["id"].(string)
		}
	}
	vic := b.tab("vic", 375, 900)
	b.run(vic, chromedp.Navigate(base+"/d/trio#token="+mint(t, m, "vic")), chromedp.WaitVisible(chromedp.ID("join")), chromedp.WaitVisible(chromedp.ID("qty")))
	if h := eval[float64](b, vic, "document.getElementById('quantity').getBoundingClientRect().height"); h < 44 {
		t.Errorf("the quantity list is %.0f px high, want at least 44", h)
	}
	b.run(vic, chromedp.SetValue(chromedp.ID("quantity"), "3"))
	b.press(vic, "join")
	b.run(vic, chromedp.WaitVisible(chromedp.ID("waitlist")))
	// Join is gone: the focus is on the waitlist's heading, described by
	// her place in line.
	b.until(vic, "the focus on the waitlist", `document.activeElement && document.activeElement.id === 'waitlist-title'
		&& document.getElementById(document.activeElement.getAttribute('aria-describedby')).textContent.startsWith('Number 1 in line')`)
	if r := call(t, "POST", base+"/v1/reservations/"+unaRes+"/cancel", mint(t, m, "una"), ""); r.status != 200 {
		t.Fatalf("una cancels: %d %s", r.status, r.raw)
	}
	b.run(vic, chromedp.WaitVisible(chromedp.ID("hold")))
	b.until(vic, "the focus on the promotion's hold", `document.activeElement && document.activeElement.id === 'hold-title'`)
	b.until(vic, "the partial promotion said", `document.getElementById('message').textContent.includes('You waited for 3: you are off the waitlist now, so the other 2 will not come to you.')`)
	b.shot(vic, "partial-promotion")

	// --- 3. Gina's page, open through the draw, shows its proof. ---
	clock.Set(time.Date(2026, 11, 24, 9, 2, 1, 0, time.UTC))
	testkit.Eventually(t, 20*time.Second, "the draw", func() bool {
		r := call(t, "GET", base+"/v1/drops/"+week+"/draw", "", "")
		return r.status == 200 && r.body["state"] == "drawn"
	})
	rec := call(t, "GET", base+"/v1/drops/"+week+"/draw", "", "")
	seed, _ := rec.body["seed"].(string)
	b.run(gina, chromedp.WaitVisible(chromedp.ID("hold")))
	// Won in the draw while the page was open: the focus goes to the news.
	b.until(gina, "the focus on the draw's win", `document.activeElement && document.activeElement.id === 'hold-title'`)
	b.until(gina, "the draw's proof", `!document.getElementById('drawn-proof').hidden && !document.getElementById('drawn').hidden`)
	b.run(gina, chromedp.Click(chromedp.CSS("#check-draw summary")))
	proof := eval[string](b, gina, "document.getElementById('check-draw').textContent")
	for _, want := range []string{"The draw was committed in advance", "Its seed, revealed now: " + seed, "The public record",
		"flashdrop verify-draw --target " + base + " --drop " + week} {
		if seed == "" || !strings.Contains(proof, want) {
			t.Errorf("the proof, drawn while the page was open, lacks %q:\n%s", want, proof)
		}
	}
	if txt := eval[string](b, gina, "document.getElementById('drawn').textContent"); txt != "The draw is done: 1 winner among 1 registered." {
		t.Errorf("the draw's account reads %q", txt)
	}
	b.shot(gina, "draw-proof-live")
	code, won := "", ""
	if v := call(t, "GET", base+"/v1/drops/"+week, mint(t, m, "gina"), ""); v.status == 200 {
		res, _ := v.body["me"].(map[string]any)["reservation"].(map[string]any)
		code, _ = res["share_code"].(string)
		won, _ = res["id"].(string)
	}
	if code == "" {
		t.Fatal("gina's win has no share code")
	}
	// She pays, and the shop confirms: a win given back (an unpaid hold
	// that expired) has no card for a friend to follow.
	if r := call(t, "POST", base+"/v1/reservations/"+won+"/confirm", admin, ""); r.status != 200 {
		t.Fatalf("the shop confirms gina's win: %d %s", r.status, r.raw)
	}

	// --- 6. A friend from the card, signed out, registers later. ---
	// Next week's registration opens six days before its draw.
	clock.Set(time.Date(2026, 11, 25, 9, 3, 0, 0, time.UTC))
	friend := b.tab("friend", 1280, 800)
	b.run(friend, chromedp.Navigate(base+"/s/"+code), chromedp.WaitVisible(chromedp.ID("join")))
	if !eval[bool](b, friend, `document.getElementById('join').getBoundingClientRect().bottom <= 800`) {
		t.Error("at 1280×800 the card's link is below the fold")
	}
	if n := eval[int](b, friend, `document.body.innerText.split('never changes anyone’s odds').length - 1`); n != 1 {
		t.Errorf("the share page says sharing never changes anyone's odds %d times", n)
	}
	b.shotViewport(friend, "share-desktop")
	join := eval[string](b, friend, "document.getElementById('join').getAttribute('href')")
	if join != "/d/"+next+"?ref="+url.QueryEscape(code) {
		t.Fatalf("the card's link: %q", join)
	}
	// Next week's draw, in the reader's zone (the script's words, not the
	// server's UTC).
	if txt := eval[string](b, friend, "document.querySelector('#next-when time').textContent"); strings.Contains(txt, "2026") || txt == "" {
		t.Errorf("the card's next drop time reads %q", txt)
	}
	b.run(friend, chromedp.Click(chromedp.ID("join")), chromedp.WaitVisible(chromedp.ID("signin-link")))
	if !eval[bool](b, friend, `document.getElementById('signin-link').textContent === 'Sign in to register' && document.getElementById('buy').hidden
		&& document.getElementById('signin-link').getAttribute('href') === 'https://shop.example/login?next=' + encodeURIComponent(location.origin + '/d/`+next+`?ref=`+url.QueryEscape(code)+`')`) {
		t.Errorf("the friend from the card, signed out, is not offered the sign-in back to this page: %s, %q",
			eval[string](b, friend, "document.getElementById('signin-link').getAttribute('href')"), eval[string](b, friend, "document.getElementById('main').innerText"))
	}
	// Back later through the shop's link, which carries no ref.
	b.run(friend, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/d/"+next+"#token="+mint(t, m, "fay")),
		chromedp.WaitVisible(chromedp.ID("register")))
	b.press(friend, "register")
	b.run(friend, chromedp.WaitVisible(chromedp.ID("registered")))
	if refs := call(t, "GET", base+"/v1/admin/drops/"+next+"/referrals", admin, ""); refs.status != 200 || refs.body["referrals"] != float64(1) {
		t.Errorf("the referral was lost: %d %s", refs.status, refs.raw)
	}
	b.clean()
}
