package main

import (
	"strings"
	"testing"

	"github.com/flashdrop/flashdrop/engine/redisstore"
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

// TestLayoutFlags: --one-registration-hash and --reservation-hashes (or
// FLASHDROP_ONE_REGISTRATION_HASH, FLASHDROP_RESERVATION_HASHES) reach
// the store's options; both off by default.
func TestLayoutFlags(t *testing.T) {
	for _, tc := range []struct {
		flag, env string
		set       func(redisstore.Options) bool
	}{
		{"--one-registration-hash", "FLASHDROP_ONE_REGISTRATION_HASH", func(o redisstore.Options) bool { return o.OneRegistrationHash }},
		{"--reservation-hashes", "FLASHDROP_RESERVATION_HASHES", func(o redisstore.Options) bool { return o.ReservationHashes }},
	} {
		m := NewMainWith(nil)
		if err := m.ParseFlags(nil); err != nil || tc.set(m.Config.storeOptions()) {
			t.Fatalf("%s by default: %+v, %v", tc.flag, m.Config.storeOptions(), err)
		}
		m = NewMainWith(nil)
		if err := m.ParseFlags([]string{tc.flag}); err != nil || !tc.set(m.Config.storeOptions()) {
			t.Fatalf("%s: %+v, %v", tc.flag, m.Config.storeOptions(), err)
		}
		m = NewMainWith(map[string]string{tc.env: "true"})
		if err := m.ParseFlags(nil); err != nil || !tc.set(m.Config.storeOptions()) {
			t.Fatalf("%s: %+v, %v", tc.env, m.Config.storeOptions(), err)
		}
	}
}
