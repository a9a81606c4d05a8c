/* tests/unit/test_rfsm.c: the raft adapter (store/rfsm.c): replies held until their batch
 * commits, commits by count and on flush, snapshots, restore and restore-skip, peek, and
 * fatal errors. A one-server raft_fixture drives apply; snapshot and restore are called
 * the way libraft 0.22.1 calls them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/err.h"
#include "store/rfsm.h"
#include "tests/unit/support.h"

#include <raft/fixture.h>
#include <stdlib.h>
#include <string.h>

struct one {
	struct raft_fixture f;
	struct raft_tracer tracer;
	struct fsm fsm;
	struct rfsm s;
	char *dir;
};

static void one_emit(struct raft_tracer *t, int type, const void *info)
{
	(void)t;
	(void)type;
	(void)info;
}

/* A one-server cluster, elected, whose state machine is a fresh database. */
static void one_open(struct one *o, unsigned max_batch, const struct fsm_config *cfg)
{
	struct fsm_config def;
	struct raft_configuration conf;
	memset(o, 0, sizeof(*o));
	if (cfg == NULL) {
		tfsm_config(&def);
		cfg = &def;
	}
	o->dir = support_tmpdir();
	assert_int_equal(fsm_open(&o->fsm, o->dir, cfg), 0);
	rfsm_init(&o->s, &o->fsm, max_batch);
	assert_int_equal(raft_fixture_init(&o->f), 0);
	assert_int_equal(raft_fixture_grow(&o->f, &o->s.raft), 0);
	struct raft *r = raft_fixture_get(&o->f, 0);
	o->tracer.version = 2;
	o->tracer.emit = one_emit;
	r->tracer = &o->tracer;
	rfsm_attach(&o->s, r);
	assert_int_equal(raft_fixture_configuration(&o->f, 1, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&o->f, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&o->f), 0);
	assert_true(raft_fixture_step_until_has_leader(&o->f, 10000));
}

static void one_close(struct one *o)
{
	raft_fixture_close(&o->f);
	rfsm_close(&o->s);
	fsm_close(&o->fsm);
	support_rmrf(o->dir);
	free(o->dir);
}

struct one_req {
	struct raft_apply req;
	int fired;
	int status;
};

static void one_cb(struct raft_apply *req, int status, void *result)
{
	struct one_req *w = req->data;
	assert_null(result); /* replies travel through rfsm_take, never through raft */
	w->fired = 1;
	w->status = status;
}

/* Proposes "put key = value", padded to 8 bytes, in a raft_malloc'd buffer. */
static void one_put(struct one *o, struct one_req *w, const char *key, const char *value)
{
	struct msg_op op = op_put(key, value);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct mp_buf b;
	static const uint8_t zero[8];
	mp_buf_init(&b);
	msg_cmd_encode(&b, &c);
	mp_buf_append(&b, zero, (8 - b.len % 8) % 8);
	assert_int_equal(mp_buf_error(&b), 0);
	struct raft_buffer buf = {raft_malloc(b.len), b.len};
	assert_non_null(buf.base);
	memcpy(buf.base, b.data, b.len);
	mp_buf_close(&b);
	memset(w, 0, sizeof(*w));
	w->req.data = w;
	assert_int_equal(raft_apply(raft_fixture_get(&o->f, 0), &w->req, &buf, 1, one_cb), 0);
}

static void one_wait(struct one *o, struct one_req *w)
{
	for (int i = 0; i < 10000 && !w->fired; i++)
		raft_fixture_step(&o->f);
	assert_true(w->fired);
	assert_int_equal(w->status, 0);
}

/* The committed value of key through fsm_read, or NULL. */
static const char *one_get(struct one *o, const char *key)
{
	static char buf[256];
	struct msg_op op = op_get(key);
	struct msg_txn t = {0, 1, 0, NULL, &op, NULL};
	struct mp_buf out;
	struct reply r;
	const char *res = NULL;
	mp_buf_init(&out);
	assert_int_equal(fsm_read(&o->fsm, &t, &out), 0);
	assert_int_equal(reply_decode(out.data, out.len, &r), 0);
	assert_int_equal(r.err, 0);
	if (r.ops[0].nkvs == 1 && r.ops[0].kvs[0].value.n < sizeof(buf)) {
		memcpy(buf, r.ops[0].kvs[0].value.p, r.ops[0].kvs[0].value.n);
		buf[r.ops[0].kvs[0].value.n] = 0;
		res = buf;
	}
	reply_free(&r);
	mp_buf_close(&out);
	return res;
}

/* Applied but not committed: the reply is there, its batch is not, and reads do not see
 * the write yet; that is why the server holds replies until the batch commits. */
