package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/engine/redisstore"
	"github.com/flashdrop/flashdrop/internal/contract"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/webhook"
)

// startNode runs one `serve` node on a shared Redis, NATS and clock, as a
// production node would run (ParseFlags, Run, Close).
func startNode(t *testing.T, clock engine.Clock, args ...string) *Main {
	t.Helper()
	logs := &testkit.LockedBuffer{}
	m := NewMain(io.Discard, logs)
	m.Lookup = func(string) (string, bool) { return "", false }
	if err := m.ParseFlags(append([]string{"--listen", "127.0.0.1:0", "--log-level", "warn"}, args...)); err != nil {
		t.Fatal(err)
	}
	m.Clock = clock
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\nlogs: %s", err, logs)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

// hookReceiver records webhook deliveries: event ids per user and type.
type hookReceiver struct {
	mu    sync.Mutex
	seen  map[string]map[string]bool // user -> event ids
	types map[string]int
	// problems are deliveries that do not match asyncapi.json.
	problems []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "unreadable", http.StatusBadRequest)
		return
	}
	if err := contract.CheckDelivery(r.Header, body); err != nil {
		h.mu.Lock()
		h.problems = append(h.problems, err.Error())
		h.mu.Unlock()
	}
	var ce struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			User   string `json:"user"`
			Series string `json:"series"`
			URL    string `json:"url"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil || ce.Data.Series == "" || ce.Data.URL == "" {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen[ce.Data.User] == nil {
		h.seen[ce.Data.User] = map[string]bool{}
	}
	if !h.seen[ce.Data.User][ce.ID] {
		h.types[ce.Type]++
	}
	h.seen[ce.Data.User][ce.ID] = true
}

func (h *hookReceiver) users() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for u, ids := range h.seen {
		out[u] = len(ids)
	}
	return out
}

// TestThreeNodesOneWeek runs three serve nodes on one Redis and one NATS
// through a week of a draw series, ticking their schedulers at the same
// moments: one drop per series week, one draw (which verify-draw
// confirms), and one invitation per person, delivered to a webhook that
// filters on invited.
func TestThreeNodesOneWeek(t *testing.T) {
	rdb := testkit.OwnRedis(t)
	ns := testkit.NATS(t)
	clock := engine.NewManualClock(time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
	const adminTok = "three-nodes-admin-token-0123"
	common := []string{"--redis-url", rdb.Addr, "--nats-url", ns.URL(), "--admin-token", adminTok,
		"--jwt-secret", strings.Repeat("j", 32), "--schedule-every", "1h", "--webhooks-allow-private", "--rate-user", "-1"}
	nodes := []*Main{startNode(t, clock, common...), startNode(t, clock, common...), startNode(t, clock, common...)}
	url := func(i int, path string) string { return "http://" + nodes[i%3].Addr + path }
	tickAll := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, m := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := m.scheduler.Tick(context.Background()); err != nil {
					t.Errorf("tick: %v", err)
				}
			}()
		}
		wg.Wait()
	}

	r := call(t, "POST", url(0, "/v1/admin/series"), adminTok, `{"id":"weekly","name":"Sneaker","stock":5,"weekday":3,
		"sale_time":"18:00","time_zone":"UTC","mode":"draw","registration_closes_before_seconds":300}`)
	if r.status != 201 {
		t.Fatalf("create series: %d %s", r.status, r.raw)
	}
	receiver := &hookReceiver{seen: map[string]map[string]bool{}, types: map[string]int{}}
	hooks := httptest.NewServer(receiver)
	defer hooks.Close()
	hook := call(t, "POST", url(1, "/v1/admin/webhooks"), adminTok, `{"url":"`+hooks.URL+`","types":["invited"]}`)
	if hook.status != 201 {
		t.Fatalf("webhook: %d %s", hook.status, hook.raw)
	}
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The webhook's consumer starts at its creation time, which is the
	// manual clock's (2027), later than every message JetStream stamps
	// with the real time: it must exist before the events it should get.
	testkit.Eventually(t, 0, "the webhook's consumer", func() bool {
		_, err := js.Consumer(ctx, queue.StreamName, webhook.ConsumerPrefix+hook.body["id"].(string))
		return err == nil
	})
	tickAll()
	drops := func() []string {
		r := call(t, "GET", url(2, "/v1/admin/drops"), adminTok, "")
		var ids []string
		for _, d := range r.body["drops"].([]any) {
			ids = append(ids, d.(map[string]any)["id"].(string))
		}
		return ids
	}
	first, second := "weekly-2027-03-03", "weekly-2027-03-10"
	if ids := drops(); fmt.Sprint(ids) != "["+first+"]" {
		t.Fatalf("drops after the first ticks: %v", ids)
	}
	if pub := call(t, "GET", url(1, "/v1/series/weekly"), "", ""); pub.status != 200 ||
		pub.body["next_drop"].(map[string]any)["id"] != first || pub.body["next_drop"].(map[string]any)["created"] != true {
		t.Fatalf("public series: %s", pub.raw)
	}
	people := make([]string, 40)
	for i := range people {
		people[i] = fmt.Sprintf("fan-%02d", i)
		if r := call(t, "POST", url(i, "/v1/drops/"+first+"/registrations"), mint(t, nodes[0], people[i]), "{}"); r.status != 201 {
			t.Fatalf("register: %d %s", r.status, r.raw)
		}
	}
	sale := time.Date(2027, 3, 3, 18, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{sale.Add(-15 * time.Minute), sale.Add(-5 * time.Minute), sale, sale.Add(time.Hour)} {
		clock.Set(at)
		tickAll()
		tickAll()
	}
	rec := call(t, "GET", url(2, "/v1/drops/"+first+"/draw"), "", "")
	if rec.body["state"] != "drawn" || rec.body["winners"] != float64(5) {
		t.Fatalf("draw: %s", rec.raw)
	}
	if st := call(t, "GET", url(0, "/v1/admin/drops/"+first+"/stats"), adminTok, ""); st.body["held"] != float64(5) ||
		st.body["waitlisted"] != float64(35) {
		t.Fatalf("stats: %s", st.raw)
	}
	if code := verifyDraw([]string{"--target", url(1, ""), "--drop", first}, io.Discard, io.Discard, nil); code != 0 {
		t.Fatalf("verify-draw: exit %d", code)
	}
	if ids := drops(); fmt.Sprint(ids) != "["+first+" "+second+"]" {
		t.Fatalf("drops after the first sale ended: %v", ids)
	}
	// The second week's registration opens: everyone is invited.
	clock.Set(sale.Add(7*24*time.Hour - 72*time.Hour))
	tickAll()
	tickAll()

	look := redisstore.New(rdb.Client(), redisstore.Options{})
	testkit.Eventually(t, 0, "every outbox published", func() bool {
		for _, d := range []string{first, second} {
			if n, err := look.OutboxLen(context.Background(), d); err != nil || n != 0 {
				return false
			}
		}
		return true
	})
	testkit.Eventually(t, 0, "40 invitations at the webhook", func() bool { return len(receiver.users()) == 40 })

	stream, err := js.Stream(ctx, queue.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter("flashdrop.>"))
	if err != nil {
		t.Fatal(err)
	}
	subj := info.State.Subjects
	for s, want := range map[string]uint64{
		queue.Subject(first, engine.EventDropCreated): 1, queue.Subject(second, engine.EventDropCreated): 1,
		queue.Subject(first, engine.EventSaleOpened): 1, queue.Subject(first, engine.EventSaleClosed): 1,
		queue.Subject(first, engine.EventDrawn): 1, queue.Subject(first, engine.EventWon): 5,
		queue.Subject(first, engine.EventWaitlisted): 35, queue.Subject(first, engine.EventReminder): 40,
		queue.Subject(second, engine.EventInvited): 40, queue.Subject(first, engine.EventInvited): 0,
	} {
		if subj[s] != want {
			t.Errorf("%s: %d events, want %d", s, subj[s], want)
		}
	}
	for u, n := range receiver.users() {
		if n != 1 {
			t.Errorf("%s received %d invitations", u, n)
		}
	}
	// Under the receiver's lock: a late redelivery may still be writing
	// types (a data race under -race otherwise).
	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	if receiver.types["flashdrop.invited"] != 40 || len(receiver.types) != 1 {
		t.Errorf("webhook received %v", receiver.types)
	}
	for _, p := range receiver.problems {
		t.Errorf("contract (api/spec/asyncapi.json): %s", p)
	}
}
