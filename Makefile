# berth: one non-recursive Makefile.  Objects go to build/ (build-asan/ for `make asan`).
#
#   make            build every program
#   make test       install missing dependencies, build, run every unit and integration test
#   make asan       the same suite under ASan + UBSan (objects in build-asan/)
#   make check      test + clang-format check + layering check
#   make bench-fsm  the state machine's apply micro-benchmark
#   make bench-kv   berth-bench against a local three-member cluster (tools/bench-kv)
#   make bench-sched  berth-bench sched: K workers placing tasks (tools/bench-sched)
#   make bench      berth against etcd on this machine, one table of ratios (tools/bench-compare)
#   make sim-long   the raft simulation over SIM_SEEDS seeds (3000)
#   make jepsen     the fault-injection campaign: every workload under every fault (root)
#   make demo       the whole story on loopback: store, workers, agents, a service (docs/demo.md)

# The deps stamp's rule comes first in the file; plain `make` builds the programs.
.DEFAULT_GOAL := all

SAN       ?=
BUILD     ?= build
CC        ?= cc
PKGS      := raft libuv lmdb msgpack jansson zlib
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -I. -MMD -MP
LDLIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
TEST_LIBS  = $(shell pkg-config --libs cmocka 2>/dev/null)

# Dependencies: install what pkg-config or `tools/install-deps --check` finds missing (idempotent).
# LDLIBS and TEST_LIBS are recursive (=) on purpose: they must be read after this runs.
DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP):
	@pkg-config --exists $(PKGS) cmocka && pkg-config --atleast-version=0.22 raft && \
	  tools/install-deps --check >/dev/null || tools/install-deps
	@pkg-config --atleast-version=0.22 raft || { \
	  echo "error: berth needs libraft >= 0.22 (bookworm-backports); found $$(pkg-config --modversion raft 2>/dev/null || echo none)."; \
	  echo "       Debian 12's 0.15 drops committed entries on restart and lacks the Figure 8 fix (DESIGN.md section 2)."; exit 1; }
	@mkdir -p $(BUILD) && touch $@

