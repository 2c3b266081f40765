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

// TestOneRegistrationHashFlag: --one-registration-hash (or
// FLASHDROP_ONE_REGISTRATION_HASH) reaches the store's options; off by
// default.
func TestOneRegistrationHashFlag(t *testing.T) {
	m := NewMainWith(nil)
	if err := m.ParseFlags(nil); err != nil || m.Config.storeOptions().OneRegistrationHash {
		t.Fatalf("default: %+v, %v", m.Config.storeOptions(), err)
	}
	m = NewMainWith(nil)
	if err := m.ParseFlags([]string{"--one-registration-hash"}); err != nil || !m.Config.storeOptions().OneRegistrationHash {
		t.Fatalf("flag: %+v, %v", m.Config.storeOptions(), err)
	}
	m = NewMainWith(map[string]string{"FLASHDROP_ONE_REGISTRATION_HASH": "true"})
	if err := m.ParseFlags(nil); err != nil || !m.Config.storeOptions().OneRegistrationHash {
		t.Fatalf("environment: %+v, %v", m.Config.storeOptions(), err)
	}
}
