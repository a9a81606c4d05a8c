/* store/compact.h: discarding history before a revision.
 *
 * Compacting at C keeps every read at a revision >= C answerable and frees the rest:
 * for each key, its history entries at or before C collapse to the newest one (dropped as
 * well when it is a tombstone), and the revision log loses every change at or before C
 * (a watch must start after C). Reads below C then answer BERTH_ECOMPACTED. */
#ifndef BERTH_STORE_COMPACT_H
#define BERTH_STORE_COMPACT_H

#include "store/fsm.h"

/* Applies a compaction command; appends the reply. 0 or a fatal error. */
int compact_apply(struct fsm *f, uint64_t rev, struct mp_buf *out);

#endif
