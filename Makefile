# hookflow: `make run` starts everything, `make test` tests everything.
# Everything a fresh machine lacks is installed or built here.

GO              ?= go
# TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION, TEMPORAL_CLI_VERSION: the pins
# docker-compose.yml shares.
include contrib/cluster/versions.env
VERSION         ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS         := -X github.com/hookflow/hookflow/internal/app.Version=$(VERSION)
TEST_TIMEOUT    ?= 14m
GOBIN_DIR       := $(CURDIR)/bin
STATICCHECK     := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run demo build test test-short lint lint-openapi bench bench-ceiling bench-jobs bench-scale chaos fuzz tools cluster-tools cluster system-deps clean help

help:
	@echo "make run      start Temporal dev server (UI :8233), Postgres, migrations, API (:8080) and worker"
	@echo "make demo     the same, wired to in-process fakes of every vendor and a callback receiver:"
	@echo "              every flow works without an account; the console's /ops/demo shows the fakes;"
	@echo "              bin/hookflow demo tour in a second terminal runs one of each flow, step by step"
	@echo "make cluster  the production topology: Temporal server on Postgres, its UI server (:8233),"
	@echo "              two API replicas (:8080, :8081) and two workers, each its own process"
	@echo "make test     build what tests need, then run vet, the OpenAPI lint and every test with -race"
	@echo "make bench    measure SimplyPrint webhook acks/s against a bare Gin->Postgres handler"
	@echo "              (BENCH_TARGET=dev|cluster|both; on the cluster also the relay hand-over and takeover),"
	@echo "              then make bench-ceiling"
	@echo "make bench-ceiling  hookflow ack-only and end to end against single-insert, group-commit and"
	@echo "              no-database handlers and hookflow's pipeline behind a bare handler, CPU per"
	@echo "              event per process (BENCH_PHASE, BENCH_ROUNDS)"
	@echo "make bench-scale  every read endpoint and ops page, the ack rate and a retention purge with"
	@echo "              10 thousand and BENCH_SCALE_N (default 10 million) seeded events (20-40 min, ~25 GB)"
	@echo "make bench-jobs  description jobs end to end on the dev server: one-lot jobs/s against a same-run"
	@echo "              baseline of one-activity workflows, latency at a steady rate, lots/s of one large job,"
	@echo "              a 10,000-lot job (history per run, live status), the generator-down worst case and"
	@echo "              worker memory with 10,000 callbacks on their retry timers (BENCH_JOBS_ONLY=big: 10,000 lots only)"
	@echo "make chaos    faults under load on the cluster: kills and restarts while all four flows run;"
	@echo "              fails on any lost, duplicated or double-processed event (minutes)"
	@echo "make fuzz     every parser and verifier's fuzz target, FUZZ_EXECS executions each (default 1 million)"
	@echo "make lint     gofmt, go vet, staticcheck, workflowcheck, and Redocly's lint of api/openapi.yaml"

build: bin/hookflow

