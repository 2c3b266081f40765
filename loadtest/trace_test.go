package loadtest_test

import (
	"context"
	"sync"
	"testing"

	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
)

// TestTraceSeesEveryExchange: WithTrace reports each request with its
// shopper, key and answer: as many reserve exchanges as the report counts,
// every one of a shopper named, and the wins' bodies kept.
func TestTraceSeesEveryExchange(t *testing.T) {
	f, hook := startTimedFake(t, fakeserver.Options{})
	var mu sync.Mutex
	var ex []loadtest.Exchange
	rep, err := loadtest.Run(context.Background(), baseOptions(f.URL), hook, loadtest.WithTrace(func(e loadtest.Exchange) {
		mu.Lock()
		ex = append(ex, e)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	reserves, wins, registers, rush := 0, 0, 0, 0
	for _, e := range ex {
		switch e.Endpoint {
		case loadtest.EndpointReserve:
			reserves++
			if e.Phase == loadtest.PhaseRush {
				rush++
			}
			if e.User == "" || e.Admin || e.Sent.IsZero() || e.Done.Before(e.Sent) {
				t.Fatalf("a reserve exchange without its shopper or times: %+v", e)
			}
			if e.Status == 201 {
				wins++
				if len(e.Response) == 0 || e.Key == "" {
					t.Fatalf("a win without its body or key: %+v", e)
				}
			}
		case loadtest.EndpointRegister:
			registers++
		case loadtest.EndpointCreateDrop:
			if !e.Admin {
				t.Fatalf("the drop was not created with the admin token: %+v", e)
			}
		}
	}
	for _, p := range rep.Phases {
		if p.Name == loadtest.PhaseRush && int64(rush) != p.Requests {
			t.Fatalf("traced %d rush exchanges, the report counts %d", rush, p.Requests)
		}
	}
	if wins == 0 || registers == 0 {
		t.Fatalf("traced %d wins and %d registrations", wins, registers)
	}
}
