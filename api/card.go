package api

import (
	"bytes"
	"container/list"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/flashdrop/flashdrop/engine"
)

// The share card image: 1200×630 (the size link previews use), drawn on
// the server with the Go fonts compiled into the binary, so a preview
// needs no other service and no font from another host.

// Card image size.
const (
	CardWidth  = 1200
	CardHeight = 630
)

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

func face(f *opentype.Font, size float64) font.Face {
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		panic("api: font face: " + err.Error())
	}
	return fc
}

var (
	cardBackground = color.RGBA{0x14, 0x17, 0x2b, 0xff}
	cardAccent     = color.RGBA{0xff, 0x5a, 0x36, 0xff}
	cardText       = color.RGBA{0xff, 0xff, 0xff, 0xff}
	cardMuted      = color.RGBA{0xb8, 0xbd, 0xd6, 0xff}
)

// renderCard draws the card of c. It shows the product, the drop, how the
// win came and the odds line; never anything about who won.
func renderCard(c engine.ShareCard, host string) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, CardWidth, CardHeight))
	draw.Draw(img, img.Bounds(), &image.Uniform{cardBackground}, image.Point{}, draw.Src)
	// An accent bar on the left and a band at the bottom.
	draw.Draw(img, image.Rect(0, 0, 24, CardHeight), &image.Uniform{cardAccent}, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(24, CardHeight-90, CardWidth, CardHeight), &image.Uniform{color.RGBA{0x1f, 0x23, 0x40, 0xff}}, image.Point{}, draw.Src)

	const left = 80
	y := 120
	say(img, face(fontBold, 34), cardAccent, left, y, "FLASHDROP · "+strings.ToUpper(cardWon(c)))
	y += 40
	// The product, as large as fits on at most two lines.
	for _, size := range []float64{96, 80, 64, 52, 44} {
		f := face(fontBold, size)
		lines := wrap(f, c.Drop.Product, CardWidth-left-80)
		if len(lines) <= 2 {
			for _, l := range lines {
				y += int(size * 1.1)
				say(img, f, cardText, left, y, l)
			}
			break
		}
	}
	y += 70
	say(img, face(fontRegular, 40), cardMuted, left, y, fit(face(fontRegular, 40), "in the drop “"+c.Drop.Name+"”", CardWidth-left-80))
	say(img, face(fontRegular, 30), cardMuted, left, CardHeight-35, "Sharing never changes anyone’s odds.")
	if host != "" {
		f := face(fontBold, 30)
		w := font.MeasureString(f, host).Ceil()
		say(img, f, cardText, CardWidth-60-w, CardHeight-35, host)
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

// wrap breaks s into lines no wider than width.
func wrap(f font.Face, s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		try := strings.TrimSpace(line + " " + w)
		if line != "" && font.MeasureString(f, try).Ceil() > width {
			lines = append(lines, line)
			line = w
			continue
		}
		line = try
	}
	if line != "" {
		lines = append(lines, fit(f, line, width))
	}
	return lines
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
