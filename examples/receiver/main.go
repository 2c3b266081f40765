// Command receiver is a flashdrop webhook receiver to copy: it verifies
// each delivery's signature (with the timestamp tolerance), drops
// duplicates by event id (delivery is at least once, and a replay sends
// events again with their original ids), and handles won and invited.
//
//	FLASHDROP_WEBHOOK_SECRET=whsec_… go run ./examples/receiver --listen 127.0.0.1:3000
//
// Point a webhook (or `flashdrop listen --forward-to http://127.0.0.1:3000/hook`,
// with the secret it prints) at /hook.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:3000", "address to listen on")
	flag.Parse()
	secret := os.Getenv("FLASHDROP_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("receiver: set FLASHDROP_WEBHOOK_SECRET to the webhook's secret")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	h := NewHandler([]byte(secret), os.Stdout)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// Handler is the webhook endpoint (POST /hook).
type Handler struct {
	secret []byte
	out    io.Writer
	// Tolerance is how far a delivery's timestamp may be from now; older
	// deliveries are refused, which bounds replays of a captured request.
	Tolerance time.Duration
	seen      *seenIDs
}

// NewHandler returns the endpoint, writing what it does to out.
func NewHandler(secret []byte, out io.Writer) *Handler {
	return &Handler{secret: secret, out: out, Tolerance: webhooksig.DefaultTolerance, seen: newSeenIDs(100_000)}
}

// event is the part of a flashdrop CloudEvent this receiver reads.
type event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Drop         string    `json:"drop"`
		Reservation  string    `json:"reservation"`
		User         string    `json:"user"`
		ShareURL     string    `json:"share_url"`
		CheckoutURL  string    `json:"checkout_url"`
		URL          string    `json:"url"`
		SaleStartsAt time.Time `json:"sale_starts_at"`
	} `json:"data"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/hook" {
		http.NotFound(w, r)
		return
	}
	// The signature covers the raw bytes: read them before decoding.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := webhooksig.Verify(h.secret, r.Header.Get(webhooksig.Header), body, h.Tolerance, time.Now()); err != nil {
		// 4xx: flashdrop retries, then dead-letters; never act on it.
		status := http.StatusUnauthorized
		if errors.Is(err, webhooksig.ErrStale) {
			status = http.StatusBadRequest
		}
		fmt.Fprintf(h.out, "refused: %v\n", err)
		http.Error(w, "bad signature", status)
		return
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" {
		http.Error(w, "not a CloudEvent", http.StatusBadRequest)
		return
	}
	// At least once: the same id may come again (a retry after a lost
	// answer, a replay). Answer 2xx, act once.
	if !h.seen.add(ev.ID) {
		fmt.Fprintf(h.out, "duplicate %s ignored\n", ev.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	switch ev.Type {
	case "flashdrop.won":
		// Post the winner's card, or tell the shop's order system.
		fmt.Fprintf(h.out, "won %s: %s holds %s; share %s; pay at %s\n",
			ev.ID, ev.Data.User, ev.Data.Reservation, ev.Data.ShareURL, ev.Data.CheckoutURL)
	case "flashdrop.invited":
		// Message the shopper about next week's drop.
		fmt.Fprintf(h.out, "invited %s: %s to %s on sale at %s, page %s\n",
			ev.ID, ev.Data.User, ev.Data.Drop, ev.Data.SaleStartsAt.Format(time.RFC3339), ev.Data.URL)
	default:
		fmt.Fprintf(h.out, "ignored %s %s\n", ev.Type, ev.ID)
	}
	w.WriteHeader(http.StatusNoContent)
}

// seenIDs remembers the newest n event ids. A real receiver keeps them
// where its side effects are (a unique key in its database), so a restart
// does not forget them.
type seenIDs struct {
	mu    sync.Mutex
	n     int
	set   map[string]struct{}
	order []string
}

func newSeenIDs(n int) *seenIDs { return &seenIDs{n: n, set: map[string]struct{}{}} }

// add reports whether id is new.
func (s *seenIDs) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[id]; ok {
		return false
	}
	s.set[id] = struct{}{}
	s.order = append(s.order, id)
	if len(s.order) > s.n {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
	return true
}
