package loadtest_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/flashdrop/flashdrop/loadtest"
	"github.com/flashdrop/flashdrop/loadtest/fakeserver"
)

const (
	adminToken = "admin-token-for-tests-0123456789"
	secret     = "a-jwt-secret-of-at-least-32-bytes!!"
)

// startNATS runs a JetStream server in the test's process on a free
// loopback port.
func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

func startFake(t *testing.T, o fakeserver.Options) *fakeserver.Server {
	t.Helper()
	o.AdminToken, o.JWTSecret = adminToken, []byte(secret)
	f, err := fakeserver.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func baseOptions(target string) loadtest.Options {
	return loadtest.Options{Targets: []string{target}, AdminToken: adminToken, JWTSecret: []byte(secret),
		Users: 200, Stock: 20, HoldSeconds: 1, Lead: 300 * time.Millisecond, Connections: 8, Seed: 7, MaxGeneratorCPU: -1}
}

func TestRunAgainstFakeWithEventsPasses(t *testing.T) {
	nurl := startNATS(t)
	f := startFake(t, fakeserver.Options{NATSURL: nurl})
	o := baseOptions(f.URL)
	o.NATSURL = nurl
	o.Presses = 2
	rep, err := loadtest.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	if rep.ExitCode != 0 {
		t.Fatalf("exit %d\n%s", rep.ExitCode, b.String())
	}
	if !strings.Contains(b.String(), "audit: PASS") {
		t.Fatalf("%s", b.String())
	}
	t.Log(b.String())
}
