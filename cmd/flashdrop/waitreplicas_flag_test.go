package main

import (
	"strings"
	"testing"
)

// TestRedisWaitReplicasFlag: --redis-wait-replicas defaults to 0, reads
// FLASHDROP_REDIS_WAIT_REPLICAS, and refuses a negative count or the
// embedded Redis (which has no replicas) with a clear error.
func TestRedisWaitReplicasFlag(t *testing.T) {
	m := NewMainWith(nil)
	if err := m.ParseFlags(nil); err != nil || m.Config.RedisWaitReplicas != 0 {
		t.Fatalf("default: %d, %v", m.Config.RedisWaitReplicas, err)
	}
	m = NewMainWith(map[string]string{"FLASHDROP_REDIS_WAIT_REPLICAS": "2", "FLASHDROP_REDIS_URL": "127.0.0.1:1"})
	if err := m.ParseFlags(nil); err != nil || m.Config.RedisWaitReplicas != 2 {
		t.Fatalf("from the environment: %d, %v", m.Config.RedisWaitReplicas, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--redis-wait-replicas", "-1", "--redis-url", "127.0.0.1:1"}, "0 or more"},
		{[]string{"--redis-wait-replicas", "1"}, "needs --redis-url"},
	} {
		if err := NewMainWith(nil).ParseFlags(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want an error saying %q, got %v", c.args, c.want, err)
		}
	}
}
