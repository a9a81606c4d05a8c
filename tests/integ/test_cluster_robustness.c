/* tests/integ/test_cluster_robustness.c: hostile and odd clients on raw sockets against a
 * running three-member cluster with a token: malformed, truncated and oversized frames, an
 * unknown request type, requests before hello, a wrong token, a slow client and 500 idle
 * connections. After each, the member is alive and a normal client writes and reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/frame.h"
#include "tests/integ/integ.h"
#include "tests/integ/rawconn.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define RB_TOKEN "s3cret-token"
#define RB_IDLE_CONNS 500
#define RB_FD_NEEDED 600
#define RB_SLOW_BYTES 30

/* One cluster for the whole group; a test that does not reach its end marks it failed. */
static struct integ rb_fix;
static unsigned rb_target; /* the member attacked: the leader at the start */
static unsigned rb_case;
static bool rb_failed; /* sticky: some test did not reach its end */

static int rb_group_setup(void **state)
{
	const char *args[] = {INTEG_ELECTION_ARGS, "--token", RB_TOKEN, NULL};
	struct rlimit rl;
	(void)state;
	/* Children inherit the limit: raise it before they start, for the idle test. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024) {
		rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (cluster_start(&rb_fix.c, 3, args) != 0 ||
	    cluster_wait_leader(&rb_fix.c, INTEG_LEADER_WAIT_MS, &rb_target, NULL) != 0) {
		cluster_close(&rb_fix.c, true);
		return -1;
	}
	rb_fix.passed = true;
	return 0;
}

static int rb_group_teardown(void **state)
{
	(void)state;
	bool ok = !rb_failed && rb_fix.passed && cluster_stop_all(&rb_fix.c, 10000) == 0 &&
		  cluster_sanitizer_reports(&rb_fix.c) == 0;
	if (!ok)
		printf("a test failed, or a member did not stop cleanly: the logs follow\n");
	cluster_close(&rb_fix.c, !ok);
	return ok ? 0 : -1;
}

static int rb_setup(void **state)
{
	(void)state;
	rb_failed |= !rb_fix.passed;
	rb_fix.passed = false; /* until the test's last line */
	return 0;
}

static int rb_teardown(void **state)
{
	(void)state;
	return 0;
}

/* The target is alive, answers status, and a normal client writes and reads through it. */
static void rb_check_member(void)
{
	struct cluster *c = &rb_fix.c;
	struct cluster_status st;
	char key[32], val[32];
	assert_true(cluster_alive(c, rb_target));
	assert_int_equal(cluster_status(c, rb_target, &st), 0);
	assert_int_equal(st.id, rb_target + 1);
	struct berth *b = cluster_client(c, rb_target, 5000);
	assert_non_null(b);
	snprintf(key, sizeof(key), "rb/case%u", ++rb_case);
	snprintf(val, sizeof(val), "ok %u", rb_case);
	integ_put(b, key, val);
	integ_expect(b, key, val, false);
	berth_close(b);
	assert_int_equal(cluster_wait_value(c, rb_target, key, val, 5000), 0);
	rb_fix.passed = true;
}

/* A connection to the target that has said hello with the right token. */
static int rb_open_hello(void)
{
	int fd = rawconn_open(rb_fix.c.m[rb_target].client_port, 2000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_hello(fd, 1, RB_TOKEN, 2000), 0);
	return fd;
}

/* Reads exactly one response with the given id and err, then the close. */
static void rb_expect_error_then_close(int fd, uint64_t id, int err)
{
	struct rawconn_resp r;
	assert_int_equal(rawconn_recv(fd, 3000, &r), RAWCONN_OK);
	assert_int_equal(r.resp.id, id);
	assert_int_equal(r.resp.err, err);
	assert_false(r.resp.has_reply);
	rawconn_resp_free(&r);
	assert_int_equal(rawconn_wait_close(fd, 3000), RAWCONN_EOF);
	close(fd);
}

