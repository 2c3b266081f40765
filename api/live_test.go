package api

import "testing"

// TestStreamSlots: both bounds hold, a release is counted once however
// often it is called, and an address with no stream left is forgotten.
func TestStreamSlots(t *testing.T) {
	sl := newStreamSlots(3, 2)
	a1, ok1 := sl.acquire("a")
	_, ok2 := sl.acquire("a")
	if _, ok := sl.acquire("a"); !ok1 || !ok2 || ok {
		t.Fatalf("per client: %v %v %v", ok1, ok2, ok)
	}
	b1, ok := sl.acquire("b")
	if !ok {
		t.Fatal("another client is not held back")
	}
	if _, ok := sl.acquire("c"); ok || sl.count() != 3 {
		t.Fatalf("per node: %v, %d open", ok, sl.count())
	}
	a1()
	a1()
	if sl.count() != 2 {
		t.Fatalf("a release twice counted twice: %d open", sl.count())
	}
	if _, ok := sl.acquire("c"); !ok {
		t.Fatal("a released slot is free")
	}
	b1()
	if _, known := sl.byClient["b"]; known {
		t.Fatal("an address without streams is kept")
	}
	unbounded := newStreamSlots(2, -1)
	for i := 0; i < 2; i++ {
		if _, ok := unbounded.acquire("a"); !ok {
			t.Fatal("no per-client bound when negative")
		}
	}
}
