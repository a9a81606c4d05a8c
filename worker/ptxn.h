/* worker/ptxn.h: the worker's transactions of docs/commits.md, built from its cache:
 * Place (fine-grained or coarse, for one task or a group of tasks committed all or
 * nothing) and the release of a lost instance's task.
 *
 * Pure: no I/O; the transaction goes into a struct txb (worker/txb.h). Records are
 * encoded with the model's encoder (client/model.h), so a record the worker writes is one
 * every reader accepts. */
#ifndef BERTH_WORKER_PTXN_H
#define BERTH_WORKER_PTXN_H

#include "worker/cache.h"
#include "worker/txb.h"

#include <stdint.h>

enum ptxn_conflict {
	PTXN_FINE,  /* int compares on the allocation counters: room, not who wrote last */
	PTXN_COARSE /* mod_rev compares on the counters: any change since read conflicts */
};

/* One decision: this task on this instance. */
struct ptxn_pick {
	const struct cache_task *task; /* PROVISIONING, desired RUNNING, as read (rev) */
	const struct cache_inst *inst; /* with its record, as read (rev, cpu_rev, mem_rev) */
};

/* The Place transaction for picks[0..n), n >= 1, all or nothing. Compares and counter
 * adds on one instance are aggregated over the picks it receives (a transaction may not
 * write a key twice): int(alloc/I/cpu) <= cpu(I) - sum of their cpu, one add of the
 * sum; the group counter likewise. Each task gets its ports, its record (PENDING on its
 * instance, updatedAt now_ms) and its placed index key. The failure branch reads back
 * each task, instance record and counter. 0; BERTH_EBADREQ (a record the encoder refuses,
 * message in err); BERTH_ENOMEM. */
int ptxn_place(struct txb *b, const char *cluster, enum ptxn_conflict mode,
	       const struct ptxn_pick *picks, size_t n, uint64_t now_ms, char *err, size_t errlen);

/* How many of picks[0..n) (a prefix, at least 1 when n >= 1) one Place transaction
 * holds when the store takes at most max_ops compares and max_ops operations per branch
 * (its --max-txn-ops), counted as ptxn_place builds it: per task 1 compare, 2 puts and
 * 1 read, plus 1 compare and 1 put per host port; per instance 4 compares, 2 adds and
 * 3 reads; per (group, instance) 1 add, and 1 compare with distinctInstance. A single
 * pick that exceeds the bounds is still counted 1: the store refuses it, as before. */
size_t ptxn_place_fit(const struct ptxn_pick *picks, size_t n, size_t max_ops);

/* The release of a lost instance's task t (placed: PENDING or RUNNING on an instance):
 * compare R(tasks/T) and version(alive/I) = 0; put the task STOPPED (desired and last)
 * with reason; give back cpu, memory, ports, the group counter and the placed key. The
 * failure branch reads the task and alive/I. Errors as ptxn_place. */
int ptxn_release_lost(struct txb *b, const char *cluster, const struct cache_task *t,
		      const char *reason, uint64_t now_ms, char *err, size_t errlen);

#endif
