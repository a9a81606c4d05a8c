/* tests/unit/model_run.c: the driver of the model-based test: runs, steps, state checks,
 * coverage, and readable reports of a mismatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "tests/unit/model_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t model_run_seed;
uint64_t model_run_txns = MODEL_DEFAULT_TXNS;

/* ---- Readable commands and replies, for mismatch reports. ---- */

static void print_bytes(FILE *f, struct bytes b)
{
	fputc('"', f);
	for (size_t i = 0; i < b.n;) {
		size_t j = i;
		while (j < b.n && b.p[j] == b.p[i])
			j++;
		size_t rep = j - i >= 8 ? j - i : 1;
		if (rep > 1)
			fputc('<', f);
		if (b.p[i] >= 0x20 && b.p[i] < 0x7f && b.p[i] != '"' && b.p[i] != '\\' &&
		    b.p[i] != '<')
			fputc(b.p[i], f);
		else
			fprintf(f, "\\x%02x", b.p[i]);
		if (rep > 1)
			fprintf(f, "*%zu>", rep);
		i += rep;
	}
	fputc('"', f);
}

static void print_value(FILE *f, struct bytes b)
{
	int64_t v;
	print_bytes(f, b);
	if (model_int(b.p, b.n, &v))
		fprintf(f, "(=%" PRId64 ")", v);
}

static void print_op(FILE *f, const struct msg_op *op)
{
	static const char *names[] = {"range", "put", "del", "add"};
	fprintf(f, "%s ", op->type < MSG_OP_TYPE_COUNT ? names[op->type] : "?");
	if (op->flags & MSG_F_PREFIX)
		fputs("prefix ", f);
	print_bytes(f, op->key);
	if (op->end.n > 0) {
		fputs(" end ", f);
		print_bytes(f, op->end);
	}
	if (op->flags & MSG_F_KEYS_ONLY)
		fputs(" keys-only", f);
	if (op->flags & MSG_F_COUNT_ONLY)
		fputs(" count-only", f);
	if (op->type == MSG_OP_PUT) {
		fputc(' ', f);
		print_value(f, op->value);
	}
	if (op->type == MSG_OP_ADD)
		fprintf(f, " %+" PRId64, op->delta);
	if (op->lease != 0)
		fprintf(f, " lease=%" PRIu64, op->lease);
	if (op->limit != 0)
		fprintf(f, " limit=%" PRIu64, op->limit);
	if (op->rev != 0)
		fprintf(f, " rev=%" PRIu64, op->rev);
}

static void print_ops(FILE *f, const struct msg_op *ops, uint32_t n)
{
	fputc('[', f);
	for (uint32_t i = 0; i < n; i++) {
		fputs(i ? "; " : "", f);
		print_op(f, &ops[i]);
	}
	fputc(']', f);
}

static void print_cmd(FILE *f, const struct msg_cmd *c, bool read)
{
	static const char *targets[] = {"value", "version", "create", "mod", "int"};
	static const char *cmps[] = {"==", "!=", "<", "<=", ">", ">="};
	switch (c->type) {
	case MSG_CMD_TXN:
		fputs(read ? "fsm_read txn: if [" : "txn: if [", f);
		for (uint32_t i = 0; i < c->txn.ncmp; i++) {
			const struct msg_compare *m = &c->txn.cmp[i];
			fprintf(f, "%s%s(", i ? " && " : "",
				m->target < MSG_CMP_TARGET_COUNT ? targets[m->target] : "?");
			print_bytes(f, m->key);
			fprintf(f, ") %s ", m->op < MSG_CMP_OP_COUNT ? cmps[m->op] : "?");
			if (m->target == MSG_CMP_VALUE)
				print_value(f, m->value);
			else
				fprintf(f, "%" PRId64, m->num);
		}
		fputs("] then ", f);
		print_ops(f, c->txn.succ, c->txn.nsucc);
		fputs(" else ", f);
		print_ops(f, c->txn.fail, c->txn.nfail);
		break;
	case MSG_CMD_COMPACT:
		fprintf(f, "compact rev=%" PRIu64, c->rev);
		break;
	case MSG_CMD_LEASE_GRANT:
		fprintf(f, "lease grant id=%" PRIu64 " ttl=%" PRId64, c->lease, c->ttl);
		break;
	case MSG_CMD_LEASE_REVOKE:
		fprintf(f, "lease revoke id=%" PRIu64, c->lease);
		break;
	case MSG_CMD_LEASE_EXPIRE:
		fputs("lease expire [", f);
		for (uint32_t i = 0; i < c->nleases; i++)
			fprintf(f, "%s%" PRIu64, i ? " " : "", c->leases[i]);
		fputc(']', f);
		break;
	default:
		fprintf(f, "command type %u", c->type);
	}
	fputc('\n', f);
}

