/* tests/unit/test_session.c: client sessions in the state machine: open, exactly-once
 * retries, sequence checks, deterministic expiry on the commands' clock, limits and restart
 * (store/session.c, store/fsm.c), with exact ids, times, revisions and reply bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/msg.h"
#include "common/reply.h"
#include "store/fsm.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Assertions that report the caller's line (the helpers below are called many times). */
#define EQ_AT(a, b, file, line)                                                                    \
	_assert_int_equal(cast_to_largest_integral_type(a), cast_to_largest_integral_type(b),      \
			  file, line)

/* Opens a session at time_ms. Returns the reply's err and the session id in *id; checks
 * that a session's id is the index of the entry that opened it and that the revision
 * does not move. */
static int open_at(struct tfsm *t, uint64_t time_ms, int64_t ttl_ms, uint64_t *id, const char *file,
		   int line)
{
	struct msg_cmd c = {.type = MSG_CMD_SESSION_OPEN, .time_ms = time_ms, .ttl = ttl_ms};
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	EQ_AT(tfsm_apply(t, &c, &r), 0, file, line);
	EQ_AT(fsm_applied(&t->f), t->index, file, line);
	EQ_AT(r.rev, rev, file, line);
	EQ_AT(fsm_revision(&t->f), rev, file, line);
	EQ_AT(r.nops, 0, file, line);
	if (r.err == 0) {
		EQ_AT(r.id, t->index, file, line);
		EQ_AT(r.ttl, ttl_ms, file, line);
	} else {
		EQ_AT(r.id, 0, file, line);
	}
	*id = r.id;
	int err = r.err;
	reply_free(&r);
	return err;
}
#define sopen(t, time_ms, ttl_ms, id) open_at(t, time_ms, ttl_ms, id, __FILE__, __LINE__)

static uint64_t open_ok_at(struct tfsm *t, uint64_t time_ms, int64_t ttl_ms, const char *file,
			   int line)
{
	uint64_t id;
	EQ_AT(open_at(t, time_ms, ttl_ms, &id, file, line), 0, file, line);
	return id;
}
#define sopen_ok(t, time_ms, ttl_ms) open_ok_at(t, time_ms, ttl_ms, __FILE__, __LINE__)

/* Applies a one-op txn at time_ms through (sid, seq) (sid 0: no session). Returns the
 * reply's err; the reply's bytes stay in t->last. */
static int swrite_at(struct tfsm *t, uint64_t time_ms, uint64_t sid, uint64_t seq, struct msg_op op,
		     const char *file, int line)
{
	struct msg_cmd c = cmd_txn(NULL, 0, &op, 1, NULL, 0);
	c.time_ms = time_ms;
	c.session = sid;
	c.seq = seq;
	struct reply r;
	EQ_AT(tfsm_apply(t, &c, &r), 0, file, line);
	EQ_AT(fsm_applied(&t->f), t->index, file, line);
	/* A retry answers with the revision of its first attempt. */
	EQ_AT(r.rev <= fsm_revision(&t->f), 1, file, line);
	int err = r.err;
	reply_free(&r);
	return err;
}
#define swrite(t, time_ms, sid, seq, op) swrite_at(t, time_ms, sid, seq, op, __FILE__, __LINE__)

/* A tick at time_ms: only moves the clock (and so expires sessions). */
static void tick_at(struct tfsm *t, uint64_t time_ms, const char *file, int line)
{
	struct msg_cmd c = {.type = MSG_CMD_TICK, .time_ms = time_ms};
	struct reply r;
	uint64_t rev = fsm_revision(&t->f);
	EQ_AT(tfsm_apply(t, &c, &r), 0, file, line);
	EQ_AT(r.err, 0, file, line);
	EQ_AT(r.rev, rev, file, line);
	EQ_AT(fsm_revision(&t->f), rev, file, line);
	reply_free(&r);
}
#define tick(t, time_ms) tick_at(t, time_ms, __FILE__, __LINE__)

/* A copy of the last reply's bytes (free it). */
struct saved {
	uint8_t *p;
	size_t n;
};

static struct saved save_last(const struct tfsm *t)
{
	struct saved s = {malloc(t->last_len ? t->last_len : 1), t->last_len};
	assert_non_null(s.p);
	memcpy(s.p, t->last, t->last_len);
	return s;
}

/* The last reply is byte-identical to s. */
static void same_bytes_at(const struct tfsm *t, struct saved s, const char *file, int line)
{
	EQ_AT(t->last_len, s.n, file, line);
	_assert_memory_equal(t->last, s.p, s.n, file, line);
}
#define same_bytes(t, s) same_bytes_at(t, s, __FILE__, __LINE__)

