/* jepsen/wl.c: the workload table and what the workloads share (jepsen/wl.h). */
#include "jepsen/wl.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

extern const struct workload wl_register, wl_set, wl_bank, wl_watch, wl_sessions, wl_sched;

static const struct workload *const workloads[] = {&wl_register, &wl_set,      &wl_bank,
						   &wl_watch,    &wl_sessions, &wl_sched};

const struct workload *wl_find(const char *name)
{
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (strcmp(workloads[i]->name, name) == 0)
			return workloads[i];
	return NULL;
}

const char *wl_names(void)
{
	return "register, set, bank, watch, sessions, sched";
}

int64_t wl_unique(struct wl_client *c)
{
	return (int64_t)atomic_fetch_add(&c->sh->next_value, 1);
}

/* xorshift64*: the client's own stream, seeded by the runner. */
uint64_t wl_rand(struct wl_client *c, uint64_t n)
{
	uint64_t x = c->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return n == 0 ? 0 : (x * 2685821657736338717ull) % n;
}

void wl_invoke(struct wl_client *c, const char *f, const char *key, json_t *value)
{
	hist_append(c->sh->hist, c->process, HIST_INVOKE, f, key, value);
}

void wl_complete(struct wl_client *c, const char *f, const char *key, int rc, bool ok_when,
		 json_t *value)
{
	enum hist_type t;
	if (rc == 0)
		t = ok_when ? HIST_OK : HIST_FAIL;
	else if (strcmp(f, "read") == 0) /* a read changes nothing: it did not happen */
		t = HIST_FAIL;
	else
		t = err_indeterminate(rc) ? HIST_INFO : HIST_FAIL;
	hist_append(c->sh->hist, c->process, t, f, key, value);
	json_decref(value);
	c->ops++;
	if (t == HIST_INFO)
		c->process += (int)c->sh->cfg->concurrency;
}

bool wl_parse_int(const struct bytes *v, int64_t *out)
{
	char buf[24];
	char *end;
	if (v->n == 0 || v->n >= sizeof(buf))
		return false;
	memcpy(buf, v->p, v->n);
	buf[v->n] = 0;
	long long x = strtoll(buf, &end, 10);
	if (*end != 0)
		return false;
	*out = x;
	return true;
}
