/* tests/unit/test_client.c: the blocking client against scripted fake servers: hello,
 * redirects, exactly-once retries, deadlines, unreachable and broken servers, endpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/berth.h"
#include "client/net.h"
#include "tests/unit/client_fake.h"

#include <stdio.h>
#include <string.h>

#define T_TIMEOUT_MS 400

/* A handle on the given endpoints (asserts success). */
static struct berth *t_open(const char *const *eps, size_t n, const char *token,
			    uint32_t timeout_ms)
{
	struct berth_options o = {.endpoints = eps,
				  .nendpoints = n,
				  .token = token,
				  .timeout_ms = timeout_ms,
				  .connect_timeout_ms = 200};
	struct berth *b;
	char err[BERTH_ERRMSG_BYTES];
	assert_int_equal(berth_open(&b, &o, err, sizeof(err)), 0);
	return b;
}

static void test_client_put_get_ok(void **state)
{
	struct fake a = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_OK);
	const char *eps[] = {a.addr};
	struct berth *b = t_open(eps, 1, NULL, T_TIMEOUT_MS);

	assert_int_equal(berth_put(b, "k", 1, "v", 1, 0, &r), 0);
	assert_false(r.indeterminate);
	assert_true(r.has_resp && r.resp.has_reply);
	assert_int_equal(r.resp.reply.rev, 1);
	assert_string_equal(berth_errmsg(b), "");
	berth_result_free(&r);
	assert_int_equal(berth_put(b, "k", 1, "w", 1, 0, &r), 0);
	assert_int_equal(r.resp.reply.rev, 2);
	berth_result_free(&r);
	assert_int_equal(berth_get(b, "k", 1, 0, false, &r), 0);
	const struct reply_kv *kv = berth_result_kv(&r);
	assert_non_null(kv);
	assert_int_equal(kv->value.n, 3);
	assert_memory_equal(kv->value.p, "val", 3);
	assert_int_equal(kv->version, 3);
	berth_result_free(&r);
	berth_result_free(&r); /* twice is fine */
	berth_close(b);
	fake_stop(&a);

	/* One connection; one session; writes numbered 1, 2; the read without one. */
	assert_int_equal(a.conns, 1);
	assert_int_equal(fake_count(&a, MSG_REQ_HELLO), 1);
	assert_int_equal(fake_count(&a, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_count(&a, MSG_REQ_TXN), 3);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 0)->seq, 1);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 1)->seq, 2);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 2)->session, 0);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 2)->op_type, MSG_OP_RANGE);
}

static void test_client_wrong_token(void **state)
{
	struct fake a = {.token = "secret"};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_OK);
	const char *eps[] = {a.addr};
	struct berth *b = t_open(eps, 1, "wrong", 5000);
	uint64_t t0 = net_now_ms();
	assert_int_equal(berth_get(b, "k", 1, 0, false, &r), BERTH_EUNAUTHORIZED);
	assert_true(net_now_ms() - t0 < 2000); /* definite: no retrying until the deadline */
	assert_false(r.indeterminate);
	assert_false(r.has_resp);
	assert_non_null(strstr(berth_errmsg(b), "unauthorized"));
	assert_non_null(strstr(berth_errmsg(b), a.addr));
	berth_close(b);
	fake_stop(&a);
	assert_int_equal(fake_count(&a, MSG_REQ_TXN), 0);

	/* The right token passes. */
	struct fake c = {.token = "secret"};
	fake_start(&c, FAKE_OK);
	const char *eps2[] = {c.addr};
	b = t_open(eps2, 1, "secret", T_TIMEOUT_MS);
	assert_int_equal(berth_get(b, "k", 1, 0, false, &r), 0);
	berth_result_free(&r);
	berth_close(b);
	fake_stop(&c);
}

