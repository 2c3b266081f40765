package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/engine"
)

// indexStore is a DropIndex: it records which drops each refresh reads.
type indexStore struct {
	engine.Store
	ids   []string
	drops map[string]engine.Drop
	read  [][]string
}

func (s *indexStore) DropIDs(context.Context) ([]string, error) { return s.ids, nil }

func (s *indexStore) DropsByID(_ context.Context, ids []string) ([]engine.Drop, error) {
	s.read = append(s.read, append([]string(nil), ids...))
	var out []engine.Drop
	for _, id := range ids {
		if d, ok := s.drops[id]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// TestDropListReadsEachDropOnce: a refresh lists the ids and reads only
// the drops it has not read before (a drop's configuration does not
// change); an id whose drop is not there yet is read again until it is;
// a drop gone from the index leaves the list.
func TestDropListReadsEachDropOnce(t *testing.T) {
	st := &indexStore{drops: map[string]engine.Drop{"a": {ID: "a"}, "b": {ID: "b"}, "c": {ID: "c"}}}
	list := engine.NewDropList(engine.New(st, engine.Options{}), time.Nanosecond)
	listed := func() string {
		t.Helper()
		ds, err := list.Drops(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		return strings.Join(ids, " ")
	}
	for i, step := range []struct {
		ids       []string
		list      string
		read      string
		readCalls int
	}{
		{[]string{"b", "a", "ghost"}, "a b", "b a ghost", 1},
		{[]string{"b", "a", "ghost"}, "a b", "ghost", 2},
		{[]string{"b", "a", "ghost", "c"}, "a b c", "ghost c", 3},
		{[]string{"c", "b"}, "b c", "", 3}, // nothing new: no read at all
		{[]string{"c", "b", "a"}, "a b c", "a", 4},
	} {
		st.ids = step.ids
		if got := listed(); got != step.list {
			t.Fatalf("listing %d: %q, want %q", i+1, got, step.list)
		}
		if len(st.read) != step.readCalls {
			t.Fatalf("listing %d: %d reads in all, want %d", i+1, len(st.read), step.readCalls)
		}
		if got := strings.Join(st.read[len(st.read)-1], " "); step.read != "" && got != step.read {
			t.Fatalf("listing %d read %q, want %q", i+1, got, step.read)
		}
	}
}

// TestDropListRereadsWhatItReadLongAgo: a drop read more than 20 s ago
// is read again, though the list listed every second and its id never
// left the index: a drop deleted may be made again under its id with
// another configuration (a delete that could not take the id out of the
// index, or a list that did not list in between). Within 20 s it reads
// only what is new.
func TestDropListRereadsWhatItReadLongAgo(t *testing.T) {
	st := &indexStore{ids: []string{"a"}, drops: map[string]engine.Drop{"a": {ID: "a", Name: "old"}}}
	list := engine.NewDropList(engine.New(st, engine.Options{}), time.Nanosecond)
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	engine.SetDropListClock(list, func() time.Time { return now })
	name := func() string {
		t.Helper()
		ds, err := list.Drops(context.Background())
		if err != nil || len(ds) != 1 {
			t.Fatalf("%v %v", ds, err)
		}
		return ds[0].Name
	}
	if got := name(); got != "old" {
		t.Fatal(got)
	}
	// Deleted and made again with another name, unseen by this list.
	st.drops["a"] = engine.Drop{ID: "a", Name: "new"}
	for s := 1; s <= 20; s++ {
		now = now.Add(time.Second)
		if got := name(); got != "old" || len(st.read) != 1 {
			t.Fatalf("%d s after the read: %q after %d reads, want the drop as read, no read", s, got, len(st.read))
		}
	}
	now = now.Add(time.Second)
	if got := name(); got != "new" || len(st.read) != 2 {
		t.Fatalf("21 s after the read: %q after %d reads, want the drop read again", got, len(st.read))
	}
	// A reread that finds nothing keeps the drop as read (a fault's empty
	// answer must not take a live drop off the list); the id leaving the
	// index does.
	delete(st.drops, "a")
	now = now.Add(21 * time.Second)
	if got := name(); got != "new" {
		t.Fatalf("a reread that found nothing: %q", got)
	}
	st.ids = nil
	now = now.Add(time.Second)
	if ds, err := list.Drops(context.Background()); err != nil || len(ds) != 0 {
		t.Fatalf("an id out of the index: %v %v", ds, err)
	}
}