/* The revision in the last reply. */
static uint64_t last_rev(const struct tfsm *t)
{
	struct reply r;
	assert_int_equal(reply_decode(t->last, t->last_len, &r), 0);
	uint64_t rev = r.rev;
	reply_free(&r);
	return rev;
}

/* Version of key k now (0: missing). */
static int64_t version_of(struct tfsm *t, const char *k)
{
	struct msg_op op = op_get(k);
	struct msg_txn txn = {0, 1, 0, NULL, &op, NULL};
	struct reply r;
	assert_int_equal(tfsm_read(t, &txn, &r), 0);
	assert_int_equal(r.err, 0);
	int64_t v = r.ops[0].nkvs ? r.ops[0].kvs[0].version : 0;
	reply_free(&r);
	return v;
}

/* ---- open and exactly-once ---- */

static void test_session_open_id_is_index(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	t_put(&t, "a", "1");
	uint64_t s1 = sopen_ok(&t, 1000, 5000);
	assert_int_equal(s1, 2);
	t_put(&t, "b", "1");
	t_put(&t, "c", "1");
	uint64_t s2 = sopen_ok(&t, 1000, 5000);
	assert_int_equal(s2, 5);
	assert_int_equal(t.f.m.nsessions, 2);
	assert_int_equal(fsm_revision(&t.f), 3);
	tfsm_close(&t);
}

static void test_session_retry_same_reply(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t sid = sopen_ok(&t, 0, 60000);
	/* seq 1 applies. */
	assert_int_equal(swrite(&t, 0, sid, 1, op_put("a", "1")), 0);
	struct saved first = save_last(&t);
	assert_int_equal(last_rev(&t), 1);
	assert_int_equal(fsm_revision(&t.f), 1);
	/* The same (session, 1) again: the stored reply, nothing changes. */
	assert_int_equal(swrite(&t, 0, sid, 1, op_put("a", "1")), 0);
	same_bytes(&t, first);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_int_equal(version_of(&t, "a"), 1);
	/* What a retry carries does not matter: the sequence number identifies it. */
	assert_int_equal(swrite(&t, 0, sid, 1, op_put("a", "other")), 0);
	same_bytes(&t, first);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_string_equal(t_get(&t, "a"), "1");
	assert_null(t_get(&t, "b"));
	/* seq 2 applies. */
	assert_int_equal(swrite(&t, 0, sid, 2, op_put("a", "2")), 0);
	struct saved second = save_last(&t);
	assert_int_equal(last_rev(&t), 2);
	assert_int_equal(fsm_revision(&t.f), 2);
	assert_string_equal(t_get(&t, "a"), "2");
	assert_true(second.n != first.n || memcmp(second.p, first.p, first.n) != 0);
	/* seq 1 after 2 is stale. */
	assert_int_equal(swrite(&t, 0, sid, 1, op_put("a", "1")), BERTH_ESTALESEQ);
	assert_int_equal(fsm_revision(&t.f), 2);
	assert_string_equal(t_get(&t, "a"), "2");
	/* seq 2 retried gets its own reply. */
	assert_int_equal(swrite(&t, 0, sid, 2, op_put("a", "2")), 0);
	same_bytes(&t, second);
	assert_int_equal(version_of(&t, "a"), 2);
	/* Numbers may skip; a retry of seq 2 after seq 3 is stale and answers the current
	 * revision. */
	assert_int_equal(swrite(&t, 0, sid, 10, op_put("b", "1")), 0);
	assert_int_equal(fsm_revision(&t.f), 3);
	assert_int_equal(swrite(&t, 0, sid, 2, op_put("a", "2")), BERTH_ESTALESEQ);
	assert_int_equal(last_rev(&t), 3);
	assert_int_equal(swrite(&t, 0, sid, 9, op_put("b", "1")), BERTH_ESTALESEQ);
	assert_int_equal(fsm_revision(&t.f), 3);
	free(first.p);
	free(second.p);
	tfsm_close(&t);
}

static void test_session_bad_session_or_seq(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t sid = sopen_ok(&t, 0, 60000);
	assert_int_equal(swrite(&t, 0, sid + 1, 1, op_put("a", "1")), BERTH_ESESSION);
	assert_int_equal(swrite(&t, 0, 12345, 1, op_put("a", "1")), BERTH_ESESSION);
	assert_int_equal(swrite(&t, 0, sid, 0, op_put("a", "1")), BERTH_EBADREQ);
	assert_int_equal(fsm_revision(&t.f), 0);
	assert_null(t_get(&t, "a"));
	/* None of those used up a sequence number. */
	assert_int_equal(swrite(&t, 0, sid, 1, op_put("a", "1")), 0);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_int_equal(swrite(&t, 0, sid, 0, op_put("a", "1")), BERTH_EBADREQ);
	assert_int_equal(fsm_revision(&t.f), 1);
	tfsm_close(&t);
}