# Components: every .c in a folder belongs to its archive, except the programs' mains.
COMMON_SRC := $(wildcard common/*.c)
STORE_SRC  := $(filter-out store/main.c,$(wildcard store/*.c))
CLIENT_SRC := $(filter-out client/berthctl.c,$(wildcard client/*.c))
WORKER_SRC := $(filter-out worker/main.c,$(wildcard worker/*.c))
BENCH_SRC  := $(wildcard tools/bench*.c)
AGENT_SRC  := $(wildcard tools/agent*.c)
# jepsen/: the fault-injection harness (docs/jepsen.md); its library is linked into the
# unit tests (the checkers are tested on hand-written histories).
JEPSEN_SRC := $(filter-out jepsen/main.c,$(wildcard jepsen/*.c))
TEST_SRC   := $(wildcard tests/unit/test_*.c)
TESTS      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_SUPPORT := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
# Integration tests: real berth-store processes on loopback (tests/integ/cluster.h).
INTEG_SRC     := $(wildcard tests/integ/test_*.c)
INTEG_TESTS   := $(patsubst tests/integ/%.c,$(BUILD)/integ/%,$(INTEG_SRC))
INTEG_SUPPORT := $(filter-out tests/integ/test_%.c,$(wildcard tests/integ/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIBCOMMON := $(BUILD)/libcommon.a
LIBSTORE  := $(BUILD)/libstore.a
LIBBERTH  := $(BUILD)/libberth.a
LIBWORKER := $(BUILD)/libworker.a
LIBJEPSEN := $(if $(JEPSEN_SRC),$(BUILD)/libjepsen.a)
PROGRAMS  := $(BUILD)/berth-store $(BUILD)/berthctl $(BUILD)/berth-bench $(BUILD)/berth-agent \
	     $(BUILD)/berth-worker $(if $(wildcard jepsen/main.c),$(BUILD)/berth-jepsen)

all: $(PROGRAMS)

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
	@rm -f $@ && ar rcs $@ $^
$(LIBSTORE): $(call obj,$(STORE_SRC))
	@rm -f $@ && ar rcs $@ $^
$(LIBBERTH): $(call obj,$(CLIENT_SRC))
	@rm -f $@ && ar rcs $@ $^
$(LIBWORKER): $(call obj,$(WORKER_SRC))
	@rm -f $@ && ar rcs $@ $^
$(BUILD)/libjepsen.a: $(call obj,$(JEPSEN_SRC))
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/berth-store: $(call obj,store/main.c) $(LIBSTORE) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/berthctl: $(call obj,client/berthctl.c) $(LIBBERTH) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# berth-agent talks to the store only through libberth's asynchronous API (docs/agent.md).
$(BUILD)/berth-agent: $(call obj,$(AGENT_SRC)) $(LIBBERTH) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# berth-worker talks to the store only through libberth's asynchronous API (docs/worker.md).
$(BUILD)/berth-worker: $(call obj,worker/main.c) $(LIBWORKER) $(LIBBERTH) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# berth-jepsen talks to the store only through libberth (DESIGN.md section 7).
$(BUILD)/berth-jepsen: $(call obj,jepsen/main.c) $(LIBJEPSEN) $(LIBBERTH) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) -pthread -o $@ $^ $(LDLIBS)

# The harness's proof of teeth (docs/jepsen.md): berth-store built with
# BERTH_JEPSEN_BROKEN_READS, which answers linearizable reads from any member's own state.
# Objects of its own in $(BUILD)/broken/; never installed, never the default.
BROKEN_OBJ := $(patsubst %.c,$(BUILD)/broken/%.o,store/main.c $(STORE_SRC) $(COMMON_SRC))
$(BUILD)/broken/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DBERTH_JEPSEN_BROKEN_READS -c $< -o $@
$(BUILD)/berth-store-broken: $(BROKEN_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# berth-bench talks to the store only through libberth; -pthread for its client threads.
$(BUILD)/berth-bench: $(call obj,$(BENCH_SRC)) $(LIBBERTH) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) -pthread -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(call obj,$(TEST_SUPPORT)) $(LIBJEPSEN) $(LIBWORKER) $(LIBBERTH) \
		  $(LIBSTORE) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)
# test_berthctl and test_berthctl_sched run the program.
$(BUILD)/tests/test_berthctl $(BUILD)/tests/test_berthctl_sched: | $(BUILD)/berthctl
# test_jepsen_cli runs berth-jepsen check.
$(BUILD)/tests/test_jepsen_cli: | $(BUILD)/berth-jepsen

# The integration tests run the berth-store, berth-agent and berth-worker of the same build
# (BERTH_STORE_BIN, BERTH_AGENT_BIN and BERTH_WORKER_BIN below).
$(BUILD)/integ/%: $(call obj,tests/integ/%.c) $(call obj,$(INTEG_SUPPORT)) $(LIBJEPSEN) $(LIBBERTH) $(LIBCOMMON) \
		  | $(BUILD)/berth-store $(BUILD)/berth-agent $(BUILD)/berth-worker
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)
# The cluster commands' test runs berthctl as the unit tests do (tests/unit/ctl_run.h).
$(BUILD)/integ/test_cluster_ctl_sched: $(call obj,tests/unit/ctl_run.c) | $(BUILD)/berthctl
# The harness's smoke test runs berth-jepsen on both builds of berth-store.
$(BUILD)/integ/test_jepsen_smoke: | $(BUILD)/berth-jepsen $(BUILD)/berth-store-broken
# The scheduler workload's test runs berth-jepsen with berth-worker and berth-agent.
$(BUILD)/integ/test_jepsen_sched: | $(BUILD)/berth-jepsen
# The bench's tests run berth-bench sched and kv as the program (BERTH_BENCH_BIN below).
$(BUILD)/integ/test_bench_sched $(BUILD)/integ/test_bench_kv: | $(BUILD)/berth-bench

$(BUILD)/bench-fsm: $(call obj,tests/bench/bench_fsm.c) $(LIBSTORE) $(LIBCOMMON)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# Each test binary runs on its own, the unit tests first, then the integration tests;
# the last line totals them all.
test: $(PROGRAMS) $(BUILD)/berth-store-broken $(TESTS) $(INTEG_TESTS)
	@BERTH_STORE_BIN=$(BUILD)/berth-store BERTH_AGENT_BIN=$(BUILD)/berth-agent \
	  BERTH_WORKER_BIN=$(BUILD)/berth-worker BERTH_BENCH_BIN=$(BUILD)/berth-bench \
	  BERTH_JEPSEN_BIN=$(BUILD)/berth-jepsen BERTH_STORE_BROKEN_BIN=$(BUILD)/berth-store-broken \
	  tests/run-unit $(TESTS) $(INTEG_TESTS)

asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test

# The deterministic cluster simulation over many more seeds than make test runs.
SIM_SEEDS ?= 3000
sim-long: $(BUILD)/tests/test_sim
	BERTH_SIM_SEEDS=$(SIM_SEEDS) BERTH_SIM_BASE=$${BERTH_SIM_BASE:-1} $(BUILD)/tests/test_sim

bench-fsm: $(BUILD)/bench-fsm
	$(BUILD)/bench-fsm $(BENCH_ARGS)

# Every kv case, the fsync floor and failover on a cluster of its own (build/bench-cluster).
bench-kv: $(BUILD)/berth-bench $(BUILD)/berth-store $(BUILD)/berthctl
	@BERTH_BIN=$(BUILD) tools/bench-kv

# etcd-bench (tools/etcd-bench), berth-bench kv's peer for etcd, in Go with etcd's client
# from Debian, offline (GOPATH mode). Only `make bench` builds it, after installing what it
# needs (tools/install-bench-deps): make and make test need neither Go nor etcd.
BENCH_DEPS_STAMP := $(BUILD)/.bench-deps-ok
$(BENCH_DEPS_STAMP):
	@tools/install-bench-deps
	@mkdir -p $(BUILD) && touch $@
$(BUILD)/etcd-bench: $(wildcard tools/etcd-bench/*.go) | $(BENCH_DEPS_STAMP)
	GO111MODULE=off GOPATH=$(abspath $(BUILD))/gopath:/usr/share/gocode \
	  GOCACHE=$(abspath $(BUILD))/gocache go build -o $@ ./tools/etcd-bench

# berth and etcd side by side: three members each, every case alternating, failover, the
# fsync floor; one table (build/bench-compare while it runs; BENCH_SECONDS, BENCH_ROUNDS).
bench: $(BUILD)/berth-bench $(BUILD)/berth-store $(BUILD)/berthctl $(BUILD)/etcd-bench
	@BERTH_BIN=$(BUILD) tools/bench-compare

# K = 1, 2, 4, 8 workers, fine and coarse, on one input (build/bench-sched-cluster).
bench-sched: $(BUILD)/berth-bench $(BUILD)/berth-store $(BUILD)/berth-worker $(BUILD)/berthctl
	@BERTH_BIN=$(BUILD) tools/bench-sched

# The fault-injection campaign (tools/jepsen-campaign, docs/jepsen.md); JEPSEN_TIME=60 s a run.
jepsen: $(BUILD)/berth-jepsen $(BUILD)/berth-store $(BUILD)/berth-store-broken \
	$(BUILD)/berth-worker $(BUILD)/berth-agent
	@BERTH_BIN=$(BUILD) tools/jepsen-campaign

check: test
	@tools/check-format
	@tools/check-layering
	@tools/check-layering --self-test

# The main job on a fresh machine: a local three-member cluster doing real work, then
# scheduling a service on it (tools/demo, tools/demo-sched).
demo: all
	@tools/demo

clean:
	rm -rf build build-asan

.PHONY: all test asan check bench bench-fsm bench-kv bench-sched sim-long demo jepsen clean
.DELETE_ON_ERROR:
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
