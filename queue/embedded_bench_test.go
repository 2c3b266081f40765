package queue

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
)

// processCPU is this process's user and system CPU time so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// embeddedStream runs an embedded NATS server for the benchmark, with
// the stream as serve makes it (embedded or not), and returns a client's
// JetStream context; both stop when the benchmark ends.
func embeddedStream(b *testing.B, embedded bool) jetstream.JetStream {
	b.Helper()
	srv, err := StartEmbedded(EmbeddedOptions{StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := EnsureStream(context.Background(), js, StreamOptions{Embedded: embedded}); err != nil {
		b.Fatal(err)
	}
	return js
}

// BenchmarkEmbeddedPublish publishes won-sized events into the embedded
// NATS server's stream the way the relay does (async, with a message id,
// waiting for every ack), with the stream's persistence as serve sets it
// for an embedded server and as it does for an external one. It reports
// this process's CPU per event, the server's share included: the cost an
// event puts on a node that runs the embedded default.
func BenchmarkEmbeddedPublish(b *testing.B) {
	for _, embedded := range []bool{false, true} {
		b.Run("embedded="+strconv.FormatBool(embedded), func(b *testing.B) {
			js := embeddedStream(b, embedded)
			body := make([]byte, 520) // about a won event's CloudEvent
			for i := range body {
				body[i] = 'x'
			}
			const window = 256
			futures := make([]jetstream.PubAckFuture, 0, window)
			wait := func() {
				for _, f := range futures {
					select {
					case <-f.Ok():
					case err := <-f.Err():
						b.Fatal(err)
					}
				}
				futures = futures[:0]
			}
			cpu0 := processCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msg := &nats.Msg{Subject: "flashdrop.bench.won", Data: body, Header: nats.Header{}}
				msg.Header["Nats-Msg-Id"] = []string{fmt.Sprintf("bench-%d", i)}
				f, err := js.PublishMsgAsync(msg)
				if err != nil {
					b.Fatal(err)
				}
				futures = append(futures, f)
				if len(futures) == window {
					wait()
				}
			}
			wait()
			b.StopTimer()
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
		})
	}
}

// BenchmarkRelayPublish runs the relay's publish step (events to
// CloudEvents, messages, acks) on batches of 256 outbox entries of 16
// won events each, into an embedded server's stream, and reports this
// process's CPU and allocations per event, the server's share included.
func BenchmarkRelayPublish(b *testing.B) {
	js := embeddedStream(b, true)
	ctx := context.Background()
	r := NewRelay(nil, nil, js, RelayOptions{PublicURL: "https://shop.example"})
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	d := engine.Drop{ID: "bench", Product: "Sneaker", SaleStartsAt: start}
	const perEntry, entries = 16, 256
	batch := func(n int) []engine.OutboxEntry {
		out := make([]engine.OutboxEntry, entries)
		for i := range out {
			evs := make([]engine.Event, perEntry)
			for j := range evs {
				k := (n*entries+i)*perEntry + j
				evs[j] = engine.Event{ID: fmt.Sprintf("n%d-%d", n*entries+i, j+1), Type: engine.EventWon,
					Time: start.Add(time.Second), Drop: d.ID, Reservation: fmt.Sprintf("bench.%020d", k),
					User: fmt.Sprintf("buyer-%d", k), Quantity: 1, ExpiresAt: start.Add(11 * time.Minute),
					ShareCode: fmt.Sprintf("bench.%020d", k+1)}
			}
			out[i] = engine.OutboxEntry{Ref: strconv.Itoa(i), Events: evs}
		}
		return out
	}
	var cpu time.Duration
	var allocs uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		in := batch(n)
		runtime.ReadMemStats(&ms)
		a0, c0 := ms.Mallocs, processCPU(b)
		b.StartTimer()
		done, err := r.publish(ctx, d, in)
		b.StopTimer()
		cpu += processCPU(b) - c0
		runtime.ReadMemStats(&ms)
		allocs += ms.Mallocs - a0
		if err != nil || len(done) != entries {
			b.Fatalf("published %d of %d entries: %v", len(done), entries, err)
		}
		b.StartTimer()
	}
	events := float64(b.N * entries * perEntry)
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/events, "cpu-µs/event")
	b.ReportMetric(float64(allocs)/events, "allocs/event")
}
