/* store/compactor.h: automatic compaction, decided by the leader.
 *
 * Every COMPACTOR_CHECK_MS the confirmed leader looks at the revision; when the history
 * holds more than --compact-keep revisions plus a tenth, it proposes COMPACT(revision -
 * keep). The tenth keeps each compaction's work bounded (a tenth of the window) and
 * compactions rare; one proposal is in flight at a time. Every member applies the
 * compaction at the same entry (store/compact.h). --compact-keep 0 turns it off;
 * compaction on request (berthctl compact REV) works either way. */
#ifndef BERTH_STORE_COMPACTOR_H
#define BERTH_STORE_COMPACTOR_H

#include <stdbool.h>
#include <stdint.h>

#define COMPACTOR_CHECK_MS 1000

struct node;

struct compactor {
	bool inflight;
	uint64_t checked_ms;
	uint64_t proposed; /* compactions proposed by this member */
};

void compactor_tick(struct node *n);

#endif
