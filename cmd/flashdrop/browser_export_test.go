package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/flashdrop/flashdrop/internal/testkit"
)

// TestBrowserOpsExport: shop staff download a drop's reservations from
// /ops as a CSV file for fulfilment. The file is checked byte for byte:
// the header, CRLF lines, RFC 4180 quoting, the apostrophe that keeps a
// shopper id such as "=SUM(1,2)" from running as a formula in a
// spreadsheet, the order (won_at, then id), a promotion from the waitlist;
// Held added gives the holds too; a status nobody has gives a header-only
// file and says so; and a key without reservations:confirm is told why,
// with no file made.
func TestBrowserOpsExport(t *testing.T) {
	t.Parallel()
	redis := testkit.OwnRedis(t)
	m, clock, _ := startServe(t, "--redis-url", redis.Addr, "--admin-token", "browser-admin-token-0123456789")
	base := "http://" + m.Addr
	b := newBrowser(t, base)
	admin := m.Config.AdminToken
	now := clock.Now()
	sale := now.Add(30 * time.Minute)
	const drop = "fulfil-me"

	if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, map[string]any{"id": drop, "name": "Air Max 1", "stock": 7,
		"per_user_limit": 1, "hold_seconds": 600, "registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale,
		"sale_starts_at": sale, "sale_ends_at": sale.Add(2 * time.Hour)})); r.status != 201 {
		t.Fatalf("create %s: %d %s", drop, r.status, r.raw)
	}
	// A second drop, listed before it (its sale opens first): the select
	// offers the drops in the table's order, and the test must choose.
	if r := call(t, "POST", base+"/v1/admin/drops", admin, jsonBody(t, map[string]any{"id": "earlier", "name": "Tee", "stock": 1,
		"per_user_limit": 1, "hold_seconds": 600, "registration_opens_at": now.Add(-time.Hour), "registration_closes_at": sale.Add(-time.Minute),
		"sale_starts_at": sale.Add(-time.Minute), "sale_ends_at": sale.Add(2 * time.Hour)})); r.status != 201 {
		t.Fatalf("create earlier: %d %s", r.status, r.raw)
	}

	// The shop's account ids are whatever its accounts allow
	// (engine.ValidateUser refuses only controls, invisible characters and
	// outer white space): a formula, a sign, an @, quotes and a comma.
	users := []string{"ada", "@ops", "=SUM(1,2)", "-2+3", `bo "the" builder`, "held-1", "held-2", "wendy"}
	tokens := map[string]string{}
	for _, u := range users {
		tokens[u] = mint(t, m, u)
		if r := call(t, "POST", base+"/v1/drops/"+drop+"/registrations", tokens[u], "{}"); r.status != 201 {
			t.Fatalf("register %q: %d %s", u, r.status, r.raw)
		}
	}
	res := map[string]map[string]any{} // user -> her reservation as the API last gave it
	reserve := func(u string) {
		t.Helper()
		r := call(t, "POST", base+"/v1/drops/"+drop+"/reservations", tokens[u], `{"quantity":1}`)
		if r.status != 201 {
			t.Fatalf("%q reserves: %d %s", u, r.status, r.raw)
		}
		res[u] = r.body["reservation"].(map[string]any)
	}
	// Wins a second apart, and two in the same second (their order in the
	// file is by id), in an order that is not the users' alphabetical one.
	clock.Set(sale.Add(time.Second))
	reserve("ada")
	reserve("@ops")
	clock.Advance(time.Second)
	reserve("=SUM(1,2)")
	clock.Advance(time.Second)
	reserve("-2+3")
	clock.Advance(time.Second)
	reserve(`bo "the" builder`)
	clock.Advance(time.Second)
	reserve("held-1")
	reserve("held-2")
	// Sold out: Wendy waits, and held-2's cancel promotes her.
	if r := call(t, "POST", base+"/v1/drops/"+drop+"/reservations", tokens["wendy"], `{"quantity":1,"waitlist":true}`); r.body["waitlist_position"] != float64(1) {
		t.Fatalf("wendy joins the waitlist: %d %s", r.status, r.raw)
	}
	clock.Advance(time.Second)
	if r := call(t, "POST", base+"/v1/reservations/"+res["held-2"]["id"].(string)+"/cancel", tokens["held-2"], ""); r.status != 200 {
		t.Fatalf("held-2 cancels: %d %s", r.status, r.raw)
	}
	testkit.Eventually(t, 10*time.Second, "wendy's promotion", func() bool {
		me, _ := call(t, "GET", base+"/v1/drops/"+drop, tokens["wendy"], "").body["me"].(map[string]any)
		r, _ := me["reservation"].(map[string]any)
		if r == nil {
			return false
		}
		res["wendy"] = r
		return true
	})
	clock.Advance(time.Second)
	paid := []string{"ada", "@ops", "=SUM(1,2)", "-2+3", `bo "the" builder`, "wendy"}
	for _, u := range paid {
		r := call(t, "POST", base+"/v1/reservations/"+res[u]["id"].(string)+"/confirm", admin, "")
		if r.status != 200 {
			t.Fatalf("confirm %q: %d %s", u, r.status, r.raw)
		}
		res[u] = r.body["reservation"].(map[string]any)
	}
	if res["wendy"]["from_waitlist"] != true {
		t.Fatalf("wendy's reservation is not from the waitlist: %v", res["wendy"])
	}

	// The file as it must be, written out: each user's cell by hand, the
	// rest from the API's own answers.
	cells := map[string]string{
		"ada":              "ada",
		"@ops":             "'@ops",
		"=SUM(1,2)":        `"'=SUM(1,2)"`,
		"-2+3":             "'-2+3",
		`bo "the" builder`: `"bo ""the"" builder"`,
		"held-1":           "held-1",
		"wendy":            "wendy",
	}
	// The file begins with a UTF-8 byte-order mark, for Excel.
	const header = "\ufeffreservation,user,quantity,status,won_at,expires_at,updated_at,from_waitlist\r\n"
	want := func(who []string) string {
		sorted := append([]string(nil), who...)
		sort.Slice(sorted, func(i, j int) bool {
			a, b := res[sorted[i]], res[sorted[j]]
			ta, _ := time.Parse(time.RFC3339Nano, a["won_at"].(string))
			tb, _ := time.Parse(time.RFC3339Nano, b["won_at"].(string))
			if !ta.Equal(tb) {
				return ta.Before(tb)
			}
			return a["id"].(string) < b["id"].(string)
		})
		s := header
		for _, u := range sorted {
			r := res[u]
			s += fmt.Sprintf("%s,%s,1,%s,%s,%s,%s,%t\r\n", r["id"], cells[u], r["status"], r["won_at"], r["expires_at"], r["updated_at"], r["from_waitlist"] == true)
		}
		return s
	}

	ops := b.tab("ops", 1200, 1000)
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ops, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: chromedp.FromContext(ops).BrowserContextID,
		DownloadPath: downloads,
	}); err != nil {
		t.Fatalf("allowing downloads: %v", err)
	}
	file := filepath.Join(downloads, drop+"-reservations.csv")
	// fetchFile waits for the download to be complete, reads it and
	// removes it, so the next export is saved under the same name.
	// Complete: no .crdownload left and the file ends its last CSV line;
	// Chromium may make the file under its final name before it has
	// written it (CI read one empty, and the next export read its late
	// content).
	fetchFile := func(what string) string {
		t.Helper()
		var got []byte
		testkit.Eventually(t, 20*time.Second, what, func() bool {
			var err error
			if got, err = os.ReadFile(file); err != nil || !bytes.HasSuffix(got, []byte("\r\n")) {
				return false
			}
			partial, _ := filepath.Glob(filepath.Join(downloads, "*.crdownload"))
			return len(partial) == 0
		})
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		return string(got)
	}
	setStatuses := func(on ...string) {
		t.Helper()
		js := `(() => { const on = ` + jsonList(on) + `;
			document.querySelectorAll('#export-form input[name="status"]').forEach(el => { el.checked = on.includes(el.value); });
			return true })()`
		eval[bool](b, ops, js)
	}
	exportDone := func(what, message string) {
		t.Helper()
		b.until(ops, what, `(() => { const btn = document.getElementById('export-button');
			return !btn.disabled && !btn.hasAttribute('aria-busy') && document.getElementById('export-message').textContent === `+jsString(message)+` })()`)
	}

	b.signInOps(ops, admin)
	b.run(ops, chromedp.WaitVisible(chromedp.ID("export-form")))
	// The select lists the drops in the table's order; Confirmed alone is
	// what a fresh page includes.
	b.until(ops, "the drops offered for export", `Array.from(document.getElementById('export-drop').options).map(o => o.value).join(' ') === 'earlier `+drop+`'`)
	if got := eval[string](b, ops, `Array.from(document.querySelectorAll('#export-form input[name="status"]:checked')).map(el => el.value).join(',')`); got != "confirmed" {
		t.Errorf("the export includes %q by default, want confirmed", got)
	}
	b.run(ops, chromedp.SetValue(chromedp.ID("export-drop"), drop))
	b.press(ops, "export-button")
	exportDone("the confirmed export", "Downloaded 6 reservations as "+drop+"-reservations.csv.")
	if got, w := fetchFile("the confirmed export's file"), want(paid); got != w {
		b.shot(ops, "export-confirmed")
		t.Errorf("the confirmed export:\n got %q\nwant %q", got, w)
	}

	// Held too: the one hold still open joins them; the cancelled hold
	// does not.
	setStatuses("confirmed", "held")
	b.press(ops, "export-button")
	exportDone("the confirmed and held export", "Downloaded 7 reservations as "+drop+"-reservations.csv.")
	got := fetchFile("the confirmed and held export's file")
	if lines := strings.Count(got, "\r\n"); lines != 8 {
		t.Errorf("confirmed and held: %d lines, want a header and 7 reservations:\n%s", lines, got)
	}
	if w := want(append(paid, "held-1")); got != w {
		t.Errorf("the confirmed and held export:\n got %q\nwant %q", got, w)
	}

	// Nothing expired: a file with the header alone, and the page says so.
	setStatuses("expired")
	b.press(ops, "export-button")
	exportDone("the empty export", "No reservations match.")
	if got := fetchFile("the empty export's file"); got != header {
		t.Errorf("an empty export: %q, want the header alone", got)
	}
	b.shot(ops, "ops-export")

	// A key that reads the drops and runs ops, but may not list shoppers:
	// the page says which scope it lacks, and makes no file.
	key := call(t, "POST", base+"/v1/admin/keys", admin, `{"name":"ops desk","scopes":["drops:read","ops"]}`)
	if key.status != 201 {
		t.Fatalf("create the key: %d %s", key.status, key.raw)
	}
	b.run(ops, chromedp.Click(chromedp.ID("forget")))
	b.signInOps(ops, key.body["secret"].(string))
	b.until(ops, "the drops offered to the key", `document.getElementById('export-drop').value === 'earlier'`)
	b.run(ops, chromedp.SetValue(chromedp.ID("export-drop"), drop))
	b.press(ops, "export-button")
	exportDone("the refused export", "That token may not do this: this credential lacks the scope reservations:confirm. No file was made.")
	entries, err := os.ReadDir(downloads)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("a refused export left a file: %s", e.Name())
	}
	b.clean()
}

// jsonList and jsString write Go values as JavaScript literals.
func jsonList(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = jsString(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func jsString(s string) string {
	q, _ := json.Marshal(s) // a JSON string is a JavaScript string literal
	return string(q)
}
