/* tests/unit/test_policy.c: the retry policy both client APIs share: each response's
 * verdict, how a call ends (definite or indeterminate), pacing and backoff bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/policy.h"
#include "common/err.h"

#include <string.h>

/* A response with request-level err e, or (e == 0) a reply with state machine error re. */
static struct wire_resp t_resp(int e, int re, const char *leader)
{
	struct wire_resp r = {.id = 1, .err = e};
	if (e == 0) {
		r.has_reply = true;
		r.reply.err = re;
	}
	if (leader != NULL)
		r.leader = (struct bytes){(const uint8_t *)leader, strlen(leader)};
	return r;
}

static void test_policy_verdicts(void **state)
{
	struct policy_call p;
	struct wire_resp r;
	int err;
	(void)state;

	policy_start(&p, POLICY_WRITE, true);
	r = t_resp(0, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_DONE);
	assert_int_equal(err, 0);
	r = t_resp(0, BERTH_ETYPE, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_DONE);
	assert_int_equal(err, BERTH_ETYPE);
	r = t_resp(0, BERTH_ESESSION, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_RESESSION);
	r = t_resp(BERTH_EBUSY, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_WAIT);
	r = t_resp(BERTH_ENOQUORUM, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_WAIT);
	r = t_resp(BERTH_ENOTLEADER, 0, "127.0.0.1:7101");
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_REDIRECT);
	assert_true(p.have_hint);
	assert_string_equal(p.hint.host, "127.0.0.1");
	assert_string_equal(p.hint.port, "7101");
	r = t_resp(BERTH_ENOTLEADER, 0, "not an address");
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_NEXT);
	r = t_resp(BERTH_ENOTLEADER, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_NEXT);
	assert_false(p.maybe);
	r = t_resp(BERTH_EUNAVAILABLE, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_NEXT);
	assert_true(p.maybe); /* the write may still take effect */
	/* Now a session refusal means the first attempt may have been applied. */
	r = t_resp(0, BERTH_ESESSION, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_FAIL);
	r = t_resp(0, BERTH_ESTALESEQ, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_FAIL);
	r = t_resp(BERTH_EBADREQ, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_FAIL);
	assert_int_equal(p.last, BERTH_EBADREQ);

	/* Redirects are bounded per call. */
	policy_start(&p, POLICY_READ, false);
	r = t_resp(BERTH_ENOTLEADER, 0, "[::1]:9");
	for (int i = 0; i < 2; i++)
		assert_int_equal(policy_response(&p, &r, 2, &err), POLICY_REDIRECT);
	assert_int_equal(policy_response(&p, &r, 2, &err), POLICY_NEXT);
	/* A read's ESESSION reply is just its answer; an indeterminate error leaves it
	 * certain (a read changes nothing). */
	r = t_resp(0, BERTH_ESESSION, NULL);
	assert_int_equal(policy_response(&p, &r, 2, &err), POLICY_DONE);
	r = t_resp(BERTH_ETIMEOUT, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 2, &err), POLICY_NEXT);
	assert_false(p.maybe);
}

static void test_policy_give_up(void **state)
{
	struct policy_call p;
	const char *what;
	(void)state;
	policy_start(&p, POLICY_READ, false);
	assert_int_equal(policy_give_up(&p, false, &what), BERTH_ENOCONN);
	assert_non_null(strstr(what, "no member reachable"));
	policy_lost(&p, false);
	assert_int_equal(policy_give_up(&p, false, &what), BERTH_ENOCONN);
	policy_lost(&p, true);
	assert_int_equal(policy_give_up(&p, false, &what), BERTH_ETIMEOUT);
	p.last = BERTH_ENOTLEADER;
	assert_int_equal(policy_give_up(&p, false, &what), BERTH_ENOTLEADER);
	assert_null(what);
	assert_true(policy_may_send(&p));

	policy_start(&p, POLICY_WRITE, true);
	p.last = BERTH_ENOTLEADER;
	policy_lost(&p, true);
	assert_true(p.maybe);
	assert_true(policy_may_send(&p)); /* the same (session, seq) may go again */
	assert_int_equal(policy_give_up(&p, false, &what), BERTH_ETIMEOUT);
	assert_int_equal(policy_give_up(&p, true, &what), BERTH_EUNAVAILABLE);
	assert_non_null(strstr(what, "may have been applied"));

	policy_start(&p, POLICY_WRITE, false); /* no session: never twice */
	assert_true(policy_may_send(&p));
	policy_lost(&p, true);
	assert_false(policy_may_send(&p));

	/* Membership: no session; a redirect may go again, a lost attempt may not. */
	policy_start(&p, POLICY_ONCE, true);
	assert_false(p.session);
	struct wire_resp r = t_resp(BERTH_ENOTLEADER, 0, "127.0.0.1:9");
	int err;
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_REDIRECT);
	assert_true(policy_may_send(&p));
	r = t_resp(BERTH_EUNAVAILABLE, 0, NULL);
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_NEXT);
	assert_false(policy_may_send(&p));
	assert_int_equal(policy_give_up(&p, false, &what), BERTH_ETIMEOUT);
	policy_start(&p, POLICY_ONCE, false);
	policy_lost(&p, true);
	assert_false(policy_may_send(&p));

	assert_int_equal(policy_hello_refused(BERTH_EUNAUTHORIZED), BERTH_EUNAUTHORIZED);
	assert_int_equal(policy_hello_refused(BERTH_EPROTO), BERTH_EPROTO);
	assert_int_equal(policy_hello_refused(BERTH_EBUSY), BERTH_ENOCONN);
	assert_int_equal(policy_session_failed(BERTH_ETIMEOUT), BERTH_ENOCONN);
	assert_int_equal(policy_session_failed(BERTH_ETOOLARGE), BERTH_ETOOLARGE);
}

