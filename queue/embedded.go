package queue

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure the in-process NATS server.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's files; required.
	StoreDir string
	// Port to listen on, on 127.0.0.1; 0 picks a free one (-1 in the
	// server's options), which is what tests and the default want.
	Port int
}

// StartEmbedded runs a NATS server with JetStream inside this process, on
// loopback only, and waits until it accepts clients.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  o.StoreDir,
		NoLog:     true,
		NoSigs:    true,
		// Events are small; 1 MiB is NATS's default, stated so a change is
		// deliberate. (A single embedded server has no cluster: the stream
		// runs with one replica, --stream-replicas' default.)
		MaxPayload: 1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start")
	}
	return srv, nil
}
