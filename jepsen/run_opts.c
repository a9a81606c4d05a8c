/* jepsen/run_opts.c: the options of `berth-jepsen run` (jepsen/run.h). */
#include "jepsen/run.h"

#include "common/err.h"
#include "common/opttab.h"
#include "jepsen/wl.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define ROPT_U64(field, def, min, max, help)                                                       \
	OPTTAB_U64(struct run_config, field, def, min, max, help)
#define ROPT_STR(field, def, help) OPTTAB_STR(struct run_config, field, def, help)

static const struct opttab_opt run_opts[] = {
	ROPT_STR(workload, "register", "register, set, bank, watch, sessions or sched"),
	ROPT_STR(nemesis, "partition-one,kill-leader",
		 "faults, comma-separated, one at a time in random order (docs/jepsen.md), "
		 "or none"),
	ROPT_U64(time_limit_s, "60", 1, 86400, "seconds of client operations"),
	ROPT_U64(rate, "100", 1, 100000, "operations per second, all clients together"),
	ROPT_U64(concurrency, "5", 1, 64, "client threads"),
	ROPT_U64(nodes, "3", 1, 5, "store members"),
	ROPT_U64(seed, "0", 0, UINT64_MAX, "random seed (0: from the clock; printed)"),
	ROPT_STR(out, "", "the run's folder (default: jepsen-out/WORKLOAD-TIME)"),
	ROPT_STR(store_bin, "./build/berth-store", "the berth-store program"),
	ROPT_U64(fault_ms, "8000", 100, 3600000, "how long each fault lasts"),
	ROPT_U64(calm_ms, "4000", 0, 3600000, "calm between two faults"),
	ROPT_U64(recovery_s, "5", 0, 600, "after healing, before the final reads"),
	ROPT_U64(op_timeout_ms, "3000", 100, 600000, "each client call's deadline"),
	ROPT_U64(keys, "8", 1, 64, "register, watch: keys; bank: accounts"),
	ROPT_U64(watchers, "2", 0, 63, "watch: watcher threads (of --concurrency)"),
	ROPT_U64(max_states, "0", 0, UINT64_MAX,
		 "register: the checker's search budget per key (0: its default)"),
	ROPT_U64(tmpfs_mib, "0", 0, 4096,
		 "data directories on a tmpfs of this size (disk-full needs it; 0: off, or 64 "
		 "when disk-full is asked for)"),
	ROPT_U64(election_ms, "1000", 100, 60000, "the members' --election-ms"),
	ROPT_U64(sched_workers, "2", 1, 8, "sched: berth-worker processes"),
	ROPT_U64(sched_agents, "2", 1, 8, "sched: berth-agent processes (2 instances each)"),
	ROPT_STR(worker_bin, "./build/berth-worker", "sched: the berth-worker program"),
	ROPT_STR(agent_bin, "./build/berth-agent", "sched: the berth-agent program"),
	OPTTAB_FLAG(struct run_config, faketime,
		    "preload libfaketime in the members (implied by clock-skew, clock-jump)"),
	OPTTAB_FLAG(struct run_config, keep_data, "leave the members' data directories"),
	OPTTAB_FLAG(struct run_config, quiet, "no progress lines on stderr"),
};
#define RUN_NOPTS (sizeof(run_opts) / sizeof(run_opts[0]))

static void run_usage(FILE *to)
{
	fprintf(to, "usage: berth-jepsen run [OPTIONS]\n\n"
		    "Starts berth-store members in network namespaces, runs a workload's "
		    "clients under faults,\nheals, reads the final state and checks the "
		    "history (docs/jepsen.md). Needs root.\n\noptions:\n");
	opttab_usage(to, run_opts, RUN_NOPTS, 15);
}

/* Splits c->nemesis into c->kinds. */
static int run_kinds(struct run_config *c, char *err, size_t errlen)
{
	char buf[sizeof(c->nemesis)], *save = NULL;
	c->nkinds = 0;
	if (strcmp(c->nemesis, "none") == 0 || c->nemesis[0] == 0)
		return 0;
	memcpy(buf, c->nemesis, sizeof(buf));
	for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		enum nemesis_kind k;
		if (nemesis_kind_parse(t, &k) != 0) {
			snprintf(err, errlen,
				 "--nemesis: \"%s\" is not a fault (see docs/jepsen.md)", t);
			return BERTH_EBADREQ;
		}
		if (c->nkinds == RUN_MAX_NEMESES) {
			snprintf(err, errlen, "--nemesis: at most %d faults", RUN_MAX_NEMESES);
			return BERTH_EBADREQ;
		}
		c->kinds[c->nkinds++] = k;
		if (k == NEMESIS_CLOCK_SKEW || k == NEMESIS_CLOCK_JUMP)
			c->faketime = 1;
		if (k == NEMESIS_DISK_FULL && c->tmpfs_mib == 0)
			c->tmpfs_mib = 64;
	}
	return 0;
}

int run_parse(int argc, char **argv, struct run_config *c)
{
	char err[512];
	enum opttab_result r = opttab_parse(run_opts, RUN_NOPTS, NULL, 0, c, sizeof(*c), argc, argv,
					    err, sizeof(err));
	if (r == OPTTAB_HELP) {
		run_usage(stdout);
		return -1;
	}
	if (r == OPTTAB_OK && wl_find(c->workload) == NULL) {
		snprintf(err, sizeof(err), "--workload: \"%s\" is not one of %s", c->workload,
			 wl_names());
		r = OPTTAB_ERROR;
	}
	if (r == OPTTAB_OK && c->nodes != 3 && c->nodes != 5 && c->nodes != 1) {
		snprintf(err, sizeof(err), "--nodes: 1, 3 or 5");
		r = OPTTAB_ERROR;
	}
	if (r == OPTTAB_OK && run_kinds(c, err, sizeof(err)) != 0)
		r = OPTTAB_ERROR;
	if (r == OPTTAB_OK && strcmp(c->workload, "watch") == 0 &&
	    (c->watchers == 0 || c->watchers >= c->concurrency)) {
		snprintf(err, sizeof(err), "--watchers: 1 to --concurrency - 1 for watch");
		r = OPTTAB_ERROR;
	}
	if (r != OPTTAB_OK) {
		fprintf(stderr, "berth-jepsen run: %s\n", err);
		run_usage(stderr);
		return RUN_USAGE;
	}
	return 0;
}
