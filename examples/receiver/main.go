// Command receiver is a flashdrop webhook receiver to copy, for an
// integration that posts winners' share cards: it verifies each
// delivery's signature (with the timestamp tolerance), posts the card on
// won, takes the post down on cancelled and expired (the win was given
// back: its card page and image answer 404), orders each reservation's
// events by its life, won first and then its end (deliveries may arrive
// out of order, and Flashdrop-Sequence starts again when the stream is
// made anew),
// drops duplicates by event id (delivery is at least once, and a replay
// sends events again with their original ids), records an event as done
// only once its action succeeded (a failure answers 503, so flashdrop
// delivers it again), and handles invited.
//
//	FLASHDROP_WEBHOOK_SECRET=whsec_… go run ./examples/receiver --listen 127.0.0.1:3000
//
// Point a webhook (or `flashdrop listen --forward-to http://127.0.0.1:3000/hook`,
// with the secret it prints) at /hook, with the types won, cancelled,
// expired (and invited). The social network here is a stand-in that
// prints what it would do; --fail-first N makes its first N calls fail,
// to watch a failed post answered 503 and made on flashdrop's retry, and
// --network-delay makes each call take that long.
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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flashdrop/flashdrop/queue/webhooksig"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:3000", "address to listen on")
	failFirst := flag.Int("fail-first", 0, "make the stand-in social network's first `N` calls fail, as an outage would")
	delay := flag.Duration("network-delay", 0, "how long each call to the stand-in social network takes")
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
	h := NewHandler([]byte(secret), os.Stdout, &standIn{out: os.Stdout, failures: *failFirst, delay: *delay})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// Network is where the cards go: replace standIn with your social
// network's client.
type Network interface {
	// Post publishes the card of a win and returns the post's id.
	Post(reservation, shareURL string) (postID string, err error)
	// TakeDown deletes a post.
	TakeDown(postID string) error
}

// Handler is the webhook endpoint (POST /hook).
type Handler struct {
	secret  []byte
	out     io.Writer
	network Network
	// Tolerance is how far a delivery's timestamp may be from now; older
	// deliveries are refused, which bounds replays of a captured request.
	Tolerance time.Duration

	// keys makes "already done?", the action and "done" one step per
	// reservation (per event for one without), so two deliveries of one
	// event (a retry racing a slow first attempt, a replay) or of one
	// reservation (its won and its expired) never act at once, while
	// other reservations' go on: one lock for all, held across the
	// network's calls, made deliveries queue behind a slow network and
	// time out on flashdrop's side. A receiver with a database does this
	// in one transaction per event instead.
	keys keyedLocks
	// mu guards the maps below for the moment each is read or written.
	mu   sync.Mutex
	seen *seenIDs
	// ended holds the reservations whose end (cancelled or expired) was
	// acted on, and posts each one's post while its card is up. A real
	// receiver keeps both in its database beside the post, so a restart
	// forgets neither.
	ended map[string]bool
	posts map[string]string
}

