package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
	"github.com/flashdrop/flashdrop/internal/history"
	"github.com/flashdrop/flashdrop/internal/testkit"
	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

// faultsFull: FLASHDROP_FAULTS=full (make test-faults) runs the fault
// runs at full length; by default (CI) they run a shortened form.
func faultsFull() bool { return os.Getenv("FLASHDROP_FAULTS") == "full" }

const (
	faultAdminToken = "fault-admin-token-0123456789"
	faultJWTSecret  = "fault-jwt-secret-of-at-least-32-bytes!"
)

// serveChild runs `serve` with the arguments in FLASHDROP_TEST_ARGS when
// this test binary was started as a fault run's node.
func serveChild() {
	if os.Getenv("FLASHDROP_TEST_CHILD") == "fault-serve" {
		os.Exit(run(append([]string{"serve"}, strings.Fields(os.Getenv("FLASHDROP_TEST_ARGS"))...), os.Stdout, os.Stderr))
	}
}

// node is one `serve` child process.
type node struct {
	id, listen string
	args       []string
	test       string
	cmd        *exec.Cmd
	stderr     *testkit.LockedBuffer
	done       chan struct{}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// start runs the node and waits until it listens.
func (n *node) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+n.test+"$")
	cmd.Env = append(os.Environ(), "FLASHDROP_TEST_CHILD=fault-serve", "FLASHDROP_TEST_ARGS="+strings.Join(n.args, " "))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n.stderr = &testkit.LockedBuffer{}
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`listening on http://`)
		once := sync.Once{}
		for sc.Scan() {
			if re.MatchString(sc.Text()) {
				once.Do(func() { close(listening) })
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(n.done) }()
	select {
	case <-listening:
	case <-n.done:
		t.Fatalf("node %s exited at start: %s", n.id, n.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s did not start: %s", n.id, n.stderr.String())
	}
}

// kill is kill -9: no shutdown, nothing flushed, nothing handed over.
func (n *node) kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

func (n *node) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.kill()
	}
}

// TestFaultNodeKill: three `serve` nodes on one Redis and one NATS, the
// load spread across them; one is killed with -9 in the middle of the
// rush. From the rush's first answer its link to NATS passes nothing, so
// its relay holds an outbox entry it read and could not publish.
// "restart": it comes back with the same --node-id on the same port, and
// the entries it had read but not published reach JetStream within 5 s of
// its restart. "never back": the survivors claim them within the relay's
// claim bound (queue.DefaultClaimAfter). Either way the load audit passes,
// and the drop's history (every request of the run, resends included) is
// linearizable: shoppers retrying with their key got their original
// answer, nothing was applied twice.
func TestFaultNodeKill(t *testing.T) {
	serveChild()
	redistest.Require(t)
	for _, restart := range []bool{true, false} {
		name := "never back"
		if restart {
			name = "restart"
		}
		t.Run(name, func(t *testing.T) { nodeKillRun(t, restart) })
	}
}

