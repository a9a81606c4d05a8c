/* tests/integ/test_cluster_basics.c: three real members: a write through one handle is read
 * linearizably through another that starts at a follower (redirect), serializable reads on
 * every member, a follower's BERTH_ENOTLEADER names the leader, and status agrees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"
#include "tests/integ/rawconn.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_cluster_basics_redirect_and_reads(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct berth_result r = {0};
	unsigned leader;
	integ_start(f, 3, NULL, &leader);
	unsigned fa = (leader + 1) % 3, fb = (leader + 2) % 3; /* the two followers */

	/* Writer starts at one follower, reader at the other: both are redirected. */
	struct berth *w = cluster_client(c, fa, 5000);
	struct berth *rd = cluster_client(c, fb, 5000);
	assert_non_null(w);
	assert_non_null(rd);
	uint64_t rev1 = integ_put(w, "basics/a", "alpha");
	uint64_t rev2 = integ_put(w, "basics/b", "beta");
	assert_int_equal(rev2, rev1 + 1);

	assert_int_equal(berth_get(rd, "basics/a", 8, 0, false, &r), 0);
	const struct reply_kv *kv = berth_result_kv(&r);
	assert_non_null(kv);
	assert_int_equal(kv->value.n, 5);
	assert_memory_equal(kv->value.p, "alpha", 5);
	assert_int_equal(kv->mod_rev, (int64_t)rev1);
	assert_int_equal(kv->create_rev, (int64_t)rev1);
	assert_int_equal(kv->version, 1);
	/* A linearizable read is answered by the leader, at a revision at least the write's. */
	assert_int_equal(r.resp.hdr.member, leader + 1);
	assert_int_equal(r.resp.hdr.leader, leader + 1);
	assert_true(r.resp.hdr.rev >= rev2);
	berth_result_free(&r);
	integ_expect(rd, "basics/b", "beta", false);
	integ_expect(rd, "basics/none", NULL, false);

	/* Serializable reads: every member, once it has applied the write. */
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(cluster_wait_value(c, i, "basics/b", "beta", 5000), 0);
		struct berth *one = cluster_client_only(c, i, 2000);
		assert_non_null(one);
		assert_int_equal(integ_expect(one, "basics/a", "alpha", true), i + 1);
		berth_close(one);
	}

	/* A follower asked directly answers BERTH_ENOTLEADER with the leader's address. */
	int fd = rawconn_open(c->m[fa].client_port, 2000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_hello(fd, 1, NULL, 2000), 0);
	struct msg_op get = {.type = MSG_OP_RANGE, .key = {(const uint8_t *)"basics/a", 8}};
	struct msg_req req = {.type = MSG_REQ_TXN, .id = 2, .txn = {.nsucc = 1, .succ = &get}};
	struct rawconn_resp resp;
	assert_int_equal(rawconn_send_req(fd, &req), 0);
	assert_int_equal(rawconn_recv(fd, 2000, &resp), RAWCONN_OK);
	assert_int_equal(resp.resp.id, 2);
	assert_int_equal(resp.resp.err, BERTH_ENOTLEADER);
	assert_int_equal(resp.resp.leader.n, strlen(c->m[leader].client));
	assert_memory_equal(resp.resp.leader.p, c->m[leader].client, resp.resp.leader.n);
	assert_int_equal(resp.resp.hdr.member, fa + 1);
	assert_int_equal(resp.resp.hdr.leader, leader + 1);
	rawconn_resp_free(&resp);
	close(fd);

	/* Status: every member agrees on the leader and the term; one leader. */
	struct cluster_status st[3];
	unsigned leaders = 0;
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(cluster_status(c, i, &st[i]), 0);
		assert_int_equal(st[i].id, i + 1);
		assert_int_equal(st[i].leader, leader + 1);
		assert_int_equal(st[i].term, st[0].term);
		assert_true(st[i].rev >= rev2); /* every member has applied both writes */
		leaders += st[i].state == WIRE_LEADER;
		assert_int_equal(st[i].state, i == leader ? WIRE_LEADER : WIRE_FOLLOWER);
	}
	assert_int_equal(leaders, 1);
	assert_true(st[leader].rev >= rev2);

	berth_close(w);
	berth_close(rd);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_basics_redirect_and_reads, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
