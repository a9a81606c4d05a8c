/* tests/unit/snap_history.h: the histories the snapshot and compaction tests write, and a
 * record of every read's answer over a history to compare with later. */
#ifndef BERTH_TESTS_SNAP_HISTORY_H
#define BERTH_TESTS_SNAP_HISTORY_H

#include "store/kv.h"
#include "tests/unit/support.h"

#include <stddef.h>
#include <stdint.h>

/* The history a, b, c: revisions 1..6 (put a, put a, put b, put a, delete b, put c). */
void snap_history_small(struct tfsm *t);

/* Keys longer than KV_INLINE: with hash_mask 0 all three share one bucket and hash. */
extern char snap_history_long_keys[3][KV_INLINE + 16];
/* Every key snap_history_rich touches, and one it never does. */
extern const char *snap_history_rich_keys[15];
extern size_t snap_history_rich_nkeys;
/* A history of 21 revisions: puts, multi-op and failed-compare txns, adds, single, prefix
 * and lease deletes, re-created keys, long keys colliding in one bucket, a session write,
 * a live lease with a key. The caller has set t->f.kv.hash_mask = 0. Returns the session
 * id (its last write was seq 1). */
uint64_t snap_history_rich(struct tfsm *t);

/* Every read's reply bytes at every revision 1..rev: [all keys, then each key]. Reads below
 * the compaction point are recorded as their E_COMPACTED replies. */
struct answers {
	uint64_t nrev;
	size_t nkeys;
	uint8_t **p;
	size_t *n;
};
void snap_history_answers_record(struct tfsm *t, const char *const *keys, size_t nkeys,
				 struct answers *a);
/* Every recorded read again: the same bytes at and above the compaction point, E_COMPACTED
 * below it. */
void snap_history_answers_check(struct tfsm *t, const char *const *keys, const struct answers *a);
void snap_history_answers_free(struct answers *a);

/* Keys busy/000.. with 1 KiB values: BUSY_KEYS of them make a stream of several 64 KiB
 * chunks; 40 more are for keys created later. snap_history_busy_fill(i, c) sets key i and
 * its value. */
#define BUSY_KEYS 150
#define BUSY_VALUE 1024
extern char snap_history_busy_keys[BUSY_KEYS + 40][16];
extern char snap_history_busy_vals[BUSY_KEYS + 40][BUSY_VALUE + 1];
void snap_history_busy_fill(size_t i, char c);

#endif
