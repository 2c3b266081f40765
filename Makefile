# flashdrop — see README.md. `make help` lists the targets.
GO        ?= go
BENCHTIME ?= 2s
# An execution count (Nx), not a duration: Go 1.26's fuzz coordinator can
# fail a duration-bounded run with a bare "context deadline exceeded" and
# no failing input when a busy worker misses the deadline
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME  ?= 100000x
# package:FuzzTarget pairs; each runs for FUZZTIME in `make fuzz`.
FUZZ_TARGETS = ./api:FuzzHandler ./api:FuzzAuthenticate ./engine:FuzzIdentifiers \
               ./api:FuzzDecodeReserve ./api:FuzzDecodeRegister ./api:FuzzDecodeCreateDrop ./api:FuzzDecodeCreateWebhook \
               ./api:FuzzDecodeCreateSeries ./api:FuzzDecodeCreateKey ./api:FuzzDecodeRotateKey ./api:FuzzDecodeReplay \
               ./api:FuzzDecodeDismiss \
               ./engine/redisstore:FuzzDecodeEntry ./queue:FuzzAppendCloudEvent ./api:FuzzVerifyFast \
               ./api:FuzzReservationJSON ./internal/jsonw:FuzzAppendString

.PHONY: help test test-short test-faults run bench bench-go fuzz vet ensure-redis ensure-wrk ensure-chromium ensure-fonts ensure-perf load-demo screenshots

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# apt_ensure installs Debian package $(2) with apt-get when command $(1) is
# missing (a fresh machine has Go and apt only); tests start their own
# servers and browsers from it.
define apt_ensure
	@if ! command -v $(1) >/dev/null 2>&1; then \
		echo "$(1) not found: installing $(2) with apt-get"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: no apt-get here; install $(2) and rerun" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null || { \
			echo "error: apt-get could not install $(2); install it and rerun" >&2; exit 1; }; \
	fi
endef

ensure-redis: ## install redis-server with apt-get if it is missing (tests start their own)
	$(call apt_ensure,redis-server,redis-server)
	$(call apt_ensure,redis-cli,redis-tools)
	@redis-server --version

ensure-wrk: ## install wrk with apt-get if it is missing (make bench compares flashdrop load with it)
	$(call apt_ensure,wrk,wrk)

ensure-chromium: ## install Debian's chromium with apt-get if it is missing (the browser tests drive it)
	$(call apt_ensure,chromium,chromium)

# DEJAVU is the font the share card tests draw with as serve's --card-font.
DEJAVU = /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf

ensure-fonts: ## install fonts-dejavu-core with apt-get if it is missing (the share card tests use it as --card-font)
	@if [ ! -f $(DEJAVU) ]; then \
		echo "$(DEJAVU) not found: installing fonts-dejavu-core with apt-get"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: no apt-get here; install fonts-dejavu-core and rerun" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null || { \
			echo "error: apt-get could not install fonts-dejavu-core; install it and rerun" >&2; exit 1; }; \
	fi

test: ensure-redis ensure-chromium ensure-fonts ## run every test with the race detector against real Redis and Chromium
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 25m ./...

test-faults: ensure-redis ## the fault runs (TestFault*) at full length: Redis Cluster failover with a history check
	FLASHDROP_FAULTS=full $(GO) test -race -count=1 -run 'TestFault' -timeout 60m ./...

test-short: ## the tests without the race detector (faster while editing)
	$(GO) test -count=1 ./...

screenshots: ensure-redis ensure-chromium ## run the browser test and refresh the README's screenshots in docs/screenshots
	dir=$$(mktemp -d) && FLASHDROP_SCREENSHOTS=$$dir $(GO) test -count=1 -run TestBrowserFlows ./cmd/flashdrop/ && \
		cp $$dir/shopper-win.png $$dir/share-card.png $$dir/ops.png docs/screenshots/ && echo "screenshots in $$dir"

run: ## run flashdrop on its embedded default
	$(GO) run ./cmd/flashdrop serve

load-demo: ## rehearse release day against an in-process serve (flashdrop load --embedded)
	$(GO) run ./cmd/flashdrop load --embedded

vet: ## go vet and gofmt over the whole module
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }

fuzz: ## run each fuzz target for FUZZTIME (default 100000x executions), starting from its seed corpus
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# make bench: one run of cmd/flashdrop-bench against a fresh build of
# serve, its own redis-server and wrk, each in its own process (pinned to
# cores with taskset where there are two). It prints one line per target
# of issue 14, writes $(BENCH_OUT)/bench.json and the charts
# docs/bench-burst.png and docs/bench-budget.png. BENCH_QUICK=1 for a
# short try (the charts then go to $(BENCH_OUT) only). BENCH_TOPOLOGY=nats or split measures serve on a
# NATS server the driver hosts, or as a --role api node beside a worker
# (the targets are defined on the default, embedded; the charts then go
# to $(BENCH_OUT) only too). BENCH_REDIS_CORE=generator runs redis-server
# on the generator's core instead of serve's (the charts to $(BENCH_OUT)).
BENCH_OUT ?= bench-out
BENCH_TOPOLOGY ?= embedded
BENCH_REDIS_CORE ?= serve
BENCH_CHART = $(if $(or $(filter 1,$(BENCH_QUICK)),$(filter-out embedded,$(or $(BENCH_TOPOLOGY),embedded)),$(filter-out serve,$(or $(BENCH_REDIS_CORE),serve))),$(BENCH_OUT)/bench-burst.png,docs/bench-burst.png)
# perf samples redis-server during the all-wins run (Redis's time per win
# is a target; the bench prints where it goes). Optional: without it, or
# where the kernel refuses to attach, the bench says so and goes on.
ensure-perf:
	-$(call apt_ensure,perf,linux-perf)

bench: ensure-redis ensure-wrk ensure-perf ## the 1M draw, then the issue-14 targets from one run (BENCH_QUICK=1: short); JSON in bench-out/bench.json
	@mkdir -p $(BENCH_OUT)
	@# The 1M-registrant draw of issue 12 (its duration is the s/draw
	@# column; the 100k draw before it is the in-run baseline). First, so
	@# the issue-14 target lines stay the last lines of the run.
	$(if $(filter 1,$(BENCH_QUICK)),@echo "BENCH_QUICK: skipping the 1M draw (make bench-go runs it)",$(GO) test -run '^$$' -bench 'BenchmarkDraw' -benchtime 1x -timeout 20m ./engine/redisstore/)
	$(GO) build -o $(BENCH_OUT)/flashdrop ./cmd/flashdrop
	$(GO) build -o $(BENCH_OUT)/flashdrop-bench ./cmd/flashdrop-bench
	$(BENCH_OUT)/flashdrop-bench --flashdrop $(BENCH_OUT)/flashdrop --src . --out $(BENCH_OUT) \
		--json $(BENCH_OUT)/bench.json --chart $(BENCH_CHART) --budget-chart $(dir $(BENCH_CHART))bench-budget.png --topology $(or $(BENCH_TOPOLOGY),embedded) --redis-core $(or $(BENCH_REDIS_CORE),serve) --label "$$(git describe --always --dirty 2>/dev/null)"

bench-go: ensure-redis ensure-wrk ## the Go benchmarks; each prints ratios against its in-run baseline
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./engine/redisstore/ ./api/ ./queue/
	@# Whole-run load benchmarks: each measures once (-benchtime 1x) and
	@# prints its ratio (load/wrk throughput ratio, register/healthz).
	$(GO) test -run '^$$' -bench 'BenchmarkLoad' -benchtime 1x -timeout 20m ./cmd/flashdrop/
