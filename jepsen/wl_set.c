/* jepsen/wl_set.c: a set of unique adds (one key each) and a final read (jepsen/wl.h). */
#include "jepsen/check.h"
#include "jepsen/wl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SET_PREFIX "j/s/"

static void set_op(struct wl_client *c)
{
	struct berth_result res = {0};
	char key[48];
	int64_t x = wl_unique(c);
	json_t *jv = json_integer(x);
	snprintf(key, sizeof(key), SET_PREFIX "%lld", (long long)x);
	wl_invoke(c, "add", NULL, jv);
	int rc = berth_put(c->b, key, strlen(key), "1", 1, 0, &res);
	berth_result_free(&res);
	wl_complete(c, "add", NULL, rc, true, jv);
}

/* Reads the whole set in pages of 1,000 keys: the first page is a linearizable range,
 * the others read at its revision, so the pages together are one read. */
static int set_read(struct berth *b, json_t *into, char *err, size_t errlen)
{
	char from[64] = SET_PREFIX;
	size_t flen = strlen(SET_PREFIX);
	uint64_t rev = 0;
	for (unsigned page = 0; page < 100000; page++) {
		struct berth_result res = {0};
		struct berth_range r = {.key = from,
					.klen = flen,
					.end = "j/s0", /* the prefix's end: '/' + 1 */
					.elen = 4,
					.limit = 1000,
					.keys_only = true,
					.rev = rev};
		int rc = berth_range(b, &r, &res);
		if (rc != 0) {
			snprintf(err, errlen, "%s", berth_errmsg(b));
			berth_result_free(&res);
			return rc;
		}
		const struct reply_op *op = &res.resp.reply.ops[0];
		if (rev == 0)
			rev = res.resp.reply.rev;
		for (uint32_t i = 0; i < op->nkvs; i++) {
			const struct bytes *k = &op->kvs[i].key;
			int64_t x;
			if (k->n <= strlen(SET_PREFIX))
				continue;
			struct bytes tail = {k->p + strlen(SET_PREFIX), k->n - strlen(SET_PREFIX)};
			if (wl_parse_int(&tail, &x))
				json_array_append_new(into, json_integer(x));
		}
		bool more = op->more && op->nkvs > 0;
		if (more) { /* the next page starts just after the last key: last + "\0" */
			const struct bytes *last = &op->kvs[op->nkvs - 1].key;
			if (last->n + 1 > sizeof(from)) {
				snprintf(err, errlen, "a key longer than expected in the set");
				berth_result_free(&res);
				return 1;
			}
			memcpy(from, last->p, last->n);
			from[last->n] = 0;
			flen = last->n + 1;
		}
		berth_result_free(&res);
		if (!more)
			return 0;
	}
	snprintf(err, errlen, "the set has more than 100,000,000 elements");
	return 1;
}

static int set_final(struct wl_client *c)
{
	char err[256];
	if (c->thread != 0)
		return 0;
	for (unsigned attempt = 0; attempt < 10; attempt++) {
		json_t *all = json_array();
		wl_invoke(c, "read", NULL, NULL);
		int rc = set_read(c->b, all, err, sizeof(err));
		if (rc == 0) {
			wl_complete(c, "read", NULL, 0, true, all);
			return 0;
		}
		json_decref(all);
		wl_complete(c, "read", NULL, rc, true, NULL);
		fprintf(stderr, "berth-jepsen: set: final read: %s\n", err);
	}
	return 1;
}

static json_t *set_check(const struct history *h, const struct run_config *cfg, char *err,
			 size_t errlen)
{
	(void)cfg;
	return check_set(h, err, errlen);
}

const struct workload wl_set = {"set", NULL, set_op, set_final, set_check, NULL};
