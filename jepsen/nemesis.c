/* jepsen/nemesis.c: the nemesis's kinds, options, start and heal by family, events, and
 * the schedule. */
#include "jepsen/nemesis_int.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct nemesis_kind_info {
	const char *name;
	enum nemesis_family family;
};

// clang-format off
static const struct nemesis_kind_info nemesis_kinds[NEMESIS_KIND_COUNT] = {
	[NEMESIS_PARTITION_ONE]     = {"partition-one",     NEMESIS_F_PARTITION},
	[NEMESIS_PARTITION_LEADER]  = {"partition-leader",  NEMESIS_F_PARTITION},
	[NEMESIS_PARTITION_HALVES]  = {"partition-halves",  NEMESIS_F_PARTITION},
	[NEMESIS_PARTITION_RING]    = {"partition-ring",    NEMESIS_F_PARTITION},
	[NEMESIS_PARTITION_ONEWAY]  = {"partition-oneway",  NEMESIS_F_PARTITION},
	[NEMESIS_LOSS]              = {"loss",              NEMESIS_F_LOSS},
	[NEMESIS_KILL_ONE]          = {"kill-one",          NEMESIS_F_KILL},
	[NEMESIS_KILL_LEADER]       = {"kill-leader",       NEMESIS_F_KILL},
	[NEMESIS_KILL_ALL]          = {"kill-all",          NEMESIS_F_KILL},
	[NEMESIS_KILL_LEADER_CYCLE] = {"kill-leader-cycle", NEMESIS_F_KILL},
	[NEMESIS_PAUSE_ONE]         = {"pause-one",         NEMESIS_F_PAUSE},
	[NEMESIS_PAUSE_LEADER]      = {"pause-leader",      NEMESIS_F_PAUSE},
	[NEMESIS_CLOCK_SKEW]        = {"clock-skew",        NEMESIS_F_CLOCK},
	[NEMESIS_CLOCK_JUMP]        = {"clock-jump",        NEMESIS_F_CLOCK},
	[NEMESIS_MEMBER_READD]      = {"member-readd",      NEMESIS_F_MEMBER},
	[NEMESIS_MEMBER_GROW]       = {"member-grow",       NEMESIS_F_MEMBER},
	[NEMESIS_DISK_FULL]         = {"disk-full",         NEMESIS_F_DISK},
	[NEMESIS_KILL_WORKER]       = {"kill-worker",       NEMESIS_F_HELPER},
	[NEMESIS_KILL_AGENT]        = {"kill-agent",        NEMESIS_F_HELPER},
};
static const char *const nemesis_families[NEMESIS_FAMILY_COUNT] = {
	"partition", "loss", "kill", "pause", "clock", "member", "disk", "helper",
};
// clang-format on

const char *nemesis_kind_name(enum nemesis_kind k)
{
	return (unsigned)k < NEMESIS_KIND_COUNT ? nemesis_kinds[k].name : "?";
}

enum nemesis_family nemesis_kind_family(enum nemesis_kind k)
{
	return (unsigned)k < NEMESIS_KIND_COUNT ? nemesis_kinds[k].family : NEMESIS_FAMILY_COUNT;
}

const char *nemesis_family_name(enum nemesis_family f)
{
	return (unsigned)f < NEMESIS_FAMILY_COUNT ? nemesis_families[f] : "?";
}

int nemesis_kind_parse(const char *name, enum nemesis_kind *out)
{
	for (unsigned k = 0; name != NULL && k < NEMESIS_KIND_COUNT; k++)
		if (strcmp(name, nemesis_kinds[k].name) == 0) {
			*out = (enum nemesis_kind)k;
			return 0;
		}
	return BERTH_EBADREQ;
}

int nemesis_fail(struct nemesis *nm, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(nm->errmsg, sizeof nm->errmsg, fmt, ap);
	va_end(ap);
	return code;
}

/* splitmix64: small, seeded, good enough to pick nodes. */
uint64_t nemesis_rand(struct nemesis *nm, uint64_t n)
{
	uint64_t z = (nm->rng += 0x9E3779B97F4A7C15u);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	z ^= z >> 31;
	return z % n;
}