func nodeKillRun(t *testing.T, restart bool) {
	rs, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	ns := natstest.Start(t)
	// The victim reaches NATS through a proxy that the rush stalls, so
	// that its relay holds entries it read and cannot publish when it is
	// killed: the takeover (its own by name, or the survivors' claim) is
	// then certain to have work, not left to the timing of the kill.
	victimNATS := toxiproxies(t)("victim-nats", strings.TrimPrefix(ns.URL(), "nats://"))
	var nodes []*node
	var targets []string
	for i := 1; i <= 3; i++ {
		n := &node{id: fmt.Sprintf("node-%d", i), listen: freePort(t), test: "TestFaultNodeKill"}
		natsURL := ns.URL()
		if i == 2 {
			natsURL = "nats://" + victimNATS.Listen
		}
		n.args = []string{"--listen", n.listen, "--redis-url", rs.Addr, "--nats-url", natsURL, "--node-id", n.id,
			"--admin-token", faultAdminToken, "--jwt-secret", faultJWTSecret, "--log-level", "warn", "--no-demo",
			"--sweep-every", "100ms", "--rate-user", "-1"}
		n.start(t)
		nodes = append(nodes, n)
		targets = append(targets, "http://"+n.listen)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop()
		}
	})
	victim := nodes[1]

	users := faultUsers()
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	// pending counts the outbox entries the victim read and did not
	// publish yet (its consumer's pending list in the relay group).
	pending := func(drop string) int64 {
		outbox := "fd:{" + drop + "}:outbox" // redisstore's key layout (keys.go)
		p, err := rdb.XPendingExt(context.Background(), &redis.XPendingExtArgs{Stream: outbox, Group: "relay",
			Start: "-", End: "+", Count: 100000, Consumer: victim.id}).Result()
		if err != nil {
			return -1
		}
		return int64(len(p))
	}
	// The balancer: while the victim is down, its connections go to a
	// survivor, as a health-checking load balancer would send them.
	var down atomic.Bool
	dial := func(addr string) (net.Conn, error) {
		if addr == victim.listen && down.Load() {
			addr = nodes[0].listen
		}
		return net.DialTimeout("tcp", addr, 5*time.Second)
	}
	var mu sync.Mutex
	var exchanges []loadtest.Exchange
	var rushed atomic.Int64
	var killedAt, restartedAt, drainedAt time.Time
	var leftBehind int64
	drained := make(chan struct{})
	stall := make(chan struct{})
	trace := func(e loadtest.Exchange) {
		mu.Lock()
		exchanges = append(exchanges, e)
		mu.Unlock()
		if e.Phase != loadtest.PhaseRush {
			return
		}
		switch rushed.Add(1) {
		case 1:
			// From the rush's first answer, nothing the victim sends
			// reaches NATS (its publishes wait for acks that never come).
			go func() {
				defer close(stall)
				if _, err := victimNATS.Toxics.AddToxicJson(strings.NewReader(
					`{"name":"stall","type":"timeout","stream":"upstream","attributes":{"timeout":0}}`)); err != nil {
					t.Error(err)
				}
			}()
		case int64(users / 3):
			drop := strings.Split(strings.TrimPrefix(e.Path, "/v1/drops/"), "/")[0]
			go func() {
				defer close(drained)
				<-stall
				// Kill once the victim holds an entry it read and cannot
				// publish. Which relay reads an entry is Redis's choice
				// among the blocked readers, and a rush that sells out
				// early makes few entries, so the first third of the
				// rush can pass with none read by the victim (CI, 16:17
				// UTC 2026-12-05); the sweeper's expiries go on making
				// entries after it.
				for end := time.Now().Add(20 * time.Second); pending(drop) <= 0 && time.Now().Before(end); {
					time.Sleep(5 * time.Millisecond)
				}
				killedAt = time.Now()
				down.Store(true)
				victim.kill()
				leftBehind = pending(drop)
				if err := victimNATS.Toxics.RemoveToxic(context.Background(), "stall"); err != nil {
					t.Error(err)
				}
				if restart {
					victim.start(t)
					restartedAt = time.Now()
					down.Store(false)
				}
				// Watch from the restart (or the death): when has every
				// entry the victim left been published and acked?
				for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
					if pending(drop) == 0 {
						drainedAt = time.Now()
						return
					}
				}
			}()
		}
	}
	o := loadtest.Options{Targets: targets, AdminToken: faultAdminToken, JWTSecret: []byte(faultJWTSecret),
		Users: users, HoldSeconds: 2, Lead: faultLead(), Connections: 24, Seed: 15, MaxGeneratorCPU: -1,
		NATSURL: ns.URL()}
	// No waitlist: with answers lost to the dead node, the positions of
	// many concurrent joins pin one order among thousands, which the
	// history checker cannot find in time on a loaded machine.
	if err := o.SetRatio("waitlist-ratio", 0); err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(context.Background(), o, loadtest.WithTrace(trace), loadtest.WithDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if rep.Audit.Verdict != loadtest.AuditPass {
		t.Errorf("the load audit did not pass:\n%s", text.String())
	}

	if rushed.Load() < int64(users/3) {
		t.Fatalf("the rush ended after %d requests, before the node was killed", rushed.Load())
	}
	<-drained
	bound, from, what := 5*time.Second, restartedAt, "restart"
	if !restart {
		bound, from, what = queue.DefaultClaimAfter+5*time.Second, killedAt, "death"
	}
	if drainedAt.IsZero() {
		t.Fatalf("the %d outbox entries %s left were never published", leftBehind, victim.id)
	}
	if leftBehind <= 0 {
		t.Errorf("%s held no outbox entries it had read when it was killed (%d): the takeover had nothing to do", victim.id, leftBehind)
	}
	took := drainedAt.Sub(from)
	t.Logf("killed %s with %d outbox entries read and not yet published; all published %.1fs after its %s",
		victim.id, leftBehind, took.Seconds(), what)
	if took > bound {
		t.Errorf("the entries %s left took %v after its %s, want within %v", victim.id, took, what, bound)
	}

	mu.Lock()
	defer mu.Unlock()
	checkHistory(t, rep, exchanges)
}