static void print_reply(FILE *f, const struct reply *r)
{
	static const char *names[] = {"range", "put", "del", "add"};
	if (r->err != 0) {
		fprintf(f, "{err %s rev %" PRIu64 "}\n", err_name(r->err), r->rev);
		return;
	}
	fprintf(f, "{rev %" PRIu64 " ok %d", r->rev, r->succeeded);
	if (r->id != 0 || r->ttl != 0)
		fprintf(f, " id %" PRIu64 " ttl %" PRId64, r->id, r->ttl);
	fputs(" r [", f);
	for (uint32_t i = 0; i < r->nops; i++) {
		const struct reply_op *o = &r->ops[i];
		fprintf(f, "%s%s", i ? "; " : "",
			o->type < MSG_OP_TYPE_COUNT ? names[o->type] : "?");
		if (o->type == MSG_OP_DEL)
			fprintf(f, " d=%" PRIu64, o->deleted);
		if (o->type == MSG_OP_ADD)
			fprintf(f, " v=%" PRId64, o->value);
		if (o->type != MSG_OP_RANGE)
			continue;
		fprintf(f, " n=%" PRIu64 " more=%d", o->count, o->more);
		for (uint32_t j = 0; j < o->nkvs; j++) {
			const struct reply_kv *kv = &o->kvs[j];
			fputs("\n      {k ", f);
			print_bytes(f, kv->key);
			fputs(" v ", f);
			print_value(f, kv->value);
			fprintf(f, " c %" PRId64 " m %" PRId64 " ver %" PRId64 " l %" PRIu64 "}",
				kv->create_rev, kv->mod_rev, kv->version, kv->lease);
		}
	}
	fputs("]}\n", f);
}

/* Describes the first difference in why; true when the replies are the same. */
static bool reply_same(const struct reply *e, const struct reply *a, char *why, size_t n)
{
#define DIFF(cond, ...)                                                                            \
	do {                                                                                       \
		if (cond) {                                                                        \
			snprintf(why, n, __VA_ARGS__);                                             \
			return false;                                                              \
		}                                                                                  \
	} while (0)
	DIFF(e->err != a->err, "err: expected %s, got %s", err_name(e->err), err_name(a->err));
	DIFF(e->rev != a->rev, "rev: expected %" PRIu64 ", got %" PRIu64, e->rev, a->rev);
	DIFF(e->succeeded != a->succeeded, "ok: expected %d, got %d", e->succeeded, a->succeeded);
	DIFF(e->id != a->id, "id: expected %" PRIu64 ", got %" PRIu64, e->id, a->id);
	DIFF(e->ttl != a->ttl, "ttl: expected %" PRId64 ", got %" PRId64, e->ttl, a->ttl);
	DIFF(e->nops != a->nops, "ops: expected %u, got %u", e->nops, a->nops);
	for (uint32_t i = 0; i < e->nops; i++) {
		const struct reply_op *x = &e->ops[i], *y = &a->ops[i];
		DIFF(x->type != y->type, "op %u: type %u, got %u", i, x->type, y->type);
		DIFF(x->count != y->count, "op %u: count %" PRIu64 ", got %" PRIu64, i, x->count,
		     y->count);
		DIFF(x->more != y->more, "op %u: more %d, got %d", i, x->more, y->more);
		DIFF(x->deleted != y->deleted, "op %u: deleted %" PRIu64 ", got %" PRIu64, i,
		     x->deleted, y->deleted);
		DIFF(x->value != y->value, "op %u: value %" PRId64 ", got %" PRId64, i, x->value,
		     y->value);
		DIFF(x->nkvs != y->nkvs, "op %u: %u kvs, got %u", i, x->nkvs, y->nkvs);
		for (uint32_t j = 0; j < x->nkvs; j++) {
			const struct reply_kv *p = &x->kvs[j], *q = &y->kvs[j];
			DIFF(!model_keys_eq(p->key, q->key), "op %u kv %u: key differs", i, j);
			DIFF(!model_keys_eq(p->value, q->value), "op %u kv %u: value differs", i,
			     j);
			DIFF(p->create_rev != q->create_rev || p->mod_rev != q->mod_rev ||
				     p->version != q->version || p->lease != q->lease,
			     "op %u kv %u: create/mod/version/lease differ", i, j);
		}
	}
	return true;
#undef DIFF
}

