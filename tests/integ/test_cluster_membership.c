/* tests/integ/test_cluster_membership.c: membership on real members while writes go on: a
 * fourth member joins (--join, member add: spare, catch-up, voter), a follower and then
 * the leader are removed, every acknowledged write is on every remaining member, the
 * joined member knows every client address (redirects) across a restart; bad requests
 * answer clear errors; leadership transfer; a member that never starts stays a spare; a
 * member that joins after the log was truncated gets a snapshot with the addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITES_MAX 50000
#define CHANGE_TIMEOUT_MS 15000

struct writer {
	struct cluster *c;
	pthread_t thread;
	atomic_bool stop;
	atomic_uint done; /* writes attempted */
	unsigned acked_n;
	bool acked[WRITES_MAX];
};

/* The writer of the running test: stopped by the teardown too, so that a failed test
 * leaves no thread writing into the next test's cluster (same ports). */
static struct writer *s_writer;

static void writer_stop(void)
{
	if (s_writer == NULL)
		return;
	atomic_store(&s_writer->stop, true);
	pthread_join(s_writer->thread, NULL);
}

static int membership_teardown(void **state)
{
	writer_stop();
	free(s_writer);
	s_writer = NULL;
	return integ_teardown(state);
}

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct berth *b = cluster_client(w->c, 0, 3000);
	struct berth_result r = {0};
	char key[32], val[32];
	if (b == NULL)
		return NULL;
	for (unsigned i = 0; i < WRITES_MAX && !atomic_load(&w->stop); i++) {
		int kn = snprintf(key, sizeof(key), "w/%06u", i);
		int vn = snprintf(val, sizeof(val), "v%u", i);
		if (berth_put(b, key, (size_t)kn, val, (size_t)vn, 0, &r) == 0) {
			w->acked[i] = true;
			w->acked_n++;
		}
		berth_result_free(&r);
		atomic_store(&w->done, i + 1);
	}
	berth_close(b);
	return NULL;
}

/* Waits until the writer has attempted `more` further writes (deadline 20 s). */
static void writer_wait(struct writer *w, unsigned more)
{
	unsigned target = atomic_load(&w->done) + more;
	uint64_t deadline = cluster_now_ms() + 20000;
	while (atomic_load(&w->done) < target && cluster_now_ms() < deadline)
		poll(NULL, 0, 10);
	assert_true(atomic_load(&w->done) >= target);
}

/* The role of member id in a status answer, or -1 when it is not in the configuration. */
static int role_of(const struct wire_status *st, uint64_t id)
{
	for (uint32_t i = 0; i < st->nmembers; i++)
		if (st->members[i].id == id)
			return st->members[i].role;
	return -1;
}

static bool client_of_is(const struct wire_status *st, uint64_t id, const char *addr)
{
	for (uint32_t i = 0; i < st->nmembers; i++)
		if (st->members[i].id == id)
			return st->members[i].client.n == strlen(addr) &&
			       memcmp(st->members[i].client.p, addr, strlen(addr)) == 0;
	return false;
}

/* Asserts that a membership call fails with err and changes nothing. */
static void expect_err(int rv, struct berth_result *r, int err)
{
	if (rv != err)
		printf("expected %s, got %s\n", err_name(err), err_name(rv));
	assert_int_equal(rv, err);
	berth_result_free(r);
}

/* Every acknowledged write is on member i (serializable, once it has applied rev). */
static void check_member_has(struct cluster *c, unsigned i, const struct writer *w, uint64_t rev)
{
	struct berth *b = cluster_client_only(c, i, 3000);
	struct berth_result r = {0};
	struct cluster_status st;
	uint64_t deadline = cluster_now_ms() + 10000;
	assert_non_null(b);
	while (cluster_status(c, i, &st) != 0 || st.rev < rev) {
		assert_true(cluster_now_ms() < deadline);
		poll(NULL, 0, 20);
	}
	struct berth_range q = {.key = "w/", .klen = 2, .prefix = true, .serializable = true};
	assert_int_equal(berth_range(b, &q, &r), 0);
	assert_int_equal(r.resp.hdr.member, c->m[i].id);
	static bool seen[WRITES_MAX];
	memset(seen, 0, sizeof(seen));
	const struct reply_op *op = &r.resp.reply.ops[0];
	for (uint32_t k = 0; k < op->nkvs; k++) {
		char key[16] = {0};
		unsigned idx;
		assert_true(op->kvs[k].key.n < sizeof(key));
		memcpy(key, op->kvs[k].key.p, op->kvs[k].key.n);
		assert_int_equal(sscanf(key, "w/%u", &idx), 1);
		assert_true(idx < WRITES_MAX);
		seen[idx] = true;
	}
	unsigned missing = 0;
	for (unsigned k = 0; k < WRITES_MAX; k++)
		missing += w->acked[k] && !seen[k];
	if (missing != 0)
		printf("member %u misses %u acknowledged writes\n", i + 1, missing);
	assert_int_equal(missing, 0);
	berth_result_free(&r);
	berth_close(b);
}

