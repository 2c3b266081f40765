package redistest

import (
	"go.uber.org/goleak"

	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// readyTimeout bounds how long a freshly started server may take to
	// answer PING; a healthy local redis-server needs milliseconds, so
	// hitting this means it is wedged, not slow.
	readyTimeout = 10 * time.Second
	// maxStartAttempts bounds retries when the chosen port was taken by
	// someone else between our probe and redis-server's bind.
	maxStartAttempts = 5
	// maxLogBytes caps the log tail quoted in errors so a chatty server
	// cannot drown the test report.
	maxLogBytes = 16 << 10
)

// errPortInUse marks a start failure caused by losing the port race, the
// only failure worth retrying on a different port.
var errPortInUse = errors.New("port already in use")

// Available reports whether redis-server and redis-cli are on PATH. It
// returns an error naming the missing binary and how to install it.
func Available() error {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("redistest: %s not found on PATH: run `apt-get install redis-server` (or `make test`)", bin)
		}
	}
	return nil
}

// Require skips tb when redis is not installed, so that `go test ./...`
// works on a bare developer machine. Under CI=true it fails instead: in CI a
// missing binary is a broken image, and skipping would hide every redis test.
func Require(tb testing.TB) {
	tb.Helper()
	err := Available()
	if err == nil {
		return
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		tb.Fatalf("%v (CI=true, so this is a failure rather than a skip)", err)
	}
	tb.Skipf("skipping: %v", err)
}

// Server is a redis-server process listening on 127.0.0.1, with persistence
// disabled and a private temporary working directory.
type Server struct {
	// Addr is the host:port the server listens on.
	Addr string

	dir       string
	args      []string // extra redis-server flags, kept for Restart
	proc      *process
	closeOnce sync.Once
	closeErr  error
}

// Start launches a standalone redis-server on a free loopback port and
// returns once it answers PING. The caller must Close it.
func Start() (*Server, error) { return start() }

// StartDurable is Start with the persistence production uses: AOF with
// appendfsync always, so every write a client saw acknowledged is on disk
// and survives Kill and Restart.
func StartDurable() (*Server, error) { return start("--appendonly", "yes", "--appendfsync", "always") }

// Kill sends the server SIGKILL and waits for it to die: a crash.
func (s *Server) Kill() { s.proc.stop() }

// Restart starts a killed server again on the same port and directory
// (so on its AOF) and waits until it answers PING.
func (s *Server) Restart() error {
	select {
	case <-s.proc.done:
	default:
		return fmt.Errorf("redistest: %s is running", s.Addr)
	}
	_, portS, _ := net.SplitHostPort(s.Addr)
	port, _ := strconv.Atoi(portS)
	p, err := startProcess(s.dir, port, s.args...)
	if err != nil {
		return err
	}
	s.proc = p
	return nil
}

func start(args ...string) (*Server, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("redistest: create temp dir: %w", err)
	}
	var lastErr error
	for range maxStartAttempts {
		var port int
		port, lastErr = freePort()
		if lastErr != nil {
			continue
		}
		var p *process
		p, lastErr = startProcess(dir, port, args...)
		if lastErr == nil {
			return &Server{Addr: p.addr, dir: dir, args: args, proc: p}, nil
		}
		if !errors.Is(lastErr, errPortInUse) {
			break
		}
	}
	_ = os.RemoveAll(dir)
	return nil, lastErr
}

// Client returns a new client connected to the server. Each caller gets its
// own so it can Close it without affecting other tests.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.Addr})
}

// Close kills the server, waits for it to exit and removes its directory.
// It is safe to call more than once (e.g. from defer and t.Cleanup); later
// calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.proc.stop()
		if err := os.RemoveAll(s.dir); err != nil {
			s.closeErr = fmt.Errorf("redistest: remove %s: %w", s.dir, err)
		}
	})
	return s.closeErr
}

// freePort asks the kernel for an unused loopback port. The port is released
// before redis-server binds it, so the caller must retry on errPortInUse.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: find free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// process is one running redis-server.
type process struct {
	addr    string
	cmd     *exec.Cmd
	log     *logBuffer
	done    chan struct{} // closed once cmd.Wait returns
	waitErr error         // valid after done is closed
}

