package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp/fasthttputil"
)

// emfileListener fails its first accepts with "too many open files", as a
// node that ran out of descriptors does, then accepts normally.
type emfileListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: fmt.Errorf("accept4: %w", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestServesOnAfterRunningOutOfDescriptors: fasthttp's accept loop gives
// up on EMFILE; the server's listener waits and accepts again instead.
func TestServesOnAfterRunningOutOfDescriptors(t *testing.T) {
	mem := fasthttputil.NewInmemoryListener()
	ln := &emfileListener{Listener: mem}
	ln.failures.Store(3)
	cfg := stubConfig(t, &stubStore{})
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Dial: func(string, string) (net.Conn, error) { return mem.Dial() }}}
	resp, err := client.Get("http://x/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after EMFILE: %v %v", resp, err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-done
	if ln.failures.Load() >= 0 {
		t.Fatal("the listener never failed: the test tests nothing")
	}
}

// TestServeAfterShutdown: a Serve that starts after Shutdown (its
// goroutine scheduled late) returns at once and closes its listener, and
// one that Shutdown raced with returns too: fasthttp's Shutdown alone
// closes only listeners its Serve has registered.
func TestServeAfterShutdown(t *testing.T) {
	fresh := func() (*Server, net.Listener) {
		t.Helper()
		s, err := New(stubConfig(t, &stubStore{}))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return s, ln
	}
	s, ln := fresh()
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after Shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve after Shutdown did not return")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the listener is still open: %v", err)
	}

	// Shutdown racing Serve's start, many times.
	for i := range 50 {
		s, ln := fresh()
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		if err := s.Shutdown(t.Context()); err != nil {
			t.Fatalf("round %d: shutdown: %v", i, err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Serve did not return after Shutdown", i)
		}
	}
}