/* ---- One run: a state machine (two for the determinism test), the model, the generator. */

int model_run_setup(void **state)
{
	struct run *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	model_keys_init();
	fsm_config_default(&x->cfg);
	x->cfg.sync = KV_SYNC_NONE;
	x->cfg.map_bytes = (size_t)1 << 30;
	x->hash_mask = UINT64_MAX;
	x->long_pct = 15;
	x->txns = model_run_txns;
	x->seed = model_run_seed;
	for (size_t i = 0; i < GEN_BATCH; i++)
		mp_buf_init(&x->enc[i]);
	mp_buf_init(&x->out);
	*state = x;
	return 0;
}

int model_run_teardown(void **state)
{
	struct run *x = *state;
	if (x->open)
		tfsm_close(&x->t);
	if (x->open2)
		tfsm_close(&x->t2);
	model_free(&x->m);
	reply_free(&x->exp);
	reply_free(&x->act);
	for (size_t i = 0; i < GEN_BATCH; i++) {
		mp_buf_close(&x->enc[i]);
		free(x->arep[i]);
	}
	mp_buf_close(&x->out);
	free(x);
	return 0;
}

void model_run_start(struct run *x, const char *name, uint64_t stream)
{
	x->name = name;
	x->rng.s = x->seed ^ (0xd1b54a32d192ed03ull * stream);
	tfsm_open(&x->t, &x->cfg);
	x->open = true;
	x->t.f.kv.hash_mask = x->hash_mask;
}

static void run_fail(struct run *x, const struct msg_cmd *c, bool read, const char *why)
{
	uint64_t step = x->checking && x->step > 0 ? x->step - 1 : x->step;
	fprintf(stderr,
		"model: MISMATCH in %s: seed=%" PRIu64 " %s step=%" PRIu64 " rev=%" PRIu64
		" compacted=%" PRIu64 ": %s\n",
		x->name, x->seed, x->checking ? "after" : "at", step, x->m.rev, x->m.compacted,
		why);
	fprintf(stderr, "  replay: BERTH_MODEL_SEED=%" PRIu64 " BERTH_MODEL_TXNS=%" PRIu64 "\n",
		x->seed, model_run_txns);
	if (x->checking && x->reopened) {
		fputs("  step:     close and reopen the database\n", stderr);
	} else if (x->checking && x->step > 0) {
		if (x->batch_k > 0)
			fprintf(stderr, "  step:     the last of a batch of %zu: ", x->batch_k);
		else
			fputs("  step:     ", stderr);
		print_cmd(stderr, &x->g.c, x->g.read);
	}
	if (c != NULL) {
		fputs(x->checking ? "  check:    " : "  command:  ", stderr);
		print_cmd(stderr, c, read);
		fputs("  expected: ", stderr);
		print_reply(stderr, &x->exp);
		fputs("  actual:   ", stderr);
		print_reply(stderr, &x->act);
	}
	fail_msg("model mismatch: seed=%" PRIu64 " step=%" PRIu64 ": %s", x->seed, step, why);
}