static void test_session_retry_business_error(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	/* "not a number" is a positive fixint followed by more bytes: not one integer. */
	t_put(&t, "n", "not a number");
	uint64_t sid = sopen_ok(&t, 0, 60000);
	assert_int_equal(swrite(&t, 0, sid, 1, op_add("n", 1)), BERTH_ETYPE);
	assert_int_equal(fsm_revision(&t.f), 1);
	struct saved first = save_last(&t);
	assert_int_equal(swrite(&t, 0, sid, 1, op_add("n", 1)), BERTH_ETYPE);
	same_bytes(&t, first);
	/* Even once the add would succeed, the retry answers what the first attempt did. */
	uint8_t one[9];
	size_t n = mp_int_encode(7, one);
	one[n] = 0;
	t_put(&t, "n", (const char *)one);
	assert_int_equal(fsm_revision(&t.f), 2);
	assert_int_equal(swrite(&t, 0, sid, 1, op_add("n", 1)), BERTH_ETYPE);
	same_bytes(&t, first);
	assert_int_equal(last_rev(&t), 1);
	assert_int_equal(fsm_revision(&t.f), 2);
	assert_int_equal(version_of(&t, "n"), 2);
	/* The next sequence number applies. */
	assert_int_equal(swrite(&t, 0, sid, 2, op_add("n", 1)), 0);
	assert_int_equal(fsm_revision(&t.f), 3);
	free(first.p);
	tfsm_close(&t);
}

static void test_session_retry_lease_grant(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t sid = sopen_ok(&t, 0, 60000);
	struct msg_cmd c = {.type = MSG_CMD_LEASE_GRANT, .ttl = 10, .session = sid, .seq = 1};
	struct reply r;
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.id, 1);
	reply_free(&r);
	struct saved first = save_last(&t);
	/* A retried grant hands back the same lease instead of granting a second one. */
	assert_int_equal(tfsm_apply(&t, &c, &r), 0);
	assert_int_equal(r.id, 1);
	reply_free(&r);
	same_bytes(&t, first);
	assert_int_equal(t.f.m.nleases, 1);
	assert_int_equal(t.f.m.next_lease, 1);
	free(first.p);
	tfsm_close(&t);
}

/* ---- expiry on the commands' clock ---- */

static void test_session_expiry_boundary(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t sid = sopen_ok(&t, 10000, 1000); /* deadline 11,000 */
	/* A command at 10,999 keeps it, and so does one at the deadline itself. */
	assert_int_equal(swrite(&t, 10999, 0, 0, op_put("a", "1")), 0);
	assert_int_equal(t.f.m.clock_ms, 10999);
	assert_int_equal(t.f.m.nsessions, 1);
	tick(&t, 11000);
	assert_int_equal(t.f.m.nsessions, 1);
	/* A tick past it expires it. */
	tick(&t, 11001);
	assert_int_equal(t.f.m.clock_ms, 11001);
	assert_int_equal(t.f.m.nsessions, 0);
	assert_int_equal(swrite(&t, 11001, sid, 1, op_put("b", "1")), BERTH_ESESSION);
	assert_int_equal(swrite(&t, 20000, sid, 1, op_put("b", "1")), BERTH_ESESSION);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_null(t_get(&t, "b"));
	tfsm_close(&t);
}

static void test_session_expired_by_own_write(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t sid = sopen_ok(&t, 10000, 1000);
	/* The clock moves before the session is looked up: a late write finds it gone. */
	assert_int_equal(swrite(&t, 11001, sid, 1, op_put("a", "1")), BERTH_ESESSION);
	assert_int_equal(t.f.m.nsessions, 0);
	assert_int_equal(fsm_revision(&t.f), 0);
	assert_null(t_get(&t, "a"));
	tfsm_close(&t);
}

