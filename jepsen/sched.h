/* jepsen/sched.h: the parts of the sched workload (jepsen/wl.h, docs/jepsen.md): its
 * state, the cluster's records and processes (jepsen/sched_setup.c), the recorder of
 * every revision of the cluster's keys (jepsen/sched_rec.c); the operations and the final
 * step are in jepsen/wl_sched.c, the checker is check_sched (jepsen/check.h).
 *
 * The recorder's stream. One thread watches /berth/c/j/ from the revision before the
 * setup and records each batch it delivers as one operation of process
 * SCHED_REC_PROCESS in the history: an invoke of f "state" and an ok whose value is an
 * array of [revision, key, value], key relative to the cluster's prefix, value null for
 * a delete, else (only these keys are recorded):
 *   tasks/T          {"status", "desired", "instance" (or null), "cpu", "memory",
 *                    "ports": [host ports], "group", "reason" (or null)}
 *   instances/I      {"cpu", "memory"}
 *   alloc/I/cpu|mem  the integer
 *   alloc/I/port/P   the owning task's id
 *   services/S       {"desired", "status"}
 * A record that does not decode is recorded as {"undecodable": "why"}. When the watch
 * ends with BERTH_ECOMPACTED the recorder records f "gap" (invoke, then info {"after":
 * R, "compacted": C}) and goes on from C: the checker cannot judge across a gap. */
#ifndef BERTH_JEPSEN_SCHED_H
#define BERTH_JEPSEN_SCHED_H

#include "client/model.h"
#include "jepsen/procs.h"
#include "jepsen/wl.h"

#include <pthread.h>
#include <stdatomic.h>

#define SCHED_CLUSTER "j"
#define SCHED_SERVICE "web"
#define SCHED_SVC_FAMILY "jsvc" /* the service's task definition: 256 cpu, 256 MiB */
#define SCHED_RUN_FAMILY "jrun" /* RunTask's: 128 cpu, 128 MiB, host port SCHED_PORT */
#define SCHED_PORT 9000
#define SCHED_INST_CPU 1024 /* each instance: a full one holds 4 service tasks */
#define SCHED_INST_MEM 1024
#define SCHED_INSTANCES_PER_AGENT 2
#define SCHED_REC_PROCESS 1000000 /* the recorder's process number in the history */
#define SCHED_CONVERGE_MS 30000   /* the final step's bound */
#define SCHED_STOP_MS 5000        /* SIGTERM to SIGKILL for the workers and agents */

struct sched_rec {
	struct berth *b; /* owned: the recorder thread's handle */
	struct hist_writer *hist;
	char prefix[MODEL_KEY_MAX];
	pthread_t thread;
	bool running;
	atomic_bool stop;           /* stop now */
	atomic_uint_fast64_t until; /* stop once the stream reached it (0: go on) */
	atomic_uint_fast64_t at;    /* every change up to it has been recorded */
	atomic_uint_fast64_t gaps;
};

/* A set of task ids. */
struct sched_ids {
	char (*id)[MODEL_TASK_ID_LEN + 1]; /* owned */
	size_t n, cap;
};

struct sched {
	struct procs procs; /* workers 0..nworkers-1, then the agents */
	unsigned nworkers, nagents;
	uint32_t desired_min, desired_max; /* the service's scale bounds */
	size_t run_live_max;               /* run tasks alive at once (host ports: 1 each) */
	size_t run_inflight;               /* run tasks of run operations under way (mu) */
	struct sched_rec rec;
	pthread_mutex_t mu;       /* the sets below */
	struct sched_ids live;    /* run tasks acknowledged and not asked to stop */
	struct sched_ids acked;   /* every run task acknowledged */
	struct sched_ids stopped; /* every task whose stop was acknowledged */
};

/* The workload's setup (sched_setup.c): task definitions, the service, the recorder, the
 * workers and agents, the nemesis's helper hooks. 0, or 1 after printing why. */
int sched_setup(struct wl_shared *sh, struct berth *b);
/* Stops the recorder, the workers and the agents; frees sh->priv. */
void sched_close(struct wl_shared *sh);

/* sched_ids: 0 or BERTH_ENOMEM; take removes the i-th, i < n (the last moves there).
 * Callers hold sched.mu across choosing i and taking it. */
int sched_ids_add(struct sched_ids *s, const char *id);
void sched_ids_take(struct sched_ids *s, size_t i, char out[MODEL_TASK_ID_LEN + 1]);
bool sched_ids_has(const struct sched_ids *s, const char *id);
void sched_ids_free(struct sched_ids *s);

/* The recorder (sched_rec.c). start takes ownership of b (also on failure). 0, or
 * BERTH_EIO (the thread). */
int sched_rec_start(struct sched_rec *r, struct berth *b, struct hist_writer *hist,
		    const char *prefix, uint64_t from);
/* Waits until every change up to rev is recorded (at most timeout_ms), then stops. 0, or
 * BERTH_ETIMEOUT (stopped anyway). */
int sched_rec_finish(struct sched_rec *r, uint64_t rev, uint32_t timeout_ms);
/* Stops it now (idempotent). */
void sched_rec_stop(struct sched_rec *r);
/* One event as the stream's [revision, key, value]; prefix_len: the cluster prefix's. */
json_t *sched_rec_event(const struct berth_event *e, size_t prefix_len);

#endif
