package main

import (
	"testing"

	"github.com/flashdrop/flashdrop/api"
)

// TestMaxStreamsFlags: --max-streams and --max-streams-per-client default
// to the api's bounds, read FLASHDROP_MAX_STREAMS and
// FLASHDROP_MAX_STREAMS_PER_CLIENT, and a flag wins over its variable.
func TestMaxStreamsFlags(t *testing.T) {
	m := NewMainWith(nil)
	if err := m.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if l := m.Config.Limits; l.MaxStreams != api.DefaultMaxStreams || l.MaxStreamsPerClient != api.DefaultMaxStreamsPerClient {
		t.Fatalf("defaults: %d, %d", l.MaxStreams, l.MaxStreamsPerClient)
	}
	env := map[string]string{"FLASHDROP_MAX_STREAMS": "100", "FLASHDROP_MAX_STREAMS_PER_CLIENT": "-1"}
	m = NewMainWith(env)
	if err := m.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if l := m.Config.Limits; l.MaxStreams != 100 || l.MaxStreamsPerClient != -1 {
		t.Fatalf("from the environment: %d, %d", l.MaxStreams, l.MaxStreamsPerClient)
	}
	m = NewMainWith(env)
	if err := m.ParseFlags([]string{"--max-streams", "7", "--max-streams-per-client", "2"}); err != nil {
		t.Fatal(err)
	}
	if l := m.Config.Limits; l.MaxStreams != 7 || l.MaxStreamsPerClient != 2 {
		t.Fatalf("flags over the environment: %d, %d", l.MaxStreams, l.MaxStreamsPerClient)
	}
	env["FLASHDROP_MAX_STREAMS"] = "many"
	if err := NewMainWith(env).ParseFlags(nil); err == nil {
		t.Fatal("a bad FLASHDROP_MAX_STREAMS must be refused")
	}
}