// NewHandler returns the endpoint, posting to network and writing what
// it does to out.
func NewHandler(secret []byte, out io.Writer, network Network) *Handler {
	return &Handler{secret: secret, out: out, network: network, Tolerance: webhooksig.DefaultTolerance,
		seen: newSeenIDs(100_000), ended: map[string]bool{}, posts: map[string]string{}}
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
	// The event's position in flashdrop's stream, for the log: a
	// reservation's events are ordered by its life instead (act), which
	// holds when the sequence starts again (a stream made anew). None
	// (0) on a test delivery, which is in no stream.
	seq, _ := strconv.ParseUint(r.Header.Get("Flashdrop-Sequence"), 10, 64)

	key := ev.Data.Reservation
	if key == "" {
		key = ev.ID
	}
	defer h.keys.lock(key)()
	// At least once: the same id may come again (a retry after a lost
	// answer, a replay). Answer 2xx, act once.
	h.mu.Lock()
	seen := h.seen.has(ev.ID)
	h.mu.Unlock()
	if seen {
		fmt.Fprintf(h.out, "duplicate %s ignored\n", ev.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := h.act(&ev, seq); err != nil {
		// Not recorded as seen: 5xx makes flashdrop deliver it again
		// (with backoff, for about 18 minutes), and that attempt acts.
		// Recording it first would answer the retry "duplicate" and the
		// card would never be posted.
		fmt.Fprintf(h.out, "failed %s %s: %v; answered 503 to have it again\n", shortType(&ev), ev.ID, err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	h.seen.add(ev.ID)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// act does what ev asks for; its key's lock is held. An error leaves
// nothing recorded, so the event can be acted on again.
func (h *Handler) act(ev *event, seq uint64) error {
	switch ev.Type {
	case "flashdrop.won", "flashdrop.cancelled", "flashdrop.expired":
		res := ev.Data.Reservation
		// Deliveries are independent and retried on their own backoff,
		// so a receiver that was down can get a reservation's expired
		// before its won: posting that won would put up a card whose
		// page and image already answer 404. A reservation lives once,
		// won first and then ended (cancelled or expired) or confirmed,
		// so a won after its end is stale, and an end is never stale.
		// That order needs no sequence: Flashdrop-Sequence starts again
		// from 1 when the stream is made anew, and comparing across that
		// would ignore a fresh end as "older" and leave a dead card up.
		// A confirmed changes nothing here, so one before its won cannot
		// hide the won.
		h.mu.Lock()
		ended := h.ended[res]
		h.mu.Unlock()
		if ev.Type == "flashdrop.won" {
			if ended {
				fmt.Fprintf(h.out, "stale %s: won of %s (sequence %d) after its end; ignored\n", ev.ID, res, seq)
				return nil
			}
			return h.post(ev)
		}
		if err := h.takeDown(ev); err != nil {
			return err
		}
		h.mu.Lock()
		h.ended[res] = true
		h.mu.Unlock()
	case "flashdrop.invited":
		// Message the shopper about next week's drop.
		fmt.Fprintf(h.out, "invited %s: %s to %s on sale at %s, page %s\n",
			ev.ID, ev.Data.User, ev.Data.Drop, ev.Data.SaleStartsAt.Format(time.RFC3339), ev.Data.URL)
	default:
		// New types may come in any release: pass over them.
		fmt.Fprintf(h.out, "ignored %s %s\n", ev.Type, ev.ID)
	}
	return nil
}

// post puts up the winner's card (or tells the shop's order system).
func (h *Handler) post(ev *event) error {
	res := ev.Data.Reservation
	h.mu.Lock()
	_, up := h.posts[res]
	h.mu.Unlock()
	if up {
		return nil
	}
	id, err := h.network.Post(res, ev.Data.ShareURL)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.posts[res] = id
	h.mu.Unlock()
	fmt.Fprintf(h.out, "won %s: %s holds %s; share %s; pay at %s\n",
		ev.ID, ev.Data.User, res, ev.Data.ShareURL, ev.Data.CheckoutURL)
	return nil
}

// takeDown removes the card of a win given back (cancelled, or expired
// unpaid). The event carries the reservation, not the share code: posts
// are keyed by reservation for that.
func (h *Handler) takeDown(ev *event) error {
	res := ev.Data.Reservation
	h.mu.Lock()
	id, up := h.posts[res]
	h.mu.Unlock()
	if !up {
		fmt.Fprintf(h.out, "%s %s: %s has no card up\n", shortType(ev), ev.ID, res)
		return nil
	}
	if err := h.network.TakeDown(id); err != nil {
		return err
	}
	h.mu.Lock()
	delete(h.posts, res)
	h.mu.Unlock()
	fmt.Fprintf(h.out, "%s %s: took down %s's card\n", shortType(ev), ev.ID, res)
	return nil
}

// shortType is ev's type without the "flashdrop." prefix, for the log.
func shortType(ev *event) string { return strings.TrimPrefix(ev.Type, "flashdrop.") }

// standIn is this example's social network: it prints what it would do.
// Its first failures calls fail, as the network's outage would, and each
// takes delay, as a real one's round trip does.
type standIn struct {
	out      io.Writer
	delay    time.Duration
	mu       sync.Mutex
	failures int
}

func (s *standIn) fail() error {
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failures > 0 {
		s.failures--
		return errors.New("social network: 503 Service Unavailable")
	}
	return nil
}

func (s *standIn) Post(reservation, shareURL string) (string, error) {
	if err := s.fail(); err != nil {
		return "", err
	}
	id := "post-" + reservation
	fmt.Fprintf(s.out, "network: posted %s, card %s\n", id, shareURL)
	return id, nil
}

func (s *standIn) TakeDown(postID string) error {
	if err := s.fail(); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "network: took down %s\n", postID)
	return nil
}

// keyedLocks is a mutex per key, made on first use and dropped when no
// one holds or waits for it.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int // holding or waiting
}

// lock locks key and returns its unlock.
func (k *keyedLocks) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[key]
	if l == nil {
		l = &keyedLock{}
		k.m[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// seenIDs remembers the newest n event ids acted on; Handler.mu guards
// it. A real receiver keeps them where its side effects are (a unique
// key in its database, written with the post), so a restart does not
// forget them.
type seenIDs struct {
	n     int
	set   map[string]struct{}
	order []string
}

func newSeenIDs(n int) *seenIDs { return &seenIDs{n: n, set: map[string]struct{}{}} }

func (s *seenIDs) has(id string) bool {
	_, ok := s.set[id]
	return ok
}

func (s *seenIDs) add(id string) {
	s.set[id] = struct{}{}
	s.order = append(s.order, id)
	if len(s.order) > s.n {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
}