static void test_rfsm_replies_wait_for_commit(void **state)
{
	struct one o;
	struct one_req w[3];
	struct rfsm_reply rep;
	struct reply r;
	(void)state;
	one_open(&o, 1000, NULL);
	one_put(&o, &w[0], "a", "1");
	one_put(&o, &w[1], "b", "2");
	one_put(&o, &w[2], "c", "3");
	for (int i = 0; i < 3; i++)
		one_wait(&o, &w[i]);
	assert_int_equal(rfsm_committed(&o.s), 0);
	assert_null(one_get(&o, "a"));
	assert_int_equal(rfsm_take(&o.s, w[1].req.index, &rep), 0);
	assert_int_equal(rep.index, w[1].req.index);
	assert_int_equal(rep.batch, 0);
	assert_int_equal(reply_decode(rep.bytes, rep.len, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.rev, 2);
	reply_free(&r);
	free(rep.bytes);
	assert_int_equal(rfsm_take(&o.s, w[1].req.index, &rep), BERTH_ENOTFOUND);

	assert_int_equal(rfsm_flush(&o.s), 0);
	assert_int_equal(rfsm_committed(&o.s), 1);
	assert_string_equal(one_get(&o, "a"), "1");
	assert_string_equal(one_get(&o, "c"), "3");
	assert_int_equal(fsm_applied(&o.fsm), w[2].req.index);
	/* A flush with nothing open commits nothing. */
	assert_int_equal(rfsm_flush(&o.s), 0);
	assert_int_equal(rfsm_committed(&o.s), 1);
	/* Replies nobody took are dropped (LeakSanitizer checks they are freed): up to an
	 * index first, then all. */
	rfsm_drop_upto(&o.s, w[0].req.index);
	assert_int_equal(rfsm_take(&o.s, w[0].req.index, &rep), BERTH_ENOTFOUND);
	assert_int_equal(rfsm_take(&o.s, w[2].req.index, &rep), 0);
	assert_int_equal(rep.index, w[2].req.index);
	free(rep.bytes);
	rfsm_drop(&o.s);
	assert_int_equal(o.s.nreplies, 0);
	one_close(&o);
}

/* max_batch entries commit by themselves; the reply says which batch it is in. */
static void test_rfsm_commits_by_count(void **state)
{
	struct one o;
	struct one_req w[5];
	struct rfsm_reply rep;
	(void)state;
	one_open(&o, 2, NULL);
	for (int i = 0; i < 5; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		one_put(&o, &w[i], k, "v");
		one_wait(&o, &w[i]);
	}
	assert_int_equal(rfsm_committed(&o.s), 2);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(rfsm_take(&o.s, w[i].req.index, &rep), 0);
		assert_int_equal(rep.batch, (uint64_t)i / 2);
		free(rep.bytes);
	}
	assert_string_equal(one_get(&o, "k3"), "v");
	assert_null(one_get(&o, "k4"));
	assert_int_equal(rfsm_flush(&o.s), 0);
	assert_int_equal(rfsm_committed(&o.s), 3);
	assert_string_equal(one_get(&o, "k4"), "v");
	one_close(&o);
}

struct mem {
	uint8_t *p;
	size_t n;
};

static int mem_write(void *ctx, const void *data, size_t n)
{
	struct mem *m = ctx;
	uint8_t *p = realloc(m->p, m->n + n);
	if (p == NULL)
		return BERTH_ENOMEM;
	memcpy(p + m->n, data, n);
	m->p = p;
	m->n += n;
	return 0;
}

/* raft's snapshot call commits the open batch first and returns the committed stream;
 * finalize frees it. */
static void test_rfsm_snapshot(void **state)
{
	struct one o;
	struct one_req w;
	struct raft_buffer *bufs = NULL;
	unsigned n = 0;
	struct mem m = {0};
	(void)state;
	one_open(&o, 1000, NULL);
	one_put(&o, &w, "x", "42");
	one_wait(&o, &w);
	assert_int_equal(rfsm_committed(&o.s), 0);
	assert_int_equal(o.s.raft.snapshot(&o.s.raft, &bufs, &n), 0);
	assert_int_equal(rfsm_committed(&o.s), 1);
	assert_int_equal(n, 1);
	assert_int_equal(fsm_snapshot_write(&o.fsm, mem_write, &m), 0);
	assert_int_equal(bufs[0].len, m.n);
	assert_memory_equal(bufs[0].base, m.p, m.n);
	uint64_t applied;
	assert_int_equal(fsm_snapshot_peek(bufs[0].base, bufs[0].len, &applied), 0);
	assert_int_equal(applied, w.req.index);
	assert_int_equal(o.s.raft.snapshot_finalize(&o.s.raft, &bufs, &n), 0);
	assert_null(bufs);
	assert_int_equal(n, 0);
	free(m.p);
	one_close(&o);
}

static struct raft_buffer raft_copy(const struct mem *m)
{
	struct raft_buffer b = {raft_malloc(m->n), m->n};
	assert_non_null(b.base);
	memcpy(b.base, m->p, m->n);
	return b;
}

/* Restore replaces a database that is behind, and skips one that already holds the
 * snapshot's entries; either way it takes the buffer. */