static void test_policy_pace_backoff(void **state)
{
	struct policy_pace pace = {0};
	uint64_t rng = 12345;
	(void)state;
	assert_false(policy_pace_failed(&pace, 3));
	assert_false(policy_pace_failed(&pace, 3));
	assert_true(policy_pace_failed(&pace, 3));
	assert_int_equal(pace.rounds, 1);
	assert_true(policy_pace_failed(&pace, 1));
	assert_int_equal(pace.rounds, 2);
	for (int i = 0; i < 1000; i++) {
		uint32_t first = policy_backoff_ms(1, &rng), later = policy_backoff_ms(30, &rng);
		assert_true(first >= POLICY_BACKOFF_MIN_MS / 2 && first <= POLICY_BACKOFF_MIN_MS);
		assert_true(later >= POLICY_BACKOFF_MAX_MS / 2 && later <= POLICY_BACKOFF_MAX_MS);
	}
	uint32_t third = policy_backoff_ms(3, &rng); /* 200 ms, jittered */
	assert_true(third >= 100 && third <= 200);
}

/* A follower names the leader it last heard of until its own election timer fires: once
 * that leader could not be reached, its name is not followed again in the call, and the
 * round that ends on members without a leader backs off briefly (an election). */
static void test_policy_dead_leader_hint(void **state)
{
	struct policy_call p;
	struct wire_resp r;
	uint64_t rng = 777;
	int err;
	(void)state;

	policy_start(&p, POLICY_WRITE, true);
	r = t_resp(BERTH_ENOTLEADER, 0, "127.0.0.1:7101");
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_REDIRECT);
	assert_false(p.pace.alive);
	policy_hint_refused(&p, &p.hint); /* the connection to it was refused */
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_NEXT);
	assert_false(p.have_hint);
	assert_true(p.pace.alive);
	assert_int_equal(p.redirects, 1);
	assert_int_equal(p.last, BERTH_ENOTLEADER);
	/* Another member names the new leader: followed. */
	r = t_resp(BERTH_ENOTLEADER, 0, "127.0.0.1:7102");
	assert_int_equal(policy_response(&p, &r, 4, &err), POLICY_REDIRECT);
	assert_string_equal(p.hint.port, "7102");

	/* Late rounds back off up to 1 s when nothing answered, at most 100 ms when a member
	 * answered without a leader; the mark lasts one round. */
	struct policy_pace pace = {.rounds = 30};
	for (int i = 0; i < 1000; i++) {
		pace.alive = true;
		uint32_t ms = policy_pace_backoff_ms(&pace, &rng);
		assert_true(ms >= POLICY_NOLEADER_BACKOFF_MAX_MS / 2 &&
			    ms <= POLICY_NOLEADER_BACKOFF_MAX_MS);
		assert_false(pace.alive);
		ms = policy_pace_backoff_ms(&pace, &rng);
		assert_true(ms >= POLICY_BACKOFF_MAX_MS / 2 && ms <= POLICY_BACKOFF_MAX_MS);
	}
	pace = (struct policy_pace){.rounds = 1, .alive = true}; /* the first round: 50 ms */
	uint32_t first = policy_pace_backoff_ms(&pace, &rng);
	assert_true(first >= POLICY_BACKOFF_MIN_MS / 2 && first <= POLICY_BACKOFF_MIN_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_verdicts),
		cmocka_unit_test(test_policy_give_up),
		cmocka_unit_test(test_policy_pace_backoff),
		cmocka_unit_test(test_policy_dead_leader_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
