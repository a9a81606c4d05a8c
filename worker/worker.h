/* worker/worker.h: berth-worker, the scheduler worker (DESIGN.md section 5,
 * docs/worker.md): one libuv loop, one asynchronous libberth handle, a cache of the
 * cluster fed by a list and a watch, and the transactions of docs/commits.md.
 *
 * The parts, one file each, share this struct:
 *   worker.c   lifecycle: handle, signals, statistics timer, orderly stop
 *   sync.c     the cache's feed: a paged serializable list at R, a watch from R,
 *              a new list when the watch ends with BERTH_ECOMPACTED
 *   sched.c    the placement commits: decisions, holds on what is in flight,
 *              conflicts, retries with backoff, parking
 *   squeue.c   the pending queue (buckets by task id hash) and the parked list
 *   decide.c   decisions: the cache (and holds) as place_input, place_choose or
 *              place_group for a batch of tasks alike
 *   lost.c     releasing the tasks of instances whose alive key is gone
 *   service.c  service reconciliation
 *   stats.c    counters and latency histograms
 * Everything runs on the loop's thread. */
#ifndef BERTH_WORKER_WORKER_H
#define BERTH_WORKER_WORKER_H

#include "client/berth_async.h"
#include "worker/cache.h"
#include "worker/place.h"
#include "worker/wconfig.h"
#include "worker/wmap.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define WORKER_BATCH_MAX WCONFIG_BATCH_MAX
#define SQUEUE_BUCKETS 16

/* Where a task is: cache_task.queue. */
enum { Q_NONE, Q_PENDING, Q_PARKED, Q_BAD };

/* A latency histogram: power-of-two buckets of microseconds. */
#define STATS_BUCKETS 40
struct stats_hist {
	uint64_t n, sum_us, max_us;
	uint64_t bucket[STATS_BUCKETS];
};

struct worker_stats {
	uint64_t placements; /* tasks placed by this worker's commits */
	uint64_t commits;    /* successful Place transactions */
	uint64_t conflicts;  /* Place transactions whose compares failed */
	uint64_t retries;    /* placement attempts after a conflict */
	uint64_t parked;     /* times a task found no instance or ran out of retries */
	uint64_t errors;     /* calls that failed (not a compare: the store or the network) */
	uint64_t released;   /* tasks of lost instances released */
	uint64_t svc_writes; /* successful service reconciliation transactions */
	uint64_t svc_conflicts;
	struct stats_hist decision; /* building the input and choosing */
	struct stats_hist commit;   /* a Place transaction, sent to answered */
};

/* Something this worker committed, or is committing, that its cache may not show yet:
 * decisions count it as used until the cache shows its task placed or the watch has
 * passed until_rev. */
struct hold {
	struct hold *next;
	char tid[MODEL_ID_MAX + 1]; /* the task placed */
	char iid[MODEL_ID_MAX + 1];
	char group[MODEL_GROUP_MAX + 1];
	int64_t cpu, mem;
	uint16_t ports[MODEL_HOST_PORTS_MAX];
	size_t nports;
	uint64_t until_rev; /* 0: in flight */
	uint64_t attempt;   /* the attempt that owns it while in flight */
};

enum worker_phase { WORKER_LISTING, WORKER_WATCHING, WORKER_STOPPING };

struct worker {
	uv_loop_t *loop;
	const struct wconfig *cfg;
	struct berth_async *a;
	struct cache cache;
	enum worker_phase phase;
	uint64_t rng;

	/* sync.c */
	struct berth_async_watch *watch;
	char list_from[MODEL_KEY_MAX + 1]; /* the next page starts here */
	size_t list_from_len;
	uint64_t list_rev;
	uint64_t ready_rev; /* the member's revision when the list ended: decisions wait until
			     * the watch has reached it (a long list leaves the cache stale) */
	uint64_t lists;     /* lists done (1 + re-lists) */
	bool list_busy;
	uv_timer_t sync_timer; /* a list page to try again */

	/* sched.c, squeue.c: tasks waiting for a decision (in buckets by a hash of their id),
	 * and tasks nothing could hold */
	struct cache_task pending[SQUEUE_BUCKETS], parked; /* list heads */
	uint64_t foreign_ms[SQUEUE_BUCKETS]; /* another worker placed a queued task (loop ms) */
	size_t qstart;                       /* the bucket this worker takes from first */
	size_t npending, nparked;
	bool wake;         /* the cache changed in a way that may let parked tasks fit */
	bool retry_parked; /* a task ran out of retries: parked tasks wake at the next tick */
	struct wmap busy;  /* tid -> attempt: a commit in flight or a retry waiting */
	size_t inflight;   /* Place transactions in flight */
	uint64_t next_attempt;
	struct hold *holds;

	/* decide.c: scratch, grown as needed */
	struct place_instance *pi;
	struct cache_inst **pc;
	struct place_port *pports;
	size_t pcap;

	/* lost.c */
	struct wmap releasing; /* tid -> attempts so far, while a release is in flight */

	/* service.c */
	struct wmap svc_busy; /* service name -> its write in flight or not yet seen */
	bool svc_dirty;       /* a service, a service's task or an instance changed */
	struct wmap taskdefs; /* "family/rev" -> struct model_taskdef (or a fetch marker) */

