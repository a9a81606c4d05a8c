/* tests/unit/test_async.c: the asynchronous client against scripted fake servers: many
 * calls pipelined on one connection and answered out of order, one write in flight per
 * session, redirects, retries of the same (session, seq), expired sessions, silent and
 * malformed servers, watch and stream frames, unreachable members, close with calls
 * pending, limits, SIGPIPE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/berth_async.h"
#include "client/net.h"
#include "tests/unit/client_fake.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_TIMEOUT_MS 400
#define T_WAIT_MS 10000 /* the longest any test waits for its callbacks */

struct t_rec {
	int calls; /* callbacks run */
	int err;
	bool indet;
	bool has_resp;
	uint64_t rev;
	int resubmit; /* what a call made from inside the callback returned */
	int order;    /* callbacks run before this one, in the whole test */
	struct berth_async *a;
	char msg[BERTH_ERRMSG_BYTES];
};

static int t_order;

static void t_cb(struct berth_result *res, const char *errmsg, void *data)
{
	struct t_rec *r = data;
	r->order = t_order++;
	r->calls++;
	r->err = res->err;
	r->indet = res->indeterminate;
	r->has_resp = res->has_resp;
	r->rev = res->has_resp && res->resp.has_reply ? res->resp.reply.rev : 0;
	snprintf(r->msg, sizeof(r->msg), "%s", errmsg);
}

static void t_guard(uv_timer_t *t)
{
	(void)t; /* only wakes the loop up */
}

/* Runs the loop until *count reaches want, or fails the test after T_WAIT_MS. */
static void t_wait(uv_loop_t *loop, const int *count, int want)
{
	uv_timer_t guard;
	uint64_t deadline = net_now_ms() + T_WAIT_MS;
	uv_timer_init(loop, &guard);
	uv_timer_start(&guard, t_guard, 20, 20);
	while (*count < want && net_now_ms() < deadline)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_int_equal(*count, want);
}

static void t_closed(void *data)
{
	(*(int *)data)++;
}

/* Closes a and runs the loop until its memory is gone; then nothing may be left. */
static void t_close(uv_loop_t *loop, struct berth_async *a)
{
	int closed = 0;
	berth_async_close(a, t_closed, &closed);
	t_wait(loop, &closed, 1);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_alive(loop), 0);
}

static struct berth_async *t_open(uv_loop_t *loop, const char *const *eps, size_t n,
				  const char *token, uint32_t timeout_ms, uint32_t sessions)
{
	struct berth_options o = {.endpoints = eps,
				  .nendpoints = n,
				  .token = token,
				  .timeout_ms = timeout_ms,
				  .connect_timeout_ms = 200};
	struct berth_async_limits lim = {.sessions = sessions};
	struct berth_async *a;
	char err[BERTH_ERRMSG_BYTES];
	assert_int_equal(berth_async_open(&a, loop, &o, &lim, err, sizeof(err)), 0);
	return a;
}

