package api

import (
	"bytes"
	"container/list"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/flashdrop/flashdrop/engine"
)

// The share card image: 1200×630 (the size link previews use), drawn on
// the server with the Go fonts compiled into the binary, so a preview
// needs no other service and no font from another host. The Go fonts
// cover Latin, Greek and Cyrillic; an optional fallback font
// (Config.CardFont) draws the characters they lack, and a product or drop
// name with a character no font has is replaced rather than drawn as
// empty boxes.

// Card image size.
const (
	CardWidth  = 1200
	CardHeight = 630
)

// Where the card's text goes: the left edge of the text, and the margin
// it keeps from the right edge.
const (
	cardLeft        = 80
	cardRightMargin = 80
	cardTextWidth   = CardWidth - cardLeft - cardRightMargin
)

// cardProductSizes are the product's sizes in points, largest first: it
// is drawn as large as fits on two lines.
var cardProductSizes = []float64{96, 80, 64, 52, 44}

// cardNoProduct stands in for a product name the card cannot draw.
const cardNoProduct = "A limited drop"

var (
	fontRegular = mustFont(goregular.TTF)
	fontBold    = mustFont(gobold.TTF)
)

func mustFont(ttf []byte) *opentype.Font {
	f, err := opentype.Parse(ttf)
	if err != nil {
		panic("api: embedded Go font: " + err.Error())
	}
	return f
}

// ParseCardFont parses a TrueType or OpenType font, or the first font of
// a collection (TTC, OTC), for Config.CardFont.
func ParseCardFont(b []byte) (*opentype.Font, error) {
	if len(b) == 0 {
		// sfnt reads a nil slice as a missing io.ReaderAt and panics.
		return nil, errors.New("empty file, not a font")
	}
	c, err := opentype.ParseCollection(b)
	if err != nil {
		return nil, fmt.Errorf("not a TrueType or OpenType font: %w", err)
	}
	f, err := c.Font(0)
	if err != nil {
		return nil, fmt.Errorf("not a TrueType or OpenType font: %w", err)
	}
	return f, nil
}

func face(f *opentype.Font, size float64) font.Face {
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic("api: font face: " + err.Error())
	}
	return fc
}

// cardFace is f at size, falling back to fallback (if not nil) for the
// runes f has no glyph for.
func cardFace(f, fallback *opentype.Font, size float64) font.Face {
	if fallback == nil {
		return face(f, size)
	}
	return fallbackFace{face(f, size), face(fallback, size)}
}

// fallbackFace draws each rune with main if main has a glyph for it, else
// with fallback: measuring and drawing through it (font.MeasureString,
// font.Drawer) takes every run of text from the face that has its glyphs.
type fallbackFace struct{ main, fallback font.Face }

func (f fallbackFace) pick(r rune) font.Face {
	if _, ok := f.main.GlyphAdvance(r); !ok {
		if _, ok := f.fallback.GlyphAdvance(r); ok {
			return f.fallback
		}
	}
	return f.main
}

func (f fallbackFace) Glyph(dot fixed.Point26_6, r rune) (image.Rectangle, image.Image, image.Point, fixed.Int26_6, bool) {
	return f.pick(r).Glyph(dot, r)
}

func (f fallbackFace) GlyphBounds(r rune) (fixed.Rectangle26_6, fixed.Int26_6, bool) {
	return f.pick(r).GlyphBounds(r)
}

func (f fallbackFace) GlyphAdvance(r rune) (fixed.Int26_6, bool) { return f.pick(r).GlyphAdvance(r) }

// Kern kerns two runes of the same face; between faces there is no pair
// to kern.
func (f fallbackFace) Kern(r0, r1 rune) fixed.Int26_6 {
	if a := f.pick(r0); a == f.pick(r1) {
		return a.Kern(r0, r1)
	}
	return 0
}

func (f fallbackFace) Metrics() font.Metrics { return f.main.Metrics() }