	struct worker_stats stats;
	uv_timer_t stats_timer;
	uv_signal_t sigterm, sigint;
	int calls; /* calls in flight (any kind): the stop waits for them */
	bool closed;
	int exit_code;
};

/* worker.c */
/* Opens the handle and starts everything on loop. 0, or an error with a message logged. */
int worker_start(struct worker *w, uv_loop_t *loop, const struct wconfig *cfg);
/* Stops taking new work; the loop ends once the calls in flight have their answers. */
void worker_stop(struct worker *w);
/* Frees what worker_start made, after uv_run returned. */
void worker_close(struct worker *w);
/* How a call ended: its error, or the state machine's refusal of it; 0 when it was
 * applied (a transaction's compares may still have failed: reply.succeeded). */
int worker_result_err(const struct berth_result *res);
/* Wall clock, unix ms. */
uint64_t worker_now_ms(void);
/* A call ended: counts it and finishes a stop waiting for it. */
void worker_call_done(struct worker *w);

/* sync.c */
int sync_start(struct worker *w);
void sync_stop(struct worker *w);
/* Applies the key-values of a failure branch (ranges of single keys): newer ones only. */
void sync_refresh(struct worker *w, const struct reply *r);

/* sched.c */
extern const struct cache_hooks sched_hooks;
void sched_init(struct worker *w);
void sched_close(struct worker *w);
/* Decides and commits while there are pending tasks and room in flight. */
void sched_pump(struct worker *w);
/* The watch or a list has reached cache.rev: holds it has passed end. */
void sched_caught_up(struct worker *w);

/* squeue.c */
/* Empty queues; the first bucket drawn from w->rng. */
void squeue_init(struct worker *w);
/* Takes t out of its queue (if any): queue Q_NONE. */
void squeue_unlink(struct worker *w, struct cache_task *t);
/* Puts t at the front or back of the pending queue (its bucket) or the parked list. */
void squeue_push(struct worker *w, struct cache_task *t, int q, bool front);
/* A queued task was placed or stopped by someone else: its bucket is another worker's
 * for a while. Nothing when t is not pending. */
void squeue_foreign(struct worker *w, const struct cache_task *t);
/* A transaction of this worker conflicted on task tid, placed by another worker
 * meanwhile: its bucket is another worker's for a while (sooner than the watch says). */
void squeue_taken(struct worker *w, const char *tid);
/* The pending task to decide next (still queued), or NULL. */
struct cache_task *squeue_first(const struct worker *w);
/* pred(first, t, ctx): 1 take t, 0 leave it, -1 stop. */
typedef int (*squeue_pred)(const struct cache_task *first, const struct cache_task *t, void *ctx);
/* Takes first (from squeue_first) and the pending tasks after it, bucket after bucket,
 * that pred accepts, into out[0..n) (out[0] is first), at most max of them and looking
 * at most scan_max deep; they leave the queue (Q_NONE). Returns n >= 1. */
size_t squeue_take(struct worker *w, struct cache_task *first, squeue_pred pred, void *ctx,
		   struct cache_task **out, size_t max, size_t scan_max);

/* decide.c */
/* Chooses instances for ts[0..n) (1 <= n <= WORKER_BATCH_MAX), tasks alike (the same
 * resources, ports, group, strategies and constraints: ts[0]'s are used), one after
 * another on one input built from the cache and the holds: insts[0..*placed) for the
 * first *placed tasks; the rest fit nowhere (the last decision in *res). 0, or an error
 * (ts[0] is unplaceable as written, message in err). */
int decide_tasks(struct worker *w, struct cache_task **ts, size_t n, struct cache_inst **insts,
		 size_t *placed, struct place_result *res, char *err, size_t errlen);
/* Frees a task's compiled queries (a cache hook). */
void decide_task_free(struct cache_task *t);
void decide_close(struct worker *w);
/* A hold on in's resources for t (until_rev 0) in w->holds, owned by attempt. 0 or ENOMEM */
int decide_hold(struct worker *w, const struct cache_task *t, const struct cache_inst *in,
		uint64_t attempt);
/* Ends the holds of attempt: dropped (failure) or kept until the watch passes rev. */
void decide_unhold(struct worker *w, uint64_t attempt, uint64_t rev);

/* lost.c */
void lost_instance(struct worker *w, struct cache_inst *in);
/* A task record changed: release it when it sits on a lost instance. */
void lost_check_task(struct worker *w, struct cache_task *t);
/* After a list: every instance with a record and no alive key is lost. */
void lost_scan(struct worker *w);

/* service.c */
/* Reconciles every service if something changed since (w->svc_dirty): after a whole
 * watch batch only, never in the middle of one. */
void service_run(struct worker *w);
/* Reconciles every service, counters included (after a list, and periodically). */
void service_scan(struct worker *w);
void service_close(struct worker *w);

/* stats.c */
void stats_record(struct stats_hist *h, uint64_t us);
/* Prints one line of counters on stdout ("final" at exit). */
void stats_print(struct worker *w, const char *when);

#endif