void nemesis_shuffle(struct nemesis *nm, unsigned *idx, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)nemesis_rand(nm, i), t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}

unsigned nemesis_members(const struct nemesis *nm, unsigned *out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < nm->nodes->n; i++)
		if (nm->nodes->node[i].member)
			out[n++] = i;
	return n;
}

int nemesis_leader(struct nemesis *nm, unsigned *leader)
{
	int rc = nodes_leader(nm->nodes, nm->leader_wait_ms, leader, NULL);
	if (rc != 0)
		return nemesis_fail(nm, rc, "nemesis: no leader within %u ms", nm->leader_wait_ms);
	return 0;
}

json_t *nemesis_name(unsigned i)
{
	char name[16];
	snprintf(name, sizeof name, "n%u", i + 1);
	return json_string(name);
}

void nemesis_push(json_t *arr, unsigned i)
{
	json_array_append_new(arr, nemesis_name(i));
}

int nemesis_init(struct nemesis *nm, const struct nemesis_options *o)
{
	memset(nm, 0, sizeof *nm);
	if (o->nodes == NULL || o->nodes->net == NULL)
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: no nodes");
	double p = o->loss_p != 0 ? o->loss_p : 0.2;
	if (!(p > 0 && p <= 1))
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: loss_p %g (0 < p <= 1)", p);
	nm->clock_skew_ms = o->clock_skew_ms != 0 ? o->clock_skew_ms : 5000;
	nm->clock_jump_ms = o->clock_jump_ms != 0 ? o->clock_jump_ms : 3600000;
	if (nm->clock_skew_ms < 0 || nm->clock_jump_ms < 0 ||
	    nm->clock_skew_ms > 10LL * 365 * 86400000 || nm->clock_jump_ms > 10LL * 365 * 86400000)
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: clock offsets 0..10 years");
	nm->cycles = o->cycles != 0 ? o->cycles : 3;
	if (nm->cycles > 100)
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: %u cycles (at most 100)",
				    nm->cycles);
	nm->grow_to = o->grow_to != 0 ? o->grow_to : 5;
	if (nm->grow_to > o->nodes->n)
		nm->grow_to = o->nodes->n;
	nm->nodes = o->nodes;
	nm->net = o->nodes->net;
	nm->rng = o->seed;
	nm->event = o->event;
	nm->ctx = o->ctx;
	nm->loss_p = p;
	nm->leader_wait_ms = o->leader_wait_ms != 0 ? o->leader_wait_ms : 10000;
	nm->member_wait_ms = o->member_wait_ms != 0 ? o->member_wait_ms : 30000;
	nm->stop_wait_ms = o->stop_wait_ms != 0 ? o->stop_wait_ms : 5000;
	nm->helpers = o->helpers;
	return 0;
}

static void nemesis_emit(struct nemesis *nm, const char *phase, enum nemesis_family f,
			 json_t *value)
{
	char name[48];
	snprintf(name, sizeof name, "%s-%s", phase, nemesis_family_name(f));
	if (nm->event != NULL && value != NULL)
		nm->event(nm->ctx, name, value);
}

/* The helper family: the workload's hooks do the work. */
static int nemesis_helper_start(struct nemesis *nm, enum nemesis_kind k, json_t *value)
{
	const struct nemesis_helpers *h = nm->helpers;
	if (h == NULL || h->kill == NULL)
		return nemesis_fail(nm, BERTH_EBADREQ,
				    "nemesis: %s: this workload runs no workers or agents",
				    nemesis_kind_name(k));
	enum nemesis_role role =
		k == NEMESIS_KILL_WORKER ? NEMESIS_ROLE_WORKER : NEMESIS_ROLE_AGENT;
	return h->kill(h->ctx, role, nemesis_rand(nm, 1u << 30), value, nm->errmsg,
		       sizeof nm->errmsg);
}