func (f fallbackFace) Close() error { return errors.Join(f.main.Close(), f.fallback.Close()) }

// drawable says whether f has a glyph for every rune of s (opentype's
// GlyphAdvance answers false for a rune that would be drawn as the
// .notdef box).
func drawable(f font.Face, s string) bool {
	for _, r := range s {
		if _, ok := f.GlyphAdvance(r); !ok {
			return false
		}
	}
	return true
}

// invisible says whether r draws nothing on its own: variation selectors
// (an emoji typed on a phone often carries U+FE0F) and the joiners of
// emoji sequences. They are left out rather than counted as runes no font
// has.
func invisible(r rune) bool {
	return unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Join_Control, r)
}

func withoutInvisible(s string) string {
	return strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
}

var (
	cardBackground = color.RGBA{0x14, 0x17, 0x2b, 0xff}
	cardAccent     = color.RGBA{0xff, 0x5a, 0x36, 0xff}
	cardText       = color.RGBA{0xff, 0xff, 0xff, 0xff}
	cardMuted      = color.RGBA{0xb8, 0xbd, 0xd6, 0xff}
)

// cardLayout is what a card says and in which faces, decided before it is
// drawn.
type cardLayout struct {
	head        string
	productFace font.Face
	productSize float64
	product     []string // one or two lines
	dropFace    font.Face
	drop        string // the "in the drop" line; empty leaves it out
	hostFace    font.Face
	host        string // empty leaves it out
	// substituted is true when the product or the drop's name has a rune
	// no font has, so the card says cardNoProduct or leaves the drop out.
	substituted bool
}

// layoutCard lays out the card of c, shown at host. It shows the product,
// the drop, how the win came and the odds line; never anything about who
// won. fallback, if not nil, draws the runes the Go fonts lack.
// quotedName is a drop's name in quotes, or bare when it has quotes of
// its own: “Air Max 1 “Release Day”” nested them.
func quotedName(name string) string {
	if strings.ContainsAny(name, "\"“”„‟«»") {
		return name
	}
	return "“" + name + "”"
}

func layoutCard(c engine.ShareCard, host string, fallback *opentype.Font) cardLayout {
	l := cardLayout{head: "FLASHDROP · " + strings.ToUpper(cardWon(c))}
	product := withoutInvisible(c.Drop.Product)
	if strings.TrimSpace(product) == "" || !drawable(cardFace(fontBold, fallback, cardProductSizes[0]), product) {
		product, l.substituted = cardNoProduct, true
	}
	l.productSize, l.productFace, l.product = layoutProduct(product, fallback)
	l.dropFace = cardFace(fontRegular, fallback, 40)
	if name := withoutInvisible(c.Drop.Name); name == product {
		// The product is the drop's name (its default): once is enough.
	} else if drawable(l.dropFace, name) {
		l.drop = fit(l.dropFace, "in the drop "+quotedName(name), cardTextWidth)
	} else {
		l.substituted = true
	}
	l.hostFace = cardFace(fontBold, fallback, 30)
	if drawable(l.hostFace, host) {
		l.host = host
	}
	return l
}

// layoutProduct sets the product as large as fits on two lines, breaking
// a word only at the smallest size; there, what does not fit on two lines
// ends the second with an ellipsis.
func layoutProduct(product string, fallback *opentype.Font) (float64, font.Face, []string) {
	for i, size := range cardProductSizes {
		f := cardFace(fontBold, fallback, size)
		lines, broken := wrap(f, product, cardTextWidth)
		smallest := i == len(cardProductSizes)-1
		if (len(lines) <= 2 && !broken) || smallest {
			if len(lines) > 2 {
				lines = []string{lines[0], fit(f, strings.Join(lines[1:], " "), cardTextWidth)}
			}
			return size, f, lines
		}
	}
	panic("unreachable")
}

