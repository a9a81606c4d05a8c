/* tests/unit/place_fleet.c: fleets of instances for the placement tests, and their judge. */
#include "tests/unit/place_fleet.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

struct place_instance *fleet_add(struct fleet *f, const char *zone, int64_t cpu, int64_t mem)
{
	static const uint16_t offered[FLEET_PORTS] = {80, 443, 8080, 9000};
	assert(f->n < FLEET_MAX);
	size_t i = f->n++;
	snprintf(f->ids[i], sizeof(f->ids[i]), "i-%zu", i);
	for (size_t p = 0; p < FLEET_PORTS; p++)
		f->ports[i][p] = (struct place_port){offered[p], false};
	f->attrs[i][0] = (struct query_attr){"zone", zone};
	f->attrs[i][1] = (struct query_attr){"type", cpu >= 4096 ? "m5.large" : "t2.small"};
	f->inst[i] = (struct place_instance){
		.id = f->ids[i],
		.status = PLACE_ACTIVE,
		.cpu_total = cpu,
		.mem_total = mem,
		.ports = f->ports[i],
		.nports = FLEET_PORTS,
		.attrs = f->attrs[i],
		.nattrs = 2,
	};
	return &f->inst[i];
}

size_t fleet_used(const struct fleet *f)
{
	size_t used = 0;
	for (size_t i = 0; i < f->n; i++)
		used += f->inst[i].group_tasks > 0;
	return used;
}

uint32_t fleet_zone_spread(const struct fleet *f, const char *const *zones, size_t nzones)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	for (size_t z = 0; z < nzones; z++) {
		uint32_t tasks = 0;
		for (size_t i = 0; i < f->n; i++)
			if (strcmp(f->attrs[i][0].value, zones[z]) == 0)
				tasks += f->inst[i].group_tasks;
		lo = tasks < lo ? tasks : lo;
		hi = tasks > hi ? tasks : hi;
	}
	return hi - lo;
}

bool fleet_fits(const struct place_instance *inst, const struct place_task *t,
		const struct place_constraint *cs, size_t ncs)
{
	if (inst->status != PLACE_ACTIVE || inst->cpu_total - inst->cpu_used < t->cpu ||
	    inst->mem_total - inst->mem_used < t->mem)
		return false;
	for (size_t p = 0; p < t->nports; p++) {
		bool free_port = false;
		for (size_t k = 0; k < inst->nports; k++)
			free_port |= inst->ports[k].port == t->ports[p] && !inst->ports[k].used;
		if (!free_port)
			return false;
	}
	for (size_t c = 0; c < ncs; c++) {
		if (cs[c].type == PLACE_DISTINCT_INSTANCE && inst->group_tasks > 0)
			return false;
		if (cs[c].type == PLACE_MEMBER_OF &&
		    !query_match(cs[c].query, inst->id, inst->attrs, inst->nattrs))
			return false;
	}
	return true;
}
