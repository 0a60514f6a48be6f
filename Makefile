# gokeeper: the two commands that matter are `make run` and `make test`.
GO          ?= go
BIN         := bin/gokeeper
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
FUZZTIME    ?= 30s

.PHONY: build run ensemble test generate check-generated compat compat-fuzz bench bench-ensemble bench-go fuzz lint sim clean chaos chaos-short chaos-build

build:
	$(GO) build -o $(BIN) ./cmd/gokeeper

# run starts a standalone server on 127.0.0.1:2181 with its data in ./data.
run: build
	$(BIN) serve --config conf/zoo.cfg

# ensemble runs three members in the foreground on loopback (client ports
# 2181-2183, data in ./data/node1..3); Ctrl-C stops them.
ensemble: build
	@./scripts/ensemble.sh $(BIN)

generate:
	$(GO) generate ./...

# check-generated fails if `go generate` would change committed files.
check-generated:
	@tmp=$$(mktemp -d) && \
	$(GO) run ./jute/internal/jutegen -schema jute/zookeeper.schema -out $$tmp/records_gen.go && \
	if ! cmp -s $$tmp/records_gen.go jute/records_gen.go; then \
		echo "jute/records_gen.go is stale: run 'make generate' and commit"; rm -rf $$tmp; exit 1; \
	fi; rm -rf $$tmp

# test runs every package's tests under the race detector (about 3
# minutes on CI's 2 cores; 1 without -race), then prints how many checks
# passed, failed and were skipped, and why each skipped one was. The tests
# that compare with Apache ZooKeeper (TestPrepCodesAgainstZooKeeper,
# TestOracle, TestZkCliReference) run wherever it is installed, as in CI,
# and say so when it is not. RACE= runs them without the race detector.
RACE ?= -race
test: check-generated
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@mkdir -p bin && $(GO) build -o bin/testsummary ./internal/testsummary
	@$(GO) test $(RACE) -count=1 -timeout 20m -json ./... > bin/test.json; rc=$$?; \
	bin/testsummary < bin/test.json; src=$$?; \
	[ $$rc -eq 0 ] && [ $$src -eq 0 ]

# sim runs the seeded simulation of the quorum core for SEEDS ("1-10000",
# "7,42"): faults, then a quiet period, invariants checked after every
# step. make test runs seeds 1-200.
SEEDS ?= 1-10000
sim:
	$(GO) test -count=1 -timeout 60m -run '^TestSimulation$$' -v ./quorum -seeds=$(SEEDS) | grep -Ev '^(=== RUN|--- PASS)'

# compat runs the differential suite (compat-tests/): every scenario
# against standalone Apache ZooKeeper (twice) and gokeeper, then against a
# 3-member ZooKeeper ensemble (twice) and a 3-member gokeeper ensemble,
# sessions on a follower; then the real clients (zkCli.sh, kazoo recipes,
# the C client cli_mt) against a standalone gokeeper and against a
# 3-member gokeeper ensemble (-realclients.target=ensemble: the clients
# get all three addresses), then the mixed ensembles with Apache ZooKeeper
# (TestProcessMixed*: TestProcessMixedMatrix and TestProcessMixedLayouts
# run only here). The summary has one line per run; it counts each
# real-client check (leaf subtest; a failed test whose subtests all
# passed counts as one failed check). It fails if any run does.
compat:
	@test -f /usr/share/java/zookeeper.jar || { echo "make compat: installing Apache ZooKeeper (Debian package zookeeper)"; apt-get install -y zookeeper || { apt-get update && apt-get install -y zookeeper; }; }
	@{ test -x /usr/lib/zookeeper/bin/cli_mt && /usr/bin/python3 -c 'import kazoo' 2>/dev/null; } || { echo "make compat: installing the real clients (Debian packages zookeeper-bin, python3-kazoo)"; apt-get install -y zookeeper-bin python3-kazoo || { apt-get update && apt-get install -y zookeeper-bin python3-kazoo; } || echo "make compat: could not install them; their checks will be skipped"; }
	@mkdir -p bin && rm -f bin/compat-summary.txt bin/compat-realclients-*.log; \
	GOKEEPER_COMPAT=1 GOKEEPER_COMPAT_SUMMARY=$(CURDIR)/bin/compat-summary.txt $(GO) test -count=1 -timeout 30m ./compat-tests/...; rc=$$?; \
	for target in standalone ensemble; do \
		log=bin/compat-realclients-$$target.log; \
		case $$target in standalone) what="a standalone gokeeper";; *) what="a 3-member gokeeper ensemble, connect string of all three";; esac; \
		echo "make compat: real clients against $$what (go test ./cmd/gokeeper -run 'TestZkCli|TestKazooRecipes|TestCliMt' -realclients.target=$$target; log in $$log)"; \
		$(GO) test -count=1 -v -timeout 5m -run '^(TestZkCli|TestKazooRecipes|TestCliMt)$$' ./cmd/gokeeper -realclients.target=$$target > $$log 2>&1; r=$$?; \
		grep -E '^ *--- (FAIL|SKIP)' $$log; \
		if [ $$r -ne 0 ]; then grep -v '^ *{"level"' $$log | tail -80; rc=1; fi; \
		awk -v what="$$what" '/^ *--- (PASS|FAIL|SKIP): /{n=$$3; s[n]=$$2; p=n; if (sub(/\/[^\/]*$$/,"",p)) {kid[p]=1; if ($$2=="FAIL:") kf[p]=1}} END{for (n in s) if (!(n in kid) || (s[n]=="FAIL:" && !(n in kf))) c[s[n]]++; printf "real clients against %s: %d checks passed, %d failed, %d skipped\n", what, c["PASS:"], c["FAIL:"], c["SKIP:"]}' $$log >> bin/compat-summary.txt; \
		if [ $$r -ne 0 ]; then echo "real clients against $$what: go test exited $$r (see $$log)" >> bin/compat-summary.txt; fi; \
	done; \
	log=bin/compat-mixed.log; \
	echo "make compat: mixed ensembles with Apache ZooKeeper (go test ./cmd/gokeeper -run 'TestProcessMixed'; log in $$log)"; \
	GOKEEPER_COMPAT=1 $(GO) test -count=1 -v -timeout 10m -run '^TestProcessMixed' ./cmd/gokeeper > $$log 2>&1; r=$$?; \
	grep -E '^ *--- (PASS|FAIL|SKIP)' $$log; \
	if [ $$r -ne 0 ]; then grep -v '^ *{"level"' $$log | tail -80; rc=1; fi; \
	echo "mixed ensembles with Apache ZooKeeper: $$(grep -cE '^--- PASS' $$log) passed, $$(grep -cE '^--- FAIL' $$log) failed, $$(grep -cE '^--- SKIP' $$log) skipped" >> bin/compat-summary.txt; \
	cat bin/compat-summary.txt 2>/dev/null; [ $$rc -eq 0 ]

