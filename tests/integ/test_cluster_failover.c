/* tests/integ/test_cluster_failover.c: kill -9 the leader under a stream of writes: a new
 * leader, the write issued right after the kill succeeds (the failover time is printed),
 * exactly-once adds across the kill, the killed member catches up after a restart, and
 * every acknowledged write is there at the end; a write applied by the old leader and
 * sent again with the same (session, seq) to the new one is applied once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"
#include "tests/integ/rawconn.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FO_MAX_WRITES 4000
#define FO_BEFORE_KILL 40 /* acknowledged writes before the kill */
#define FO_AFTER_KILL 40  /* and after it */
#define FO_WRITER_MS 20000

/* The writer thread: txn {add fo/ctr 1; put fo/w/<i> = <i>} in a loop through its own
 * handle, until told to stop, FO_MAX_WRITES or FO_WRITER_MS. No asserts here: the main
 * thread checks what it recorded after the join. */
struct fo_writer {
	struct berth *b;
	atomic_bool stop;
	atomic_uint acked;     /* acknowledged writes so far */
	atomic_ullong kill_ms; /* set by the main thread just before the kill */
	uint64_t kill_term;    /* the term the killed leader led (set before kill_ms) */
	unsigned n;            /* writes issued */
	unsigned indeterminate;
	unsigned definite; /* definite failures (the write certainly did not happen) */
	int first_err;
	bool acked_w[FO_MAX_WRITES];
	int64_t add_value[FO_MAX_WRITES]; /* the counter after the add, acknowledged writes */
	uint64_t first_new_term_ms;       /* the first ack from a later term, after the kill */
	unsigned spanning_acked; /* acknowledged writes sent before the kill, answered after */
};

static void *fo_write_loop(void *arg)
{
	struct fo_writer *w = arg;
	uint64_t end = cluster_now_ms() + FO_WRITER_MS;
	char key[32], val[16];
	struct berth_result r = {0};
	while (!atomic_load(&w->stop) && w->n < FO_MAX_WRITES && cluster_now_ms() < end) {
		unsigned i = w->n++;
		snprintf(key, sizeof(key), "fo/w/%05u", i);
		snprintf(val, sizeof(val), "%u", i);
		struct msg_op ops[2] = {
			{.type = MSG_OP_ADD, .key = {(const uint8_t *)"fo/ctr", 6}, .delta = 1},
			{.type = MSG_OP_PUT,
			 .key = {(const uint8_t *)key, strlen(key)},
			 .value = {(const uint8_t *)val, strlen(val)}}};
		struct msg_txn t = {.nsucc = 2, .succ = ops};
		bool before_kill = atomic_load(&w->kill_ms) == 0;
		int rv = berth_txn(w->b, &t, false, &r);
		if (rv == 0 && r.resp.reply.nops == 2) {
			uint64_t k = atomic_load(&w->kill_ms);
			w->acked_w[i] = true;
			w->add_value[i] = r.resp.reply.ops[0].value;
			if (k != 0 && w->first_new_term_ms == 0 && r.resp.hdr.term > w->kill_term)
				w->first_new_term_ms = cluster_now_ms();
			if (before_kill && k != 0 && r.resp.hdr.term > w->kill_term)
				w->spanning_acked++;
			atomic_fetch_add(&w->acked, 1);
		} else if (r.indeterminate) {
			w->indeterminate++;
		} else {
			w->definite++;
			if (w->first_err == 0)
				w->first_err = rv;
		}
		berth_result_free(&r);
	}
	return NULL;
}

/* Waits until the writer has acked at least n writes (deadline ms). */
static void fo_wait_acked(struct fo_writer *w, unsigned n, uint32_t ms)
{
	uint64_t deadline = cluster_now_ms() + ms;
	while (atomic_load(&w->acked) < n && cluster_now_ms() < deadline)
		poll(NULL, 0, 5);
	assert_true(atomic_load(&w->acked) >= n);
}

