// Command flashdrop is the one binary: `serve` runs the engine, and small
// helpers live beside it. Flags and FLASHDROP_* environment variables are
// read here and nowhere else; this is the only package that wires the
// others together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/redis/go-redis/v9"

	"github.com/flashdrop/flashdrop/api"
)

// version is set at build time with -ldflags "-X main.version=…";
// without it, a binary go build made from a checkout says its commit
// ("dev-1a2b3c4d5e6f", "-dirty" with uncommitted changes), so a fleet's
// logs tell which build each node runs.
var version = buildVersion("dev")

// buildVersion is def with the VCS revision Go stamped into the binary,
// when it did (go build in a checkout; not go run or go test).
func buildVersion(def string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return def
	}
	var rev, dirty string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) < 12 {
		return def
	}
	return def + "-" + rev[:12] + dirty
}

func main() {
	// go-redis prints its connection pool's failures on stderr by itself
	// ("redis: … pool.go:…: failed to dial after 5 attempts"), four
	// lines before serve's own message of an unreachable Redis: they go
	// to serve's log at debug instead. Set once here, for the process
	// (tests run serve in-process and keep go-redis's default).
	redis.SetLogger(redisLogger{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// redisLogger forwards go-redis's own lines to the running serve's log
// at debug (nowhere before it has one, or in the other commands).
type redisLogger struct{}

// redisLog is the log of the serve running in this process.
var redisLog atomic.Pointer[slog.Logger]

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l := redisLog.Load(); l != nil {
		l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stdout, stderr)
	case "token":
		err = token(args[1:], stdout, stderr, nil, time.Now())
	case "events":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = events(ctx, args[1:], stdout, stderr, nil)
		stop()
	case "listen":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = listen(ctx, args[1:], stdout, stderr, nil)
		stop()
	case "keys":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = keys(ctx, args[1:], stdout, stderr, nil)
		stop()
	case "load":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return (&loadCmd{Stdout: stdout, Stderr: stderr}).Run(ctx, args[1:])
	case "verify-draw":
		return verifyDraw(args[1:], stdout, stderr, nil) // exit codes of its own
	case "version":
		fmt.Fprintln(stdout, "flashdrop", version)
	case "help", "-h", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "flashdrop: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "flashdrop:", err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: flashdrop <command> [flags]

commands:
  serve     run the engine (no flags: embedded in-process Redis and a demo drop)
  token     mint a shopper token: flashdrop token --user ID [--ttl 24h]
  events    tail events as JSON lines: flashdrop events [--drop ID] [--type won]
  load      rehearse release day with an audit: flashdrop load --embedded, or --target URL …
  verify-draw  recompute a draw from its public record: flashdrop verify-draw --target URL --drop ID
  listen    stream the deployment's events, optionally forwarded signed to a local receiver:
            flashdrop listen --target URL --admin-token T [--types won] [--drop ID] [--json] [--forward-to URL]
  keys      manage API keys: flashdrop keys create --name N --scopes events:read | list | rotate ID | revoke ID
  version   print the version

Run "flashdrop <command> --help" for a command's flags.
`)
}

// serve runs until SIGINT or SIGTERM, then shuts down gracefully.
func serve(args []string, stdout, stderr io.Writer) error {
	m := NewMain(stdout, stderr)
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	// Process-wide, so here rather than in Run: tests run many Mains in
	// one process and keep the test binary's own setting.
	if pct, ok := m.Config.gcPercent(os.LookupEnv); ok {
		debug.SetGCPercent(pct)
	}
	// Logged by Run, once the logger exists, in the configured format.
	m.memLimitErr = setMemoryLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		m.log.Info("shutting down: finishing requests in flight")
	case err := <-m.Err():
		_ = m.Close()
		return err
	}
	return m.Close()
}

// setMemoryLimit gives the Go runtime a soft memory limit of 90 % of the
// container's memory (its cgroup limit), or of the machine's where there
// is none, unless GOMEMLIMIT is set. AUTOMEMLIMIT, read by the library,
// replaces the 90 % with its own ratio (0 to 1), or "off" sets no limit. With the
// collection target at DefaultGCPercent the heap may grow to five times
// the live one between collections; near the limit the runtime collects
// sooner instead, so a node in a small container is not killed for memory
// it could have freed.
func setMemoryLimit() error {
	_, err := memlimit.Set(memlimit.WithRatio(0.9),
		memlimit.WithProvider(memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)))
	return err
}

// token mints a shopper token with the configured secret.
func token(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool), now time.Time) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usageWithEnv(fs, "flashdrop token --user ID [flags]")
	user := fs.String("user", "", "the shopper id (the token's sub)")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token is valid")
	secret := fs.String("jwt-secret", "", "the HS256 secret serve uses")
	iss := fs.String("jwt-issuer", "", "iss claim, if serve checks one")
	aud := fs.String("jwt-audience", "", "aud claim, if serve checks one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnv(fs, lookup); err != nil {
		return err
	}
	if *secret == "" {
		return errors.New("token: --jwt-secret (or FLASHDROP_JWT_SECRET) is required")
	}
	if *user == "" {
		return errors.New("token: --user is required")
	}
	tok, err := api.MintShopperToken([]byte(*secret), *user, *ttl, now, *iss, *aud)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