static void test_client_redirect(void **state)
{
	struct fake a = {0}, l = {0};
	struct berth_result r;
	(void)state;
	fake_start(&l, FAKE_OK);
	memcpy(a.leader, l.addr, sizeof(l.addr));
	fake_start(&a, FAKE_NOTLEADER);
	const char *eps[] = {a.addr};
	struct berth *b = t_open(eps, 1, NULL, 2000);
	assert_int_equal(berth_put(b, "k", 1, "v", 1, 0, &r), 0);
	assert_int_equal(r.resp.reply.rev, 1);
	berth_result_free(&r);
	berth_close(b);
	fake_stop(&a);
	fake_stop(&l);
	/* The follower refused the session open; the leader got it and the write. */
	assert_int_equal(fake_count(&a, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_count(&a, MSG_REQ_TXN), 0);
	assert_int_equal(fake_count(&l, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_count(&l, MSG_REQ_TXN), 1);
	assert_int_equal(fake_nth(&l, MSG_REQ_TXN, 0)->session, 42);
}

static void test_client_notleader_without_hint(void **state)
{
	struct fake a = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_NOTLEADER);
	const char *eps[] = {a.addr};
	struct berth *b = t_open(eps, 1, NULL, 300);
	assert_int_equal(berth_get(b, "k", 1, 0, false, &r), BERTH_ENOTLEADER);
	assert_false(r.indeterminate);
	berth_result_free(&r);
	berth_close(b);
	fake_stop(&a);
	assert_true(fake_count(&a, MSG_REQ_TXN) >= 2); /* retried, with backoff, until then */
}

static void test_client_retry_same_seq(void **state)
{
	struct fake a = {0}, c = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_CLOSE_ON_WRITE);
	fake_start(&c, FAKE_OK);
	const char *eps[] = {a.addr, c.addr};
	struct berth *b = t_open(eps, 2, NULL, 2000);
	assert_int_equal(berth_put(b, "k", 1, "v", 1, 0, &r), 0);
	assert_false(r.indeterminate);
	berth_result_free(&r);
	berth_close(b);
	fake_stop(&a);
	fake_stop(&c);
	/* The session came from a; the write went to a, was lost, and went again to c as the
	 * same (session, seq), without a new session. */
	assert_int_equal(fake_count(&a, MSG_REQ_SESSION_OPEN), 1);
	assert_int_equal(fake_count(&c, MSG_REQ_SESSION_OPEN), 0);
	assert_int_equal(fake_count(&a, MSG_REQ_TXN), 1);
	assert_int_equal(fake_count(&c, MSG_REQ_TXN), 1);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 0)->seq, 1);
	assert_int_equal(fake_nth(&c, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(fake_nth(&c, MSG_REQ_TXN, 0)->seq, 1);
}

static void test_client_session_expired_first_attempt(void **state)
{
	struct fake a = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_ESESSION_FIRST);
	const char *eps[] = {a.addr};
	struct berth *b = t_open(eps, 1, NULL, 2000);
	assert_int_equal(berth_put(b, "k", 1, "v", 1, 0, &r), 0);
	berth_result_free(&r);
	berth_close(b);
	fake_stop(&a);
	/* Never applied: a new session, and the write again as its first. */
	assert_int_equal(fake_count(&a, MSG_REQ_SESSION_OPEN), 2);
	assert_int_equal(fake_count(&a, MSG_REQ_TXN), 2);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 0)->session, 42);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 1)->session, 43);
	assert_int_equal(fake_nth(&a, MSG_REQ_TXN, 1)->seq, 1);
}

static void test_client_session_expired_after_loss(void **state)
{
	struct fake a = {0}, c = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_CLOSE_ON_WRITE);
	fake_start(&c, FAKE_ESESSION);
	const char *eps[] = {a.addr, c.addr};
	struct berth *b = t_open(eps, 2, NULL, 2000);
	assert_int_equal(berth_put(b, "k", 1, "v", 1, 0, &r), BERTH_EUNAVAILABLE);
	assert_true(r.indeterminate);
	assert_false(r.has_resp);
	assert_non_null(strstr(berth_errmsg(b), "may have been applied"));
	berth_close(b);
	fake_stop(&a);
	fake_stop(&c);
	assert_int_equal(fake_count(&c, MSG_REQ_SESSION_OPEN), 0); /* no second session */
}

/* A membership change is never sent twice once it may have arrived; bad arguments are
 * refused before anything is sent. */
