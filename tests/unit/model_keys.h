/* tests/unit/model_keys.h: the key universe of the model-based test (test_model.c): few
 * keys, so that collisions, prefixes and ranges interact, on both sides of the 448-byte
 * inline limit (KV_INLINE); and the range bounds and prefixes the generator draws. */
#ifndef BERTH_TESTS_MODEL_KEYS_H
#define BERTH_TESTS_MODEL_KEYS_H

#include "common/msg.h"
#include "tests/unit/rng.h"

#include <stdbool.h>
#include <stddef.h>

#define MODEL_MAX_KEYS 64 /* the key universe */

/* Builds the universe; later calls do nothing. Call it before anything below. */
void model_keys_init(void);

/* The keys of the universe, sorted: index order is key order. The bytes are static. */
size_t model_keys_count(void);
struct bytes model_keys_get(size_t i);
/* The universe index of key k, or -1 (then it never exists). */
int model_keys_find(struct bytes k);

enum model_keys_set {
	MODEL_KEYS_SHORT,  /* universe keys of at most KV_INLINE bytes */
	MODEL_KEYS_LONG,   /* universe keys longer than that */
	MODEL_KEYS_BOUND,  /* range bounds that are never keys (ranges also use the keys) */
	MODEL_KEYS_PREFIX, /* prefixes, the empty one among them */
};
/* One member of the set, drawn with one rng_below. */
struct bytes model_keys_pick(enum model_keys_set s, struct rng *r);

/* Bytewise order, shorter first on a tie (the order of keys, and of values in compares). */
int model_keys_cmp(struct bytes a, struct bytes b);
bool model_keys_eq(struct bytes a, struct bytes b);

#endif