# compat-fuzz runs the randomized differential fuzzer for SEEDS ("1,7,100-200").
compat-fuzz:
	@mkdir -p bin && rm -f bin/compat-summary.txt; GOKEEPER_COMPAT=1 GOKEEPER_COMPAT_SEEDS="$(SEEDS)" GOKEEPER_COMPAT_SUMMARY=$(CURDIR)/bin/compat-summary.txt $(GO) test -count=1 -timeout 60m -run 'TestCompatFuzz' ./compat-tests/; rc=$$?; cat bin/compat-summary.txt 2>/dev/null; exit $$rc

# bench starts Apache ZooKeeper 3.8 and gokeeper side by side (forceSync on,
# loopback, same disk), runs the same workloads against each in alternation
# and prints one table, then memory and restart time with 1M znodes, and
# the memory per idle session with 10,000 and 50,000 of them (as many as
# the open-file limit allows).
# BENCH_QUICK=1 for a 1-2 minute smoke run; BENCH_PROFILE=dir for gokeeper
# pprof profiles of the main cells; BENCH_ARGS for bench/compare's flags.
bench: build
	@test -f /usr/share/java/zookeeper.jar || { echo "make bench: installing Apache ZooKeeper (Debian package zookeeper)"; apt-get install -y zookeeper || { apt-get update && apt-get install -y zookeeper; }; }
	$(GO) run ./bench/compare -gokeeper $(BIN) $(BENCH_ARGS)

# bench-ensemble starts a 3-member Apache ZooKeeper 3.8 ensemble and a
# 3-member gokeeper ensemble side by side (forceSync on, loopback, clients
# spread over the members), prints the same table as bench for get, set,
# create and the mix, then the failover times (SIGKILL of the leader under
# steady writes: election, first acknowledged write, the killed member
# following again). BENCH_QUICK=1 and BENCH_ARGS as for bench.
bench-ensemble: build
	@test -f /usr/share/java/zookeeper.jar || { echo "make bench-ensemble: installing Apache ZooKeeper (Debian package zookeeper)"; apt-get install -y zookeeper || { apt-get update && apt-get install -y zookeeper; }; }
	$(GO) run ./bench/compare -gokeeper $(BIN) -ensemble -xmx 1g $(BENCH_ARGS)

# bench-go runs the Go micro-benchmarks of the hot paths.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./jute/... ./datatree/... ./bench/...

# fuzz runs every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# chaos runs the fault-injection suite (chaos/README.md): first its
# self-test (histories against a deliberately broken gokeeper, tag
# chaosbroken, until one is caught; at most CHAOS_SELFTEST_RUNS), then
# CHAOS_RUNS histories (about 15 s each) of clients against a 3-member
# ensemble under partitions, one-way loss, delays, dropped connections,
# kill -9, SIGSTOP and disk faults, each checked. CHAOS_TARGET=zookeeper
# runs them against Apache ZooKeeper 3.8 instead (no self-test, no disk
# faults); CHAOS_SEED replays a history. One line per history, then
# `chaos: H histories, O operations, A anomalies`; a failing history is
# kept under bin/chaos-histories/. chaos-short is CI's profile (2-4
# minutes on 2 cores).
CHAOS_RUNS ?= 100
CHAOS_SELFTEST_RUNS ?= 5
export CHAOS_SEED CHAOS_TARGET CHAOS_OUT CHAOS_WINDOW CHAOS_KEEP CHAOS_FAULTS CHAOS_MEMBERS
chaos-build:
	$(GO) build -tags chaos -o bin/gokeeper-chaos ./cmd/gokeeper
	$(GO) build -tags chaos,chaosbroken -o bin/gokeeper-broken ./cmd/gokeeper
	$(GO) build -o bin/chaos ./chaos/cmd/chaos

chaos: chaos-build
	@if [ "$(CHAOS_TARGET)" = zookeeper ]; then \
		test -f /usr/share/java/zookeeper.jar || { echo "make chaos: installing Apache ZooKeeper (Debian package zookeeper)"; apt-get install -y zookeeper || { apt-get update && apt-get install -y zookeeper; }; }; \
	else \
		CHAOS_RUNS=$(CHAOS_SELFTEST_RUNS) bin/chaos -selftest -gokeeper bin/gokeeper-broken || exit 1; \
	fi
	CHAOS_RUNS=$(CHAOS_RUNS) bin/chaos -gokeeper bin/gokeeper-chaos

chaos-short:
	@$(MAKE) --no-print-directory chaos CHAOS_RUNS=8 CHAOS_TARGET=gokeeper

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@latest

lint: $(STATICCHECK)
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin data