void model_run_expect(struct run *x, const struct msg_cmd *c, bool read)
{
	char why[256];
	if (!reply_same(&x->exp, &x->act, why, sizeof(why)))
		run_fail(x, c, read, why);
	const struct reply *r = &x->exp;
	if (r->err > BERTH_ERR_BASE && r->err < BERTH_ERR_BASE + STAT_ERRS)
		x->errs[r->err - BERTH_ERR_BASE]++;
	if (c->type == MSG_CMD_TXN && r->err == 0 && !r->succeeded)
		x->else_branch++;
	if (c->type == MSG_CMD_COMPACT && r->err == 0)
		x->compactions++;
	if (c->type == MSG_CMD_TXN && r->err == 0) {
		const struct msg_op *ops = r->succeeded ? c->txn.succ : c->txn.fail;
		for (uint32_t i = 0; i < r->nops; i++)
			x->past_reads += ops[i].type == MSG_OP_RANGE && ops[i].rev != 0;
	}
}

void model_run_encode_cmd(struct mp_buf *b, const struct msg_cmd *c)
{
	static const uint8_t zero[8];
	mp_buf_reset(b);
	msg_cmd_encode(b, c);
	mp_buf_append(b, zero, (8 - b->len % 8) % 8); /* raft pads entries to 8 bytes */
	assert_int_equal(mp_buf_error(b), 0);
}

/* ---- Driving the state machine and the model side by side. ---- */

void model_run_check_fatal(struct run *x, int rv, struct fsm *f, const struct msg_cmd *c, bool read)
{
	char why[400];
	if (rv == 0)
		return;
	reply_free(&x->exp);
	reply_free(&x->act);
	snprintf(why, sizeof(why), "%s failed: %s: %s", read ? "fsm_read" : "fsm_apply",
		 err_name(rv), f->errmsg[0] ? f->errmsg : f->kv.errmsg);
	run_fail(x, c, read, why);
}

/* Applies (or reads) one command through the test helpers and checks its reply. */
static void run_one(struct run *x, struct gcmd *g)
{
	reply_free(&x->exp);
	reply_free(&x->act);
	if (g->read) {
		model_run_check_fatal(x, tfsm_read(&x->t, &g->c.txn, &x->act), &x->t.f, &g->c,
				      true);
		model_txn(&x->m, &g->c.txn, false, &x->exp);
	} else {
		model_run_check_fatal(x, tfsm_apply(&x->t, &g->c, &x->act), &x->t.f, &g->c, false);
		model_apply(&x->m, &g->c, &x->exp);
	}
	model_run_expect(x, &g->c, g->read);
	x->step++;
}

/* Applies k commands in one LMDB batch, checking each reply as it is produced. */
static void run_batch(struct run *x, size_t k)
{
	assert_int_equal(fsm_batch_begin(&x->t.f), 0);
	mp_buf_reset(&x->out);
	for (size_t i = 0; i < k; i++) {
		model_gen_cmd(x, &x->g, true);
		model_run_encode_cmd(&x->enc[0], &x->g.c);
		size_t mark = x->out.len;
		int rv = fsm_apply(&x->t.f, ++x->t.index, x->enc[0].data, x->enc[0].len, &x->out);
		model_run_check_fatal(x, rv, &x->t.f, &x->g.c, false);
		reply_free(&x->exp);
		reply_free(&x->act);
		assert_int_equal(reply_decode(x->out.data + mark, x->out.len - mark, &x->act), 0);
		model_apply(&x->m, &x->g.c, &x->exp);
		model_run_expect(x, &x->g.c, false);
		x->step++;
	}
	assert_int_equal(fsm_batch_commit(&x->t.f), 0);
	x->batches++;
	x->batch_k = k;
}

