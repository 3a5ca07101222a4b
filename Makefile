# campaign — common tasks. `make test` is what CI runs (.ci/run).
GO       ?= go
BIN      := bin/campaign
PKGS     := ./...

.PHONY: all build test vet fmt-check demo fuzz bench-import bench-dispatch bench-export clean
.PHONY: bench bench-webhook bench-rate bench-cap bench-account bench-console bench-million

all: build

build:
	$(GO) build -o $(BIN) ./cmd/campaign

# Tests need Postgres: TEST_DATABASE_URL if set, else Docker (testcontainers), else a local
# Postgres that the tests manage themselves (needs PostgreSQL server binaries installed).
test: vet fmt-check
	$(GO) test -count=1 -timeout 20m $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# The README's demo: the example file run end to end on the built-in Vapi simulator. Its
# rejected rows go to the temporary directory, in a file of the user's own (a shared /tmp is
# sticky: one user cannot replace another's file), so the demo writes nothing into the repository.
demo: build
	$(BIN) run examples/customers.csv --simulate --rejects "$${TMPDIR:-/tmp}/campaign-demo-$$(id -u).rejects.csv"

# Every parser of outside input, fuzzed for FUZZTIME each (CI runs FUZZTIME=8s). A failing input
# is saved under the package's testdata/fuzz/ and replays in `make test` once committed.
FUZZTIME ?= 1m
FUZZ_TARGETS := campaign:FuzzReader campaign:FuzzParsePhone campaign:FuzzParseWindow \
	campaign:FuzzParseRetryPolicy campaign:FuzzParseFollowUp campaign:FuzzMatchEventAttempt webhook:FuzzHandler
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=./$${t%%:*}; name=$${t##*:}; echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# Imports a generated 1,000,000-row CSV and compares with psql \copy of the same file.
bench-import: build
	$(GO) run ./internal/bench/importbench -bin $(BIN) -rows 1000000

# Runs a 20,000-contact campaign against the in-process simulator at zero latency and compares
# with River's bare throughput on the same database.
bench-dispatch: build
	$(GO) run ./internal/bench/dispatchbench -bin $(BIN)

# Exports a 1,000,000-contact campaign (made in a scratch database) and compares with psql \copy
# (SELECT …) TO of comparable columns.
bench-export: build
	$(GO) run ./internal/bench/exportbench -bin $(BIN) -contacts 1000000

# Posts 20,000 end-of-call reports of 10-30 KB from 16 clients on loopback to the webhook receiver
# (stored and applied in a scratch database), then to the same handler with storage off.
bench-webhook: build
	$(GO) run ./internal/bench/webhookbench -bin $(BIN)

# Runs `campaign run --rate 10` on the simulator for 60 s and compares the calls/s it received,
# and the most in any 1 s window, with the configured rate and burst.
bench-rate: build
	$(GO) run ./internal/bench/ratebench -bin $(BIN)

# Runs a campaign with a cap of 20 on 3 `campaign serve` processes against a simulated account
# that allows 80, and compares the highest concurrency the simulator saw with the cap.
bench-cap: build
	$(GO) run ./internal/bench/capbench -bin $(BIN)

# Runs a campaign with --max-concurrent 300 on 3 `campaign serve` processes against a simulated
# account that allows 10, and counts the calls the account refused once the runner could know.
bench-account: build
	$(GO) run ./internal/bench/capbench -bin $(BIN) -procs 3 -cap 300 -sim-limit 10 -contacts 300

# Times the console's queries (calls table, call page, campaign page, /metrics reads) on a
# 1,000,000-contact campaign made in a scratch database: median and p95 of each.
bench-console: build
	$(GO) run ./internal/bench/consolebench -bin $(BIN) -contacts 1000000

# Every benchmark above in turn, on this machine (quiet, please), and BENCHMARKS.md written from
# the figures. BENCH_ARGS=-quick: small sizes, a smoke run; BENCH_ARGS='-only webhook,rate'.
BENCH_ARGS ?=
# Runs one campaign of 1,000,000 contacts end to end on 2 `campaign serve` processes and the
# simulator (short calls, cap 200): import, dials/s over time, database and river_job growth, and
# status, report and export times at the end. Long (see BENCHMARKS.md); not part of `make bench`.
bench-million: build
	$(GO) run ./internal/bench/millionbench -bin $(BIN) -contacts 1000000

bench: build
	$(GO) run ./internal/bench/suite -bin $(BIN) -go $(GO) $(BENCH_ARGS)

clean:
	rm -rf bin .bench

# The subset of Vapi's OpenAPI document that the conformance tests validate against
# (internal/vapispec/openapi-subset.json, committed): the schemas and query parameters the
# project uses, facts only, regenerated from the full document at VAPI_SPEC. VAPI_SPEC_SOURCE
# says in the file where that document came from (default: the VAPI_SPEC path).
VAPI_SPEC        ?= ../shared/vapi/openapi.json
VAPI_SPEC_SOURCE ?=
.PHONY: vapi-spec
vapi-spec:
	$(GO) run ./internal/vapispec/gensubset -in "$(VAPI_SPEC)" -source "$(VAPI_SPEC_SOURCE)"

# A PNG of a campaign's HTML report, as headless Chromium draws it at a phone's width (Debian:
# apt-get install chromium). The database is the one campaign uses (DATABASE_URL, else the
# managed local Postgres). E.g.: make report-screenshot CAMPAIGN=nov-reminders REPORT_PNG=nov.png
CHROMIUM      ?= chromium
REPORT_PNG    ?= report.png
REPORT_WIDTH  ?= 390
REPORT_HEIGHT ?= 3200
REPORT_ARGS   ?=
.PHONY: report-screenshot
report-screenshot: build
	@test -n "$(CAMPAIGN)" || { echo "usage: make report-screenshot CAMPAIGN=name-or-id [REPORT_PNG=report.png] [REPORT_WIDTH=390] [REPORT_ARGS=--analytics]" >&2; exit 2; }
	@command -v $(CHROMIUM) >/dev/null || { echo "$(CHROMIUM) not found: install Debian's chromium package (apt-get install -y chromium)" >&2; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN) report "$(CAMPAIGN)" --format html -o "$$tmp/report.html" $(REPORT_ARGS) && \
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$$tmp/profile" \
		--window-size=$(REPORT_WIDTH),$(REPORT_HEIGHT) --screenshot="$(abspath $(REPORT_PNG))" "file://$$tmp/report.html" && \
	echo "Wrote $(REPORT_PNG)"

# A campaign run through crashes (internal/chaos): 2,000 contacts on the simulator with every
# fault knob on, the runner killed with SIGKILL 10 times and resumed, its private Postgres
# restarted mid-campaign; then every guarantee checked, one verdict line, exit 1 unless clean.
# CI runs a reduced one: CHAOS_ARGS="-contacts 300 -kills 4 -retry none -max-attempts 1".
.PHONY: chaos
CHAOS_ARGS ?= -contacts 2000 -kills 10
chaos: build
	$(GO) run ./internal/chaos -bin $(BIN) $(CHAOS_ARGS)

# console-screenshots renders the console's pages (login, the new campaign form, with a refused
# value, a dry run, a campaign running and completed, its calls, a call, the campaigns, the
# cancel confirmation, a cancelled campaign, the login page a visitor gets; 390 and 1280 px
# wide) to docs/console/*.png: the browser test of serve's console (TestConsoleBrowser, against
# the simulator), on a fresh test database
# (TEST_DATABASE_URL, else Docker or the managed local Postgres), with Chromium (CHROMIUM, else
# chromium on PATH).
CONSOLE_PNG_DIR ?= docs/console
.PHONY: console-screenshots
console-screenshots:
	CONSOLE_SCREENSHOTS="$(abspath $(CONSOLE_PNG_DIR))" go test ./cmd/campaign -run '^TestConsoleBrowser$$' -count=1
	@echo "Wrote $(CONSOLE_PNG_DIR)/*.png"
