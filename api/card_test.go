package api

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"

	"github.com/flashdrop/flashdrop/engine"
)

// Product names of the card tests, all valid (at most 200 bytes).
var (
	// 140 characters in words, more than two lines even at 44 pt.
	longProduct = strings.Repeat("Limited Edition Aurora Trail Running ", 4)[:140]
	// One word of 60 characters, wider than a line at every size.
	longWord = strings.Repeat("Supercalifragilistic", 3)
	// Armenian, which the Go fonts lack and DejaVu Sans has.
	armenian = "Աստղ Sneaker"
	cjk      = "限定版スニーカー 東京"
)

func shareCard(product, drop string) engine.ShareCard {
	return engine.ShareCard{Drop: engine.Drop{Product: product, Name: drop}, SecondsAfterStart: 2.5}
}

// checkLines fails unless every line of l's product is at most the text
// width.
func checkLines(t *testing.T, l cardLayout) {
	t.Helper()
	for _, line := range l.product {
		if w := font.MeasureString(l.productFace, line).Ceil(); w > cardTextWidth {
			t.Errorf("line %q at %v pt is %d px wide, more than %d", line, l.productSize, w, cardTextWidth)
		}
	}
}

// checkDrawable fails if any text l draws has a rune its face has no
// glyph for (it would be drawn as a .notdef box).
func checkDrawable(t *testing.T, l cardLayout) {
	t.Helper()
	for _, line := range l.product {
		if !drawable(l.productFace, line) {
			t.Errorf("the product line %q has runes without a glyph", line)
		}
	}
	if !drawable(l.dropFace, l.drop) {
		t.Errorf("the drop line %q has runes without a glyph", l.drop)
	}
	if !drawable(l.hostFace, l.host) {
		t.Errorf("the host %q has runes without a glyph", l.host)
	}
}

// TestCardLongProduct: a product that needs more than two lines even at
// the smallest size is drawn on two lines, the second ending with an
// ellipsis, each within the text width (it was left out).
func TestCardLongProduct(t *testing.T) {
	if n := len([]rune(longProduct)); n != 140 {
		t.Fatalf("the long product has %d characters", n)
	}
	l := layoutCard(shareCard(longProduct, "Tuesday Drop"), "shop.example", nil)
	smallest := cardProductSizes[len(cardProductSizes)-1]
	if l.productSize != smallest || len(l.product) != 2 {
		t.Fatalf("the long product is laid out as %d lines at %v pt, want 2 at %v: %q", len(l.product), l.productSize, smallest, l.product)
	}
	if !strings.HasSuffix(l.product[1], "…") || strings.HasSuffix(l.product[0], "…") {
		t.Errorf("only the second line should end with an ellipsis: %q", l.product)
	}
	if got := strings.TrimSuffix(l.product[0]+" "+l.product[1], "…"); !strings.HasPrefix(longProduct, got) {
		t.Errorf("the lines %q are not the start of the product", l.product)
	}
	checkLines(t, l)
	if l.drop != "in the drop “Tuesday Drop”" || l.substituted {
		t.Errorf("drop line %q, substituted %v", l.drop, l.substituted)
	}
	img := renderPNG(t, l, "long")
	if n := textPixels(img, image.Rect(0, 130, CardWidth, CardHeight-90)); n < 2000 {
		t.Errorf("the product band has %d pixels of text, want the product drawn", n)
	}
	checkMargin(t, img)
}

