/* jepsen/run.h: one harness run, `berth-jepsen run` (docs/jepsen.md): a test network with
 * berth-store members in it, clients at a set concurrency and rate, a nemesis on a
 * schedule, then heal, a recovery wait, the final reads, the checker, the results and
 * the plots in --out, and a one-line verdict.
 *
 * The steps, each bounded in time:
 *   1. --out is created; history.jsonl opened (its clock is the run's clock);
 *   2. the network (jepsen/netns.h, run id "j" + the pid in base 36) and the members
 *      (jepsen/nodes.h), then a leader;
 *   3. the workload's setup (jepsen/wl.h), then `concurrency` client threads, each with
 *      its own libberth handle, invoking operations at `rate` per second in all until
 *      `time_limit_s` (or the first SIGINT/SIGTERM; a second skips the recovery wait
 *      and the final reads);
 *   4. meanwhile the main thread drives the nemesis schedule (members are started and
 *      restarted from it: jepsen/nodes.h's PR_SET_PDEATHSIG rule);
 *   5. the clients stop, everything is healed (nemesis_heal_all), the cluster gets
 *      `recovery_s` to settle, then the workload's final reads run (with retries);
 *   6. the members are stopped, the network removed; the node logs are scanned for
 *      crashes and sanitizer reports (jepsen/logscan.h);
 *   7. the checker reads history.jsonl back; results.json, plots (jepsen/plot.h) and the
 *      verdict follow.
 * Everything started is stopped by pid and everything made is removed, also after a
 * failure or a signal; the run's folder keeps the history, the logs and the results. */
#ifndef BERTH_JEPSEN_RUN_H
#define BERTH_JEPSEN_RUN_H

#include "jepsen/nemesis.h"

#include <stdint.h>

#define RUN_MAX_NEMESES 16

struct run_config {
	char workload[16]; /* register, set, bank, watch, sessions, sched */
	char nemesis[512]; /* kinds, comma-separated (jepsen/nemesis.h); "none": no faults */
	enum nemesis_kind kinds[RUN_MAX_NEMESES]; /* parsed from nemesis */
	unsigned nkinds;
	uint64_t time_limit_s;  /* client phase */
	uint64_t rate;          /* operations per second, all clients together */
	uint64_t concurrency;   /* client threads */
	uint64_t nodes;         /* members: 3 or 5 */
	uint64_t seed;          /* 0: from the clock */
	char out[512];          /* the run's folder */
	char store_bin[512];    /* berth-store */
	uint64_t fault_ms;      /* each fault lasts this long */
	uint64_t calm_ms;       /* between faults */
	uint64_t recovery_s;    /* after healing, before the final reads */
	uint64_t op_timeout_ms; /* each client call's deadline */
	uint64_t keys;          /* register and watch: keys; bank: accounts */
	uint64_t watchers;      /* watch: watcher threads (of concurrency) */
	uint64_t max_states;    /* register: the checker's budget per key (0: default) */
	uint64_t tmpfs_mib;     /* data directories on tmpfs (needed by disk-full) */
	uint64_t election_ms;   /* the members' --election-ms */
	uint64_t faketime;      /* preload libfaketime (needed by clock-*) */
	uint64_t keep_data;     /* leave the members' data directories */
	uint64_t quiet;         /* no progress lines on stderr */
	uint64_t sched_workers; /* sched: berth-worker processes */
	uint64_t sched_agents;  /* sched: berth-agent processes */
	char worker_bin[512];   /* sched: berth-worker */
	char agent_bin[512];    /* sched: berth-agent */
};

/* Exit statuses of `berth-jepsen run`: the verdict, or why there is none. */
enum run_exit {
	RUN_VALID = 0,
	RUN_INVALID = 1,
	RUN_UNKNOWN = 2,
	RUN_USAGE = 64,
	RUN_SETUP = 70, /* the network, the members or the workload's setup failed */
};

/* Parses `run`'s options (argv after "run") into c; --help prints usage. 0 (go on),
 * RUN_USAGE with a message on stderr, or -1 (help printed: exit 0). */
int run_parse(int argc, char **argv, struct run_config *c);
/* Does the run of c; an enum run_exit. */
int run_main(const struct run_config *c);
/* `berth-jepsen cleanup`: removes the leftovers of earlier runs (netns_cleanup_all). */
int run_cleanup(void);

#endif