// checkHistory checks a load run's traced exchanges as a history.
func checkHistory(t *testing.T, rep *loadtest.Report, exchanges []loadtest.Exchange) {
	t.Helper()
	ops := history.FromLoad(rep.Drop.ID, exchanges)
	if rep.Records != nil {
		narrowed := history.WithExpiredEvents(ops, rep.Records.Events)
		var n, narrow int
		var before, after time.Duration
		for i, op := range ops {
			if op.In.Kind == history.Expire {
				n++
				before += op.Return.Sub(op.Call)
				after += narrowed[i].Return.Sub(narrowed[i].Call)
				if narrowed[i].Return.Sub(narrowed[i].Call) < op.Return.Sub(op.Call) {
					narrow++
				}
			}
		}
		if n > 0 {
			t.Logf("history: %d expiries, %d narrowed by their events (mean window %v -> %v)", n, narrow,
				(before / time.Duration(n)).Round(time.Millisecond), (after / time.Duration(n)).Round(time.Millisecond))
		}
		ops = narrowed
	}
	results, err := history.Check(map[string]history.Drop{rep.Drop.ID: {Stock: rep.Drop.Stock, PerUserLimit: rep.Drop.PerUserLimit}},
		ops, history.Options{Timeout: historyTimeout(), VisualizeDir: t.TempDir()})
	for _, r := range results {
		t.Logf("history: %d operations (%d unanswered): %v in %v", r.Ops, r.Pending, r.Verdict, r.Took.Round(time.Millisecond))
	}
	if err != nil {
		t.Error(err)
	}
}