// TestCardLongWord: a word wider than a line is broken across lines at
// rune boundaries, at the smallest size only; no line and no pixel of
// the product goes past the right margin (it ran off the card).
func TestCardLongWord(t *testing.T) {
	for i, product := range []string{longWord, longWord + " Sneaker", "Aurora " + longWord + " Sneaker"} {
		l := layoutCard(shareCard(product, "Tuesday Drop"), "shop.example", nil)
		checkLines(t, l)
		if len(l.product) != 2 {
			t.Errorf("%q: %d lines %q, want 2", product, len(l.product), l.product)
		}
		if got := strings.TrimSuffix(strings.Join(l.product, ""), "…"); product == longWord && got != longWord {
			t.Errorf("the word is drawn as %q, want all of it", l.product)
		}
		checkMargin(t, renderPNG(t, l, fmt.Sprint("word", i)))
	}
	// A word that fits a line at a smaller size is not broken.
	l := layoutCard(shareCard("Supercalifragilisticexpialidocious", "Tuesday Drop"), "", nil)
	if len(l.product) != 1 {
		t.Errorf("a 34-letter word is broken at %v pt: %q", l.productSize, l.product)
	}
	// wrap on its own: a word of 60 runes at 44 pt.
	f := face(fontBold, 44)
	lines, broken := wrap(f, longWord, cardTextWidth)
	if !broken || len(lines) < 2 || strings.Join(lines, "") != longWord {
		t.Errorf("wrap(%q) = %q, %v; want it broken into lines that make the word", longWord, lines, broken)
	}
	for _, line := range lines {
		if w := font.MeasureString(f, line).Ceil(); w > cardTextWidth {
			t.Errorf("wrap line %q is %d px wide, more than %d", line, w, cardTextWidth)
		}
	}
}

// TestCardMissingGlyphs: without a fallback font, a product or drop name
// with a rune the Go fonts lack is never drawn as boxes: the product
// becomes "A limited drop" and the drop line is left out.
func TestCardMissingGlyphs(t *testing.T) {
	for _, tc := range []struct {
		product, drop   string
		wantProduct     []string
		wantDrop        string
		wantSubstituted bool
	}{
		{cjk, "Tuesday Drop", []string{cardNoProduct}, "in the drop “Tuesday Drop”", true},
		{"Aurora Sneaker", "東京 Drop", []string{"Aurora Sneaker"}, "", true},
		{armenian, "Tuesday Drop", []string{cardNoProduct}, "in the drop “Tuesday Drop”", true},
		{"🔥 Aurora", "Tuesday Drop", []string{cardNoProduct}, "in the drop “Tuesday Drop”", true},
		// Greek, Cyrillic and accents are in the Go fonts.
		{"Zoë’s Αθήνα Москва", "Tuesday Drop", []string{"Zoë’s Αθήνα Москва"}, "in the drop “Tuesday Drop”", false},
		// A drop named as its product (the default product): said once.
		{"Demo Sneaker", "Demo Sneaker", []string{"Demo Sneaker"}, "", false},
	} {
		l := layoutCard(shareCard(tc.product, tc.drop), "shop.example", nil)
		if !equal(l.product, tc.wantProduct) || l.drop != tc.wantDrop || l.substituted != tc.wantSubstituted {
			t.Errorf("%q in %q: product %q, drop %q, substituted %v; want %q, %q, %v",
				tc.product, tc.drop, l.product, l.drop, l.substituted, tc.wantProduct, tc.wantDrop, tc.wantSubstituted)
		}
		checkDrawable(t, l)
	}
	renderPNG(t, layoutCard(shareCard(cjk, "東京 Drop"), "shop.example", nil), "cjk")
}

// TestCardFallbackFont: with a fallback font, the runes the Go fonts lack
// are drawn with it; a rune neither has still gives "A limited drop".
func TestCardFallbackFont(t *testing.T) {
	const path = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: install fonts-dejavu-core (make ensure-fonts)", err)
		}
		t.Skipf("%v: install fonts-dejavu-core to run this test", err)
	}
	dejavu, err := ParseCardFont(b)
	if err != nil {
		t.Fatal(err)
	}
	// The premise: the Go fonts lack 'Ա' (U+0531) and DejaVu has it; no
	// font here has '東'.
	for _, tc := range []struct {
		f    *opentype.Font
		name string
		r    rune
		has  bool
	}{{fontBold, "Go Bold", 'Ա', false}, {fontRegular, "Go Regular", 'Ա', false}, {dejavu, "DejaVu", 'Ա', true}, {dejavu, "DejaVu", '東', false}} {
		if i, err := tc.f.GlyphIndex(nil, tc.r); err != nil || (i != 0) != tc.has {
			t.Fatalf("%s: glyph of %q is %d, %v; want a glyph: %v", tc.name, tc.r, i, err, tc.has)
		}
	}
	l := layoutCard(shareCard(armenian, "Շաբաթ Drop"), "shop.example", dejavu)
	if !equal(l.product, []string{armenian}) || l.drop != "in the drop “Շաբաթ Drop”" || l.substituted {
		t.Errorf("with DejaVu: product %q, drop %q, substituted %v", l.product, l.drop, l.substituted)
	}
	checkDrawable(t, l)
	checkLines(t, l)
	img := renderPNG(t, l, "armenian")
	if n := textPixels(img, image.Rect(0, 130, CardWidth, CardHeight-90)); n < 2000 {
		t.Errorf("the product band has %d pixels of text, want the product drawn", n)
	}
	// A variation selector draws nothing and is no reason to leave out
	// the product ('❤' U+2764 is in DejaVu).
	if l := layoutCard(shareCard("I ❤️ Aurora", "Tuesday Drop"), "", dejavu); !equal(l.product, []string{"I ❤ Aurora"}) {
		t.Errorf("with a variation selector: product %q", l.product)
	}
	// DejaVu lacks CJK too.
	if l := layoutCard(shareCard(cjk, "Tuesday Drop"), "", dejavu); !equal(l.product, []string{cardNoProduct}) || !l.substituted {
		t.Errorf("CJK with DejaVu: product %q, substituted %v", l.product, l.substituted)
	}
}