static void test_session_write_pushes_deadline(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	uint64_t sid = sopen_ok(&t, 10000, 1000);
	assert_int_equal(swrite(&t, 10900, sid, 1, op_put("a", "1")), 0); /* deadline 11,900 */
	tick(&t, 11800);
	assert_int_equal(t.f.m.nsessions, 1);
	assert_int_equal(swrite(&t, 11800, sid, 2, op_put("a", "2")), 0); /* deadline 12,800 */
	tick(&t, 12800);
	assert_int_equal(t.f.m.nsessions, 1);
	tick(&t, 12801);
	assert_int_equal(t.f.m.nsessions, 0);
	assert_int_equal(swrite(&t, 12801, sid, 3, op_put("a", "3")), BERTH_ESESSION);
	assert_int_equal(fsm_revision(&t.f), 2);
	assert_string_equal(t_get(&t, "a"), "2");
	tfsm_close(&t);
}

static void test_session_clock_is_max(void **state)
{
	(void)state;
	struct tfsm t;
	tfsm_open(&t, NULL);
	assert_int_equal(t.f.m.clock_ms, 0);
	tick(&t, 5000);
	assert_int_equal(t.f.m.clock_ms, 5000);
	tick(&t, 3000);
	assert_int_equal(t.f.m.clock_ms, 5000);
	assert_int_equal(swrite(&t, 0, 0, 0, op_put("a", "1")), 0);
	assert_int_equal(t.f.m.clock_ms, 5000);
	/* A session opened by a command stamped in the past gets its deadline from the
	 * clock: 5,000 + 1,000, not 100 + 1,000. */
	uint64_t sid = sopen_ok(&t, 100, 1000);
	assert_int_equal(t.f.m.clock_ms, 5000);
	tick(&t, 5500);
	assert_int_equal(t.f.m.nsessions, 1);
	/* A write stamped in the past pushes the deadline from the clock: 6,500. */
	assert_int_equal(swrite(&t, 2000, sid, 1, op_put("a", "2")), 0);
	assert_int_equal(t.f.m.clock_ms, 5500);
	tick(&t, 6400);
	tick(&t, 1);
	assert_int_equal(t.f.m.clock_ms, 6400);
	assert_int_equal(t.f.m.nsessions, 1);
	tick(&t, 6501);
	assert_int_equal(t.f.m.nsessions, 0);
	/* Time going back does not bring it back. */
	assert_int_equal(swrite(&t, 6000, sid, 2, op_put("a", "3")), BERTH_ESESSION);
	assert_int_equal(t.f.m.clock_ms, 6501);
	assert_int_equal(fsm_revision(&t.f), 2);
	tfsm_close(&t);
}

/* ---- limits ---- */

static void test_session_max_sessions(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm_config cfg;
	uint64_t id;
	tfsm_config(&cfg);
	cfg.max_sessions = 3;
	tfsm_open(&t, &cfg);
	uint64_t s1 = sopen_ok(&t, 10000, 1000);
	uint64_t s2 = sopen_ok(&t, 10000, 2000);
	uint64_t s3 = sopen_ok(&t, 10000, 3000);
	assert_int_equal(t.f.m.nsessions, 3);
	assert_int_equal(sopen(&t, 10000, 1000, &id), BERTH_ETOOLARGE);
	assert_int_equal(t.f.m.nsessions, 3);
	/* The refused entry's index is not a session. */
	uint64_t refused = t.index;
	assert_int_equal(swrite(&t, 10000, refused, 1, op_put("a", "1")), BERTH_ESESSION);
	/* An expired session frees its place. */
	tick(&t, 11001);
	assert_int_equal(t.f.m.nsessions, 2);
	assert_int_equal(swrite(&t, 11001, s1, 1, op_put("a", "1")), BERTH_ESESSION);
	uint64_t s4 = sopen_ok(&t, 11001, 1000);
	assert_int_equal(t.f.m.nsessions, 3);
	assert_int_equal(sopen(&t, 11001, 1000, &id), BERTH_ETOOLARGE);
	/* Expiry runs before the open: s2 (deadline 12,000) makes room in the same entry. */
	uint64_t s5 = sopen_ok(&t, 12001, 1000);
	assert_int_equal(t.f.m.nsessions, 3);
	assert_int_equal(swrite(&t, 12001, s2, 1, op_put("a", "1")), BERTH_ESESSION);
	assert_int_equal(swrite(&t, 12001, s3, 1, op_put("a", "1")), 0);
	/* s4's deadline is 12,001: not passed yet. */
	assert_int_equal(swrite(&t, 12001, s4, 1, op_put("b", "1")), 0);
	assert_int_equal(swrite(&t, 12001, s5, 1, op_put("c", "1")), 0);
	assert_int_equal(fsm_revision(&t.f), 3);
	assert_int_equal(t.f.m.nsessions, 3);
	tfsm_close(&t);
}

