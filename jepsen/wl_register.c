/* jepsen/wl_register.c: per-key registers: linearizable read, write, compare-and-set
 * (jepsen/wl.h). */
#include "jepsen/check.h"
#include "jepsen/wl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REG_NONE (-2)   /* nothing seen on the key yet */
#define REG_ABSENT (-1) /* the key was seen absent */

static void reg_key(char *out, size_t n, uint64_t k)
{
	snprintf(out, n, "j/r/%llu", (unsigned long long)k);
}

static void reg_read(struct wl_client *c, const char *key, uint64_t k)
{
	struct berth_result res = {0};
	wl_invoke(c, "read", key, NULL);
	int rc = berth_get(c->b_read, key, strlen(key), 0, false, &res);
	json_t *v = NULL;
	if (rc == 0) {
		const struct reply_kv *kv = berth_result_kv(&res);
		int64_t x;
		if (kv == NULL) {
			v = json_null();
			c->seen[k] = REG_ABSENT;
		} else if (wl_parse_int(&kv->value, &x)) {
			v = json_integer(x);
			c->seen[k] = x;
		} else {
			v = json_string("not an integer"); /* the checker refuses it: visible */
		}
	}
	berth_result_free(&res);
	wl_complete(c, "read", key, rc, true, v);
}

static void reg_write(struct wl_client *c, const char *key, uint64_t k)
{
	struct berth_result res = {0};
	char val[24];
	int64_t x = wl_unique(c);
	json_t *jv = json_integer(x);
	snprintf(val, sizeof(val), "%lld", (long long)x);
	wl_invoke(c, "write", key, jv);
	int rc = berth_put(c->b, key, strlen(key), val, strlen(val), 0, &res);
	berth_result_free(&res);
	if (rc == 0)
		c->seen[k] = x;
	wl_complete(c, "write", key, rc, true, jv);
}

static void reg_cas(struct wl_client *c, const char *key, uint64_t k)
{
	struct berth_result res = {0};
	char want[24], val[24];
	int64_t exp = c->seen[k] == REG_NONE ? REG_ABSENT : c->seen[k];
	int64_t x = wl_unique(c);
	json_t *jv = json_pack("[o,I]", exp == REG_ABSENT ? json_null() : json_integer(exp),
			       (json_int_t)x);
	snprintf(want, sizeof(want), "%lld", (long long)exp);
	snprintf(val, sizeof(val), "%lld", (long long)x);
	struct msg_compare cmp = {.key = {(const uint8_t *)key, strlen(key)}};
	if (exp == REG_ABSENT) {
		cmp.target = MSG_CMP_VERSION;
		cmp.op = MSG_EQ;
		cmp.num = 0;
	} else {
		cmp.target = MSG_CMP_VALUE;
		cmp.op = MSG_EQ;
		cmp.value = (struct bytes){(const uint8_t *)want, strlen(want)};
	}
	struct msg_op put = {.type = MSG_OP_PUT,
			     .key = {(const uint8_t *)key, strlen(key)},
			     .value = {(const uint8_t *)val, strlen(val)}};
	struct msg_txn txn = {.ncmp = 1, .nsucc = 1, .cmp = &cmp, .succ = &put};
	wl_invoke(c, "cas", key, jv);
	int rc = berth_txn(c->b, &txn, false, &res);
	bool swapped = rc == 0 && res.resp.reply.succeeded;
	berth_result_free(&res);
	if (swapped)
		c->seen[k] = x;
	else if (rc == 0)
		c->seen[k] = REG_NONE; /* stale: read before the next cas */
	wl_complete(c, "cas", key, rc, swapped, jv);
}

static void reg_op(struct wl_client *c)
{
	char key[32];
	uint64_t k = wl_rand(c, c->sh->cfg->keys);
	reg_key(key, sizeof(key), k);
	switch (wl_rand(c, 3)) {
	case 0:
		reg_read(c, key, k);
		break;
	case 1:
		reg_write(c, key, k);
		break;
	default:
		reg_cas(c, key, k);
		break;
	}
}

/* Every key read once more: the checker sees where each register ended. */
static int reg_final(struct wl_client *c)
{
	char key[32];
	if (c->thread != 0)
		return 0;
	for (uint64_t k = 0; k < c->sh->cfg->keys; k++) {
		reg_key(key, sizeof(key), k);
		reg_read(c, key, k);
	}
	return 0;
}

static json_t *reg_check(const struct history *h, const struct run_config *cfg, char *err,
			 size_t errlen)
{
	return check_register(h, cfg->max_states, err, errlen);
}

const struct workload wl_register = {"register", NULL, reg_op, reg_final, reg_check, NULL};
