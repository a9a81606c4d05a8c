/* store/rfsm.h: the state machine as libraft sees it (struct raft_fsm), with batching.
 *
 * libraft calls apply once per committed command entry. The adapter applies it into an
 * open LMDB batch (store/fsm.h) and keeps its reply (a batch entry's replies: one per
 * command, common/mbatch.h), keyed by the entry's index, until
 * the server takes it (rfsm_take) or drops what nobody asked for (rfsm_drop). The batch
 * is committed when it holds max_batch entries, or when the server calls rfsm_flush,
 * once per loop iteration. Every reply carries the number of the batch it is in: a reply
 * may be released to a client only once rfsm_committed() is past that batch, because
 * reads come from committed state only (linearizability) and libraft fires apply
 * callbacks later than apply, possibly before the batch commits.
 *
 * Index: libraft does not pass the entry's index to apply; it is raft_last_applied + 1,
 * because libraft applies in order and advances last_applied for every entry type.
 *
 * Snapshots: snapshot() commits the open batch and streams the committed database
 * (fsm_snapshot_write) into one raft_malloc'd buffer, freed by snapshot_finalize.
 * restore() skips a snapshot whose content the database already holds (its applied
 * index is at or past the snapshot's: see the restart argument in store/fsm.h), and
 * otherwise replaces the database. On success it frees the buffer, as libraft 0.22.1
 * expects (on failure libraft frees it).
 *
 * A fatal state-machine error (store/fsm.h) is sticky: apply answers RAFT_IOERR from
 * then on, which stops libraft applying, and rfsm_fatal() tells the server to exit. */
#ifndef BERTH_STORE_RFSM_H
#define BERTH_STORE_RFSM_H

#include "common/mp.h"
#include "store/fsm.h"

#include <raft.h>

struct rfsm_reply {
	uint64_t index;
	uint64_t batch; /* released once rfsm_committed() > batch */
	uint8_t *bytes; /* owned */
	size_t len;
	/* A batch entry's replies, one after the other in bytes: reply i ends at ends[i]
	 * (owned; NULL when the entry held one command or was skipped: nends <= 1). */
	unsigned nends;
	size_t *ends;
};

struct rfsm {
	struct raft_fsm raft; /* hand &raft to raft_init (raft.data points back here) */
	struct fsm *fsm;
	struct raft *r;
	unsigned max_batch;
	unsigned pending;   /* entries applied into the open batch */
	uint64_t committed; /* LMDB batches committed so far */
	struct rfsm_reply *replies;
	size_t nreplies, cap;
	struct mp_buf out;
	size_t ends[MBATCH_MAX]; /* scratch for fsm_apply_entry */
	int fatal;               /* 0 or the first fatal BERTH_E* code */
	uint64_t restores, restores_skipped;
	bool snapshot_on_disk; /* a snapshot was taken (finalized) or installed since start */
	char errmsg[256];
};

/* Prepares the adapter for f (which stays the caller's). max_batch >= 1. Allocates
 * nothing; rfsm_close releases what it gathered. */
void rfsm_init(struct rfsm *s, struct fsm *f, unsigned max_batch);
void rfsm_close(struct rfsm *s);
/* Tells the adapter which raft instance drives it (after raft_init). */
void rfsm_attach(struct rfsm *s, struct raft *r);

/* Commits the open batch, if any. 0 or the fatal error. */
int rfsm_flush(struct rfsm *s);
/* Number of batches committed: a reply of batch b is releasable when this is > b. */
uint64_t rfsm_committed(const struct rfsm *s);
/* Takes the reply of the entry at index (ownership of bytes and ends moves to the caller:
 * rfsm_reply_free). 0, or BERTH_ENOTFOUND when no such reply is kept. */
int rfsm_take(struct rfsm *s, uint64_t index, struct rfsm_reply *out);
void rfsm_reply_free(struct rfsm_reply *r);
/* Frees every reply nobody took (followers' entries, entries of earlier leaders). */
void rfsm_drop(struct rfsm *s);
/* Frees the replies of entries at or below index. raft_uv fires apply callbacks from its
 * own prepare and check handles, so a callback may come one loop iteration after its
 * apply: a server drops, at each iteration's end, what was already applied at the end of
 * the previous one. */
void rfsm_drop_upto(struct rfsm *s, uint64_t index);
int rfsm_fatal(const struct rfsm *s);

#endif