bin/hookflow: $(shell find . -name '*.go' -not -path './node_modules/*' 2>/dev/null) go.mod go.sum $(wildcard migrations/*.sql) api/openapi.yaml
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/hookflow

# bin/.pin.NAME holds the value of the pin NAME a binary was built from. It is
# rewritten only when the pin changes, so what depends on it rebuilds exactly
# then, and a second make does nothing.
bin/.pin.%: FORCE
	@mkdir -p bin
	@echo '$($*)' | cmp -s - $@ || echo '$($*)' > $@
FORCE:

# $(call install-as,package@version,name go install gives it) installs into a
# private GOBIN and renames the result to $@: go install names both the
# Temporal server and the UI server `server`, so a shared GOBIN would let one
# overwrite the other.
define install-as
	@rm -rf $@.gobin && mkdir -p $@.gobin
	GOBIN=$(CURDIR)/$@.gobin $(GO) install $(1)
	mv $@.gobin/$(2) $@ && rm -rf $@.gobin
endef

# The Temporal CLI (dev server + Web UI). v1.5.1 is the newest that
# `go install` accepts (later go.mod files carry a replace directive).
# The touch: go install leaves an up-to-date binary untouched, which would
# stay older than its pin file and be reinstalled on every make.
bin/temporal: bin/.pin.TEMPORAL_CLI_VERSION
	GOBIN=$(GOBIN_DIR) $(GO) install github.com/temporalio/cli/cmd/temporal@v$(TEMPORAL_CLI_VERSION)
	@touch $@

# The production Temporal binaries `make cluster` runs: the server, its SQL
# schema tool (same version: it carries the schema the server expects) and
# the UI server.
cluster-tools: bin/temporal-server bin/temporal-sql-tool bin/temporal-ui-server

bin/temporal-server: bin/.pin.TEMPORAL_SERVER_VERSION
	$(call install-as,go.temporal.io/server/cmd/server@v$(TEMPORAL_SERVER_VERSION),server)

bin/temporal-sql-tool: bin/.pin.TEMPORAL_SERVER_VERSION
	$(call install-as,go.temporal.io/server/cmd/tools/sql@v$(TEMPORAL_SERVER_VERSION),sql)

bin/temporal-ui-server: bin/.pin.TEMPORAL_UI_VERSION
	$(call install-as,github.com/temporalio/ui-server/v2/cmd/server@v$(TEMPORAL_UI_VERSION),server)

run: bin/hookflow bin/temporal
	TEMPORAL_CLI=$(GOBIN_DIR)/temporal ./bin/hookflow dev

demo: bin/hookflow bin/temporal
	TEMPORAL_CLI=$(GOBIN_DIR)/temporal ./bin/hookflow dev --demo

cluster: bin/hookflow bin/temporal cluster-tools
	./bin/hookflow cluster

# Debian packages some tests need (installed when missing and we are root):
# chromium (ops pages), php (the Bitrix site code), node and npm (callbacks
# verified by npm packages; the test runs npm ci from the npm registry).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v php >/dev/null 2>&1 || missing="$$missing php-cli"; \
	php -m 2>/dev/null | grep -qx curl || missing="$$missing php-curl"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing) >/dev/null \
	      || { echo "apt-get install$$missing failed"; exit 1; }; \
	  else echo "missing Debian packages:$$missing (run: sudo apt-get install$$missing)"; exit 1; fi; \
	fi

tools: bin/temporal cluster-tools system-deps

test: tools
	$(GO) vet ./...
	$(MAKE) --no-print-directory lint-openapi
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/... ./examples/...
	$(GO) run $(STATICCHECK) ./...
	TEMPORAL_CLI=$(GOBIN_DIR)/temporal $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -skip '^TestCluster' ./...
	@# The cluster tests run a Temporal server and four hookflow processes:
	@# alone, so they neither slow the other packages' tests nor wait on them.
	$(GO) test -race -count=1 -timeout 10m -run '^TestCluster' -v ./internal/cluster/

# Unit and workflow tests only (no Postgres, no dev server).
test-short:
	$(GO) test -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0 ./workflows/... ./examples/...
	$(MAKE) --no-print-directory lint-openapi

# The OpenAPI document's outside linter: Redocly CLI from the npm registry,
# its version pinned by tools/openapi-lint/package-lock.json (npm ci, only
# when the lockfile changes). Rules: redocly.yaml (recommended, warnings are
# errors); problems ignored on purpose: .redocly.lint-ignore.yaml.
REDOCLY_DIR := tools/openapi-lint
$(REDOCLY_DIR)/node_modules/.package-lock.json: $(REDOCLY_DIR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: make system-deps (or apt-get install npm)"; exit 1; }
	cd $(REDOCLY_DIR) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

lint-openapi: $(REDOCLY_DIR)/node_modules/.package-lock.json
	$(REDOCLY_DIR)/node_modules/.bin/redocly lint --config redocly.yaml api/openapi.yaml

# Load benchmark: hookflow's SimplyPrint endpoint against a bare Gin handler
# that only inserts into Postgres, interleaved in one run; prints the ratio.
# BENCH_TARGET=dev (default: Temporal dev server, one process), cluster
# (Temporal server on Postgres, two API replicas and two workers; adds the
# relay hand-over with one and two relays and the shard takeover time) or
# both (side by side).
BENCH_TARGET ?= dev
bench: bin/temporal cluster-tools
	HOOKFLOW_BENCH=1 BENCH_TARGET=$(BENCH_TARGET) TEMPORAL_CLI=$(GOBIN_DIR)/temporal $(GO) test -count=1 -run 'TestBenchSimplyPrintAcks|TestBenchRelayHandover' -v -timeout 40m ./internal/bench/
	$(MAKE) --no-print-directory bench-ceiling

# The ceiling of a durable ack (issue 17, docs/performance.md): three bare
# handlers (single insert, group commit, no database), hookflow's own ack
# pipeline behind a bare handler, hookflow ack-only and end to end, CPU per
# event per process, ratios and targets, in one run.
# BENCH_PHASE (default 5s) is each scenario's load per round, BENCH_ROUNDS
# (default 3) the interleaved rounds; BENCH_TEMPORAL_DB=memory runs the dev
# server in memory, BENCH_GROUP_WRITERS (default 1) the group commit's writers,
# BENCH_PROFILE_DIR=DIR profiles the first round (pprof of hookflow, perf of
# Postgres and the Temporal server; hookflow's allocations) into DIR.
bench-ceiling: bin/temporal
	HOOKFLOW_BENCH=1 TEMPORAL_CLI=$(GOBIN_DIR)/temporal $(GO) test -count=1 -run '^TestBenchCeiling$$' -v -timeout 30m ./internal/bench/

# Scale benchmark (issue 11): seeds 10 thousand SimplyPrint events with
# proportional orders, ratings, jobs and deliveries, measures every read
# endpoint and ops page (p50/p95) and the ack rate, seeds up to BENCH_SCALE_N
# events, measures again and prints the ratios, then times a retention purge
# of what is older than 30 days with acks running through it. Fails only on
# lost acks or wrong counters. BENCH_SCALE_N=200000 for a quick run;
# BENCH_SCALE_EXPLAIN=20ms logs the plans of slower statements to the
# Postgres server log.
BENCH_SCALE_N ?= 10000000
bench-scale: bin/temporal
	HOOKFLOW_BENCH=1 BENCH_SCALE_N=$(BENCH_SCALE_N) TEMPORAL_CLI=$(GOBIN_DIR)/temporal $(GO) test -count=1 -run '^TestBenchScale$$' -v -timeout 180m ./internal/bench/

# Native Go fuzzing of every parser and verifier, one target after another,
# FUZZ_EXECS executions each. A failure leaves its input under the package's
# testdata/fuzz/<target>/: commit it, and `make test` replays it from then on.
# A test (internal/testenv) fails when a Fuzz function is missing here.
FUZZ_EXECS ?= 1000000
FUZZ_TARGETS = \
	./internal/integrations/simplyprint:FuzzParseEvent \
	./internal/integrations/simplyprint:FuzzLooseStringMatchesItsDefinition \
	./internal/integrations/simplyprint:FuzzParseEventMatchesItsDefinition \
	./internal/inbound:FuzzScanJSONWellFormed \
	./internal/integrations/okdesk:FuzzParseWebhook \
	./internal/integrations/telegram:FuzzParseUpdate \
	./internal/integrations/telegram:FuzzParseRateCallback \
	./internal/integrations/telegram:FuzzParseStart \
	./internal/integrations/telegram:FuzzCheckSecretToken \
	./internal/integrations/bitrix:FuzzParseOutboundEventBody \
	./internal/ordersync:FuzzParseSiteOrder \
	./internal/ordersync:FuzzParseDecimal \
	./internal/jobs:FuzzParseSubmission \
	./internal/jobs:FuzzVerifySignature \
	./internal/integrations/apierr:FuzzParseRetryAfter \
	./api:FuzzMatchSecret \
	./internal/auth:FuzzParse \
	./internal/inbound:FuzzCheckJSON
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; log=$$(mktemp); \
		echo "== $$name ($$pkg): $(FUZZ_EXECS) executions"; \
		if $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZ_EXECS)x $$pkg >$$log 2>&1; \
		then grep 'fuzz: elapsed' $$log | tail -n 1; rm -f $$log; else cat $$log; rm -f $$log; exit 1; fi; done
# Description jobs on the dev server (internal/bench/jobs_bench_test.go):
# baseline one-activity workflows/s, a burst of one-lot jobs (submit ->
# signed callback), a steady rate's latency and one large job's lots/s.
# Sizes: BENCH_JOBS_BURST, BENCH_JOBS_RATE, BENCH_JOBS_STEADY, BENCH_JOBS_LOTS.
bench-jobs: bin/temporal
	HOOKFLOW_BENCH=1 TEMPORAL_CLI=$(GOBIN_DIR)/temporal $(GO) test -count=1 -run 'TestBenchJobs' -v -timeout 90m ./internal/bench/

# Faults under load on the production topology (internal/chaos): not part of
# `make test`, it takes minutes and the whole machine.
chaos: cluster-tools
	HOOKFLOW_CHAOS=1 $(GO) test -count=1 -run TestChaos -v -timeout 30m ./internal/chaos/

clean:
	rm -rf bin .data artifacts