static void test_rfsm_restore_and_skip(void **state)
{
	struct tfsm a, b;
	struct rfsm s;
	struct mem snap = {0}, got = {0};
	(void)state;
	tfsm_open(&a, NULL);
	t_put(&a, "p", "1");
	t_put(&a, "q", "2");
	assert_int_equal(fsm_snapshot_write(&a.f, mem_write, &snap), 0);

	tfsm_open(&b, NULL);
	t_put(&b, "old", "gone");
	rfsm_init(&s, &b.f, 16);
	struct raft_buffer buf = raft_copy(&snap);
	assert_int_equal(s.raft.restore(&s.raft, &buf), 0);
	assert_int_equal(s.restores, 1);
	assert_int_equal(s.restores_skipped, 0);
	assert_int_equal(fsm_applied(&b.f), 2);
	assert_int_equal(fsm_snapshot_write(&b.f, mem_write, &got), 0);
	assert_int_equal(got.n, snap.n);
	assert_memory_equal(got.p, snap.p, snap.n);
	assert_null(t_get(&b, "old"));

	/* Again: the database is at the snapshot's index, so nothing is replaced. */
	b.index = fsm_applied(&b.f);
	t_put(&b, "later", "stays"); /* applied 3, past the snapshot */
	buf = raft_copy(&snap);
	assert_int_equal(s.raft.restore(&s.raft, &buf), 0);
	assert_int_equal(s.restores, 2);
	assert_int_equal(s.restores_skipped, 1);
	assert_string_equal(t_get(&b, "later"), "stays");

	/* A corrupt snapshot is refused and the buffer stays raft's (it frees it). */
	snap.p[0] ^= 0xff;
	buf = raft_copy(&snap);
	assert_int_equal(s.raft.restore(&s.raft, &buf), RAFT_CORRUPT);
	raft_free(buf.base);
	assert_string_equal(t_get(&b, "later"), "stays");
	rfsm_close(&s);
	tfsm_close(&a);
	tfsm_close(&b);
	free(snap.p);
	free(got.p);
}

/* peek reads the applied index from the meta records, and refuses what it cannot read. */
static void test_rfsm_snapshot_peek(void **state)
{
	struct tfsm t;
	struct mem m = {0};
	uint64_t applied = 99;
	(void)state;
	tfsm_open(&t, NULL);
	assert_int_equal(fsm_snapshot_write(&t.f, mem_write, &m), 0);
	assert_int_equal(fsm_snapshot_peek(m.p, m.n, &applied), 0);
	assert_int_equal(applied, 0); /* a new database: no meta yet */
	free(m.p);
	m = (struct mem){0};
	for (int i = 0; i < 7; i++)
		t_put(&t, "k", "v");
	assert_int_equal(fsm_snapshot_write(&t.f, mem_write, &m), 0);
	assert_int_equal(fsm_snapshot_peek(m.p, m.n, &applied), 0);
	assert_int_equal(applied, 7);
	/* "applied" is the first meta record (key order): header 12 + record header 5 + key 7
	 * + length 4 + value 8 = 36 bytes. A shorter stream cannot say; a longer one can,
	 * and peek reads no further (a restore checks the rest). */
	for (size_t cut = 0; cut < 36; cut++)
		assert_int_equal(fsm_snapshot_peek(m.p, cut, &applied), BERTH_ECORRUPT);
	for (size_t cut = 36; cut < 60; cut++) {
		applied = 0;
		assert_int_equal(fsm_snapshot_peek(m.p, cut, &applied), 0);
		assert_int_equal(applied, 7);
	}
	m.p[3] ^= 1;
	assert_int_equal(fsm_snapshot_peek(m.p, m.n, &applied), BERTH_ECORRUPT);
	free(m.p);
	tfsm_close(&t);
}

/* A full map is fatal: apply answers RAFT_IOERR, the error sticks, nothing is applied. */
static void test_rfsm_fatal_is_sticky(void **state)
{
	struct fsm_config cfg;
	struct one o;
	(void)state;
	tfsm_config(&cfg);
	cfg.map_bytes = 64 * 1024;
	one_open(&o, 1000, &cfg);
	static char big[200 * 1024];
	memset(big, 'x', sizeof(big) - 1);
	struct msg_op op = op_put("big", big);
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	struct mp_buf b;
	mp_buf_init(&b);
	msg_cmd_encode(&b, &c);
	struct raft_buffer buf = {b.data, b.len};
	void *result = (void *)1;
	uint64_t before = fsm_applied(&o.fsm);
	assert_int_equal(o.s.raft.apply(&o.s.raft, &buf, &result), RAFT_IOERR);
	assert_null(result);
	assert_int_equal(rfsm_fatal(&o.s), BERTH_ENOSPACE);
	assert_non_null(strstr(o.s.errmsg, "BERTH_ENOSPACE"));
	assert_int_equal(o.s.raft.apply(&o.s.raft, &buf, &result), RAFT_IOERR);
	assert_int_equal(rfsm_flush(&o.s), BERTH_ENOSPACE);
	assert_int_equal(fsm_applied(&o.fsm), before);
	mp_buf_close(&b);
	one_close(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfsm_replies_wait_for_commit),
		cmocka_unit_test(test_rfsm_commits_by_count),
		cmocka_unit_test(test_rfsm_snapshot),
		cmocka_unit_test(test_rfsm_restore_and_skip),
		cmocka_unit_test(test_rfsm_snapshot_peek),
		cmocka_unit_test(test_rfsm_fatal_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