static void test_client_member_change_sent_once(void **state)
{
	struct fake a = {0}, c = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_CLOSE_ON_WRITE);
	fake_start(&c, FAKE_OK);
	const char *eps[] = {a.addr, c.addr};
	struct berth *b = t_open(eps, 2, NULL, 2000);
	assert_int_equal(berth_member_remove(b, 2, &r), BERTH_ETIMEOUT);
	assert_true(r.indeterminate);
	assert_non_null(strstr(berth_errmsg(b), "may have been applied"));
	assert_int_equal(berth_member_add(b, 0, "h:1", "h:2", false, &r), BERTH_EBADREQ);
	assert_int_equal(berth_member_add(b, 4, "h:1", "nocolon", false, &r), BERTH_EBADREQ);
	assert_int_equal(berth_member_add(b, 4, "", "h:2", false, &r), BERTH_EBADREQ);
	assert_int_equal(berth_member_remove(b, (uint64_t)1 << 32, &r), BERTH_EBADREQ);
	assert_int_equal(berth_member_transfer(b, (uint64_t)1 << 32, &r), BERTH_EBADREQ);
	assert_false(r.indeterminate);
	berth_close(b);
	fake_stop(&a);
	fake_stop(&c);
	assert_int_equal(
		fake_count(&a, MSG_REQ_MEMBER_REMOVE) + fake_count(&c, MSG_REQ_MEMBER_REMOVE), 1);
	assert_int_equal(fake_count(&a, MSG_REQ_MEMBER_ADD) + fake_count(&c, MSG_REQ_MEMBER_ADD),
			 0);
	assert_int_equal(fake_count(&a, MSG_REQ_MEMBER_TRANSFER), 0);
	assert_int_equal(fake_count(&c, MSG_REQ_MEMBER_TRANSFER), 0);
}

static void test_client_silent_server_times_out(void **state)
{
	struct fake a = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_SILENT);
	const char *eps[] = {a.addr};
	struct berth *b = t_open(eps, 1, NULL, T_TIMEOUT_MS);
	uint64_t t0 = net_now_ms();
	assert_int_equal(berth_put(b, "k", 1, "v", 1, 0, &r), BERTH_ETIMEOUT);
	uint64_t took = net_now_ms() - t0;
	assert_true(r.indeterminate);
	assert_false(r.has_resp);
	assert_true(took >= T_TIMEOUT_MS - 5);
	assert_true(took < T_TIMEOUT_MS + 500);
	assert_non_null(strstr(berth_errmsg(b), "may have been applied"));
	berth_close(b);
	fake_stop(&a);
	assert_int_equal(fake_count(&a, MSG_REQ_TXN), 1);
}

static void test_client_no_server(void **state)
{
	char ep1[32], ep2[32];
	struct berth_result r;
	(void)state;
	snprintf(ep1, sizeof(ep1), "127.0.0.1:%u", fake_dead_port());
	snprintf(ep2, sizeof(ep2), "127.0.0.1:%u", fake_dead_port());
	const char *eps[] = {ep1, ep2};
	struct berth *b = t_open(eps, 2, NULL, 300);
	uint64_t t0 = net_now_ms();
	assert_int_equal(berth_get(b, "k", 1, 0, false, &r), BERTH_ENOCONN);
	assert_false(r.indeterminate);
	assert_true(net_now_ms() - t0 < 1000);
	assert_non_null(strstr(berth_errmsg(b), "Connection refused"));
	/* A write fails the same way: its session could not even be opened. */
	assert_int_equal(berth_put(b, "k", 1, "v", 1, 0, &r), BERTH_ENOCONN);
	assert_false(r.indeterminate);
	assert_non_null(strstr(berth_errmsg(b), "open session"));
	berth_close(b);
}

static void test_client_malformed_response(void **state)
{
	struct fake a = {0};
	struct berth_result r;
	(void)state;
	fake_start(&a, FAKE_MALFORMED);
	const char *eps[] = {a.addr};
	struct berth *b = t_open(eps, 1, NULL, 300);
	assert_int_equal(berth_get(b, "k", 1, 0, false, &r), BERTH_ETIMEOUT);
	assert_false(r.has_resp);
	assert_non_null(strstr(berth_errmsg(b), "malformed response"));
	berth_close(b);
	fake_stop(&a);
	assert_true(a.conns >= 2); /* the bad connection was dropped and another tried */
}