/* Persistence: everything must survive closing and reopening the database. */
static void run_reopen(struct run *x)
{
	fsm_close(&x->t.f);
	int rv = fsm_open(&x->t.f, x->t.dir, &x->cfg);
	if (rv != 0)
		fail_msg("reopen: %s: %s", err_name(rv), x->t.f.errmsg);
	x->t.f.kv.hash_mask = x->hash_mask; /* not persistent: set again after each open */
	x->reopens++;
	x->reopened = true;
}

static void run_read_check(struct run *x, struct msg_cmd *c)
{
	reply_free(&x->exp);
	reply_free(&x->act);
	model_run_check_fatal(x, tfsm_read(&x->t, &c->txn, &x->act), &x->t.f, c, true);
	model_txn(&x->m, &c->txn, false, &x->exp);
	char why[256];
	if (!reply_same(&x->exp, &x->act, why, sizeof(why))) {
		char what[300];
		snprintf(what, sizeof(what), "state check after the step: %s", why);
		run_fail(x, c, true, what);
	}
}

struct lease_list {
	struct mlease l[256];
	size_t n;
	bool overflow;
};

static int lease_collect(void *ctx, uint64_t id, int64_t ttl_s)
{
	struct lease_list *ll = ctx;
	if (ll->n == 256)
		ll->overflow = true;
	else
		ll->l[ll->n++] = (struct mlease){id, ttl_s};
	return 0;
}

void model_run_check_state(struct run *x)
{
	struct model *m = &x->m;
	/* Every key. (The key must not be {NULL, 0}: test_model_empty_prefix_null_key.) */
	struct msg_op all = {.type = MSG_OP_RANGE, .flags = MSG_F_PREFIX, .key = B("")};
	struct msg_cmd c = {.type = MSG_CMD_TXN, .txn = {0, 1, 0, NULL, &all, NULL}};
	char why[256];

	x->checking = true;
	if (fsm_revision(&x->t.f) != m->rev || fsm_compacted(&x->t.f) != m->compacted ||
	    fsm_applied(&x->t.f) != x->t.index) {
		snprintf(why, sizeof(why),
			 "fsm_revision %" PRIu64 " (model %" PRIu64 "), fsm_compacted %" PRIu64
			 " (model %" PRIu64 "), fsm_applied %" PRIu64 " (entries %" PRIu64 ")",
			 fsm_revision(&x->t.f), m->rev, fsm_compacted(&x->t.f), m->compacted,
			 fsm_applied(&x->t.f), x->t.index);
		run_fail(x, NULL, false, why);
	}
	run_read_check(x, &c);
	if (x->exp.nops == 1 && x->exp.ops[0].count > x->max_keys)
		x->max_keys = x->exp.ops[0].count;
	if (x->step % 8 == 0 && m->rev > 0) {
		uint64_t lo = m->compacted > 0 ? m->compacted : 1;
		all.rev = lo + rng_below(&x->rng, m->rev - lo + 1);
		run_read_check(x, &c);
	}

	struct lease_list ll = {.n = 0};
	assert_int_equal(fsm_lease_foreach(&x->t.f, lease_collect, &ll), 0);
	bool same = !ll.overflow && ll.n == m->nleases;
	for (size_t i = 0; same && i < ll.n; i++)
		same = ll.l[i].id == m->leases[i].id && ll.l[i].ttl == m->leases[i].ttl;
	if (!same) {
		snprintf(why, sizeof(why),
			 "lease table: %zu leases (first id %" PRIu64
			 "), model %zu (first id %" PRIu64 ")",
			 ll.n, ll.n ? ll.l[0].id : 0, m->nleases, m->nleases ? m->leases[0].id : 0);
		run_fail(x, NULL, false, why);
	}
	x->checking = false;
	x->reopened = false;
	x->batch_k = 0;
}

