/* tests/unit/rng.h: the model-based test's seeded generator (splitmix64): no rand(),
 * the same sequence on every libc, so that a printed seed replays exactly. */
#ifndef BERTH_TESTS_RNG_H
#define BERTH_TESTS_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct rng {
	uint64_t s;
};

uint64_t rng_next(struct rng *r);
uint64_t rng_below(struct rng *r, uint64_t n); /* 0..n-1; 0 when n is 0 */
bool rng_pct(struct rng *r, unsigned pct);     /* true pct times in 100 */

#endif