static void test_cluster_membership_add_remove_under_writes(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct berth_result r = {0};
	unsigned leader;
	integ_start(f, 3, NULL, &leader);
	struct berth *b = cluster_client(c, 0, CHANGE_TIMEOUT_MS);
	assert_non_null(b);
	struct writer *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->c = c;
	assert_int_equal(pthread_create(&w->thread, NULL, writer_run, w), 0);
	s_writer = w;
	writer_wait(w, 50);

	/* Bad requests: clear errors, nothing changes. */
	expect_err(berth_member_add(b, 1, "127.0.0.1:1", "127.0.0.1:2", false, &r), &r,
		   BERTH_EEXISTS); /* a voter's id */
	expect_err(berth_member_add(b, 9, c->m[1].peer, "127.0.0.1:2", false, &r), &r,
		   BERTH_EEXISTS); /* member 2's raft address */
	expect_err(berth_member_add(b, 9, "127.0.0.1:1", c->m[2].client, false, &r), &r,
		   BERTH_EEXISTS); /* member 3's client address (from --bootstrap) */
	expect_err(berth_member_add(b, 9, "127.0.0.1:0", "127.0.0.1:2", false, &r), &r,
		   BERTH_EBADREQ); /* port 0: refused by the leader */
	expect_err(berth_member_add(b, 9, "nocolon", "127.0.0.1:2", false, &r), &r,
		   BERTH_EBADREQ); /* refused before sending */
	expect_err(berth_member_add(b, 0, "127.0.0.1:1", "127.0.0.1:2", false, &r), &r,
		   BERTH_EBADREQ);
	expect_err(berth_member_remove(b, 77, &r), &r, BERTH_ENOTFOUND);
	expect_err(berth_member_transfer(b, 77, &r), &r, BERTH_ENOTFOUND);
	assert_int_equal(berth_member_list(b, false, &r), 0);
	assert_int_equal(r.resp.status.nmembers, 3);
	berth_result_free(&r);

	/* A fourth member joins: started with --join, then added; it is a voter on return. */
	int n4 = cluster_add(c);
	assert_int_equal(n4, 3);
	assert_int_equal(berth_member_add(b, 4, c->m[3].peer, c->m[3].client, false, &r), 0);
	assert_int_equal(role_of(&r.resp.status, 4), WIRE_VOTER);
	assert_int_equal(r.resp.status.nmembers, 4);
	berth_result_free(&r);
	expect_err(berth_member_add(b, 4, c->m[3].peer, c->m[3].client, false, &r), &r,
		   BERTH_EEXISTS); /* a voter already */
	writer_wait(w, 50);

	/* Remove a follower other than the new member, then the leader itself. */
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
	unsigned gone = leader == 1 ? 2 : 1;
	assert_int_equal(berth_member_remove(b, gone + 1, &r), 0);
	assert_int_equal(role_of(&r.resp.status, gone + 1), -1);
	berth_result_free(&r);
	/* The removed member keeps running for a while (several of its election timeouts):
	 * it cannot disturb the others (pre-vote), so the leader's term stays. */
	struct cluster_status before, after;
	assert_int_equal(cluster_status(c, leader, &before), 0);
	writer_wait(w, 400);
	assert_true(cluster_alive(c, gone));
	assert_int_equal(cluster_status(c, leader, &after), 0);
	assert_int_equal(after.state, WIRE_LEADER);
	assert_int_equal(after.term, before.term);
	int status;
	assert_int_equal(cluster_term(c, gone, 10000, &status), 0);
	writer_wait(w, 50);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
	assert_int_equal(berth_member_remove(b, leader + 1, &r), 0); /* redirected after transfer */
	assert_int_equal(role_of(&r.resp.status, leader + 1), -1);
	assert_int_not_equal(r.resp.status.leader, leader + 1);
	berth_result_free(&r);
	assert_int_equal(cluster_term(c, leader, 10000, &status), 0);
	writer_wait(w, 50);
	writer_stop();
	printf("writes: %u attempted, %u acknowledged\n", atomic_load(&w->done), w->acked_n);
	assert_true(w->acked_n >= 200);

	/* Two members are left, both voters; every acknowledged write is on both. */
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
	assert_int_equal(berth_member_list(b, false, &r), 0);
	assert_int_equal(r.resp.status.nmembers, 2);
	assert_int_equal(role_of(&r.resp.status, 4), WIRE_VOTER);
	berth_result_free(&r);
	uint64_t rev = integ_put(b, "membership/end", "1");
	for (unsigned i = 0; i < c->n; i++)
		if (cluster_alive(c, i))
			check_member_has(c, i, w, rev);

	/* The joined member knows every client address (through the log) across a restart,
	 * and redirects a write there. */
	cluster_kill(c, 3);
	assert_int_equal(cluster_restart(c, 3), 0);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
	struct berth *only4 = cluster_client_only(c, 3, 5000);
	assert_non_null(only4);
	assert_int_equal(berth_member_list(only4, true, &r), 0);
	assert_int_equal(r.resp.hdr.member, 4);
	for (unsigned i = 0; i < c->n; i++)
		if (role_of(&r.resp.status, i + 1) >= 0)
			assert_true(client_of_is(&r.resp.status, i + 1, c->m[i].client));
	berth_result_free(&r);
	integ_put(only4, "membership/via4", "1");
	berth_close(only4);
	berth_close(b);
	integ_finish(f);
}

