package redistest_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/engine/redisstore/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// assertGone checks the process behind addr really exited on Close rather
// than merely being forgotten: nothing may accept connections there.
func assertGone(t *testing.T, addr string) {
	t.Helper()
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}
}

func TestServerStartPingClose(t *testing.T) {
	redistest.Require(t)
	s, err := redistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() }) // covers early t.Fatal; Close is idempotent

	client := s.Client()
	defer client.Close()
	if got, err := client.Ping(ctx(t)).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", got, err)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	assertGone(t, s.Addr)
}

func TestShared(t *testing.T) {
	a, b := redistest.Shared(t), redistest.Shared(t)
	if a != b {
		t.Fatal("Shared returned two different servers")
	}
	client := a.Client()
	defer client.Close()
	if err := client.Ping(ctx(t)).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestCluster(t *testing.T) {
	redistest.Require(t)
	c, err := redistest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if len(c.Addrs) != 3 {
		t.Fatalf("Addrs = %v, want 3 nodes", c.Addrs)
	}
	ctx := ctx(t)
	client := c.Client()
	defer client.Close()

	t.Run("hash tags spread over nodes", func(t *testing.T) {
		owners := map[string]string{} // node addr -> key
		for _, tag := range []string{"a", "b", "c"} {
			key := "fd:{" + tag + "}:k"
			if err := client.Set(ctx, key, tag, 0).Err(); err != nil {
				t.Fatalf("SET %s: %v", key, err)
			}
			if got, err := client.Get(ctx, key).Result(); err != nil || got != tag {
				t.Fatalf("GET %s = %q, %v; want %q", key, got, err, tag)
			}
			// Exactly one node serves the key; the others redirect with MOVED.
			owner := ""
			for _, addr := range c.Addrs {
				node := redis.NewClient(&redis.Options{Addr: addr})
				got, err := node.Get(ctx, key).Result()
				node.Close()
				switch {
				case err == nil && got == tag:
					if owner != "" {
						t.Fatalf("%s served by both %s and %s", key, owner, addr)
					}
					owner = addr
				case err != nil && strings.HasPrefix(err.Error(), "MOVED "):
				default:
					t.Fatalf("GET %s on %s = %q, %v; want the value or MOVED", key, addr, got, err)
				}
			}
			if owner == "" {
				t.Fatalf("no node serves %s", key)
			}
			if prev, dup := owners[owner]; dup {
				t.Fatalf("%s and %s both on %s; want one key per master", prev, key, owner)
			}
			owners[owner] = key
		}
	})

	t.Run("lua on one hash tag", func(t *testing.T) {
		const script = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}`
		got, err := client.Eval(ctx, script, []string{"fd:{x}:a", "fd:{x}:b"}, "1", "2").StringSlice()
		if err != nil {
			t.Fatalf("EVAL: %v", err)
		}
		if len(got) != 2 || got[0] != "1" || got[1] != "2" {
			t.Fatalf("EVAL = %v, want [1 2]", got)
		}
		// Proof this is a real cluster: keys in different slots are refused.
		err = client.Eval(ctx, script, []string{"fd:{x}:a", "fd:{y}:b"}, "1", "2").Err()
		if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Fatalf("cross-slot EVAL err = %v, want CROSSSLOT", err)
		}
	})

	if err := c.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, addr := range c.Addrs {
		assertGone(t, addr)
	}
}

func TestSharedCluster(t *testing.T) {
	a, b := redistest.SharedCluster(t), redistest.SharedCluster(t)
	if a != b {
		t.Fatal("SharedCluster returned two different clusters")
	}
	client := a.Client()
	defer client.Close()
	err := client.ForEachMaster(ctx(t), func(ctx context.Context, node *redis.Client) error {
		return node.Ping(ctx).Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStartClusterRejectsTooFewMasters(t *testing.T) {
	if _, err := redistest.StartCluster(2); err == nil {
		t.Fatal("StartCluster(2) succeeded; redis needs at least 3 masters")
	}
}
