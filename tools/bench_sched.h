/* tools/bench_sched.h: `berth-bench sched`, shared by its two files: the configuration,
 * the input it writes (tools/bench_sched.c) and the run it measures (tools/bench_sched_run.c).
 *
 * One run: a fresh cluster name; N instances (record and alive key on one lease, zones
 * round-robin), M PROVISIONING tasks (ids "t" and 7 digits, the index), K berth-worker
 * children; a watch on the tasks prefix times each task from its creation (the moment its
 * transaction was sent) to its PENDING record; SIGTERM to the workers once every task is
 * placed (or at the deadline), their final statistics lines give commits and conflicts. */
#ifndef BERTH_TOOLS_BENCH_SCHED_H
#define BERTH_TOOLS_BENCH_SCHED_H

#include "client/berth.h"
#include "client/model.h"
#include "tools/bench.h"

#include <sys/types.h>

#define SCHED_MAX_INSTANCES 100000
#define SCHED_MAX_TASKS 1000000
#define SCHED_MAX_WORKERS 64
#define SCHED_MAX_ZONES 26
#define SCHED_MAX_BATCH 1024 /* berth-worker's --batch and --max-inflight limits */
#define SCHED_MAX_INFLIGHT 4096
#define SCHED_TASK_CPU 128 /* what each task needs */
#define SCHED_TASK_MEM 256

struct sched_config {
	const char *endpoints[BENCH_MAX_ENDPOINTS];
	size_t nendpoints;
	char endpoint_list[1024]; /* as given, for the workers' --endpoints */
	char cluster[MODEL_NAME_MAX + 1];
	uint64_t instances, tasks, workers, zones, slots; /* slots: tasks one instance holds */
	uint64_t batch, max_inflight;                     /* the workers' options; 0: not given */
	const char *conflict;                             /* "fine" or "coarse" */
	struct model_strategy strategies[MODEL_STRATEGIES_MAX];
	size_t nstrategies;
	char strategy_text[256]; /* the chain as given, for the report */
	const char *worker_bin;
	double timeout_s;
	bool row;
};

/* What a run measured. */
struct sched_result {
	uint64_t placed;
	double seconds;         /* the workers' start to the last placement */
	double e2e_seconds;     /* the first task write to the last placement */
	struct bench_summary t; /* time to place */
	uint64_t commits, conflicts, placements_reported;
	uint64_t used;       /* instances holding at least one task */
	uint64_t zone_diff;  /* largest difference in tasks between two zones */
	uint64_t workers_ok; /* workers whose final line was read */
};

/* Run state shared by the writer and the watcher. */
struct sched_run {
	const struct sched_config *cfg;
	struct berth *b;
	uint64_t lease;
	uint64_t *created_ns;  /* per task: when its transaction was sent */
	uint64_t *placed_ns;   /* per task: when its PENDING record arrived (0: not yet) */
	uint32_t *on_instance; /* per task: the instance's index */
	uint64_t first_write_ns;
	uint64_t workers_ns; /* when the first worker was started (every task written) */
	uint64_t tasks_rev;  /* revision of the last task write */
	pid_t pids[SCHED_MAX_WORKERS];
	char dir[256]; /* temporary folder of the workers' output */
};

/* tools/bench_sched_run.c: starts the workers, watches until every task is placed or the
 * deadline, stops the workers and reads their statistics. 0 or BENCH_EXIT_FAIL (message
 * printed). Every worker it started is stopped and waited for, whatever happens. */
int sched_measure(struct sched_run *run, struct sched_result *res);

#endif
