package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/engine"
	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/queue"
)

// events tails the FLASHDROP stream as JSON lines (one CloudEvent per
// line) until ctx ends.
func events(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageWithEnv(fs, "flashdrop events [--drop ID] [--type TYPE] [--since 1h | --all]")
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS server URL")
	drop := fs.String("drop", "", "only this drop's events")
	typ := fs.String("type", "", "only events of this type (won, confirmed, sold_out, …)")
	since := fs.Duration("since", 0, "start this long ago instead of with new events")
	all := fs.Bool("all", false, "start with the oldest event the stream keeps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnv(fs, lookup); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("events: unexpected argument %q", fs.Arg(0))
	}
	dropTok, typeTok := "*", "*"
	if *drop != "" {
		if err := engine.ValidateDropID(*drop); err != nil {
			return fmt.Errorf("events: --drop: %w", err)
		}
		dropTok = *drop
	}
	if *typ != "" {
		known := false
		for _, t := range engine.AllEventTypes {
			known = known || string(t) == *typ
		}
		if !known {
			return fmt.Errorf("events: --type: unknown event type %q", *typ)
		}
		typeTok = *typ
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"flashdrop." + dropTok + "." + typeTok},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	switch {
	case *all:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case *since > 0:
		start := time.Now().Add(-*since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc, js, err := queue.Connect(*natsURL, "flashdrop-events", log)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer nc.Close()
	cons, err := js.OrderedConsumer(ctx, queue.StreamName, cfg)
	switch {
	case err != nil && !nc.IsConnected():
		// Connect retries in the background: a NATS that is not there
		// shows as the consumer's deadline, which says nothing.
		return fmt.Errorf("events: NATS at %s does not answer (an embedded serve prints its own NATS in its banner: \"This run's NATS: …\")", loadtest.RedactNATS(*natsURL))
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("events: NATS at %s has no %s stream: no serve has used it yet", loadtest.RedactNATS(*natsURL), queue.StreamName)
	case err != nil:
		return fmt.Errorf("events: stream %s: %w", queue.StreamName, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("events: %w", err)
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", msg.Data()); err != nil {
			return err // the reader went away (a closed pipe)
		}
	}
}