// startProcess runs redis-server on port with the common flags plus extra,
// and waits until it answers PING. On any error the process is already dead.
func startProcess(dir string, port int, extra ...string) (*process, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--protected-mode", "yes",
	}, extra...)
	p := &process{addr: addr, log: &logBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command("redis-server", args...)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	p.cmd.SysProcAttr = sysProcAttr()
	// A forked child (e.g. BGSAVE issued by a test) inherits the output
	// pipe; without WaitDelay, Wait would block until that child exits.
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("redistest: start redis-server on %s: %w", addr, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// waitReady polls PING with a growing backoff until it succeeds, the process
// exits, or readyTimeout passes.
func (p *process) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	backoff := 2 * time.Millisecond
	for {
		err := ping(p.addr, p.cmd.Process.Pid)
		if err == nil {
			return nil
		}
		timer := time.NewTimer(backoff)
		select {
		case <-p.done:
			timer.Stop()
			if strings.Contains(p.log.String(), "Address already in use") {
				return fmt.Errorf("redistest: redis-server on %s: %w%s", p.addr, errPortInUse, p.logSuffix())
			}
			return fmt.Errorf("redistest: redis-server on %s exited before answering PING (%v)%s", p.addr, p.waitErr, p.logSuffix())
		case <-timer.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: redis-server on %s did not answer PING within %v: %v%s", p.addr, readyTimeout, err, p.logSuffix())
		}
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}

// ping asks the server at addr for its pid over a fresh connection and
// succeeds only if it is want. Checking the pid, not just PONG, matters
// because the port was free only when we probed it: if another server (say,
// one from a parallel test binary) grabbed it first, ours dies on bind while
// the impostor would answer PING. It deliberately avoids go-redis, whose pool
// retries failed dials with its own backoff, logs each failure and then
// throttles redials, all of which would blur this poll loop.
func ping(addr string, want int) error {
	conn, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("INFO server\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	header, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	header = strings.TrimSpace(header)
	size, err := strconv.Atoi(strings.TrimPrefix(header, "$"))
	if !strings.HasPrefix(header, "$") || err != nil {
		return fmt.Errorf("INFO replied %q", header) // e.g. -LOADING
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if pid, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			if pid != strconv.Itoa(want) {
				return fmt.Errorf("%s is served by pid %s, not our redis-server (pid %d)", addr, pid, want)
			}
			return nil
		}
	}
	return fmt.Errorf("INFO server from %s has no process_id", addr)
}

// stop kills the process and waits for it. SIGKILL is enough: there is no
// persistence to flush, and a graceful shutdown would only add latency.
func (p *process) stop() {
	_ = p.cmd.Process.Kill() // fails only if already exited, which is fine
	<-p.done
}

// logSuffix formats the server's output for inclusion in an error message.
func (p *process) logSuffix() string {
	log := strings.TrimSpace(p.log.String())
	if len(log) > maxLogBytes {
		log = "...\n" + log[len(log)-maxLogBytes:]
	}
	if log == "" {
		log = "(empty)"
	}
	return fmt.Sprintf("\n--- redis-server %s log ---\n%s\n--- end log ---", p.addr, log)
}

// logBuffer collects a server's stdout and stderr. It is locked because
// os/exec writes from its copying goroutine while errors read it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lazy holds one instance started on first use and closed by Main. A failed
// start is cached too, so every later test fails fast instead of each paying
// the full start-up timeout again.
type lazy[T interface{ Close() error }] struct {
	mu      sync.Mutex
	started bool
	closed  bool
	val     T
	err     error
}

func (l *lazy[T]) get(start func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		var zero T
		return zero, errors.New("redistest: shared instance used after Main closed it")
	}
	if !l.started {
		l.started = true
		l.val, l.err = start()
	}
	return l.val, l.err
}

func (l *lazy[T]) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if !l.started || l.err != nil {
		return nil
	}
	return l.val.Close()
}

var (
	sharedServer  lazy[*Server]
	sharedCluster lazy[*Cluster]
)

// Shared returns the test binary's shared standalone server, starting it on
// first use; it skips or fails tb via Require when redis is not installed.
// The package must call Main from TestMain so the server is closed.
//
// Tests sharing the server must use their own key namespace (their own drop
// ids) and must not flush the database, because other tests, possibly
// running in parallel, hold keys in it.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	Require(tb)
	s, err := sharedServer.get(Start)
	if err != nil {
		tb.Fatalf("redistest: shared server: %v", err)
	}
	return s
}

// FastHTTPLingerers are goroutines fasthttp leaves on purpose: a
// process-wide date updater and DNS cache cleaner, a stopped server's
// worker-pool cleaner and a client's idle-connection cleaner, which notice
// they are done only after their idle sleep. Pass them to Main in
// packages whose tests run fasthttp servers or clients.
var FastHTTPLingerers = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
}

// Main runs the tests and then closes the shared server and cluster, if they
// were started, before exiting with the tests' status. Use it as
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// TestMain is the only hook that runs after every test in the binary, which
// is why the shared instances are closed here rather than in t.Cleanup. A
// cleanup failure fails an otherwise green run, since it means a leak.
// So does a goroutine that outlives the tests (a client or a background
// worker someone forgot to close); ignore names goroutines of libraries
// that are known to linger on their own.
func Main(m *testing.M, ignore ...goleak.Option) {
	before := append([]goleak.Option{goleak.IgnoreCurrent()}, ignore...)
	code := m.Run()
	if err := errors.Join(sharedServer.close(), sharedCluster.close()); err != nil {
		fmt.Fprintf(os.Stderr, "redistest: closing shared instances: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(before...); err != nil {
			fmt.Fprintf(os.Stderr, "redistest: goroutines leaked by the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