static void test_async_put_get_ok(void **state)
{
	struct fake f = {0};
	struct t_rec put = {0}, get = {0}, st = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&f, FAKE_OK);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, T_TIMEOUT_MS, 0);

	assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb, &put), 0);
	assert_int_equal(put.calls, 0); /* never from inside the call */
	assert_int_equal(berth_async_pending(a), 1);
	t_wait(&loop, &put.calls, 1);
	assert_int_equal(put.err, 0);
	assert_false(put.indet);
	assert_true(put.has_resp);
	assert_int_equal(put.rev, 1);
	assert_string_equal(put.msg, "");
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &get), 0);
	assert_int_equal(berth_async_status(a, t_cb, &st), 0);
	t_wait(&loop, &get.calls, 1);
	t_wait(&loop, &st.calls, 1);
	assert_int_equal(get.err, 0);
	assert_int_equal(st.err, 0);
	assert_int_equal(berth_async_pending(a), 0);
	t_close(&loop, a);
	fake_stop(&f);
	assert_int_equal(f.conns, 1);
	assert_int_equal(fake_count(&f, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_nth(&f, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(fake_nth(&f, MSG_REQ_TXN, 0)->seq, 1);
	assert_int_equal(fake_nth(&f, MSG_REQ_TXN, 1)->session, 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

#define T_MANY 1000
#define T_SESSIONS 8

/* 1000 writes and 1000 reads at once on one connection, answered in batches of 100
 * newest first: every call gets its own answer; at most 8 sessions, and within each
 * session the writes arrive numbered 1, 2, 3... (one in flight per session). */
static void test_async_many_in_flight(void **state)
{
	struct fake f = {.hold = 100};
	static struct t_rec recs[2 * T_MANY];
	int done = 0;
	uv_loop_t loop;
	(void)state;
	memset(recs, 0, sizeof(recs));
	uv_loop_init(&loop);
	fake_start(&f, FAKE_OK);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, 8000, T_SESSIONS);
	for (int i = 0; i < T_MANY; i++) {
		assert_int_equal(berth_async_add(a, "n", 1, 1, t_cb, &recs[i]), 0);
		assert_int_equal(berth_async_get(a, "n", 1, 0, false, t_cb, &recs[T_MANY + i]), 0);
	}
	assert_int_equal(berth_async_pending(a), 2 * T_MANY);
	uint64_t deadline = net_now_ms() + T_WAIT_MS;
	while (berth_async_pending(a) > 0 && net_now_ms() < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	int inversions = 0;
	for (int i = 0; i < 2 * T_MANY; i++) {
		assert_int_equal(recs[i].calls, 1);
		assert_int_equal(recs[i].err, 0);
		inversions += i > T_MANY && recs[i].order < recs[i - 1].order;
		done++;
	}
	assert_int_equal(done, 2 * T_MANY);
	assert_true(inversions > 0); /* reads answered out of order got their own answers */
	t_close(&loop, a);
	fake_stop(&f);
	assert_int_equal(f.conns, 1);
	assert_int_equal(f.overlaps, 0); /* never two writes of one session in flight */
	size_t nopen = fake_count(&f, MSG_REQ_SESSION_OPEN);
	assert_true(nopen >= 1 && nopen <= T_SESSIONS);
	uint64_t last[T_SESSIONS] = {0};
	size_t writes = 0;
	for (size_t i = 0; i < f.nlog; i++) {
		const struct fake_req *r = &f.log[i];
		if (r->type != MSG_REQ_TXN || r->session == 0)
			continue;
		assert_true(r->session >= 42 && r->session < 42 + T_SESSIONS);
		assert_int_equal(r->seq, last[r->session - 42] + 1);
		last[r->session - 42] = r->seq;
		writes++;
	}
	assert_int_equal(writes, T_MANY);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_redirect(void **state)
{
	struct fake f = {0}, l = {0};
	struct t_rec put = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&l, FAKE_OK);
	memcpy(f.leader, l.addr, sizeof(l.addr));
	fake_start(&f, FAKE_NOTLEADER);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, 2000, 0);
	assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb, &put), 0);
	t_wait(&loop, &put.calls, 1);
	assert_int_equal(put.err, 0);
	assert_int_equal(put.rev, 1);
	t_close(&loop, a);
	fake_stop(&f);
	fake_stop(&l);
	assert_int_equal(fake_count(&f, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_count(&f, MSG_REQ_TXN), 0);
	assert_int_equal(fake_count(&l, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_count(&l, MSG_REQ_TXN), 1);
	assert_int_equal(fake_nth(&l, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_notleader_without_hint(void **state)
{
	struct fake f = {0};
	struct t_rec get = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&f, FAKE_NOTLEADER);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, 300, 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &get), 0);
	t_wait(&loop, &get.calls, 1);
	assert_int_equal(get.err, BERTH_ENOTLEADER);
	assert_false(get.indet);
	t_close(&loop, a);
	fake_stop(&f);
	assert_true(fake_count(&f, MSG_REQ_TXN) >= 2); /* retried, with backoff, until then */
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_retry_same_seq(void **state)
{
	struct fake f = {0}, c = {0};
	struct t_rec put = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&f, FAKE_CLOSE_ON_WRITE);
	fake_start(&c, FAKE_OK);
	const char *eps[] = {f.addr, c.addr};
	struct berth_async *a = t_open(&loop, eps, 2, NULL, 2000, 0);
	assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb, &put), 0);
	t_wait(&loop, &put.calls, 1);
	assert_int_equal(put.err, 0);
	assert_false(put.indet);
	t_close(&loop, a);
	fake_stop(&f);
	fake_stop(&c);
	/* The session came from f; the write was lost there and went to c as the same pair. */
	assert_int_equal(fake_count(&f, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_count(&c, MSG_REQ_SESSION_OPEN), 0);
	assert_int_equal(fake_count(&f, MSG_REQ_TXN), 1);
	assert_int_equal(fake_count(&c, MSG_REQ_TXN), 1);
	assert_int_equal(fake_nth(&f, MSG_REQ_TXN, 0)->seq, 1);
	assert_int_equal(fake_nth(&c, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(fake_nth(&c, MSG_REQ_TXN, 0)->seq, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_session_expired(void **state)
{
	struct fake f = {0}, g = {0}, h = {0};
	struct t_rec put = {0}, lost = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);

	/* Never applied: a new session, and the write again as its first. */
	fake_start(&f, FAKE_ESESSION_FIRST);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, 2000, 0);
	assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb, &put), 0);
	t_wait(&loop, &put.calls, 1);
	assert_int_equal(put.err, 0);
	t_close(&loop, a);
	fake_stop(&f);
	assert_int_equal(fake_count(&f, MSG_REQ_SESSION_OPEN), 2);
	assert_int_equal(fake_nth(&f, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(fake_nth(&f, MSG_REQ_TXN, 1)->session, 43);
	assert_int_equal(fake_nth(&f, MSG_REQ_TXN, 1)->seq, 1);

	/* Lost once, then the session is gone: it may have been applied. */
	fake_start(&g, FAKE_CLOSE_ON_WRITE);
	fake_start(&h, FAKE_ESESSION);
	const char *eps2[] = {g.addr, h.addr};
	a = t_open(&loop, eps2, 2, NULL, 2000, 0);
	assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb, &lost), 0);
	t_wait(&loop, &lost.calls, 1);
	assert_int_equal(lost.err, BERTH_EUNAVAILABLE);
	assert_true(lost.indet);
	assert_false(lost.has_resp);
	assert_non_null(strstr(lost.msg, "may have been applied"));
	t_close(&loop, a);
	fake_stop(&g);
	fake_stop(&h);
	assert_int_equal(fake_count(&h, MSG_REQ_SESSION_OPEN), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A silent member: every call ends at its own deadline, indeterminate once sent; the
 * connection that answered nothing is closed and the next call connects again. */
static void test_async_silent_deadline(void **state)
{
	struct fake f = {0};
	struct t_rec put = {0}, get = {0}, late = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&f, FAKE_SILENT);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, T_TIMEOUT_MS, 0);
	uint64_t t0 = net_now_ms();
	assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb, &put), 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &get), 0);
	t_wait(&loop, &put.calls, 1);
	t_wait(&loop, &get.calls, 1);
	uint64_t took = net_now_ms() - t0;
	assert_true(took >= T_TIMEOUT_MS - 5);
	assert_true(took < T_TIMEOUT_MS + 1000);
	assert_int_equal(put.err, BERTH_ETIMEOUT);
	assert_true(put.indet);
	assert_non_null(strstr(put.msg, "may have been applied"));
	assert_int_equal(get.err, BERTH_ETIMEOUT);
	assert_true(get.indet);
	assert_non_null(strstr(get.msg, "no answer"));
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &late), 0);
	t_wait(&loop, &late.calls, 1);
	assert_int_equal(late.err, BERTH_ETIMEOUT);
	t_close(&loop, a);
	fake_stop(&f);
	assert_int_equal(f.conns, 2);
	assert_int_equal(fake_count(&f, MSG_REQ_TXN), 3);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_malformed(void **state)
{
	struct fake f = {0};
	struct t_rec get = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&f, FAKE_MALFORMED);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, 300, 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &get), 0);
	t_wait(&loop, &get.calls, 1);
	assert_int_equal(get.err, BERTH_ETIMEOUT);
	assert_false(get.has_resp);
	assert_non_null(strstr(get.msg, "malformed response"));
	t_close(&loop, a);
	fake_stop(&f);
	assert_true(f.conns >= 2); /* the bad connection was dropped and another tried */
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A pushed watch frame on the connection is dropped; a stream chunk answering a call is a
 * protocol error: that connection is closed and the read goes again on a new one. */
