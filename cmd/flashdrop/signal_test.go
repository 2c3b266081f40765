package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeStopsCleanlyOnSIGTERM runs the real `serve` command in a child
// process (this test binary, re-executed), sends it SIGTERM, and expects a
// graceful shutdown: exit status 0 and the shutdown logged.
func TestServeStopsCleanlyOnSIGTERM(t *testing.T) {
	if os.Getenv("FLASHDROP_TEST_CHILD") == "serve" {
		os.Exit(run([]string{"serve", "--listen", "127.0.0.1:0", "--no-demo", "--log-level", "info"}, os.Stdout, os.Stderr))
	}
	// Without GOGC, serve sets its own collection target and logs it.
	stderr := serveChildUntilSIGTERM(t)
	if want := fmt.Sprintf("gogc=%d", DefaultGCPercent); !regexp.MustCompile(want + `(\s|$)`).MatchString(stderr) {
		t.Fatalf("serve did not log %s:\n%s", want, stderr)
	}
	// And a soft memory limit from the container or the machine: the
	// runtime's default is no limit (math.MaxInt64).
	lim := regexp.MustCompile(`gomemlimit=(\d+)`).FindStringSubmatch(stderr)
	if lim == nil {
		t.Fatalf("serve did not log its memory limit:\n%s", stderr)
	}
	if n, err := strconv.ParseInt(lim[1], 10, 64); err != nil || n <= 0 || n == math.MaxInt64 {
		t.Fatalf("serve's memory limit is %s, want one below the runtime's no-limit", lim[1])
	}
}

// TestServeWarnsWithoutMemoryLimit: when serve cannot set its soft memory
// limit (here AUTOMEMLIMIT is not a ratio), it still serves, and says so
// in its log, in the log's format (JSON here), not as stray text.
func TestServeWarnsWithoutMemoryLimit(t *testing.T) {
	stderr := serveChildUntilSIGTERM(t, "AUTOMEMLIMIT=most", "FLASHDROP_LOG_FORMAT=json")
	var warned bool
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line that is not JSON: %q", line)
		}
		if rec["level"] == "WARN" && strings.Contains(fmt.Sprint(rec["msg"]), "no soft memory limit") &&
			strings.Contains(fmt.Sprint(rec["err"]), "AUTOMEMLIMIT") {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no warning about the memory limit:\n%s", stderr)
	}
}

// serveChildUntilSIGTERM runs TestServeStopsCleanlyOnSIGTERM's child (the
// real serve) with GOGC, GOMEMLIMIT and AUTOMEMLIMIT cleared and env
// added, waits until it answers /healthz, stops it with SIGTERM, checks
// that it shut down cleanly, and returns its stderr.
func serveChildUntilSIGTERM(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeStopsCleanlyOnSIGTERM$")
	cmd.Env = append(withoutVars(os.Environ(), "GOGC", "GOMEMLIMIT", "AUTOMEMLIMIT"), "FLASHDROP_TEST_CHILD=serve")
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base, ok := listeningURL(stdout)
	if !ok {
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	if r := call(t, "GET", base+"/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Fatalf("no shutdown logged:\n%s", stderr.String())
	}
	return stderr.String()
}

// listeningURL reads a child serve's stdout up to its banner's "listening
// on http://..." line and returns that URL; false if none came within 30
// s. It drains stdout to the end, so the child never blocks on the pipe.
func listeningURL(stdout io.Reader) (string, bool) {
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`listening on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return a, true
	case <-time.After(30 * time.Second):
		return "", false
	}
}

// withoutVars is env without the variables names.
func withoutVars(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}