static int64_t fo_counter(struct berth *b, bool serializable)
{
	return integ_int(b, "fo/ctr", serializable);
}

/* Sends txn {add fo/ctr 1} with (sid, seq) to member i on a new raw connection and returns
 * the reply's add value; *rev gets the reply's revision. */
static int64_t fo_raw_add(struct cluster *c, unsigned i, uint64_t sid, uint64_t seq, uint64_t *rev)
{
	struct msg_op add = {.type = MSG_OP_ADD, .key = {(const uint8_t *)"fo/ctr", 6}, .delta = 1};
	struct msg_req req = {.type = MSG_REQ_TXN,
			      .id = 7,
			      .session = sid,
			      .seq = seq,
			      .txn = {.nsucc = 1, .succ = &add}};
	struct rawconn_resp r;
	int fd = rawconn_open(c->m[i].client_port, 2000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_hello(fd, 1, NULL, 2000), 0);
	assert_int_equal(rawconn_send_req(fd, &req), 0);
	assert_int_equal(rawconn_recv(fd, 5000, &r), RAWCONN_OK);
	close(fd);
	assert_int_equal(r.resp.id, 7);
	assert_int_equal(r.resp.err, 0);
	assert_true(r.resp.has_reply);
	assert_int_equal(r.resp.reply.err, 0);
	assert_int_equal(r.resp.reply.nops, 1);
	int64_t v = r.resp.reply.ops[0].value;
	*rev = r.resp.reply.rev;
	rawconn_resp_free(&r);
	return v;
}

/* Exactly-once across a leader change, made deterministic: a write applied by the old
 * leader is sent again with the same (session, seq) to the new one, which answers the
 * first reply and does not apply it twice. */
static void fo_retry_after_failover(struct cluster *c, struct berth *b)
{
	unsigned leader, leader2;
	struct rawconn_resp r;
	uint64_t rev1, rev2, rev3;
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, NULL), 0);
	int fd = rawconn_open(c->m[leader].client_port, 2000);
	assert_true(fd >= 0);
	assert_int_equal(rawconn_hello(fd, 1, NULL, 2000), 0);
	struct msg_req open = {.type = MSG_REQ_SESSION_OPEN, .id = 2, .ttl = 60000};
	assert_int_equal(rawconn_send_req(fd, &open), 0);
	assert_int_equal(rawconn_recv(fd, 5000, &r), RAWCONN_OK);
	close(fd);
	assert_int_equal(r.resp.err, 0);
	assert_true(r.resp.has_reply);
	uint64_t sid = r.resp.reply.id;
	assert_true(sid != 0);
	rawconn_resp_free(&r);

	int64_t before = fo_counter(b, false);
	int64_t v1 = fo_raw_add(c, leader, sid, 1, &rev1);
	assert_int_equal(v1, before + 1);
	cluster_kill(c, leader);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader2, NULL), 0);
	assert_true(leader2 != leader);
	assert_int_equal(fo_raw_add(c, leader2, sid, 1, &rev2), v1); /* the first answer */
	assert_int_equal(rev2, rev1);
	assert_int_equal(fo_counter(b, false), v1); /* applied once */
	assert_int_equal(fo_raw_add(c, leader2, sid, 2, &rev3), v1 + 1);
	assert_true(rev3 > rev1);
	assert_int_equal(cluster_restart(c, leader), 0);
}