static void test_async_odd_frames(void **state)
{
	struct fake f = {0};
	struct t_rec get = {0}, get2 = {0};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&f, FAKE_ODD_FRAMES);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, 2000, 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &get), 0);
	t_wait(&loop, &get.calls, 1);
	assert_int_equal(get.err, 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &get2), 0);
	t_wait(&loop, &get2.calls, 1);
	assert_int_equal(get2.err, 0);
	t_close(&loop, a);
	fake_stop(&f);
	assert_int_equal(f.conns, 2); /* the chunk closed one; the watch frames none */
	assert_int_equal(fake_count(&f, MSG_REQ_TXN), 3);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_unreachable_and_token(void **state)
{
	char ep1[32], ep2[32];
	struct t_rec get = {0}, put = {0}, bad = {0};
	struct fake f = {.token = "secret"};
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	snprintf(ep1, sizeof(ep1), "127.0.0.1:%u", fake_dead_port());
	snprintf(ep2, sizeof(ep2), "127.0.0.1:%u", fake_dead_port());
	const char *eps[] = {ep1, ep2};
	struct berth_async *a = t_open(&loop, eps, 2, NULL, 300, 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &get), 0);
	assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb, &put), 0);
	t_wait(&loop, &get.calls, 1);
	t_wait(&loop, &put.calls, 1);
	assert_int_equal(get.err, BERTH_ENOCONN);
	assert_false(get.indet);
	assert_non_null(strstr(get.msg, "connection refused"));
	assert_int_equal(put.err, BERTH_ENOCONN); /* its session could not even be opened */
	assert_false(put.indet);
	assert_non_null(strstr(put.msg, "open session"));
	t_close(&loop, a);

	fake_start(&f, FAKE_OK);
	const char *eps2[] = {f.addr};
	a = t_open(&loop, eps2, 1, "wrong", 5000, 0);
	uint64_t t0 = net_now_ms();
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &bad), 0);
	t_wait(&loop, &bad.calls, 1);
	assert_true(net_now_ms() - t0 < 2000); /* definite: no retrying until the deadline */
	assert_int_equal(bad.err, BERTH_EUNAUTHORIZED);
	assert_false(bad.indet);
	assert_non_null(strstr(bad.msg, "unauthorized"));
	assert_non_null(strstr(bad.msg, f.addr));
	t_close(&loop, a);
	fake_stop(&f);
	assert_int_equal(fake_count(&f, MSG_REQ_TXN), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void t_cb_resubmit(struct berth_result *res, const char *errmsg, void *data)
{
	struct t_rec *r = data;
	t_cb(res, errmsg, data);
	r->resubmit = berth_async_get(r->a, "k", 1, 0, false, t_cb, r);
}

/* Close with calls in every state: each callback runs once with BERTH_ECLOSED (sent
 * writes indeterminate), a call made from a callback is refused, memory goes after
 * libuv's close callbacks (uv_loop_close succeeds; ASan checks the rest). */
static void test_async_close_pending(void **state)
{
	struct fake f = {0};
	struct t_rec w[4] = {{0}}, r[4] = {{0}};
	uv_loop_t loop;
	int closed = 0;
	(void)state;
	uv_loop_init(&loop);
	fake_start(&f, FAKE_SILENT);
	const char *eps[] = {f.addr};
	struct berth_async *a = t_open(&loop, eps, 1, NULL, 5000, 2);
	for (int i = 0; i < 4; i++) {
		w[i].a = r[i].a = a;
		assert_int_equal(berth_async_put(a, "k", 1, "v", 1, 0, t_cb_resubmit, &w[i]), 0);
		assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb_resubmit, &r[i]), 0);
	}
	/* Until the silent member has the two writes that hold both sessions. */
	uint64_t deadline = net_now_ms() + T_WAIT_MS;
	uv_timer_t guard;
	uv_timer_init(&loop, &guard);
	uv_timer_start(&guard, t_guard, 5, 5);
	while (net_now_ms() < deadline && atomic_load(&f.received) < 1 + 2 + 4 + 2)
		uv_run(&loop, UV_RUN_ONCE); /* hello, 2 session opens, 4 reads, 2 writes */
	uv_close((uv_handle_t *)&guard, NULL);
	assert_int_equal(atomic_load(&f.received), 9);
	berth_async_close(a, t_closed, &closed);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(w[i].calls, 1);
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(w[i].err, BERTH_ECLOSED);
		assert_int_equal(r[i].err, BERTH_ECLOSED);
		assert_int_equal(w[i].resubmit, BERTH_ECLOSED);
		assert_false(r[i].indet);
	}
	/* The two writes on the wire may have been applied; the two waiting for a session
	 * were never sent. */
	assert_int_equal(w[0].indet + w[1].indet + w[2].indet + w[3].indet, 2);
	assert_int_equal(closed, 0); /* libuv closes handles on the next turn */
	t_wait(&loop, &closed, 1);
	fake_stop(&f);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_async_limits(void **state)
{
	const char *eps[] = {"127.0.0.1:1"};
	struct berth_options o = {.endpoints = eps, .nendpoints = 1};
	struct berth_async_limits lim = {.sessions = BERTH_ASYNC_MAX_SESSIONS + 1};
	struct berth_async *a;
	struct t_rec rec[3] = {{0}};
	char err[BERTH_ERRMSG_BYTES];
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(berth_async_open(&a, &loop, &o, &lim, err, sizeof(err)), BERTH_EBADREQ);
	assert_null(a);
	assert_non_null(strstr(err, "sessions"));
	lim = (struct berth_async_limits){.max_calls = BERTH_ASYNC_MAX_MAX_CALLS + 1};
	assert_int_equal(berth_async_open(&a, &loop, &o, &lim, err, sizeof(err)), BERTH_EBADREQ);
	assert_non_null(strstr(err, "max_calls"));
	const char *bad[] = {"host:0"};
	struct berth_options ob = {.endpoints = bad, .nendpoints = 1};
	assert_int_equal(berth_async_open(&a, &loop, &ob, NULL, err, sizeof(err)), BERTH_EBADREQ);
	assert_non_null(strstr(err, "endpoint \""));
	assert_int_equal(berth_async_open(&a, NULL, &o, NULL, NULL, 0), BERTH_EBADREQ);
	struct berth_options big = {.endpoints = eps, .nendpoints = 1, .max_frame_bytes = 64};
	assert_int_equal(berth_async_open(&a, &loop, &big, NULL, err, sizeof(err)), 0);
	static const char value[100] = {0};
	assert_int_equal(berth_async_put(a, "k", 1, value, sizeof(value), 0, t_cb, &rec[0]),
			 BERTH_ETOOLARGE);
	t_close(&loop, a);

	/* max_calls: the third call is refused at once; its callback never runs. */
	lim = (struct berth_async_limits){.max_calls = 2};
	assert_int_equal(berth_async_open(&a, &loop, &o, &lim, err, sizeof(err)), 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &rec[0]), 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &rec[1]), 0);
	assert_int_equal(berth_async_get(a, "k", 1, 0, false, t_cb, &rec[2]), BERTH_EBUSY);
	t_close(&loop, a);
	assert_int_equal(rec[0].calls + rec[1].calls + rec[2].calls, 2);
	assert_int_equal(rec[0].err, BERTH_ECLOSED);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void t_sigpipe_handler(int sig)
{
	(void)sig;
}

