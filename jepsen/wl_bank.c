/* jepsen/wl_bank.c: transfers between accounts in one transaction, and reads of every
 * balance at one revision (jepsen/wl.h). */
#include "jepsen/check.h"
#include "jepsen/wl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BANK_PREFIX "j/b/"
#define BANK_INITIAL 100
#define BANK_MAX_ACCOUNTS 64

static void bank_key(char *out, size_t n, uint64_t i)
{
	snprintf(out, n, BANK_PREFIX "%llu", (unsigned long long)i);
}

/* One transaction creates every account (compare: none exists yet). */
static int bank_setup(struct wl_shared *sh, struct berth *b)
{
	uint64_t n = sh->cfg->keys;
	char keys[BANK_MAX_ACCOUNTS][32], val[16];
	struct msg_op put[BANK_MAX_ACCOUNTS];
	if (n < 2 || n > BANK_MAX_ACCOUNTS) {
		fprintf(stderr, "berth-jepsen: bank: --keys must be 2..%d accounts\n",
			BANK_MAX_ACCOUNTS);
		return 1;
	}
	snprintf(val, sizeof(val), "%d", BANK_INITIAL);
	for (uint64_t i = 0; i < n; i++) {
		bank_key(keys[i], sizeof(keys[i]), i);
		put[i] = (struct msg_op){.type = MSG_OP_PUT,
					 .key = {(const uint8_t *)keys[i], strlen(keys[i])},
					 .value = {(const uint8_t *)val, strlen(val)}};
	}
	struct msg_txn txn = {.nsucc = (uint32_t)n, .succ = put};
	struct berth_result res = {0};
	int rc = berth_txn(b, &txn, false, &res);
	berth_result_free(&res);
	if (rc != 0)
		fprintf(stderr, "berth-jepsen: bank: creating the accounts: %s\n", berth_errmsg(b));
	return rc;
}

/* Every balance at one revision; the mod_revs too when revs is not NULL. */
static int bank_balances(struct berth *b, uint64_t n, int64_t *bal, int64_t *revs)
{
	struct berth_result res = {0};
	struct berth_range r = {.key = BANK_PREFIX, .klen = strlen(BANK_PREFIX), .prefix = true};
	int rc = berth_range(b, &r, &res);
	if (rc != 0) {
		berth_result_free(&res);
		return rc;
	}
	const struct reply_op *op = &res.resp.reply.ops[0];
	for (uint64_t i = 0; i < n; i++)
		bal[i] = -1000000000; /* absent: the checker flags the sum */
	for (uint32_t i = 0; i < op->nkvs; i++) {
		const struct reply_kv *kv = &op->kvs[i];
		struct bytes idx = {kv->key.p + strlen(BANK_PREFIX),
				    kv->key.n - strlen(BANK_PREFIX)};
		int64_t k, v;
		if (kv->key.n <= strlen(BANK_PREFIX) || !wl_parse_int(&idx, &k) || k < 0 ||
		    (uint64_t)k >= n || !wl_parse_int(&kv->value, &v))
			continue;
		bal[k] = v;
		if (revs != NULL)
			revs[k] = kv->mod_rev;
	}
	berth_result_free(&res);
	return 0;
}

static void bank_read(struct wl_client *c)
{
	uint64_t n = c->sh->cfg->keys;
	int64_t bal[BANK_MAX_ACCOUNTS];
	wl_invoke(c, "read", NULL, NULL);
	int rc = bank_balances(c->b_read, n, bal, NULL);
	json_t *v = NULL;
	if (rc == 0) {
		v = json_object();
		for (uint64_t i = 0; i < n; i++) {
			char k[32];
			bank_key(k, sizeof(k), i);
			json_object_set_new(v, k, json_integer(bal[i]));
		}
	}
	wl_complete(c, "read", NULL, rc, true, v);
}

static void bank_transfer(struct wl_client *c)
{
	uint64_t n = c->sh->cfg->keys;
	int64_t bal[BANK_MAX_ACCOUNTS], revs[BANK_MAX_ACCOUNTS] = {0};
	uint64_t from = wl_rand(c, n), to = (from + 1 + wl_rand(c, n - 1)) % n;
	int64_t amount = 1 + (int64_t)wl_rand(c, 5);
	char kf[32], kt[32], vf[24], vt[24];
	bank_key(kf, sizeof(kf), from);
	bank_key(kt, sizeof(kt), to);
	/* The balances this transfer starts from; a failed read is no transfer at all. */
	if (bank_balances(c->b, n, bal, revs) != 0 || bal[from] < amount)
		return;
	json_t *jv = json_pack("{s:s,s:s,s:I}", "from", kf, "to", kt, "amount", (json_int_t)amount);
	snprintf(vf, sizeof(vf), "%lld", (long long)(bal[from] - amount));
	snprintf(vt, sizeof(vt), "%lld", (long long)(bal[to] + amount));
	struct msg_compare cmp[2] = {
		{.target = MSG_CMP_MOD,
		 .op = MSG_EQ,
		 .key = {(const uint8_t *)kf, strlen(kf)},
		 .num = revs[from]},
		{.target = MSG_CMP_MOD,
		 .op = MSG_EQ,
		 .key = {(const uint8_t *)kt, strlen(kt)},
		 .num = revs[to]},
	};
	struct msg_op put[2] = {
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)kf, strlen(kf)},
		 .value = {(const uint8_t *)vf, strlen(vf)}},
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)kt, strlen(kt)},
		 .value = {(const uint8_t *)vt, strlen(vt)}},
	};
	struct msg_txn txn = {.ncmp = 2, .nsucc = 2, .cmp = cmp, .succ = put};
	struct berth_result res = {0};
	wl_invoke(c, "transfer", NULL, jv);
	int rc = berth_txn(c->b, &txn, false, &res);
	bool done = rc == 0 && res.resp.reply.succeeded;
	berth_result_free(&res);
	wl_complete(c, "transfer", NULL, rc, done, jv);
}

static void bank_op(struct wl_client *c)
{
	if (wl_rand(c, 2) == 0)
		bank_read(c);
	else
		bank_transfer(c);
}

static int bank_final(struct wl_client *c)
{
	if (c->thread == 0)
		bank_read(c);
	return 0;
}

static json_t *bank_check(const struct history *h, const struct run_config *cfg, char *err,
			  size_t errlen)
{
	return check_bank(h, (int64_t)cfg->keys * BANK_INITIAL, false, err, errlen);
}

const struct workload wl_bank = {"bank", bank_setup, bank_op, bank_final, bank_check, NULL};