static int nemesis_helper_heal(struct nemesis *nm, json_t *value)
{
	const struct nemesis_helpers *h = nm->helpers;
	if (h == NULL || h->restart == NULL)
		return 0;
	return h->restart(h->ctx, value, nm->errmsg, sizeof nm->errmsg);
}

static int nemesis_family_heal(struct nemesis *nm, enum nemesis_family f, json_t *value)
{
	switch (f) {
	case NEMESIS_F_HELPER:
		return nemesis_helper_heal(nm, value);
	case NEMESIS_F_PARTITION:
	case NEMESIS_F_LOSS:
		return nemesis_net_heal(nm, f, value);
	case NEMESIS_F_MEMBER:
		return nemesis_member_heal(nm, f, value);
	default:
		return nemesis_proc_heal(nm, f, value);
	}
}

bool nemesis_active(const struct nemesis *nm, enum nemesis_family f)
{
	return (unsigned)f < NEMESIS_FAMILY_COUNT && nm->active[f];
}

int nemesis_start(struct nemesis *nm, enum nemesis_kind k)
{
	enum nemesis_family f = nemesis_kind_family(k);
	if (f == NEMESIS_FAMILY_COUNT)
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: kind %d", (int)k);
	if (nm->active[f] || (f == NEMESIS_F_PARTITION && nm->active[NEMESIS_F_LOSS]) ||
	    (f == NEMESIS_F_LOSS && nm->active[NEMESIS_F_PARTITION]))
		return nemesis_fail(nm, BERTH_EBUSY, "nemesis: %s: a %s fault is active",
				    nemesis_kind_name(k),
				    nm->active[f] ? nemesis_family_name(f) : "network");
	json_t *value = json_object();
	if (value == NULL)
		return nemesis_fail(nm, BERTH_ENOMEM, "nemesis: out of memory");
	json_object_set_new(value, "kind", json_string(nemesis_kind_name(k)));
	memset(nm->touched[f], 0, sizeof nm->touched[f]);
	nm->kind[f] = k;
	int rc;
	if (f == NEMESIS_F_PARTITION || f == NEMESIS_F_LOSS)
		rc = nemesis_net_start(nm, k, value);
	else if (f == NEMESIS_F_MEMBER)
		rc = nemesis_member_start(nm, k, value);
	else if (f == NEMESIS_F_HELPER)
		rc = nemesis_helper_start(nm, k, value);
	else
		rc = nemesis_proc_start(nm, k, value);
	if (rc != 0) {
		char keep[sizeof nm->errmsg];
		memcpy(keep, nm->errmsg, sizeof keep);
		json_t *scratch = json_object();
		nemesis_family_heal(nm, f, scratch);
		json_decref(scratch);
		memset(nm->touched[f], 0, sizeof nm->touched[f]);
		memcpy(nm->errmsg, keep, sizeof keep);
	} else if (k == NEMESIS_KILL_LEADER_CYCLE) {
		memset(nm->touched[f], 0, sizeof nm->touched[f]); /* nothing left to heal */
	} else {
		nm->active[f] = true;
		nemesis_emit(nm, "start", f, value);
	}
	json_decref(value);
	return rc;
}

int nemesis_heal(struct nemesis *nm, enum nemesis_family f)
{
	if ((unsigned)f >= NEMESIS_FAMILY_COUNT)
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: family %d", (int)f);
	if (!nm->active[f])
		return 0;
	json_t *value = json_object();
	if (value == NULL)
		return nemesis_fail(nm, BERTH_ENOMEM, "nemesis: out of memory");
	json_object_set_new(value, "kind", json_string(nemesis_kind_name(nm->kind[f])));
	int rc = nemesis_family_heal(nm, f, value);
	nm->active[f] = false;
	memset(nm->touched[f], 0, sizeof nm->touched[f]);
	nemesis_emit(nm, "stop", f, value);
	json_decref(value);
	return rc;
}

/* Restarts every member that is down although no fault holds it down (it crashed, or a
 * full disk stopped it after its heal): one "revive" event naming them. */