static void test_cluster_failover_leader_kill(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct fo_writer *w = calloc(1, sizeof(*w));
	pthread_t th;
	unsigned leader, leader2;
	uint64_t term;
	assert_non_null(w);
	integ_start(f, 3, NULL, &leader);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader, &term), 0);

	struct berth *b = cluster_client(c, leader, 10000);
	assert_non_null(b);
	integ_put(b, "fo/before", "1"); /* opens the session before the kill */
	w->b = cluster_client(c, leader, 10000);
	assert_non_null(w->b);
	assert_int_equal(pthread_create(&th, NULL, fo_write_loop, w), 0);
	fo_wait_acked(w, FO_BEFORE_KILL, 10000);

	/* The kill, while the writer has a write in flight (it always has one). */
	w->kill_term = term;
	uint64_t t_kill = cluster_now_ms();
	atomic_store(&w->kill_ms, t_kill);
	cluster_kill(c, leader);
	uint64_t t_dead = cluster_now_ms();
	integ_put(b, "fo/after", "2"); /* libberth finds the new leader and retries */
	uint64_t t_ack = cluster_now_ms();
	unsigned acked_at_kill = atomic_load(&w->acked);
	fo_wait_acked(w, acked_at_kill + FO_AFTER_KILL, 15000);
	atomic_store(&w->stop, true);
	assert_int_equal(pthread_join(th, NULL), 0);

	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &leader2, NULL), 0);
	assert_true(leader2 != leader);
	printf("failover: %llu ms from SIGKILL of the leader (member %u) to the next "
	       "acknowledged write (reaped after %llu ms); the writer's first ack in a later "
	       "term after %llu ms\n",
	       (unsigned long long)(t_ack - t_kill), leader + 1,
	       (unsigned long long)(t_dead - t_kill),
	       (unsigned long long)(w->first_new_term_ms ? w->first_new_term_ms - t_kill : 0));
	printf("writer: %u writes, %u acknowledged, %u indeterminate, %u definite failures, "
	       "%u sent before the kill and acknowledged after it\n",
	       w->n, atomic_load(&w->acked), w->indeterminate, w->definite, w->spanning_acked);
	assert_int_equal(w->definite, 0);
	assert_true(w->first_new_term_ms > t_kill);
	assert_true(w->spanning_acked <= 1); /* one write in flight at a time */

	/* Exactly-once: the counter counts every acknowledged add once, and at most the
	 * indeterminate ones besides; acknowledged adds saw distinct, increasing values. */
	unsigned acked = atomic_load(&w->acked);
	int64_t ctr = fo_counter(b, false), last = 0;
	assert_true(ctr >= (int64_t)acked);
	assert_true(ctr <= (int64_t)(acked + w->indeterminate));
	for (unsigned i = 0; i < w->n; i++) {
		if (!w->acked_w[i])
			continue;
		assert_true(w->add_value[i] > last);
		assert_true(w->add_value[i] <= ctr);
		last = w->add_value[i];
	}

	/* Every acknowledged put is there; nothing else is. */
	struct berth_range rg = {.key = "fo/w/", .klen = 5, .prefix = true};
	struct berth_result r = {0};
	assert_int_equal(berth_range(b, &rg, &r), 0);
	assert_int_equal(r.resp.reply.nops, 1);
	const struct reply_op *op = &r.resp.reply.ops[0];
	assert_int_equal(op->count, (uint64_t)ctr); /* one put per applied add */
	unsigned seen = 0;
	for (uint32_t k = 0; k < op->nkvs; k++) {
		unsigned i = integ_key_number(op->kvs[k].key, "fo/w/", w->n);
		seen += w->acked_w[i];
	}
	assert_int_equal(seen, acked);
	berth_result_free(&r);
	integ_expect(b, "fo/before", "1", false);
	integ_expect(b, "fo/after", "2", false);

	/* The killed member comes back and catches up. */
	assert_int_equal(cluster_restart(c, leader), 0);
	assert_int_equal(cluster_wait_value(c, leader, "fo/after", "2", 10000), 0);
	struct berth *one = cluster_client_only(c, leader, 2000);
	assert_non_null(one);
	assert_int_equal(fo_counter(one, true), ctr);
	berth_close(one);
	fo_retry_after_failover(c, b);

	berth_close(w->b);
	berth_close(b);
	free(w);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_failover_leader_kill, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