static void test_cluster_membership_transfer_and_spare(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct berth_result r = {0};
	unsigned leader, now;
	integ_start(f, 3, NULL, &leader);
	struct berth *b = cluster_client(c, 0, CHANGE_TIMEOUT_MS);
	assert_non_null(b);
	integ_put(b, "transfer/a", "1");

	/* To a chosen follower: it leads when the call returns. */
	unsigned to = (leader + 1) % 3;
	assert_int_equal(berth_member_transfer(b, to + 1, &r), 0);
	assert_int_equal(r.resp.status.leader, to + 1);
	berth_result_free(&r);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &now, NULL), 0);
	assert_int_equal(now, to);
	integ_put(b, "transfer/b", "2");
	/* To the leader itself: nothing to do. To 0: any other voter. */
	assert_int_equal(berth_member_transfer(b, to + 1, &r), 0);
	assert_int_equal(r.resp.status.leader, to + 1);
	berth_result_free(&r);
	assert_int_equal(berth_member_transfer(b, 0, &r), 0);
	assert_int_not_equal(r.resp.status.leader, to + 1);
	berth_result_free(&r);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &now, NULL), 0);
	assert_int_not_equal(now, to);

	/* A member that is never started: it stays a spare, the add answers BERTH_ETIMEOUT,
	 * a transfer to it is refused, and it can be removed. */
	int rv = berth_member_add(b, 5, "127.0.0.1:9", "127.0.0.1:10", false, &r);
	assert_true(rv == BERTH_ETIMEOUT);
	berth_result_free(&r);
	assert_int_equal(berth_member_list(b, false, &r), 0);
	assert_int_equal(role_of(&r.resp.status, 5), WIRE_SPARE);
	assert_true(client_of_is(&r.resp.status, 5, "127.0.0.1:10"));
	berth_result_free(&r);
	expect_err(berth_member_transfer(b, 5, &r), &r, BERTH_EBADREQ);
	assert_int_equal(berth_member_remove(b, 5, &r), 0);
	assert_int_equal(role_of(&r.resp.status, 5), -1);
	berth_result_free(&r);
	integ_put(b, "transfer/c", "3");
	berth_close(b);
	integ_finish(f);
}

/* A member joining after the log was truncated catches up from a snapshot, and the
 * snapshot brings the address book: it knows every member's client address. */
static void test_cluster_membership_join_by_snapshot(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct berth_result r = {0};
	const char *args[] = {"--snapshot-threshold", "16", "--snapshot-trailing", "16", NULL};
	char key[32];
	unsigned leader;
	integ_start(f, 3, args, &leader);
	struct berth *b = cluster_client(c, leader, CHANGE_TIMEOUT_MS);
	assert_non_null(b);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "snap/%03u", i);
		integ_put(b, key, "v");
	}
	int n4 = cluster_add(c);
	assert_int_equal(n4, 3);
	assert_int_equal(berth_member_add(b, 4, c->m[3].peer, c->m[3].client, false, &r), 0);
	assert_int_equal(role_of(&r.resp.status, 4), WIRE_VOTER);
	berth_result_free(&r);
	uint64_t rev = integ_put(b, "snap/last", "1");
	assert_int_equal(cluster_wait_value(c, 3, "snap/last", "1", 10000), 0);
	struct berth *only4 = cluster_client_only(c, 3, 5000);
	assert_non_null(only4);
	assert_true(cluster_snapshot_files(c, 3) > 0); /* it caught up from a snapshot */
	integ_expect(only4, "snap/000", "v", true);
	integ_expect(only4, "snap/199", "v", true);
	assert_int_equal(berth_member_list(only4, true, &r), 0);
	assert_true(r.resp.hdr.rev >= rev);
	assert_int_equal(r.resp.status.nmembers, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_true(client_of_is(&r.resp.status, i + 1, c->m[i].client));
	berth_result_free(&r);
	berth_close(only4);
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_membership_add_remove_under_writes,
						integ_setup, membership_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_membership_transfer_and_spare,
						integ_setup, integ_teardown),
		cmocka_unit_test_setup_teardown(test_cluster_membership_join_by_snapshot,
						integ_setup, integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
