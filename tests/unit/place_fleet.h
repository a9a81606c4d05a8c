/* tests/unit/place_fleet.h: fleets of instances for the placement tests (each instance
 * with its id, zone, resources and host ports in storage of its own), and their judge. */
#ifndef BERTH_TESTS_PLACE_FLEET_H
#define BERTH_TESTS_PLACE_FLEET_H

#include "worker/place.h"

#define FLEET_MAX 256
#define FLEET_PORTS 4 /* 80, 443, 8080, 9000 unless a test changes them */

struct fleet {
	struct place_instance inst[FLEET_MAX];
	struct place_port ports[FLEET_MAX][FLEET_PORTS];
	struct query_attr attrs[FLEET_MAX][2]; /* zone, type */
	char ids[FLEET_MAX][16];
	size_t n;
};

/* Adds an ACTIVE instance "i-N" in zone with the resources, every port free, type
 * "t2.small" (or "m5.large" when cpu >= 4096). */
struct place_instance *fleet_add(struct fleet *f, const char *zone, int64_t cpu, int64_t mem);

/* Instances placed on (group_tasks > 0) and the largest minus smallest task count per
 * zone over the zones given. */
size_t fleet_used(const struct fleet *f);
uint32_t fleet_zone_spread(const struct fleet *f, const char *const *zones, size_t nzones);

/* The placement tests' judge, written apart from place.c: whether inst passes every
 * filter for t under the constraints cs[0..ncs). */
bool fleet_fits(const struct place_instance *inst, const struct place_task *t,
		const struct place_constraint *cs, size_t ncs);

#endif
