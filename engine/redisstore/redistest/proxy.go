package redistest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what a Proxy does with the reply to one request.
type Fault int

const (
	// Pass forwards the reply.
	Pass Fault = iota
	// DropReply lets Redis run the request and then closes both
	// connections before the reply reaches the client: the outcome a
	// connection reset after execution has, where the client cannot know
	// whether its command ran.
	DropReply
	// DelayReply holds the reply back for the proxy's Delay before
	// forwarding it, past a client's read timeout.
	DelayReply
)

// Proxy is a TCP proxy in front of a Redis server that can lose or delay
// replies on purpose, for tests of what a client's retries do. Every
// request goes through unchanged; Decide picks the fate of its reply.
type Proxy struct {
	// Decide is called with each request as read from the client (one
	// read; go-redis writes a command in one write) and returns the fate
	// of the reply that follows. Set it before clients connect.
	Decide func(req []byte) Fault
	// Delay is how long DelayReply holds a reply.
	Delay time.Duration

	ln     net.Listener
	target string
	faults atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string, decide func(req []byte) Fault) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{Decide: decide, Delay: time.Second, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Faults is how many replies were dropped or delayed so far.
func (p *Proxy) Faults() int64 { return p.faults.Load() }

// IsScript reports whether a request is a script call (EVAL or EVALSHA).
func IsScript(req []byte) bool {
	return bytes.Contains(req, []byte("EVALSHA")) || bytes.Contains(req, []byte("evalsha")) ||
		bytes.Contains(req, []byte("\r\nEVAL\r\n")) || bytes.Contains(req, []byte("\r\neval\r\n"))
}

// Close stops the proxy and cuts every connection through it.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)

	// pending is the fate of the next reply; the request side sets it
	// before forwarding the request, so the reply side always sees it.
	var pending atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				f := Pass
				if p.Decide != nil {
					f = p.Decide(buf[:n])
				}
				pending.Store(int32(f))
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			switch Fault(pending.Swap(int32(Pass))) {
			case DropReply:
				p.faults.Add(1)
				client.Close()
				server.Close()
				<-done
				return
			case DelayReply:
				p.faults.Add(1)
				time.Sleep(p.Delay) // the fault itself: a reply late on the wire
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				client.Close()
			}
			break
		}
	}
	client.Close()
	server.Close()
	<-done
}
