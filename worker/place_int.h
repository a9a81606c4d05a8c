/* worker/place_int.h: what place.c takes from place_input.c: the input checks and the
 * per-value task counts of spread by attribute. */
#ifndef BERTH_WORKER_PLACE_INT_H
#define BERTH_WORKER_PLACE_INT_H

#include "worker/place.h"

/* 0, or BERTH_EBADREQ / BERTH_ETOOLARGE with the message in err (place_choose's list). */
int place_check(const struct place_input *in, char *err, size_t errlen);

/* (*out)[i]: tasks of the group over every instance whose value of attr equals instance
 * i's (instances without attr count together). 0 or BERTH_ENOMEM; the caller frees *out. */
int place_spread_counts(const struct place_instance *insts, size_t n, const char *attr,
			uint64_t **out);

#endif
