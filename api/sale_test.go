package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
)

// TestConcurrentSaleOverHTTP is release day in miniature: thousands of
// registered shoppers and some outsiders press Buy at once, each twice with
// the same Idempotency-Key, and a few ask for the waitlist. Afterwards the
// answers, the stats and the outbox must agree on I1–I6.
func TestConcurrentSaleOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(o *engine.AdmissionOptions) { o.Batch.MaxWait = 2 * time.Millisecond },
		func(c *api.Config) { c.Limits.UserRate = -1 })
	const (
		stock     = 150
		shoppers  = 1200
		outsiders = 100
		workers   = 48
	)
	id := h.createDrop(stock, 1, nil)
	var users []string
	for i := 0; i < shoppers; i++ {
		users = append(users, fmt.Sprint("shopper-", i))
	}
	tokens := map[string]string{}
	for i := 0; i < shoppers+outsiders; i++ {
		u := fmt.Sprint("shopper-", i)
		if i >= shoppers {
			u = fmt.Sprint("outsider-", i)
		}
		tokens[u] = h.token(u)
	}
	regWork := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range regWork {
				if r := h.do("POST", "/v1/drops/"+id+"/registrations", tokens[u], nil); r.status != 201 {
					t.Errorf("register %s: %d", u, r.status)
				}
			}
		}()
	}
	for _, u := range users {
		regWork <- u
	}
	close(regWork)
	wg.Wait()
	h.clock.Set(t0)

	type answer struct {
		user, key string
		status    int
		code, res string
	}
	var mu sync.Mutex
	var answers []answer
	buy := make(chan string)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range buy {
				key := "buy-" + u
				body := map[string]any{"quantity": 1, "waitlist": strings.HasSuffix(u, "7")}
				for try := 0; try < 2; try++ { // a double click, with the same key
					r := h.do("POST", "/v1/drops/"+id+"/reservations", tokens[u], body, "Idempotency-Key", key)
					// 503 means the outcome is unknown (a loaded machine
					// made a batch miss its deadline): as the API tells
					// clients, ask again with the same key for the answer.
					for retry := 0; r.status == 503 && retry < 20; retry++ {
						r = h.do("POST", "/v1/drops/"+id+"/reservations", tokens[u], body, "Idempotency-Key", key)
					}
					mu.Lock()
					answers = append(answers, answer{u, key, r.status, r.code(), r.str("reservation", "id")})
					mu.Unlock()
				}
			}
		}()
	}
	for u := range tokens { // map order: a shuffled crowd
		buy <- u
	}
	close(buy)
	wg.Wait()

	won := map[string]string{} // user -> reservation
	for _, a := range answers {
		switch {
		case strings.HasPrefix(a.user, "outsider-"):
			if a.status != 403 || a.code != "not_registered" {
				t.Errorf("outsider %s: %d %s", a.user, a.status, a.code)
			}
		case a.status == 201:
			if prev, ok := won[a.user]; ok && prev != a.res {
				t.Errorf("I2/I5: %s won %s and %s", a.user, prev, a.res)
			}
			won[a.user] = a.res
		case a.status == 409 && a.code == "sold_out":
		default:
			t.Errorf("%s: unexpected %d %s", a.user, a.status, a.code)
		}
	}
	if len(won) != stock {
		t.Errorf("I1: %d shoppers won, stock is %d (all must sell: demand is 8x)", len(won), stock)
	}
	// A shopper's second click got the same answer as the first.
	first := map[string]answer{}
	for _, a := range answers {
		if f, ok := first[a.user]; ok && (f.status != a.status || f.res != a.res) {
			t.Errorf("I5: %s got %d/%s then %d/%s", a.user, f.status, f.res, a.status, a.res)
		} else if !ok {
			first[a.user] = a
		}
	}
	st := h.do("GET", "/v1/admin/drops/"+id+"/stats", admin, nil)
	if st.num("held") != stock || st.num("available") != 0 || st.num("reservations") != stock ||
		st.num("registered") != shoppers || st.num("available")+st.num("held")+st.num("confirmed") != st.num("stock") {
		t.Errorf("I6: stats %s", st.raw)
	}
	// I4: every acknowledged win has exactly one won event in the outbox.
	evs, err := h.store.OutboxEvents(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	wonEvents := map[string]int{}
	for _, e := range evs {
		if e.Type == engine.EventWon {
			wonEvents[e.Reservation]++
		}
	}
	for u, res := range won {
		if wonEvents[res] != 1 {
			t.Errorf("I4: %s's win %s has %d won events", u, res, wonEvents[res])
		}
	}
	if len(wonEvents) != len(won) {
		t.Errorf("I4: %d won events for %d wins", len(wonEvents), len(won))
	}
	// Coalescing happened, and every request still got its own answer.
	sum, count := batchMetrics(t, h)
	if count == 0 || sum/count <= 1 {
		t.Errorf("no batching: %v requests in %v batches", sum, count)
	}
	t.Logf("%d reserve requests decided in %v script calls (%.1f per call)", int(sum), count, sum/count)
}

var metricLine = regexp.MustCompile(`(?m)^flashdrop_reserve_batch_size_(sum|count) ([0-9.e+]+)$`)

func batchMetrics(t *testing.T, h *harness) (sum, count float64) {
	t.Helper()
	m := h.do("GET", "/metrics", "", nil)
	for _, g := range metricLine.FindAllStringSubmatch(string(m.raw), -1) {
		v, _ := strconv.ParseFloat(g[2], 64)
		if g[1] == "sum" {
			sum = v
		} else {
			count = v
		}
	}
	return sum, count
}

func TestLiveStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *api.Config) { c.LiveMaxDuration = 30 * time.Second })
	id := h.createDrop(3, 1, nil)
	h.register(id, "alice")
	h.clock.Set(t0)

	req, _ := http.NewRequest("GET", "http://flashdrop.test/v1/drops/"+id+"/live", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := h.client.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- data
			}
		}
	}()
	next := func() string {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("stream ended")
			}
			return e
		case <-ctx.Done():
			t.Fatal("no live event in time")
		}
		return ""
	}
	if e := next(); !strings.Contains(e, `"state":"sale_open"`) || !strings.Contains(e, `"available":3`) {
		t.Fatalf("first event: %s", e)
	}
	w := h.do("POST", "/v1/drops/"+id+"/reservations", h.token("alice"), nil)
	h.expect(w, 201, "")
	if e := next(); !strings.Contains(e, `"available":2`) || !strings.Contains(e, `"released":0`) {
		t.Fatalf("after a win: %s", e)
	}
	// A release (what moves a waitlist) is an event of its own.
	res := w.body["reservation"].(map[string]any)["id"].(string)
	h.expect(h.do("POST", "/v1/reservations/"+res+"/cancel", h.token("alice"), nil), 200, "")
	if e := next(); !strings.Contains(e, `"available":3`) || !strings.Contains(e, `"released":1`) {
		t.Fatalf("after a cancel: %s", e)
	}
	h.expect(h.do("GET", "/v1/drops/nope-"+id+"/live", "", nil), 404, "not_found")
}
