package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/font/gofont/gobold"
)

// TestCardFontFlag: --card-font (or FLASHDROP_CARD_FONT) naming a file
// that is missing or not a font stops serve at start with an error that
// names the flag; a font file is read.
func TestCardFontFlag(t *testing.T) {
	dir := t.TempDir()
	notFont := filepath.Join(dir, "notes.ttf")
	empty := filepath.Join(dir, "empty.ttf")
	good := filepath.Join(dir, "gobold.ttf")
	for name, b := range map[string][]byte{notFont: []byte("not a font at all"), empty: nil, good: gobold.TTF} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"not a font", nil, []string{"--card-font", notFont}},
		{"empty", nil, []string{"--card-font", empty}},
		{"missing", nil, []string{"--card-font", filepath.Join(dir, "missing.ttf")}},
		{"variable", map[string]string{"FLASHDROP_CARD_FONT": notFont}, nil},
	} {
		m := NewMainWith(tc.env)
		if err := m.ParseFlags(append([]string{"--listen", "127.0.0.1:0", "--log-level", "error", "--no-demo"}, tc.args...)); err != nil {
			t.Fatalf("%s: parse: %v", tc.name, err)
		}
		err := m.Run(context.Background())
		if err == nil {
			_ = m.Close()
			t.Fatalf("%s: serve started", tc.name)
		}
		if !strings.Contains(err.Error(), "--card-font") {
			t.Errorf("%s: the error does not name --card-font: %v", tc.name, err)
		}
	}
	m := NewMainWith(map[string]string{"FLASHDROP_CARD_FONT": good})
	if err := m.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if f, err := m.Config.cardFont(); f == nil || err != nil {
		t.Errorf("a font file: %v, %v", f, err)
	}
}

// TestCardFontServe: serve hands --card-font to the cards: a product in
// Armenian (which the Go fonts lack) is drawn with DejaVu Sans, with no
// warning; a CJK product (which DejaVu lacks too) warns once per process
// that --card-font would help, however many such cards are drawn.
func TestCardFontServe(t *testing.T) {
	const dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
	if _, err := os.Stat(dejavu); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: install fonts-dejavu-core (make ensure-fonts)", err)
		}
		t.Skipf("%v: install fonts-dejavu-core to run this test", err)
	}
	m, clock, _ := startServe(t, "--no-demo", "--card-font", dejavu)
	logs := m.Stderr.(interface{ String() string })
	base := "http://" + m.Addr
	now := clock.Now()
	start := now.Add(time.Minute)
	// A win in each drop, then its card.
	products := map[string]string{"armenian": "Աստղ Sneaker", "cjk": "限定版スニーカー", "cjk-2": "東京 Sneaker"}
	for drop, product := range products {
		body, _ := json.Marshal(map[string]any{"id": drop, "name": "Tuesday Drop", "product": product, "stock": 1, "per_user_limit": 1,
			"confirm_by": "shopper", "registration_opens_at": now.Add(-time.Hour), "registration_closes_at": start,
			"sale_starts_at": start, "sale_ends_at": start.Add(time.Hour)})
		if r := call(t, "POST", base+"/v1/admin/drops", m.Config.AdminToken, string(body)); r.status != 201 {
			t.Fatalf("create %s: %d %s", drop, r.status, r.raw)
		}
		if r := call(t, "POST", base+"/v1/drops/"+drop+"/registrations", mint(t, m, "shopper-"+drop), ""); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
	}
	clock.Set(start.Add(time.Second))
	card := func(drop string) {
		t.Helper()
		r := call(t, "POST", base+"/v1/drops/"+drop+"/reservations", mint(t, m, "shopper-"+drop), "")
		if r.status != 201 {
			t.Fatalf("reserve: %d %s", r.status, r.raw)
		}
		code, _ := r.body["reservation"].(map[string]any)["share_code"].(string)
		resp, err := http.Get(base + "/s/" + code + ".png")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("card of %s: %d", drop, resp.StatusCode)
		}
	}
	const warning = "no card font has"
	card("armenian")
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("the Armenian card was not drawn with --card-font:\n%s", logs)
	}
	card("cjk")
	card("cjk-2")
	if n := strings.Count(logs.String(), warning); n != 1 {
		t.Errorf("%d warnings for two cards no font can draw, want 1:\n%s", n, logs)
	}
}