// tracedSale runs a load sale against targets, tracing every exchange;
// onRush is called with the count of rush exchanges so far.
func tracedSale(t *testing.T, o loadtest.Options, onRush func(n int64), extra ...loadtest.Option) (*loadtest.Report, []loadtest.Exchange) {
	t.Helper()
	var mu sync.Mutex
	var exchanges []loadtest.Exchange
	var rushed atomic.Int64
	trace := func(e loadtest.Exchange) {
		mu.Lock()
		exchanges = append(exchanges, e)
		mu.Unlock()
		if e.Phase == loadtest.PhaseRush && onRush != nil {
			onRush(rushed.Add(1))
		}
	}
	rep, err := loadtest.Run(context.Background(), o, append(extra, loadtest.WithTrace(trace))...)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	_ = rep.WriteText(&text)
	if rep.Audit.Verdict != loadtest.AuditPass {
		t.Errorf("the load audit did not pass:\n%s", text.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return rep, append([]loadtest.Exchange(nil), exchanges...)
}

// startFaultNode starts one `serve` child of test on Redis at redisAddr.
func startFaultNode(t *testing.T, test, id, redisAddr, natsURL string, extra ...string) *node {
	t.Helper()
	n := &node{id: id, listen: freePort(t), test: test}
	n.args = append([]string{"--listen", n.listen, "--redis-url", redisAddr, "--nats-url", natsURL, "--node-id", n.id,
		"--admin-token", faultAdminToken, "--jwt-secret", faultJWTSecret, "--log-level", "error", "--no-demo",
		"--sweep-every", "100ms", "--rate-user", "-1"}, extra...)
	n.start(t)
	t.Cleanup(n.stop)
	return n
}

func faultUsers() int {
	if faultsFull() {
		return 1500
	}
	return 600
}

// faultLead gives registration time enough before T0 (the full runs
// register more shoppers, under the race detector).
func faultLead() time.Duration {
	if faultsFull() {
		return 20 * time.Second
	}
	return 10 * time.Second
}

func historyTimeout() time.Duration {
	if faultsFull() {
		return 5 * time.Minute
	}
	return time.Minute
}

func saleOptions(targets ...string) loadtest.Options {
	return loadtest.Options{Targets: targets, AdminToken: faultAdminToken, JWTSecret: []byte(faultJWTSecret),
		Users: faultUsers(), HoldSeconds: 2, Lead: faultLead(), Connections: 24, Seed: 15, MaxGeneratorCPU: -1}
}

// TestFaultRedis: one `serve` node on a Redis with AOF appendfsync always.
// "kill -9": Redis is killed in the middle of the rush and restarted on
// its port and directory. "script flush and lost replies": SCRIPT FLUSH
// runs in a loop through the rush while a proxy between serve and Redis
// drops the reply of one script call in 20 and delays another past the
// shopper's timeout (so clients give up on requests that still run).
// Either way the audit passes and the history is linearizable: nothing
// applied twice, no acknowledged win lost.
func TestFaultRedis(t *testing.T) {
	serveChild()
	redistest.Require(t)
	t.Run("kill -9", func(t *testing.T) {
		rs, err := redistest.StartDurable()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rs.Close() })
		ns := natstest.Start(t)
		n := startFaultNode(t, "TestFaultRedis", "node-1", rs.Addr, ns.URL())
		o := saleOptions("http://" + n.listen)
		o.NATSURL = ns.URL()
		var once sync.Once
		var killed atomic.Bool
		restarted := make(chan error, 1)
		rep, ex := tracedSale(t, o, func(c int64) {
			if c == int64(o.Users/3) {
				once.Do(func() {
					killed.Store(true)
					go func() {
						rs.Kill()
						restarted <- rs.Restart()
					}()
				})
			}
		})
		// The kill starts at a third of the rush; on a loaded machine the
		// restart (AOF reload) can still be running when the rush ends,
		// so wait for it rather than calling that "never killed".
		if !killed.Load() {
			t.Fatalf("the rush ended before Redis was killed (%d rush requests)", len(ex))
		}
		select {
		case err := <-restarted:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Minute):
			t.Fatal("Redis did not come back within a minute of its kill")
		}
		checkHistory(t, rep, ex)
	})
	t.Run("script flush and lost replies", func(t *testing.T) {
		rs, err := redistest.StartDurable()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rs.Close() })
		var calls atomic.Int64
		proxy, err := redistest.NewProxy(rs.Addr, func(req []byte) redistest.Fault {
			if !redistest.IsScript(req) {
				return redistest.Pass
			}
			switch calls.Add(1) % 20 {
			case 7:
				return redistest.DropReply
			case 13:
				return redistest.DelayReply
			}
			return redistest.Pass
		})
		if err != nil {
			t.Fatal(err)
		}
		proxy.Delay = 700 * time.Millisecond
		t.Cleanup(func() { _ = proxy.Close() })
		ns := natstest.Start(t)
		n := startFaultNode(t, "TestFaultRedis", "node-1", proxy.Addr(), ns.URL())
		flusher := rs.Client()
		defer flusher.Close()
		stop := make(chan struct{})
		var flushes atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond): // the fault's own rhythm
				}
				if flusher.ScriptFlush(context.Background()).Err() == nil {
					flushes.Add(1)
				}
			}
		}()
		o := saleOptions("http://" + n.listen)
		o.RequestTimeout = 500 * time.Millisecond // shorter than the delayed replies
		// Holds outlive the rush, so no unit is released and won again
		// while answers are being lost: the rush's wins alone must fit
		// the stock.
		o.HoldSeconds = 15
		// No waitlist: with lost and delayed answers, the positions of
		// many concurrent joins pin one order among thousands, which the
		// checker cannot find in time (the kill runs keep the waitlist).
		if err := o.SetRatio("waitlist-ratio", 0); err != nil {
			t.Fatal(err)
		}
		rep, ex := tracedSale(t, o, nil)
		close(stop)
		wg.Wait()
		t.Logf("%d SCRIPT FLUSHes, %d script replies dropped or delayed", flushes.Load(), proxy.Faults())
		if flushes.Load() == 0 || proxy.Faults() == 0 {
			t.Fatal("the faults did not happen")
		}
		checkHistory(t, rep, ex)
	})
}