// TestParseCardFont: a collection's first font is taken; a file that is
// no font is an error.
func TestParseCardFont(t *testing.T) {
	// A collection of Go Mono, then Go Regular: the card takes Go Mono,
	// whose 'i' is as wide as its 'M'.
	f, err := ParseCardFont(collection(gomono.TTF, goregular.TTF))
	if err != nil {
		t.Fatal(err)
	}
	if fc := face(f, 40); font.MeasureString(fc, "i") != font.MeasureString(fc, "M") {
		t.Error("ParseCardFont did not take the collection's first font")
	}
	if _, err := ParseCardFont(gobold.TTF); err != nil {
		t.Errorf("a single font: %v", err)
	}
	if _, err := ParseCardFont([]byte("not a font at all")); err == nil {
		t.Error("ParseCardFont accepted text")
	}
	if _, err := ParseCardFont(nil); err == nil {
		t.Error("ParseCardFont accepted nothing")
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// renderPNG draws l and decodes the PNG; with CARD_PNG_DIR set it keeps
// the image there to be looked at.
func renderPNG(t *testing.T, l cardLayout, name string) image.Image {
	t.Helper()
	b, err := renderCard(l)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("CARD_PNG_DIR"); dir != "" {
		_ = os.WriteFile(dir+"/"+name+".png", b, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, CardWidth, CardHeight) {
		t.Fatalf("the card is %v", img.Bounds())
	}
	return img
}

// textPixels counts the pixels in r of the product's colour (the text
// colour, which in the band below the heading only the product has).
func textPixels(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) == cardText {
				n++
			}
		}
	}
	return n
}

// checkMargin fails if text is drawn right of the right margin between
// the heading and the bottom band: any pixel brighter than the
// background, anti-aliased edges included.
func checkMargin(t *testing.T, img image.Image) {
	t.Helper()
	for y := 130; y < CardHeight-90; y++ {
		for x := CardWidth - cardRightMargin; x < CardWidth; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r>>8 > 0x60 || g>>8 > 0x60 || b>>8 > 0x60 {
				t.Fatalf("text at (%d, %d), right of the margin at x=%d", x, y, CardWidth-cardRightMargin)
			}
		}
	}
}

// collection makes a TrueType collection (TTC) of fonts: its header, then
// each font with its tables' offsets moved by where the font starts.
func collection(fonts ...[]byte) []byte {
	be := binary.BigEndian
	head := 12 + 4*len(fonts)
	out := be.AppendUint32([]byte("ttcf"), 0x00010000)
	out = be.AppendUint32(out, uint32(len(fonts)))
	var body []byte
	for _, f := range fonts {
		start := head + len(body)
		out = be.AppendUint32(out, uint32(start))
		f = bytes.Clone(f)
		for i := range int(be.Uint16(f[4:])) {
			off := f[12+16*i+8:]
			be.PutUint32(off, be.Uint32(off)+uint32(start))
		}
		body = append(body, f...)
	}
	return append(out, body...)
}
