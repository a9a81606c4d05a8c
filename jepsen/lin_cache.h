/* jepsen/lin_cache.h: the linearizability search's memory of configurations: a hash set
 * of (register value, set of operations placed), the set kept compactly (jepsen/lin.h).
 *
 * A set is given as a bitset of words in two parts: definite operations in invocation
 * order (words [0, split)), whose placed ones form a prefix but for those in flight, and
 * info operations (words [split, nwords)), few of them placed. The cache stores the first
 * part without its leading all-ones and trailing zero words and the second without its
 * leading and trailing zero words, so the cost of an entry follows the operations in
 * flight, not the length of the history. Entries live in large blocks, freed together. */
#ifndef BERTH_JEPSEN_LIN_CACHE_H
#define BERTH_JEPSEN_LIN_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct lin_cache {
	struct lin_slot *slots; /* owned; open addressing, a power of two */
	size_t nslots, count;
	struct lin_block *blocks; /* owned: the entries */
	uint64_t bytes;           /* memory held, slots and blocks */
};

/* A zeroed struct lin_cache is empty. lin_cache_free leaves it empty. */
void lin_cache_free(struct lin_cache *c);

/* Adds (state, bits[0..nwords)) when absent: 1 added, 0 already there, -1 out of memory
 * (nothing added). split <= nwords, the same for every call on one cache. */
int lin_cache_add(struct lin_cache *c, uint32_t state, const uint64_t *bits, size_t nwords,
		  size_t split);

#endif
