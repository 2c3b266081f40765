package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterBusOffset is the fixed distance redis puts between a node's
	// client port and its cluster bus port.
	clusterBusOffset = 10000
	// Client ports are drawn from this range so that port+clusterBusOffset
	// stays a valid port below 65536.
	clusterPortMin = 20000
	clusterPortMax = 50000
	// clusterCreateTimeout bounds `redis-cli --cluster create`, which on a
	// healthy local setup finishes in a couple of seconds.
	clusterCreateTimeout = 60 * time.Second
	// clusterReadyTimeout bounds gossip convergence after creation.
	clusterReadyTimeout = 30 * time.Second
	// totalSlots is the fixed number of hash slots in a redis cluster.
	totalSlots = 16384
)

// clusterProbeKeys hash to slots 15495, 3300 and 7365, one in each third of
// the slot space, so with three masters the readiness probe reaches every
// master rather than trusting a single node.
var clusterProbeKeys = []string{"redistest:probe:{a}", "redistest:probe:{b}", "redistest:probe:{c}"}

// Cluster is a redis cluster of redis-server processes on 127.0.0.1, with
// all 16384 slots assigned: masters only without persistence
// (StartCluster), or masters with replicas and AOF (StartReplicatedCluster).
type Cluster struct {
	// Addrs lists every node's host:port, in creation order; any of them
	// works as a seed for a cluster client.
	Addrs []string

	dir       string
	replicas  int
	nodeArgs  []string // extra redis-server flags of every node
	procs     []*process
	closeOnce sync.Once
	closeErr  error
}

// StartCluster launches masters redis-server nodes in cluster mode, joins
// them with `redis-cli --cluster create` (no replicas) and returns once
// every node reports cluster_state:ok with all slots assigned and a cluster
// client can write and read keys in several slots. Redis needs at least
// three masters. The caller must Close it.
func StartCluster(masters int) (*Cluster, error) {
	return startCluster(masters, 0, "--cluster-node-timeout", "5000")
}

// StartReplicatedCluster launches a cluster of masters with replicas
// replicas each, as production runs it: AOF with appendfsync always on
// every node, and a 2-second node timeout so a dead master's replica is
// promoted within a few seconds. Each node keeps its AOF in a directory of
// its own, so a killed node can be restarted on its data (Restart).
func StartReplicatedCluster(masters, replicas int) (*Cluster, error) {
	return startCluster(masters, replicas, "--cluster-node-timeout", "2000",
		"--appendonly", "yes", "--appendfsync", "always")
}

func startCluster(masters, replicas int, nodeArgs ...string) (*Cluster, error) {
	if masters < 3 {
		return nil, fmt.Errorf("redistest: a redis cluster needs at least 3 masters, got %d", masters)
	}
	if err := Available(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		return nil, fmt.Errorf("redistest: create temp dir: %w", err)
	}
	c := &Cluster{dir: dir, replicas: replicas, nodeArgs: nodeArgs}
	fail := func(err error) (*Cluster, error) {
		return nil, errors.Join(err, c.Close())
	}
	for range masters * (1 + replicas) {
		p, err := c.startNode()
		if err != nil {
			return fail(err)
		}
		c.procs = append(c.procs, p)
		c.Addrs = append(c.Addrs, p.addr)
	}
	if err := c.create(); err != nil {
		return fail(err)
	}
	if err := c.waitReady(); err != nil {
		return fail(err)
	}
	return c, nil
}

// Client returns a new cluster client seeded with every node. Each caller
// gets its own so it can Close it without affecting other tests.
func (c *Cluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
}

// Close kills every node, waits for them and removes the cluster's
// directory. It is safe to call more than once; later calls return the
// first call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		for _, p := range c.procs {
			p.stop()
		}
		if err := os.RemoveAll(c.dir); err != nil {
			c.closeErr = fmt.Errorf("redistest: remove %s: %w", c.dir, err)
		}
	})
	return c.closeErr
}

