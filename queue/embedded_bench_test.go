package queue

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// processCPU is this process's user and system CPU time so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
			srv, err := StartEmbedded(EmbeddedOptions{StoreDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := EnsureStream(ctx, js, StreamOptions{Embedded: embedded}); err != nil {
				b.Fatal(err)
			}
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
