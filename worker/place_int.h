/* worker/place_int.h: what placement's files share: the input checks and the per-value
 * task counts of spread by attribute (place_input.c), the filters and the main reason
 * (place.c, also used by place_group.c). */
#ifndef BERTH_WORKER_PLACE_INT_H
#define BERTH_WORKER_PLACE_INT_H

#include "worker/place.h"

/* 0, or BERTH_EBADREQ / BERTH_ETOOLARGE with the message in err (place_choose's list). */
int place_check(const struct place_input *in, char *err, size_t errlen);

/* (*out)[i]: tasks of the group over every instance whose value of attr equals instance
 * i's (instances without attr count together). 0 or BERTH_ENOMEM; the caller frees *out. */
int place_spread_counts(const struct place_instance *insts, size_t n, const char *attr,
			uint64_t **out);

/* The first filter that refuses inst for in->task (place.h's order), or PLACE_R_OK. */
enum place_reason place_filter(const struct place_input *in, const struct place_instance *inst);

/* The main reason nothing fits: the filter that refused most (later ones win ties);
 * PLACE_R_NO_INSTANCES when n is 0. */
enum place_reason place_main_reason(const struct place_result *out, size_t n);

#endif
