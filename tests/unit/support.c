/* tests/unit/support.c: shared helpers for the unit tests. */
#include "tests/unit/support.h"

#include "common/err.h"

#include <assert.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *support_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/berth-test-XXXXXX", base && *base ? base : "/tmp");
	char *d = mkdtemp(tmpl);
	assert(d != NULL);
	return strdup(d);
}

static int support_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void support_rmrf(const char *path)
{
	nftw(path, support_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void tfsm_config(struct fsm_config *c)
{
	fsm_config_default(c);
	c->sync = KV_SYNC_NONE;
	c->map_bytes = (size_t)1 << 30;
}

void tfsm_open(struct tfsm *t, const struct fsm_config *cfg)
{
	struct fsm_config def;
	memset(t, 0, sizeof(*t));
	if (cfg == NULL) {
		tfsm_config(&def);
		cfg = &def;
	}
	t->dir = support_tmpdir();
	int rv = fsm_open(&t->f, t->dir, cfg);
	if (rv != 0)
		fprintf(stderr, "fsm_open: %s\n", t->f.errmsg);
	assert(rv == 0);
	t->index = fsm_applied(&t->f);
	mp_buf_init(&t->out);
}

int tfsm_reopen(struct tfsm *t, const struct fsm_config *cfg)
{
	struct fsm_config def;
	uint64_t applied = fsm_applied(&t->f);
	if (cfg == NULL) {
		tfsm_config(&def);
		cfg = &def;
	}
	fsm_close(&t->f);
	int rv = fsm_open(&t->f, t->dir, cfg);
	if (rv != 0) {
		fprintf(stderr, "fsm_open: %s\n", t->f.errmsg);
		return rv;
	}
	assert(fsm_applied(&t->f) == applied);
	t->index = applied;
	return 0;
}

void tfsm_close(struct tfsm *t)
{
	fsm_close(&t->f);
	mp_buf_close(&t->out);
	free(t->last);
	support_rmrf(t->dir);
	free(t->dir);
}

static int tfsm_decode(struct tfsm *t, struct reply *r)
{
	free(t->last);
	t->last = malloc(t->out.len ? t->out.len : 1);
	assert(t->last != NULL);
	memcpy(t->last, t->out.data, t->out.len);
	t->last_len = t->out.len;
	if (r == NULL)
		return 0;
	int rv = reply_decode(t->last, t->last_len, r);
	assert(rv == 0);
	return 0;
}

int tfsm_apply(struct tfsm *t, const struct msg_cmd *c, struct reply *r)
{
	struct mp_buf cmd;
	mp_buf_init(&cmd);
	msg_cmd_encode(&cmd, c);
	assert(mp_buf_error(&cmd) == 0);
	/* Pad to 8 bytes as raft requires; the decoder must accept it. */
	static const uint8_t zero[8];
	mp_buf_append(&cmd, zero, (8 - cmd.len % 8) % 8);
	mp_buf_reset(&t->out);
	int rv = fsm_apply_one(&t->f, ++t->index, cmd.data, cmd.len, &t->out);
	mp_buf_close(&cmd);
	if (rv != 0) {
		t->index--;
		if (r != NULL)
			memset(r, 0, sizeof(*r));
		return rv;
	}
	return tfsm_decode(t, r);
}

int tfsm_read(struct tfsm *t, const struct msg_txn *txn, struct reply *r)
{
	mp_buf_reset(&t->out);
	int rv = fsm_read(&t->f, txn, &t->out);
	if (rv != 0)
		return rv;
	return tfsm_decode(t, r);
}

struct bytes B(const char *s) {
	return (struct bytes){(const uint8_t *)s, s ? strlen(s) : 0};
}

struct msg_op
op_put(const char *k, const char *v)
{
	return (struct msg_op){.type = MSG_OP_PUT, .key = B(k), .value = B(v)};
}

struct msg_op op_get(const char *k)
{
	return (struct msg_op){.type = MSG_OP_RANGE, .key = B(k)};
}

struct msg_op op_range(const char *start, const char *end)
{
	struct msg_op op = {.type = MSG_OP_RANGE, .key = B(start)};
	if (end == NULL)
		op.flags = MSG_F_PREFIX;
	else
		op.end = B(end);
	return op;
}

struct msg_op op_del(const char *k)
{
	return (struct msg_op){.type = MSG_OP_DEL, .key = B(k)};
}

struct msg_op op_add(const char *k, int64_t delta)
{
	return (struct msg_op){.type = MSG_OP_ADD, .key = B(k), .delta = delta};
}

struct msg_compare cmp_num(uint8_t target, const char *k, uint8_t op, int64_t num)
{
	return (struct msg_compare){.target = target, .op = op, .key = B(k), .num = num};
}

struct msg_compare cmp_val(const char *k, uint8_t op, const char *v)
{
	return (struct msg_compare){.target = MSG_CMP_VALUE, .op = op, .key = B(k), .value = B(v)};
}

struct msg_cmd cmd_txn(struct msg_compare *cmp, uint32_t ncmp, struct msg_op *succ, uint32_t nsucc,
		       struct msg_op *fail, uint32_t nfail)
{
	struct msg_cmd c = {.type = MSG_CMD_TXN};
	c.txn = (struct msg_txn){ncmp, nsucc, nfail, cmp, succ, fail};
	return c;
}

void t_put(struct tfsm *t, const char *k, const char *v)
{
	struct msg_op op = op_put(k, v);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	int rv = tfsm_apply(t, &c, &r);
	assert(rv == 0 && r.err == 0);
	reply_free(&r);
}

void t_del(struct tfsm *t, const char *k)
{
	struct msg_op op = op_del(k);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct reply r;
	int rv = tfsm_apply(t, &c, &r);
	assert(rv == 0 && r.err == 0);
	reply_free(&r);
}

const char *t_get(struct tfsm *t, const char *k)
{
	static char buf[1 << 16];
	struct msg_op op = op_get(k);
	struct msg_txn txn = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	int rv = tfsm_read(t, &txn, &r);
	assert(rv == 0 && r.err == 0 && r.nops == 1);
	const char *res = NULL;
	if (r.ops[0].nkvs == 1) {
		size_t n = r.ops[0].kvs[0].value.n < sizeof(buf) - 1 ? r.ops[0].kvs[0].value.n
								     : sizeof(buf) - 1;
		memcpy(buf, r.ops[0].kvs[0].value.p, n);
		buf[n] = 0;
		res = buf;
	}
	reply_free(&r);
	return res;
}