// startNode starts one cluster-mode node, retrying on a fresh port pair if
// another process grabbed either port before redis-server bound it.
func (c *Cluster) startNode() (*process, error) {
	var lastErr error
	for range maxStartAttempts {
		var port int
		port, lastErr = clusterPort()
		if lastErr != nil {
			continue
		}
		var p *process
		p, lastErr = c.startAt(port)
		if lastErr == nil {
			return p, nil
		}
		if !errors.Is(lastErr, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

// startAt starts the node of port, in its own directory (its AOF and
// cluster config survive a kill there).
func (c *Cluster) startAt(port int) (*process, error) {
	dir := fmt.Sprintf("%s/node-%d", c.dir, port)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", fmt.Sprintf("%s/nodes-%d.conf", dir, port),
	}, c.nodeArgs...)
	return startProcess(dir, port, args...)
}

// Kill sends SIGKILL to the node at addr and waits for it to die: a crash,
// with no chance to flush or hand over.
func (c *Cluster) Kill(addr string) error {
	for _, p := range c.procs {
		if p.addr == addr {
			p.stop()
			return nil
		}
	}
	return fmt.Errorf("redistest: no cluster node %s", addr)
}

// Restart starts the killed node at addr again on its port and data.
func (c *Cluster) Restart(addr string) error {
	for i, p := range c.procs {
		if p.addr != addr {
			continue
		}
		select {
		case <-p.done:
		default:
			return fmt.Errorf("redistest: cluster node %s is running", addr)
		}
		_, portS, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(portS)
		np, err := c.startAt(port)
		if err != nil {
			return err
		}
		c.procs[i] = np
		return nil
	}
	return fmt.Errorf("redistest: no cluster node %s", addr)
}

// MasterOf returns the address of the node that serves key's slot as
// master, as the node at via sees it ("" if via does not know).
func MasterOf(ctx context.Context, via, key string) (string, error) {
	client := redis.NewClient(&redis.Options{Addr: via, MaxRetries: -1, DialerRetries: 1, PoolSize: 1})
	defer client.Close()
	slot, err := client.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	slots, err := client.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", nil
}

// clusterPort picks a random port P such that both P and its cluster bus
// port P+10000 can currently be bound on loopback. Asking the kernel for
// :0 would not do, as it cannot promise anything about P+10000.
func clusterPort() (int, error) {
	for range 100 {
		port := clusterPortMin + rand.IntN(clusterPortMax-clusterPortMin)
		if canListen(port) && canListen(port+clusterBusOffset) {
			return port, nil
		}
	}
	return 0, errors.New("redistest: no free port pair (P, P+10000) found for a cluster node")
}

func canListen(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// create joins the nodes into one cluster with the slots split evenly.
func (c *Cluster) create() error {
	ctx, cancel := context.WithTimeout(context.Background(), clusterCreateTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(c.replicas), "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("redistest: redis-cli --cluster create: %w\n--- redis-cli output ---\n%s\n--- end output ---%s",
			err, strings.TrimSpace(string(out)), c.logs())
	}
	return nil
}

// waitReady polls until every node agrees the cluster is healthy and a
// cluster client can round-trip the probe keys, or clusterReadyTimeout
// passes. redis-cli returns once the config is consistent, but nodes may
// still be gossiping, and a test's first command must not race that.
func (c *Cluster) waitReady() error {
	deadline := time.Now().Add(clusterReadyTimeout)
	backoff := 10 * time.Millisecond
	for {
		err := c.checkNodes()
		if err == nil {
			err = c.probe()
		}
		if err == nil {
			return nil
		}
		for _, p := range c.procs {
			select {
			case <-p.done:
				return fmt.Errorf("redistest: cluster node %s exited (%v) while waiting for the cluster: %v%s", p.addr, p.waitErr, err, c.logs())
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: cluster not ready within %v: %v%s", clusterReadyTimeout, err, c.logs())
		}
		time.Sleep(backoff) // poll interval; readiness is the condition above
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

// checkNodes asks each node for CLUSTER INFO and requires that it sees a
// healthy cluster of all nodes with every slot assigned.
func (c *Cluster) checkNodes() error {
	for _, addr := range c.Addrs {
		if err := checkNode(addr, len(c.Addrs)); err != nil {
			return err
		}
	}
	return nil
}

func checkNode(addr string, nodes int) error {
	// One dial attempt, no command retries: the caller's loop is the retry policy.
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, PoolSize: 1})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := client.ClusterInfo(ctx).Result()
	if err != nil {
		return fmt.Errorf("%s: CLUSTER INFO: %w", addr, err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": strconv.Itoa(totalSlots),
		"cluster_slots_ok":       strconv.Itoa(totalSlots),
		"cluster_known_nodes":    strconv.Itoa(nodes),
	}
	for k, v := range want {
		if fields[k] != v {
			return fmt.Errorf("%s: %s is %q, want %q", addr, k, fields[k], v)
		}
	}
	return nil
}

// probe round-trips keys in three different slots through a fresh cluster
// client, exercising slot discovery and redirection the way tests will, and
// deletes them again so the cluster is handed over empty.
func (c *Cluster) probe() error {
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, key := range clusterProbeKeys {
		if err := client.Set(ctx, key, key, 0).Err(); err != nil {
			return fmt.Errorf("probe SET %s: %w", key, err)
		}
		got, err := client.Get(ctx, key).Result()
		if err != nil {
			return fmt.Errorf("probe GET %s: %w", key, err)
		}
		if got != key {
			return fmt.Errorf("probe GET %s = %q, want %q", key, got, key)
		}
		// One key per DEL: keys in different slots cannot share a command.
		if err := client.Del(ctx, key).Err(); err != nil {
			return fmt.Errorf("probe DEL %s: %w", key, err)
		}
	}
	return nil
}

// logs formats every node's output for inclusion in an error message.
func (c *Cluster) logs() string {
	var b strings.Builder
	for _, p := range c.procs {
		b.WriteString(p.logSuffix())
	}
	return b.String()
}

// SharedCluster returns the test binary's shared 3-master cluster, starting
// it on first use; it skips or fails tb via Require when redis is not
// installed. The package must call Main from TestMain so it is closed.
//
// Tests sharing the cluster must use their own key namespace (their own drop
// ids) and must not flush it, because other tests hold keys in it.
func SharedCluster(tb testing.TB) *Cluster {
	tb.Helper()
	Require(tb)
	c, err := sharedCluster.get(func() (*Cluster, error) { return StartCluster(3) })
	if err != nil {
		tb.Fatalf("redistest: shared cluster: %v", err)
	}
	return c
}
