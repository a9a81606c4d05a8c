/* store/txn.h: running a transaction: limits, compares, then one branch of operations.
 *
 * Semantics (docs/store.md): every compare is evaluated against the state before the
 * transaction; operations then run in order and each sees the writes before it. A key may
 * change at most once per transaction (BERTH_EDUPKEY). Any business error rejects the
 * whole transaction: nothing it wrote remains and the reply is {err, rev}. */
#ifndef BERTH_STORE_TXN_H
#define BERTH_STORE_TXN_H

#include "store/fsm.h"

/* Inside the command being applied (f->txn, f->rev_next). Appends the reply to out.
 * Returns 0 or a fatal error. */
int txn_apply(struct fsm *f, const struct msg_txn *t, struct mp_buf *out);

/* A transaction without writes, in the read transaction rtxn, whose state is revision rev
 * compacted at `compacted`. Appends the reply. Returns 0 or a fatal error. */
int txn_read(struct fsm *f, MDB_txn *rtxn, uint64_t rev, uint64_t compacted,
	     const struct msg_txn *t, struct mp_buf *out);

#endif