static void test_cluster_robustness_malformed_frame(void **state)
{
	static const uint8_t garbage[] = {0xc1, 0xc1, 0xc1, 0xc1, 0xc1}; /* 0xc1: never used */
	(void)state;
	int fd = rb_open_hello();
	assert_int_equal(rawconn_send_frame(fd, garbage, sizeof(garbage)), 0);
	rb_expect_error_then_close(fd, 0, BERTH_EBADREQ);
	rb_check_member();
}

static void test_cluster_robustness_truncated_frame(void **state)
{
	static const uint8_t part[] = {0, 0, 0, 100, 0x84, 0xa1, 'T', 0x02, 0xa2, 'i'};
	(void)state;
	int fd = rb_open_hello();
	assert_int_equal(rawconn_send(fd, part, sizeof(part)), 0);
	/* Nothing answers half a frame. */
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 200), 0);
	close(fd);
	rb_check_member();
}

static void test_cluster_robustness_oversized_header(void **state)
{
	static const uint8_t hdr[] = {0xff, 0xff, 0xff, 0xff, 0x80};
	(void)state;
	int fd = rb_open_hello();
	assert_int_equal(rawconn_send(fd, hdr, sizeof(hdr)), 0);
	rb_expect_error_then_close(fd, 0, BERTH_ETOOLARGE);
	rb_check_member();
}

static void test_cluster_robustness_unknown_type(void **state)
{
	struct mp_buf b;
	(void)state;
	int fd = rb_open_hello();
	mp_buf_init(&b);
	msgpack_pack_map(&b.pk, 2);
	mp_pack_kv_u64(&b.pk, "T", 99);
	mp_pack_kv_u64(&b.pk, "id", 5);
	assert_int_equal(mp_buf_error(&b), 0);
	assert_int_equal(rawconn_send_frame(fd, b.data, b.len), 0);
	mp_buf_close(&b);
	rb_expect_error_then_close(fd, 0, BERTH_EBADREQ);
	rb_check_member();
}

static void test_cluster_robustness_request_before_hello(void **state)
{
	struct msg_req st = {.type = MSG_REQ_STATUS, .id = 9};
	(void)state;
	int fd = rawconn_open(rb_fix.c.m[rb_target].client_port, 2000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_send_req(fd, &st), 0);
	rb_expect_error_then_close(fd, 9, BERTH_EUNAUTHORIZED);
	rb_check_member();
}

static void test_cluster_robustness_wrong_token(void **state)
{
	uint8_t buf[512];
	struct mp_buf b;
	struct msg_req st = {.type = MSG_REQ_STATUS, .id = 4};
	(void)state;
	/* hello with a wrong token and a status request in the same write: the hello is
	 * refused, and nothing answers the status. */
	size_t n = rawconn_hello_bytes(3, "s3cret-tokeN", buf, sizeof(buf));
	assert_true(n > 0);
	mp_buf_init(&b);
	msg_req_encode(&b, &st);
	assert_true(n + 4 + b.len <= sizeof(buf));
	frame_encode_header(b.len, FRAME_MAX_DEFAULT, buf + n);
	memcpy(buf + n + 4, b.data, b.len);
	n += 4 + b.len;
	mp_buf_close(&b);
	int fd = rawconn_open(rb_fix.c.m[rb_target].client_port, 2000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_send(fd, buf, n), 0);
	rb_expect_error_then_close(fd, 3, BERTH_EUNAUTHORIZED);
	/* The same through libberth: a definite BERTH_EUNAUTHORIZED. */
	struct berth_options o = {.endpoints = &rb_fix.c.eps[rb_target],
				  .nendpoints = 1,
				  .token = "wrong",
				  .timeout_ms = 2000};
	struct berth *bad;
	struct berth_result r = {0};
	assert_int_equal(berth_open(&bad, &o, NULL, 0), 0);
	assert_int_equal(berth_put(bad, "rb/x", 4, "1", 1, 0, &r), BERTH_EUNAUTHORIZED);
	assert_false(r.indeterminate);
	berth_result_free(&r);
	berth_close(bad);
	rb_check_member();
}