static void test_session_bad_ttl(void **state)
{
	(void)state;
	struct tfsm t;
	uint64_t id;
	tfsm_open(&t, NULL);
	static const int64_t bad[] = {0, -1, INT64_MIN, FSM_SESSION_MAX_TTL_MS + 1, INT64_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sopen(&t, 1000, bad[i], &id), BERTH_EBADREQ);
		assert_int_equal(swrite(&t, 1000, t.index, 1, op_put("a", "1")), BERTH_ESESSION);
	}
	assert_int_equal(t.f.m.nsessions, 0);
	/* The bounds themselves are valid. */
	uint64_t s1 = sopen_ok(&t, 1000, 1);
	uint64_t s2 = sopen_ok(&t, 1000, FSM_SESSION_MAX_TTL_MS);
	assert_int_equal(t.f.m.nsessions, 2);
	tick(&t, 1001);
	assert_int_equal(t.f.m.nsessions, 2);
	tick(&t, 1002);
	assert_int_equal(t.f.m.nsessions, 1);
	assert_int_equal(swrite(&t, 1002, s1, 1, op_put("a", "1")), BERTH_ESESSION);
	assert_int_equal(swrite(&t, 1002, s2, 1, op_put("a", "1")), 0);
	tick(&t, 1002 + FSM_SESSION_MAX_TTL_MS);
	assert_int_equal(t.f.m.nsessions, 1);
	tick(&t, 1003 + FSM_SESSION_MAX_TTL_MS);
	assert_int_equal(t.f.m.nsessions, 0);
	tfsm_close(&t);
}

/* ---- restart ---- */

static void test_session_survives_reopen(void **state)
{
	(void)state;
	struct tfsm t;
	struct fsm_config cfg;
	uint64_t id;
	tfsm_config(&cfg);
	cfg.max_sessions = 2;
	tfsm_open(&t, &cfg);
	uint64_t s1 = sopen_ok(&t, 10000, 1000);
	uint64_t s2 = sopen_ok(&t, 10000, 60000);
	assert_int_equal(swrite(&t, 10500, s1, 1, op_put("a", "1")), 0); /* deadline 11,500 */
	struct saved first = save_last(&t);
	assert_int_equal(tfsm_reopen(&t, &cfg), 0);
	assert_int_equal(t.f.m.nsessions, 2);
	assert_int_equal(t.f.m.clock_ms, 10500);
	assert_int_equal(fsm_revision(&t.f), 1);
	/* The stored reply and the sequence number came back. */
	assert_int_equal(swrite(&t, 10500, s1, 1, op_put("a", "1")), 0);
	same_bytes(&t, first);
	assert_int_equal(fsm_revision(&t.f), 1);
	assert_int_equal(version_of(&t, "a"), 1);
	assert_int_equal(swrite(&t, 10600, s1, 2, op_put("a", "2")), 0); /* deadline 11,600 */
	assert_int_equal(fsm_revision(&t.f), 2);
	assert_int_equal(swrite(&t, 10600, s1, 1, op_put("a", "1")), BERTH_ESTALESEQ);
	/* The count still limits. */
	assert_int_equal(sopen(&t, 10600, 1000, &id), BERTH_ETOOLARGE);
	assert_int_equal(tfsm_reopen(&t, &cfg), 0);
	/* The deadlines came back too. */
	tick(&t, 11600);
	assert_int_equal(t.f.m.nsessions, 2);
	tick(&t, 11601);
	assert_int_equal(t.f.m.nsessions, 1);
	assert_int_equal(swrite(&t, 11601, s1, 3, op_put("a", "3")), BERTH_ESESSION);
	assert_int_equal(swrite(&t, 11601, s2, 1, op_put("a", "3")), 0);
	assert_int_equal(fsm_revision(&t.f), 3);
	assert_int_equal(sopen_ok(&t, 11601, 1000), 12);
	free(first.p);
	tfsm_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_open_id_is_index),
		cmocka_unit_test(test_session_retry_same_reply),
		cmocka_unit_test(test_session_bad_session_or_seq),
		cmocka_unit_test(test_session_retry_business_error),
		cmocka_unit_test(test_session_retry_lease_grant),
		cmocka_unit_test(test_session_expiry_boundary),
		cmocka_unit_test(test_session_expired_by_own_write),
		cmocka_unit_test(test_session_write_pushes_deadline),
		cmocka_unit_test(test_session_clock_is_max),
		cmocka_unit_test(test_session_max_sessions),
		cmocka_unit_test(test_session_bad_ttl),
		cmocka_unit_test(test_session_survives_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