// renderCard draws the card laid out by l as a PNG.
func renderCard(l cardLayout) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, CardWidth, CardHeight))
	draw.Draw(img, img.Bounds(), &image.Uniform{cardBackground}, image.Point{}, draw.Src)
	// An accent bar on the left and a band at the bottom.
	draw.Draw(img, image.Rect(0, 0, 24, CardHeight), &image.Uniform{cardAccent}, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(24, CardHeight-90, CardWidth, CardHeight), &image.Uniform{color.RGBA{0x1f, 0x23, 0x40, 0xff}}, image.Point{}, draw.Src)

	y := 120
	say(img, face(fontBold, 34), cardAccent, cardLeft, y, l.head)
	y += 40
	for _, line := range l.product {
		y += int(l.productSize * 1.1)
		say(img, l.productFace, cardText, cardLeft, y, line)
	}
	y += 70
	if l.drop != "" {
		say(img, l.dropFace, cardMuted, cardLeft, y, l.drop)
	}
	say(img, face(fontRegular, 30), cardMuted, cardLeft, CardHeight-35, "Sharing never changes anyone’s odds.")
	if l.host != "" {
		w := font.MeasureString(l.hostFace, l.host).Ceil()
		say(img, l.hostFace, cardText, CardWidth-60-w, CardHeight-35, l.host)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("api: encoding the card: %w", err)
	}
	return buf.Bytes(), nil
}

// cardWon says how the win came, as the card and its page put it.
func cardWon(c engine.ShareCard) string {
	switch {
	case c.ByDraw:
		return "won in the draw"
	case c.FromWaitlist:
		return "won from the waitlist"
	}
	s := c.SecondsAfterStart
	switch {
	case s < 10:
		v := strings.TrimSuffix(fmt.Sprintf("%.1f", s), ".0")
		if v == "1" {
			return "won in 1 second"
		}
		return "won in " + v + " seconds"
	case s < 120:
		return fmt.Sprintf("won in %.0f seconds", s)
	default:
		return fmt.Sprintf("won in %.0f minutes", s/60)
	}
}

func say(img draw.Image, f font.Face, c color.Color, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// wrap breaks s into lines no wider than width, between words, and
// inside a word (at a rune boundary) only where the word alone is wider
// than a line; broken says whether it did.
func wrap(f font.Face, s string, width int) (lines []string, broken bool) {
	fits := func(s string) bool { return font.MeasureString(f, s).Ceil() <= width }
	line := ""
	for _, w := range strings.Fields(s) {
		if try := strings.TrimSpace(line + " " + w); fits(try) {
			line = try
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
		for !fits(w) {
			// The longest head of w that fits, at least one rune.
			_, n := utf8.DecodeRuneInString(w)
			for i := range w {
				if i > n {
					if !fits(w[:i]) {
						break
					}
					n = i
				}
			}
			lines, w, broken = append(lines, w[:n]), w[n:], true
		}
		line = w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines, broken
}

// fit shortens s with an ellipsis until it is no wider than width.
func fit(f font.Face, s string, width int) string {
	if font.MeasureString(f, s).Ceil() <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && font.MeasureString(f, string(r)+"…").Ceil() > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// lruCache keeps values by key, least recently used out first: the
// rendered card images (a card never changes once its win exists, so it
// is drawn once) and the cards' data for their pages.
type lruCache[V any] struct {
	mu    sync.Mutex
	max   int
	order *list.List // of string keys, most recent first
	items map[string]*list.Element
	data  map[string]V
}

func newLRUCache[V any](max int) *lruCache[V] {
	return &lruCache[V]{max: max, order: list.New(), items: map[string]*list.Element{}, data: map[string]V{}}
}

func (c *lruCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return c.data[key], true
}

func (c *lruCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		c.data[key] = v
		return
	}
	c.items[key] = c.order.PushFront(key)
	c.data[key] = v
	for c.order.Len() > c.max {
		last := c.order.Back()
		k := last.Value.(string)
		c.order.Remove(last)
		delete(c.items, k)
		delete(c.data, k)
	}
}