static int nemesis_revive(struct nemesis *nm)
{
	json_t *nodes = json_array(), *status = json_object();
	int first = 0;
	for (unsigned i = 0; i < nm->nodes->n; i++) {
		if (!nm->nodes->node[i].member || nodes_alive(nm->nodes, i))
			continue;
		char name[16];
		snprintf(name, sizeof name, "n%u", i + 1);
		json_object_set_new(status, name, json_integer(nm->nodes->node[i].last_status));
		int rc = nodes_start(nm->nodes, i);
		if (rc == 0)
			nemesis_push(nodes, i);
		else if (first == 0)
			first = nemesis_fail(nm, rc, "nemesis: revive: %s", nm->nodes->errmsg);
	}
	json_t *value = json_pack("{s:o, s:o}", "nodes", nodes, "exit_status", status);
	if (json_object_size(status) > 0 && nm->event != NULL && value != NULL)
		nm->event(nm->ctx, "revive", value);
	json_decref(value);
	return first;
}

int nemesis_heal_all(struct nemesis *nm)
{
	int first = 0;
	char keep[sizeof nm->errmsg] = "";
	for (unsigned f = 0; f <= NEMESIS_FAMILY_COUNT; f++) {
		int rc = f < NEMESIS_FAMILY_COUNT ? nemesis_heal(nm, (enum nemesis_family)f)
						  : nemesis_revive(nm);
		if (rc != 0 && first == 0) {
			first = rc;
			memcpy(keep, nm->errmsg, sizeof keep);
		}
	}
	if (first != 0)
		memcpy(nm->errmsg, keep, sizeof keep);
	return first;
}

int nemesis_schedule_init(struct nemesis_schedule *sc, const enum nemesis_kind *kinds,
			  unsigned nkinds, uint32_t fault_ms, uint32_t calm_ms, uint64_t now_ms)
{
	memset(sc, 0, sizeof *sc);
	if (nkinds == 0 || nkinds > sizeof sc->kinds / sizeof sc->kinds[0] || fault_ms == 0)
		return BERTH_EBADREQ;
	for (unsigned i = 0; i < nkinds; i++) {
		if ((unsigned)kinds[i] >= NEMESIS_KIND_COUNT)
			return BERTH_EBADREQ;
		sc->kinds[i] = kinds[i];
	}
	sc->nkinds = nkinds;
	sc->fault_ms = fault_ms;
	sc->calm_ms = calm_ms;
	sc->next_ms = now_ms + calm_ms;
	return 0;
}

static void nemesis_report(struct nemesis *nm, enum nemesis_kind k, const char *phase)
{
	json_t *v = json_pack("{s:s, s:s, s:s}", "kind", nemesis_kind_name(k), "phase", phase,
			      "error", nm->errmsg);
	if (nm->event != NULL && v != NULL)
		nm->event(nm->ctx, "nemesis-error", v);
	json_decref(v);
}

uint32_t nemesis_schedule_step(struct nemesis *nm, struct nemesis_schedule *sc, uint64_t now_ms)
{
	if (now_ms < sc->next_ms)
		return (uint32_t)(sc->next_ms - now_ms);
	if (!sc->faulting) {
		enum nemesis_kind k = sc->kinds[nemesis_rand(nm, sc->nkinds)];
		if (nemesis_start(nm, k) == 0) {
			sc->started++;
			sc->faulting = true;
			sc->next_ms = now_ms + sc->fault_ms;
		} else {
			sc->failed++;
			nemesis_report(nm, k, "start");
			sc->next_ms = now_ms + (sc->calm_ms > 0 ? sc->calm_ms : sc->fault_ms);
		}
	} else {
		for (unsigned f = 0; f < NEMESIS_FAMILY_COUNT; f++) {
			enum nemesis_kind k = nm->kind[f];
			if (nm->active[f] && nemesis_heal(nm, (enum nemesis_family)f) != 0) {
				sc->failed++;
				nemesis_report(nm, k, "stop");
			}
		}
		sc->faulting = false;
		sc->next_ms = now_ms + sc->calm_ms;
	}
	return sc->next_ms > now_ms ? (uint32_t)(sc->next_ms - now_ms) : 0;
}
