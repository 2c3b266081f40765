# flashdrop — see README.md. `make help` lists the targets.
GO        ?= go
BENCHTIME ?= 2s
FUZZTIME  ?= 10s
# package:FuzzTarget pairs; each runs for FUZZTIME in `make fuzz`.
FUZZ_TARGETS = ./api:FuzzHandler ./api:FuzzAuthenticate ./engine:FuzzIdentifiers \
               ./api:FuzzDecodeReserve ./api:FuzzDecodeRegister ./api:FuzzDecodeCreateDrop ./api:FuzzDecodeCreateWebhook

.PHONY: help test test-short run bench fuzz vet ensure-redis ensure-wrk load-demo

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

ensure-redis: ## install redis-server with apt-get if it is missing (tests start their own)
	@if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then \
		echo "redis-server not found: installing it with apt-get"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: no apt-get here; install Redis 7 (redis-server, redis-cli) and rerun" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || { \
			echo "error: apt-get could not install redis-server; install Redis 7 and rerun" >&2; exit 1; }; \
	fi
	@redis-server --version

ensure-wrk: ## install wrk with apt-get if it is missing (make bench compares flashdrop load with it)
	@if ! command -v wrk >/dev/null 2>&1; then \
		echo "wrk not found: installing it with apt-get"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: no apt-get here; install wrk and rerun" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null || { \
			echo "error: apt-get could not install wrk; install it and rerun" >&2; exit 1; }; \
	fi
	@wrk --version 2>&1 | head -1 || true

test: ensure-redis ## run every test with the race detector against real Redis
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

test-short: ## the tests without the race detector (faster while editing)
	$(GO) test -count=1 ./...

run: ## run flashdrop on its embedded default
	$(GO) run ./cmd/flashdrop serve

load-demo: ## rehearse release day against an in-process serve (flashdrop load --embedded)
	$(GO) run ./cmd/flashdrop load --embedded

fuzz: ## run each fuzz target for FUZZTIME (default 10s), starting from its seed corpus
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench: ensure-redis ensure-wrk ## benchmarks; each prints ratios against its in-run baseline
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) ./engine/redisstore/ ./api/
	@# Whole-run load benchmarks: each measures once (-benchtime 1x) and
	@# prints its ratio (load/wrk throughput ratio, register/healthz).
	$(GO) test -run '^$$' -bench 'BenchmarkLoad' -benchtime 1x -timeout 20m ./cmd/flashdrop/
