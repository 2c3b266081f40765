package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/queue"
	"github.com/flashdrop/flashdrop/queue/natstest"
)

// severalTypesStream is a stream where a type read since a time had
// events before it (won, seq 1) and another type's first event ever comes
// after it (sold_out, seq 4), with more of the first type in between (won,
// seqs 2 and 3) and after (won, seq 5): the layout where nats-server
// starts a consumer with both filters by time at seq 4, skipping 2 and 3.
func severalTypesStream(t *testing.T) (js jetstream.JetStream, since time.Time) {
	t.Helper()
	_, js = natstest.Start(t).Connect(t)
	if _, err := queue.EnsureStream(ctx(t), js, queue.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	pub := func(typ engine.EventType) {
		t.Helper()
		if _, err := js.PublishMsg(ctx(t), &nats.Msg{Subject: queue.Subject("tuesday", typ), Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	pub(engine.EventWon)
	// The stream stamps a message with the server's clock when it stores
	// it, this process's clock: since is after seq 1's (acknowledged, so
	// stored), before seq 2's.
	since = time.Now()
	for _, typ := range []engine.EventType{engine.EventWon, engine.EventWon, engine.EventSoldOut, engine.EventWon} {
		pub(typ)
	}
	return js, since
}

// TestSeqAt: the sequence stored first at or after a time, and one past
// the stream's last when nothing was stored since.
func TestSeqAt(t *testing.T) {
	js, since := severalTypesStream(t)
	for _, c := range []struct {
		at   time.Time
		want uint64
	}{{since.Add(-time.Hour), 1}, {since, 2}, {time.Now().Add(time.Hour), 6}} {
		if got, err := queue.SeqAt(ctx(t), js, c.at); err != nil || got != c.want {
			t.Errorf("SeqAt(%s) = %d, %v; want %d", c.at.Format(time.StampMicro), got, err, c.want)
		}
	}
	// The probe leaves no consumer behind for long.
	st, err := js.Stream(ctx(t), queue.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := st.Info(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d probe consumers still on the stream after 10 s", info.State.Consumers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFollowSinceWithSeveralTypes: the admin event stream and `listen`
// since a time, of two types, get every event of both since then. By time,
// the server started them at the first sold_out ever, and the wins before
// it were never read.
func TestFollowSinceWithSeveralTypes(t *testing.T) {
	js, since := severalTypesStream(t)
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, stop, err := queue.NewEventLog(js).Follow(c, engine.EventFilter{Since: since,
		Types: []engine.EventType{engine.EventWon, engine.EventSoldOut}})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var got []string
	for len(got) < 4 {
		select {
		case ev := <-evs:
			got = append(got, fmt.Sprintf("%d:%s", ev.Seq, ev.Type))
		case <-c.Done():
			t.Fatalf("events since %s: %v, then nothing", since.Format(time.StampMicro), got)
		}
	}
	if want := "[2:won 3:won 4:sold_out 5:won]"; fmt.Sprint(got) != want {
		t.Fatalf("events since %s: %v, want %s", since.Format(time.StampMicro), got, want)
	}
}
