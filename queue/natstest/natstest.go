// Package natstest runs a real NATS server with JetStream in the test's
// process, on a free loopback port, and can stop and restart it on the same
// port and store, to test what happens while NATS is down.
package natstest

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flashdrop/flashdrop/queue"
)

// Server is one test's NATS server.
type Server struct {
	mu   sync.Mutex
	srv  *server.Server
	dir  string
	port int
}

// Start runs a server for the test; it is shut down when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{dir: tb.TempDir()}
	srv, err := queue.StartEmbedded(queue.EmbeddedOptions{StoreDir: s.dir})
	if err != nil {
		tb.Fatal(err)
	}
	s.srv = srv
	_, port, _ := net.SplitHostPort(srv.Addr().String())
	s.port, _ = strconv.Atoi(port)
	tb.Cleanup(s.Stop)
	return s
}

// URL is the client URL of the server (stable across restarts).
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// HasInterest reports whether any client subscribes to subject on the
// server (in the default account), so a test can publish a core NATS
// message once it knows someone listens.
func (s *Server) HasInterest(subject string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return false
	}
	acc := s.srv.GlobalAccount()
	return acc != nil && acc.SubscriptionInterest(subject)
}

// Stop shuts the server down, keeping its store. Safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart starts the server again on the same port with the same store.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	srv, err := queue.StartEmbedded(queue.EmbeddedOptions{StoreDir: s.dir, Port: s.port})
	if err != nil {
		tb.Fatal(err)
	}
	s.srv = srv
}

// Connect is a client of the server that keeps reconnecting across Stop
// and Restart, and its JetStream context; closed when the test ends.
func (s *Server) Connect(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}
