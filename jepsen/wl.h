/* jepsen/wl.h: the workloads of the harness: what a client thread invokes, how each
 * outcome is recorded, the final reads, and which checker judges the history.
 *
 * Every operation is recorded as an invoke event and one completion by the same process
 * (jepsen/history.h): ok (it happened), fail (it certainly did not: a definite error, or
 * a compare that did not hold) or info (unknown: libberth's indeterminate errors,
 * err_indeterminate). After an info completion the thread takes a new process number
 * (process + concurrency), as Jepsen does: the old process may still be in flight.
 * Written values are unique across the run (wl_unique). Keys live under "j/".
 *
 *   register  keys j/r/0..K-1; read (linearizable get, on b_read), write v, cas [expected, new]
 *             (expected: the last value this process saw on the key, or null for absent);
 *             checked by check_register (linearizability per key)
 *   set       add v puts j/s/<v>; the final read lists the prefix; check_set
 *   bank      K accounts j/b/<i> holding 100 each, written by the setup; transfer reads
 *             every balance and moves 1..5 in one transaction that compares both
 *             accounts' mod_rev; read lists every balance in one linearizable range
 *             (on b_read);
 *             check_bank with total 100 K, no negative balance
 *   watch     writers put unique values to j/w/0..K-1; `watchers` of the threads each
 *             keep one watch on j/w/ from revision 1 and record each batch as a "watch"
 *             operation; at the end each watcher drains up to the final revision;
 *             check_watch (one identical ordered sequence, no gaps)
 *   sessions  counters j/c/0..K-1: add 1..5 (a txn with an add, which libberth retries
 *             with the same session and sequence number when its outcome is unknown),
 *             read (linearizable, on b_read); check_counter (every read within what the
 *             adds allow: none applied twice, none lost)
 *   sched     a cluster "j" of berth-workers and berth-agents (processes on the host) and
 *             a service; run (a RunTask of 1-3 tasks), scale (the service's desired
 *             count), stop (a task of a run); a recorder keeps every revision of the
 *             cluster's keys as "state" operations; the final step waits for the
 *             service's desired count; check_sched (jepsen/sched.h, docs/jepsen.md) */
#ifndef BERTH_JEPSEN_WL_H
#define BERTH_JEPSEN_WL_H

#include "client/berth.h"
#include "jepsen/history.h"
#include "jepsen/run.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* State shared by every client of a run. */
struct workload;

struct wl_shared {
	const struct run_config *cfg;
	const struct workload *wl;
	struct hist_writer *hist;
	atomic_uint_fast64_t next_value; /* wl_unique */
	atomic_bool stop;                /* the client phase is over */
	uint64_t start_rev;              /* watch: the watchers see every change after it */
	struct nodes *nodes;             /* the members (setup: endpoints, handles) */
	const char *dir;                 /* the run's folder */
	void *priv;                      /* the workload's own state (sched) */
	struct nemesis_helpers helpers;  /* kill-worker, kill-agent: filled by the setup */
};

/* One client thread. */
struct wl_client {
	struct wl_shared *sh;
	struct berth *b;      /* owned by the runner: writes, and reads that go with them */
	struct berth *b_read; /* owned by the runner: reads, first endpoint node thread % n
			       * (as Jepsen binds a client to a node: a member that answered a
			       * linearizable read itself instead of redirecting would show) */
	unsigned thread;      /* 0..concurrency-1 */
	int process;          /* its current process number */
	uint64_t rng;
	int64_t *seen; /* register: the last value seen per key (-1: absent, -2: none) */
	struct berth_watch *watch; /* watch: a watcher's */
	uint64_t resume;           /* watch: reopen after this revision (0: start_rev) */
	uint64_t ops;
};

struct workload {
	const char *name;
	/* Before the clients start (e.g. the bank's accounts); NULL: nothing to set up. 0, or
	 * an error after printing. */
	int (*setup)(struct wl_shared *sh, struct berth *b);
	/* One operation of client c (invoke and completion recorded). */
	void (*op)(struct wl_client *c);
	/* After the clients stopped and the cluster recovered, once per client in thread
	 * order (sequentially, from the runner's thread): the final reads (a workload that
	 * needs one does it on thread 0; a watcher drains its watch). 0, or an error after
	 * printing (the verdict is then unknown). */
	int (*final)(struct wl_client *c);
	/* The checker's result (jepsen/check.h), or NULL with a message in err. */
	json_t *(*check)(const struct history *h, const struct run_config *cfg, char *err,
			 size_t errlen);
	/* May be NULL. Called once at the end of every run whose setup was called (also after
	 * a failure or a signal), before the members stop: stops what the setup started. */
	void (*close)(struct wl_shared *sh);
};

/* The workload of that name, or NULL. */
const struct workload *wl_find(const char *name);
/* "register, set, bank, watch, sessions, sched". */
const char *wl_names(void);

/* --- shared by the workloads (jepsen/wl.c) ---------------------------------------- */
/* A value never written before in this run. */
int64_t wl_unique(struct wl_client *c);
/* Uniform in [0, n). */
uint64_t wl_rand(struct wl_client *c, uint64_t n);
/* Records the invocation. */
void wl_invoke(struct wl_client *c, const char *f, const char *key, json_t *value);
/* Records the completion of a call that returned rc: ok when rc is 0 and ok_when is true,
 * fail when rc is 0 and ok_when false or rc is definite, info when rc is indeterminate
 * (then c takes a new process number). value: the ok completion's (may be NULL: the
 * invocation's is repeated by the checker's reading, so pass it again). Steals value. */
void wl_complete(struct wl_client *c, const char *f, const char *key, int rc, bool ok_when,
		 json_t *value);
/* An integer value read back from the store ("123"); false when it is not one. */
bool wl_parse_int(const struct bytes *v, int64_t *out);

#endif
