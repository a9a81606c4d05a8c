/* tests/unit/sim_check.c: the end-of-run checks of the cluster simulation: replicas
 * byte-identical, every acknowledged write present, nothing that was never submitted, and
 * the shared counter equal to the adds of the writes present (one txn: both or neither). */
#include "tests/unit/sim_cluster.h"

#include "common/err.h"
#include "common/mp.h"
#include "common/reply.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_mem {
	uint8_t *p;
	size_t len, cap;
};

static int sim_mem_write(void *ctx, const void *buf, size_t n)
{
	struct sim_mem *m = ctx;
	if (n > m->cap - m->len) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap - m->len < n)
			cap *= 2;
		uint8_t *p = realloc(m->p, cap);
		if (p == NULL)
			return BERTH_ENOMEM;
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return 0;
}

static bool sim_snapshot_of(struct sim *s, unsigned i, struct sim_mem *m)
{
	int rv = fsm_snapshot_write(&s->node[i].fsm, sim_mem_write, m);
	if (rv != 0)
		sim_failf(s, "server %u: fsm_snapshot_write: %s", i, err_name(rv));
	return rv == 0;
}

/* 1) every replica's snapshot stream is byte-identical to server 0's. */
static void sim_check_identical(struct sim *s)
{
	struct sim_mem m0 = {0};
	if (!sim_snapshot_of(s, 0, &m0))
		return;
	for (unsigned i = 1; i < s->n && sim_ok(s); i++) {
		struct sim_mem m = {0};
		if (fsm_applied(&s->node[i].fsm) != fsm_applied(&s->node[0].fsm))
			sim_failf(s, "server %u applied %" PRIu64 ", server 0 applied %" PRIu64, i,
				  fsm_applied(&s->node[i].fsm), fsm_applied(&s->node[0].fsm));
		else if (sim_snapshot_of(s, i, &m)) {
			size_t k = 0;
			while (k < m.len && k < m0.len && m.p[k] == m0.p[k])
				k++;
			if (k != m.len || k != m0.len)
				sim_failf(
					s,
					"snapshot of server %u differs from server 0's at byte %zu "
					"(lengths %zu and %zu)",
					i, k, m.len, m0.len);
		}
		free(m.p);
	}
	free(m0.p);
}

/* Write number of key "k<seed>-<n>", or -1. */
static int64_t sim_key_number(const struct sim *s, const struct bytes *k)
{
	char pre[40], buf[64];
	int np = snprintf(pre, sizeof(pre), "k%" PRIu64 "-", s->seed);
	if (k->n <= (size_t)np || k->n >= sizeof(buf) || memcmp(k->p, pre, (size_t)np) != 0)
		return -1;
	memcpy(buf, k->p, k->n);
	buf[k->n] = 0;
	char *end;
	unsigned long long v = strtoull(buf + np, &end, 10);
	return *end == 0 && v < s->nw ? (int64_t)v : -1;
}

/* 2) and 3) on server i. */
static void sim_check_server(struct sim *s, unsigned i, uint8_t *present)
{
	struct mp_buf out;
	struct reply r;
	char ckey[32], val[512];
	int64_t counter = 0, adds = 0, acked = 0, all = 0;
	snprintf(ckey, sizeof(ckey), "c%" PRIu64, s->seed);
	mp_buf_init(&out);
	if (!sim_read(s, i, NULL, &out, &r)) {
		mp_buf_close(&out);
		return;
	}
	memset(present, 0, s->nw);
	for (uint32_t k = 0; k < r.ops[0].nkvs && sim_ok(s); k++) {
		const struct reply_kv *kv = &r.ops[0].kvs[k];
		int64_t w = sim_key_number(s, &kv->key);
		if (kv->key.n == strlen(ckey) && memcmp(kv->key.p, ckey, kv->key.n) == 0) {
			if (mp_value_int(kv->value.p, kv->value.n, &counter) != 0)
				sim_failf(s, "server %u: counter is not an integer", i);
			continue;
		}
		if (w < 0 || s->w[w].state == SIM_W_REFUSED) {
			sim_failf(s, "server %u holds key %.*s that was never submitted", i,
				  (int)kv->key.n, (const char *)kv->key.p);
			break;
		}
		sim_value(s, (uint32_t)w, val, sizeof(val));
		if (kv->value.n != strlen(val) || memcmp(kv->value.p, val, kv->value.n) != 0)
			sim_failf(s, "server %u: key %.*s has a wrong value", i, (int)kv->key.n,
				  (const char *)kv->key.p);
		present[w] = 1;
		adds += s->w[w].add;
	}
	for (uint32_t w = 0; w < s->nw && sim_ok(s); w++) {
		if (s->w[w].state == SIM_W_ACKED && !present[w]) {
			char key[64];
			sim_key(s, w, key, sizeof(key));
			sim_failf(s,
				  "server %u: acknowledged write %s (index %" PRIu64 ") is missing",
				  i, key, s->w[w].index);
		}
		if (s->w[w].state == SIM_W_ACKED)
			acked += s->w[w].add;
		if (s->w[w].state != SIM_W_REFUSED)
			all += s->w[w].add;
	}
	if (sim_ok(s) &&
	    (counter != adds || counter < acked || counter > all || counter < s->max_acked_counter))
		sim_failf(s,
			  "server %u: counter %" PRId64 ", but the writes present add %" PRId64
			  " (acknowledged %" PRId64 ", submitted %" PRId64
			  ", largest acked %" PRId64 ")",
			  i, counter, adds, acked, all, s->max_acked_counter);
	reply_free(&r);
	mp_buf_close(&out);
}

bool sim_check(struct sim *s)
{
	sim_check_identical(s);
	uint8_t *present = malloc(s->nw ? s->nw : 1);
	if (present == NULL)
		abort();
	for (unsigned i = 0; i < s->n && sim_ok(s); i++)
		sim_check_server(s, i, present);
	free(present);
	return sim_ok(s);
}

uint64_t sim_digest(struct sim *s)
{
	struct sim_mem m = {0};
	uint64_t h = 0xcbf29ce484222325ULL;
	if (sim_snapshot_of(s, 0, &m))
		for (size_t i = 0; i < m.len; i++)
			h = (h ^ m.p[i]) * 0x100000001b3ULL;
	free(m.p);
	return h ^ raft_fixture_time(&s->f);
}

bool sim_snapshot_mem(struct sim *s, unsigned i, uint8_t **p, size_t *len)
{
	struct sim_mem m = {0};
	bool ok = sim_snapshot_of(s, i, &m);
	*p = m.p;
	*len = m.len;
	return ok;
}
