/* store/mvcc.h: versioned writes. Every change to a key goes through here, so the current
 * record, its history entry, the revision log and the lease index never disagree.
 *
 * Both functions run inside the command being applied (f->txn, f->rev_next) and may fail
 * with a business result (BERTH_EDUPKEY: the key was already changed at this revision,
 * the transaction is rejected) or a fatal LMDB error. */
#ifndef BERTH_STORE_MVCC_H
#define BERTH_STORE_MVCC_H

#include "store/fsm.h"

/* Writes key = value attached to lease (0: none). */
int mvcc_put(struct fsm *f, struct bytes key, struct bytes value, uint64_t lease);
/* Deletes key, which must exist (the caller has looked it up). */
int mvcc_del(struct fsm *f, struct bytes key);

/* 1 for errors that must stop the node (not results), 0 otherwise. */
int mvcc_fatal(int rv);

#endif
