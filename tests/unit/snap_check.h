/* tests/unit/snap_check.h: driving a test state machine (struct tfsm, support.h) for the
 * snapshot, compaction and batch tests, each step checked: applying commands and batches,
 * reading at a revision, and counting entries in its LMDB tables. */
#ifndef BERTH_TESTS_SNAP_CHECK_H
#define BERTH_TESTS_SNAP_CHECK_H

#include "common/mp.h"
#include "common/msg.h"
#include "common/reply.h"
#include "tests/unit/support.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- applying commands ---- */
/* Encodes c as a padded raft entry into b (reset first). */
void snap_check_encode_cmd(struct mp_buf *b, const struct msg_cmd *c);
/* Applies one command that must not fail fatally; r receives the reply. */
void snap_check_apply_ok(struct tfsm *t, const struct msg_cmd *c, struct reply *r);
/* Applies cmds[0..n) in one batch at the indexes after t->index; replies go to out (NULL: a
 * scratch buffer). 0, or the first fatal error (the batch is then aborted). */
int snap_check_batch_apply(struct tfsm *t, const struct msg_cmd *cmds, size_t n,
			   struct mp_buf *out);
/* One put that must succeed; returns the revision it made. */
uint64_t snap_check_put1(struct tfsm *t, const char *k, const char *v);
/* Deletes k (prefix: every key starting with k); returns the number deleted. */
uint64_t snap_check_del1(struct tfsm *t, const char *k, bool prefix);
/* A compaction at rev: returns the reply's error (0 = done) and checks its revision. */
int snap_check_compact(struct tfsm *t, uint64_t rev);
/* Applies a txn of ops (success branch) that must be accepted; returns its revision. */
uint64_t snap_check_txn_ok(struct tfsm *t, struct msg_compare *cmp, uint32_t ncmp,
			   struct msg_op *succ, uint32_t nsucc, struct msg_op *fail,
			   uint32_t nfail);
/* Applies a non-txn command that must succeed; returns the reply's id. */
uint64_t snap_check_cmd_ok(struct tfsm *t, struct msg_cmd c);

/* ---- reading ---- */
/* The reply bytes of a read-only txn of one op (owned by the caller); *err its error. */
uint8_t *snap_check_read_raw(struct tfsm *t, struct msg_op op, size_t *n, int *err);
/* Every key at rev (0: now): the empty prefix. */
struct msg_op snap_check_all_at(uint64_t rev);
struct msg_op snap_check_get_at(const char *k, uint64_t rev);
/* The error a read of op answers (0: answered). */
int snap_check_read_err(struct tfsm *t, struct msg_op op);
/* Reads one key at rev and checks value and metadata; v NULL: must be absent. */
void snap_check_value_at(struct tfsm *t, const char *k, uint64_t rev, const char *v, int64_t c,
			 int64_t m, int64_t ver);

/* The live leases (at most 8), as fsm_lease_foreach lists them. */
struct lease_list {
	size_t n;
	uint64_t id[8];
	int64_t ttl[8];
};
struct lease_list snap_check_leases_of(struct tfsm *t);

/* ---- looking into LMDB ---- */
size_t snap_check_table_entries(struct tfsm *t, MDB_dbi dbi);
/* Number of hist entries whose encoded key is exactly ek (a short key is its own ek). */
size_t snap_check_hist_entries_of(struct tfsm *t, const char *ek);
/* The smallest revision in the revs table (0 when it is empty). */
uint64_t snap_check_revs_min(struct tfsm *t);

#endif
