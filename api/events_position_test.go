package api_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flashdrop/flashdrop/api"
	"github.com/flashdrop/flashdrop/engine"
)

// positionLog is an event log whose follower opened at position 7, then
// got event 8, then passed over 9 and 10 (a rehearsal's, say).
type positionLog struct{}

func (positionLog) Follow(ctx context.Context, f engine.EventFilter) (<-chan engine.StoredEvent, func(), error) {
	ch := make(chan engine.StoredEvent, 4)
	ch <- engine.StoredEvent{Seq: 7}
	ch <- engine.StoredEvent{Seq: 8, Type: engine.EventWon, Drop: "d", Data: []byte(`{"x":1}`)}
	ch <- engine.StoredEvent{Seq: 9}
	ch <- engine.StoredEvent{Seq: 10}
	return ch, func() {}, nil
}

// TestEventStreamTellsItsPosition: the admin event stream tells its
// position as an SSE id with no data where it opened, and with the next
// heartbeat past events it passed over, so a reconnect resumes there
// (no clock, and nothing read twice); an event's frame is as before.
func TestEventStreamTellsItsPosition(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *api.Config) {
		c.Events = positionLog{}
		c.LiveHeartbeat = 50 * time.Millisecond
	})
	req, _ := http.NewRequest("GET", "http://flashdrop.test/v1/admin/events", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 5 {
		select {
		case l := <-lines:
			if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "retry:") {
				got = append(got, l)
			}
		case <-timeout:
			t.Fatalf("lines so far: %q", got)
		}
	}
	want := []string{"id: 7", "id: 8", "event: won", `data: {"x":1}`, "id: 10"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("frames %q, want %q", got, want)
	}
}