void model_run_report(const struct run *x)
{
	const uint64_t *e = x->errs;
	printf("model: %s: %" PRIu64 " commands, rev %" PRIu64 ", compacted %" PRIu64
	       ", at most %" PRIu64 " keys, %" PRIu64 " else branches, %" PRIu64
	       " past reads, %" PRIu64 " compactions, %" PRIu64 " batches, %" PRIu64
	       " reopens, %" PRIu64 " keys dropped with their lease; rejected: EDUPKEY %" PRIu64
	       " ETYPE %" PRIu64 " EOVERFLOW %" PRIu64 " ENOTFOUND %" PRIu64 " ECOMPACTED %" PRIu64
	       " EFUTUREREV %" PRIu64 " EBADREQ %" PRIu64 " ETOOLARGE %" PRIu64 " EEXISTS %" PRIu64
	       "\n",
	       x->name, x->step, x->m.rev, x->m.compacted, x->max_keys, x->else_branch,
	       x->past_reads, x->compactions, x->batches, x->reopens, x->m.dropped,
	       e[BERTH_EDUPKEY - BERTH_ERR_BASE], e[BERTH_ETYPE - BERTH_ERR_BASE],
	       e[BERTH_EOVERFLOW - BERTH_ERR_BASE], e[BERTH_ENOTFOUND - BERTH_ERR_BASE],
	       e[BERTH_ECOMPACTED - BERTH_ERR_BASE], e[BERTH_EFUTUREREV - BERTH_ERR_BASE],
	       e[BERTH_EBADREQ - BERTH_ERR_BASE], e[BERTH_ETOOLARGE - BERTH_ERR_BASE],
	       e[BERTH_EEXISTS - BERTH_ERR_BASE]);
	fflush(stdout);
}

/* A long enough run must have met every kind of outcome, or the generator has rotted. */
static void run_assert_coverage(const struct run *x)
{
	static const int codes[] = {BERTH_EDUPKEY,   BERTH_ETYPE,      BERTH_EOVERFLOW,
				    BERTH_ENOTFOUND, BERTH_ECOMPACTED, BERTH_EFUTUREREV,
				    BERTH_EBADREQ,   BERTH_ETOOLARGE,  BERTH_EEXISTS};
	if (x->txns < 10000)
		return;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (x->errs[codes[i] - BERTH_ERR_BASE] == 0)
			fail_msg("%s: no command was rejected with %s", x->name,
				 err_name(codes[i]));
	assert_true(x->else_branch > 0);
	assert_true(x->past_reads > 0);
	assert_true(x->compactions > 0);
	assert_true(x->max_keys >= 20);
	assert_true(x->m.dropped > 0);
	assert_true(x->reopens > 0);
	assert_true(x->batches > 0);
}

void model_run_random(struct run *x, bool reopen, bool batches)
{
	model_run_check_state(x);
	while (x->step < x->txns) {
		uint64_t k = rng_below(&x->rng, 1000);
		if (reopen && k < 3) {
			run_reopen(x);
		} else if (batches && k < 40) {
			run_batch(x, 2 + rng_below(&x->rng, 5));
		} else {
			model_gen_cmd(x, &x->g, false);
			run_one(x, &x->g);
		}
		model_run_check_state(x);
	}
	model_run_report(x);
	run_assert_coverage(x);
}

void model_run_batch_differs(struct run *x, uint64_t step, size_t i, size_t k)
{
	struct msg_cmd c;
	fprintf(stderr,
		"model: MISMATCH in %s: seed=%" PRIu64 " step=%" PRIu64 ": entry %zu of a batch of "
		"%zu replied differently from the same entry alone\n  command:  ",
		x->name, x->seed, step, i, k);
	if (msg_cmd_decode(x->enc[i].data, x->enc[i].len, &c) == 0) {
		print_cmd(stderr, &c, false);
		msg_cmd_free(&c);
	}
	reply_free(&x->act);
	if (reply_decode(x->arep[i], x->arep_n[i], &x->act) == 0) {
		fputs("  alone:    ", stderr);
		print_reply(stderr, &x->act);
	}
	reply_free(&x->act);
	if (reply_decode(x->out.data, x->out.len, &x->act) == 0) {
		fputs("  batched:  ", stderr);
		print_reply(stderr, &x->act);
	}
	fail_msg("seed=%" PRIu64 " step=%" PRIu64 ": batched reply differs", x->seed, step);
}