static void test_cluster_robustness_slow_client(void **state)
{
	uint8_t buf[512];
	struct rawconn_resp r;
	struct pollfd pfd;
	(void)state;
	size_t n = rawconn_hello_bytes(11, RB_TOKEN, buf, sizeof(buf));
	assert_true(n > RB_SLOW_BYTES);
	int fd = rawconn_open(rb_fix.c.m[rb_target].client_port, 2000);
	assert_true(fd >= 0);
	/* One byte every 100 ms for 3 s, then the rest of the hello at once. */
	for (size_t i = 0; i < RB_SLOW_BYTES; i++) {
		assert_int_equal(rawconn_send(fd, buf + i, 1), 0);
		if (i == RB_SLOW_BYTES / 2)
			rb_check_member(); /* others are served meanwhile */
		/* The pace: 100 ms, during which the member must stay silent. */
		pfd = (struct pollfd){.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&pfd, 1, 100), 0);
	}
	assert_int_equal(rawconn_send(fd, buf + RB_SLOW_BYTES, n - RB_SLOW_BYTES), 0);
	assert_int_equal(rawconn_recv(fd, 3000, &r), RAWCONN_OK);
	assert_int_equal(r.resp.id, 11);
	assert_int_equal(r.resp.err, 0);
	rawconn_resp_free(&r);
	struct msg_req st = {.type = MSG_REQ_STATUS, .id = 12};
	assert_int_equal(rawconn_send_req(fd, &st), 0);
	assert_int_equal(rawconn_recv(fd, 3000, &r), RAWCONN_OK);
	assert_int_equal(r.resp.id, 12);
	assert_int_equal(r.resp.err, 0);
	assert_true(r.resp.has_status);
	assert_int_equal(r.resp.status.id, rb_target + 1);
	rawconn_resp_free(&r);
	close(fd);
	rb_check_member();
}

static void test_cluster_robustness_idle_connections(void **state)
{
	struct rlimit rl;
	int *fds;
	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < RB_FD_NEEDED && rl.rlim_max >= RB_FD_NEEDED) {
		rl.rlim_cur = RB_FD_NEEDED; /* raise the soft limit: the hard one allows it */
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	/* A hard limit below what 500 need: as many as it allows, never none (the test
	 * needs about 100 descriptors of its own). */
	unsigned n = RB_IDLE_CONNS;
	if (rl.rlim_cur < RB_FD_NEEDED) {
		n = rl.rlim_cur > RB_FD_NEEDED - RB_IDLE_CONNS + 50
			    ? (unsigned)rl.rlim_cur - (RB_FD_NEEDED - RB_IDLE_CONNS)
			    : 50;
		printf("RLIMIT_NOFILE is %llu (hard): %u idle connections instead of %d\n",
		       (unsigned long long)rl.rlim_cur, n, RB_IDLE_CONNS);
	}
	fds = calloc(n, sizeof(*fds));
	assert_non_null(fds);
	for (unsigned i = 0; i < n; i++) {
		fds[i] = rawconn_open(rb_fix.c.m[rb_target].client_port, 2000);
		if (fds[i] < 0)
			printf("idle connection %u failed\n", i);
		assert_true(fds[i] >= 0);
	}
	rb_check_member();
	/* The member kept every idle connection: the first still completes a hello. */
	assert_int_equal(rawconn_hello(fds[0], 1, RB_TOKEN, 2000), 0);
	assert_int_equal(rawconn_hello(fds[n - 1], 1, RB_TOKEN, 2000), 0);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	rb_check_member();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define RB_TEST(name) cmocka_unit_test_setup_teardown(name, rb_setup, rb_teardown)
		RB_TEST(test_cluster_robustness_malformed_frame),
		RB_TEST(test_cluster_robustness_truncated_frame),
		RB_TEST(test_cluster_robustness_oversized_header),
		RB_TEST(test_cluster_robustness_unknown_type),
		RB_TEST(test_cluster_robustness_request_before_hello),
		RB_TEST(test_cluster_robustness_wrong_token),
		RB_TEST(test_cluster_robustness_slow_client),
		RB_TEST(test_cluster_robustness_idle_connections),
#undef RB_TEST
	};
	return cmocka_run_group_tests(tests, rb_group_setup, rb_group_teardown);
}
