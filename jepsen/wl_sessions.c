/* jepsen/wl_sessions.c: counters incremented by writes that libberth retries with the
 * same session and sequence number when their outcome is unknown: each must be applied
 * once (jepsen/wl.h). */
#include "common/mp.h"
#include "jepsen/check.h"
#include "jepsen/wl.h"

#include <stdio.h>
#include <string.h>

static void ctr_key(char *out, size_t n, uint64_t k)
{
	snprintf(out, n, "j/c/%llu", (unsigned long long)k);
}

static void ctr_add(struct wl_client *c, const char *key)
{
	int64_t by = 1 + (int64_t)wl_rand(c, 5);
	json_t *jv = json_integer(by);
	struct msg_op add = {
		.type = MSG_OP_ADD, .key = {(const uint8_t *)key, strlen(key)}, .delta = by};
	struct msg_txn txn = {.nsucc = 1, .succ = &add};
	struct berth_result res = {0};
	wl_invoke(c, "add", key, jv);
	int rc = berth_txn(c->b, &txn, false, &res);
	berth_result_free(&res);
	wl_complete(c, "add", key, rc, true, jv);
}

static void ctr_read(struct wl_client *c, const char *key)
{
	struct berth_result res = {0};
	wl_invoke(c, "read", key, NULL);
	int rc = berth_get(c->b_read, key, strlen(key), 0, false, &res);
	json_t *v = NULL;
	if (rc == 0) {
		const struct reply_kv *kv = berth_result_kv(&res);
		int64_t x;
		if (kv == NULL)
			v = json_null();
		else if (mp_value_int(kv->value.p, kv->value.n, &x) == 0)
			v = json_integer(x);
		else
			v = json_string("not a counter"); /* the checker refuses it: visible */
	}
	berth_result_free(&res);
	wl_complete(c, "read", key, rc, true, v);
}

static void ctr_op(struct wl_client *c)
{
	char key[32];
	ctr_key(key, sizeof(key), wl_rand(c, c->sh->cfg->keys));
	if (wl_rand(c, 4) == 0)
		ctr_read(c, key);
	else
		ctr_add(c, key);
}

static int ctr_final(struct wl_client *c)
{
	char key[32];
	if (c->thread != 0)
		return 0;
	for (uint64_t k = 0; k < c->sh->cfg->keys; k++) {
		ctr_key(key, sizeof(key), k);
		ctr_read(c, key);
	}
	return 0;
}

static json_t *ctr_check(const struct history *h, const struct run_config *cfg, char *err,
			 size_t errlen)
{
	(void)cfg;
	return check_counter(h, err, errlen);
}

const struct workload wl_sessions = {"sessions", NULL, ctr_op, ctr_final, ctr_check, NULL};