static void test_client_status(void **state)
{
	struct fake a = {0};
	struct berth_endpoint_status st[2];
	struct berth_result r;
	char dead[32];
	(void)state;
	fake_start(&a, FAKE_OK);
	snprintf(dead, sizeof(dead), "127.0.0.1:%u", fake_dead_port());
	const char *eps[] = {a.addr, dead};
	struct berth *b = t_open(eps, 2, NULL, 300);
	assert_int_equal(berth_status(b, NULL, &r), 0);
	assert_true(r.resp.has_status);
	assert_int_equal(r.resp.status.state, WIRE_LEADER);
	berth_result_free(&r);
	assert_int_equal(berth_status_all(b, st, 2), 0);
	assert_int_equal(st[0].err, 0);
	assert_string_equal(st[0].endpoint, a.addr);
	assert_int_equal(st[0].res.resp.status.nmembers, 1);
	assert_int_equal(st[1].err, BERTH_ENOCONN);
	assert_non_null(strstr(st[1].errmsg, "Connection refused"));
	berth_result_free(&st[0].res);
	berth_result_free(&st[1].res);
	assert_int_equal(berth_status_all(b, st, 1), BERTH_EBADREQ);
	/* The fake answers leases BERTH_EBADREQ: a clean, definite failure. */
	assert_int_equal(berth_lease_keepalive(b, 5, &r), BERTH_EBADREQ);
	assert_false(r.indeterminate);
	assert_true(r.has_resp);
	assert_int_equal(r.resp.err, BERTH_EBADREQ);
	berth_result_free(&r);
	berth_close(b);
	fake_stop(&a);
}

static void test_client_bad_endpoints(void **state)
{
	static const char *const bad[] = {"",        "host",        "host:",        ":7101",
					  "host:0",  "host:65536",  "host:12a",     "::1:7101",
					  "[::1]",   "[::1]7101",   "[1.2.3.4]:80", "ho st:80",
					  "[::1:80", "host:123456", "a/b:80"};
	static const char *const good[] = {"127.0.0.1:7101", "[::1]:7101", "localhost:1",
					   "a-b.c_d:65535", "[fe80::1%eth0]:9"};
	char err[BERTH_ERRMSG_BYTES];
	struct berth *b;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *eps[] = {"127.0.0.1:1", bad[i]};
		struct berth_options o = {.endpoints = eps, .nendpoints = 2};
		err[0] = '\0';
		assert_int_equal(berth_open(&b, &o, err, sizeof(err)), BERTH_EBADREQ);
		assert_null(b);
		assert_non_null(strstr(err, "endpoint \""));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct berth_options o = {.endpoints = &good[i], .nendpoints = 1};
		assert_int_equal(berth_open(&b, &o, err, sizeof(err)), 0);
		assert_string_equal(berth_endpoint(b, 0), good[i]);
		berth_close(b);
	}
	struct berth_options none = {0};
	assert_int_equal(berth_open(&b, &none, NULL, 0), BERTH_EBADREQ);
	struct net_endpoint ep;
	assert_int_equal(net_endpoint_parse("[::1]:7101", &ep, err, sizeof(err)), 0);
	assert_string_equal(ep.host, "::1");
	assert_string_equal(ep.port, "7101");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_put_get_ok),
		cmocka_unit_test(test_client_wrong_token),
		cmocka_unit_test(test_client_redirect),
		cmocka_unit_test(test_client_notleader_without_hint),
		cmocka_unit_test(test_client_retry_same_seq),
		cmocka_unit_test(test_client_session_expired_first_attempt),
		cmocka_unit_test(test_client_session_expired_after_loss),
		cmocka_unit_test(test_client_member_change_sent_once),
		cmocka_unit_test(test_client_silent_server_times_out),
		cmocka_unit_test(test_client_no_server),
		cmocka_unit_test(test_client_malformed_response),
		cmocka_unit_test(test_client_status),
		cmocka_unit_test(test_client_bad_endpoints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
