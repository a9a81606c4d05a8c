/* tests/integ/worker_fix.h: what the berth-worker integration tests share: a real
 * three-member cluster, berth-worker child processes (logs in the cluster's folder,
 * printed when a test fails), instances registered by hand with the model's encoder and
 * an alive key on a lease (as the agent would), tasks and services written as
 * docs/commits.md says, and the checks of the store's state and of its history. */
#ifndef BERTH_TESTS_INTEG_WORKER_FIX_H
#define BERTH_TESTS_INTEG_WORKER_FIX_H

#include "client/model.h"
#include "tests/integ/child.h"
#include "tests/integ/integ.h"

#define WF_MAX_WORKERS 4
#define WF_WAIT_MS 30000

struct worker_fix {
	struct integ in;
	struct child workers[WF_MAX_WORKERS];
	struct berth *b; /* a handle on every member */
	char cluster[32];
	uint64_t rng;
};

/* cmocka setup and teardown: *state is a struct worker_fix. Teardown kills the workers
 * (by PID), prints their logs when the test did not finish, stops the members, removes
 * the folder. */
int wf_setup(void **state);
int wf_teardown(void **state);

/* Starts the three members and the handle. */
void wf_cluster(struct worker_fix *f);
/* Starts worker i ($BERTH_WORKER_BIN, default build/berth-worker) with --endpoints,
 * --cluster, --name wI, --seed I+1, --stats-ms 1000 and extra (NULL-terminated). */
void wf_worker_start(struct worker_fix *f, unsigned i, const char *const *extra);
/* Signals worker i and asserts it exits by itself with status 0 within timeout_ms, with
 * its final statistics line and no sanitizer report in its log. */
void wf_worker_stop(struct worker_fix *f, unsigned i, int sig, uint32_t timeout_ms);
/* SIGKILL to worker i, reaped. */
void wf_worker_kill(struct worker_fix *f, unsigned i);
/* A counter from worker i's last statistics line ("conflicts"), or -1. */
long long wf_worker_stat(struct worker_fix *f, unsigned i, const char *name);
/* Stops the workers (SIGTERM, exit 0 each) and the members; marks the test passed. */
void wf_finish(struct worker_fix *f);

/* A lease of ttl_s seconds. */
uint64_t wf_lease(struct worker_fix *f, int64_t ttl_s);
void wf_revoke(struct worker_fix *f, uint64_t lease);
/* Registers instance iid (cpu, mem, host ports [pfrom, pto], attribute zone; status
 * DRAINING when draining) with alive/iid on lease, in one transaction. */
void wf_instance(struct worker_fix *f, const char *iid, uint32_t cpu, uint32_t mem, uint16_t pfrom,
		 uint16_t pto, const char *zone, uint64_t lease, bool draining);

/* A fleet: n instances PREFIX-0 .. PREFIX-(n-1) as wf_instance registers them, in zones
 * a, b, c... by index modulo nzones, all on lease but the first, on lease0. */
struct wf_fleet {
	const char *prefix;
	unsigned n, nzones;
	uint32_t cpu, mem;
	uint16_t pfrom, pto;
};
void wf_instances(struct worker_fix *f, const struct wf_fleet *fl, uint64_t lease, uint64_t lease0);

/* A task to run: what the Run transaction writes. */
struct wf_task {
	uint32_t cpu, mem;
	uint16_t ports[4];
	size_t nports;
	const char *group;      /* "family:web" when NULL */
	const char *strategy;   /* compact form, or NULL */
	const char *constraint; /* compact form, or NULL */
	const char *started_by; /* or NULL */
};
/* Writes n PROVISIONING tasks like t (version 0 compares, batches of 50); their ids
 * into ids[n] when not NULL. Returns the revision after the last batch. */
uint64_t wf_tasks(struct worker_fix *f, const struct wf_task *t, size_t n,
		  char (*ids)[MODEL_TASK_ID_LEN + 1]);
/* Registers task definition family:rev (one container, cpu, mem). */
void wf_taskdef(struct worker_fix *f, const char *family, uint32_t rev, uint32_t cpu, uint32_t mem);
/* Creates or updates service name (family:rev, desired count, spread by zone), with a
 * compare on its mod_rev (0: new). */
void wf_service(struct worker_fix *f, const char *name, const char *family, uint32_t rev,
		uint32_t desired);

/* The tasks as the store holds them now. */
struct wf_state {
	size_t n;
	struct model_task *tasks; /* owned */
	uint64_t rev;
};
void wf_read(struct worker_fix *f, struct wf_state *s);
void wf_state_free(struct wf_state *s);
/* Tasks in s with last status st (and, when iid is not NULL, on that instance). */
size_t wf_count(const struct wf_state *s, enum model_task_status st, const char *iid);
/* Polls until wf_count(st) == n (with desired RUNNING when live is set); fails after
 * timeout_ms with what it saw. */
void wf_wait_count(struct worker_fix *f, enum model_task_status st, size_t n, uint32_t timeout_ms);
/* The same until at least n. */
void wf_wait_least(struct worker_fix *f, enum model_task_status st, size_t n, uint32_t timeout_ms);

/* Asserts the store's state is whole: every PENDING or RUNNING task has exactly its
 * counters, ports, placed key and group counter; no key without its task; no instance
 * over its totals; no group counter above 1 for distinctInstance groups (distinct, may
 * be NULL). */
void wf_check_state(struct worker_fix *f, const char *distinct);
/* Replays the cluster's history from after rev `from` up to now with a watch and asserts,
 * at every revision: no instance's cpu or memory counter below 0 or above its total, no group
 * counter of `distinct` above 1, and no task placed twice (PROVISIONING -> PENDING at most
 * once, never moved to another instance). Returns the placements seen. */
size_t wf_check_history(struct worker_fix *f, uint64_t from, const char *distinct);

#endif