/* SIGPIPE: ignored when it had its default action (libuv writes with write(2)); a
 * program's own handler is left alone. */
static void test_async_sigpipe(void **state)
{
	const char *eps[] = {"127.0.0.1:1"};
	struct berth_options o = {.endpoints = eps, .nendpoints = 1};
	struct sigaction dfl = {.sa_handler = SIG_DFL}, mine = {.sa_handler = t_sigpipe_handler};
	struct sigaction old, now;
	struct berth_async *a;
	uv_loop_t loop;
	(void)state;
	uv_loop_init(&loop);
	assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
	assert_int_equal(berth_async_open(&a, &loop, &o, NULL, NULL, 0), 0);
	assert_int_equal(sigaction(SIGPIPE, NULL, &now), 0);
	assert_true(now.sa_handler == SIG_IGN);
	t_close(&loop, a);
	assert_int_equal(sigaction(SIGPIPE, &mine, NULL), 0);
	assert_int_equal(berth_async_open(&a, &loop, &o, NULL, NULL, 0), 0);
	assert_int_equal(sigaction(SIGPIPE, NULL, &now), 0);
	assert_true(now.sa_handler == t_sigpipe_handler);
	t_close(&loop, a);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_async_put_get_ok),
		cmocka_unit_test(test_async_many_in_flight),
		cmocka_unit_test(test_async_redirect),
		cmocka_unit_test(test_async_notleader_without_hint),
		cmocka_unit_test(test_async_retry_same_seq),
		cmocka_unit_test(test_async_session_expired),
		cmocka_unit_test(test_async_silent_deadline),
		cmocka_unit_test(test_async_malformed),
		cmocka_unit_test(test_async_odd_frames),
		cmocka_unit_test(test_async_unreachable_and_token),
		cmocka_unit_test(test_async_close_pending),
		cmocka_unit_test(test_async_limits),
		cmocka_unit_test(test_async_sigpipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
