/* tests/integ/test_cluster_async.c: the asynchronous client on real processes: thousands
 * of concurrent exactly-once adds on one libuv loop while the leader is killed with
 * SIGKILL, and a burst of adds with a 300 ms deadline sent on a second handle just
 * before the kill, which cannot all end well (indeterminate or definite failures). At the
 * end the counter is at least the acknowledged adds and at most those plus the
 * indeterminate ones, no definite failure was applied, and no add was applied twice (each
 * add's transaction also puts a key of its own: the counter equals the number of those
 * keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/berth_async.h"
#include "tests/integ/integ.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AS_ADDS 4000       /* adds made in all */
#define AS_WINDOW 1000     /* adds in flight at once */
#define AS_KILL_AFTER 1000 /* acknowledged adds before the kill */
#define AS_TIMEOUT_MS 10000
#define AS_SHORT 200 /* the burst at the kill, on the second handle */
#define AS_SHORT_TIMEOUT_MS 300
#define AS_RUN_MS 60000 /* the loop's own bound */

enum as_outcome { AS_PENDING, AS_ACKED, AS_INDETERMINATE, AS_DEFINITE };

struct as_run;

struct as_add {
	struct as_run *run;
	unsigned i;
	enum as_outcome outcome;
	int err;
	int64_t value; /* the counter after the add (acknowledged) */
};

struct as_run {
	struct cluster *c;
	struct berth_async *a, *short_a;
	unsigned leader;
	uint64_t term;                  /* the killed leader's */
	unsigned submitted, main_ended; /* of the AS_ADDS on the main handle */
	unsigned ended, acked, indeterminate, definite;
	unsigned short_indeterminate;
	bool killed;
	uint64_t kill_ms, first_ack_after_kill_ms;
	int first_definite;
	char first_definite_msg[BERTH_ERRMSG_BYTES];
	struct as_add adds[AS_ADDS + AS_SHORT];
};

static void as_submit(struct as_run *run);
static void as_add(struct as_run *run, struct berth_async *a, unsigned i);

static void as_done(struct berth_result *res, const char *errmsg, void *data)
{
	struct as_add *add = data;
	struct as_run *run = add->run;
	add->err = res->err;
	run->ended++;
	run->main_ended += add->i < AS_ADDS;
	if (res->err == 0 && res->resp.reply.succeeded && res->resp.reply.nops == 2) {
		add->outcome = AS_ACKED;
		add->value = res->resp.reply.ops[0].value;
		run->acked++;
		if (run->killed && run->first_ack_after_kill_ms == 0 &&
		    res->resp.hdr.term > run->term)
			run->first_ack_after_kill_ms = cluster_now_ms();
	} else if (res->indeterminate) {
		add->outcome = AS_INDETERMINATE;
		run->indeterminate++;
		run->short_indeterminate += add->i >= AS_ADDS;
	} else {
		add->outcome = AS_DEFINITE;
		if (run->definite++ == 0) {
			run->first_definite = res->err;
			snprintf(run->first_definite_msg, sizeof(run->first_definite_msg), "%s",
				 errmsg);
		}
	}
	if (!run->killed && run->acked >= AS_KILL_AFTER) {
		run->killed = true;
		for (unsigned i = 0; i < AS_SHORT; i++) /* on the wire as the leader dies */
			as_add(run, run->short_a, AS_ADDS + i);
		run->kill_ms = cluster_now_ms();
		cluster_kill(run->c, run->leader);
	}
	as_submit(run);
}

/* Add i: txn {add as/ctr 1; put as/w/<i> = <i>} on handle a. */
static void as_add(struct as_run *run, struct berth_async *a, unsigned i)
{
	struct as_add *add = &run->adds[i];
	char key[32], val[16];
	snprintf(key, sizeof(key), "as/w/%05u", i);
	snprintf(val, sizeof(val), "%u", i);
	struct msg_op ops[2] = {
		{.type = MSG_OP_ADD, .key = {(const uint8_t *)"as/ctr", 6}, .delta = 1},
		{.type = MSG_OP_PUT,
		 .key = {(const uint8_t *)key, strlen(key)},
		 .value = {(const uint8_t *)val, strlen(val)}}};
	struct msg_txn t = {.nsucc = 2, .succ = ops};
	add->run = run;
	add->i = i;
	assert_int_equal(berth_async_txn(a, &t, false, as_done, add), 0);
}

/* Keeps AS_WINDOW adds in flight on the main handle until AS_ADDS were made. */
static void as_submit(struct as_run *run)
{
	while (run->submitted < AS_ADDS && run->submitted - run->main_ended < AS_WINDOW)
		as_add(run, run->a, run->submitted++);
}

static void as_closed(void *data)
{
	(*(int *)data)++;
}

static void as_warm(struct berth_result *res, const char *errmsg, void *data)
{
	struct as_add *warm = data;
	(void)errmsg;
	warm->err = res->err;
	warm->outcome = res->err == 0 ? AS_ACKED : AS_DEFINITE;
}

static void as_guard(uv_timer_t *t)
{
	(void)t; /* wakes the loop so its deadline is checked */
}

static void test_cluster_async_adds_leader_kill(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	struct as_run *run = calloc(1, sizeof(*run));
	const char *eps[CLUSTER_MAX];
	uv_loop_t loop;
	uv_timer_t guard;
	int closed = 0;
	char err[BERTH_ERRMSG_BYTES];
	struct as_add warm[BERTH_ASYNC_DEFAULT_SESSIONS] = {{0}};
	assert_non_null(run);
	integ_start(f, 3, NULL, &run->leader);
	assert_int_equal(cluster_wait_leader(c, INTEG_LEADER_WAIT_MS, &run->leader, &run->term), 0);
	run->c = c;
	for (unsigned k = 0; k < c->n; k++)
		eps[k] = c->eps[(run->leader + k) % c->n];
	struct berth_options o = {.endpoints = eps,
				  .nendpoints = c->n,
				  .token = c->token[0] ? c->token : NULL,
				  .timeout_ms = AS_TIMEOUT_MS};
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(berth_async_open(&run->a, &loop, &o, NULL, err, sizeof(err)), 0);
	o.timeout_ms = AS_SHORT_TIMEOUT_MS;
	assert_int_equal(berth_async_open(&run->short_a, &loop, &o, NULL, err, sizeof(err)), 0);

	uint64_t t0 = cluster_now_ms(), deadline = t0 + AS_RUN_MS;
	uv_timer_init(&loop, &guard);
	uv_timer_start(&guard, as_guard, 100, 100);
	/* The second handle connected, with every session open, before the burst: as many
	 * warm-up puts at once as it has sessions. */
	unsigned warmed = 0;
	for (unsigned i = 0; i < BERTH_ASYNC_DEFAULT_SESSIONS; i++) {
		warm[i].run = run;
		warm[i].i = i;
		assert_int_equal(
			berth_async_put(run->short_a, "as/warm", 7, "1", 1, 0, as_warm, &warm[i]),
			0);
	}
	while (warmed < BERTH_ASYNC_DEFAULT_SESSIONS && cluster_now_ms() < deadline) {
		uv_run(&loop, UV_RUN_ONCE);
		for (warmed = 0;
		     warmed < BERTH_ASYNC_DEFAULT_SESSIONS && warm[warmed].outcome != AS_PENDING;)
			warmed++;
	}
	for (unsigned i = 0; i < BERTH_ASYNC_DEFAULT_SESSIONS; i++)
		assert_int_equal(warm[i].err, 0);
	as_submit(run);
	while (run->ended < AS_ADDS + AS_SHORT && cluster_now_ms() < deadline)
		uv_run(&loop, UV_RUN_ONCE);
	uint64_t took = cluster_now_ms() - t0;
	uv_close((uv_handle_t *)&guard, NULL);
	berth_async_close(run->a, as_closed, &closed);
	berth_async_close(run->short_a, as_closed, &closed);
	while (closed < 2 && cluster_now_ms() < deadline + 5000)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(closed, 2);
	assert_int_equal(uv_loop_close(&loop), 0);

	printf("async: %u adds in %llu ms (%u in flight): %u acknowledged, %u indeterminate, "
	       "%u definite failures; leader (member %u) killed after %u acks, the first ack "
	       "from a later term %llu ms later\n",
	       run->submitted, (unsigned long long)took, AS_WINDOW, run->acked, run->indeterminate,
	       run->definite, run->leader + 1, AS_KILL_AFTER,
	       (unsigned long long)(run->first_ack_after_kill_ms - run->kill_ms));
	if (run->definite > 0)
		printf("first definite failure: %s: %s\n", err_name(run->first_definite),
		       run->first_definite_msg);
	printf("the burst at the kill: %u adds, %u indeterminate\n", AS_SHORT,
	       run->short_indeterminate);
	assert_int_equal(run->ended, AS_ADDS + AS_SHORT);
	assert_true(run->killed);
	assert_true(run->first_ack_after_kill_ms > run->kill_ms);
	assert_true(run->acked > AS_KILL_AFTER);

	/* Exactly-once, checked against the store through a blocking handle. */
	struct berth *b = cluster_client(c, (run->leader + 1) % c->n, 10000);
	assert_non_null(b);
	int64_t ctr = integ_int(b, "as/ctr", false);
	printf("counter %lld: acknowledged %u, + indeterminate %u\n", (long long)ctr, run->acked,
	       run->indeterminate);
	assert_true(ctr >= (int64_t)run->acked);
	assert_true(ctr <= (int64_t)(run->acked + run->indeterminate));
	struct berth_range rg = {.key = "as/w/", .klen = 5, .prefix = true};
	struct berth_result r = {0};
	assert_int_equal(berth_range(b, &rg, &r), 0);
	const struct reply_op *op = &r.resp.reply.ops[0];
	assert_int_equal(op->count, (uint64_t)ctr); /* no add applied twice */
	bool *seen = calloc(AS_ADDS + AS_SHORT, sizeof(*seen));
	assert_non_null(seen);
	for (uint32_t k = 0; k < op->nkvs; k++) {
		unsigned i = integ_key_number(op->kvs[k].key, "as/w/", AS_ADDS + AS_SHORT);
		assert_true(run->adds[i].outcome == AS_ACKED ||
			    run->adds[i].outcome == AS_INDETERMINATE); /* definite: never applied */
		seen[i] = true;
	}
	/* Every acknowledged add is there, and their answers are distinct counter values. */
	bool *value_seen = calloc((size_t)ctr + 1, sizeof(*value_seen));
	assert_non_null(value_seen);
	for (unsigned i = 0; i < AS_ADDS + AS_SHORT; i++) {
		if (run->adds[i].outcome != AS_ACKED)
			continue;
		assert_true(seen[i]);
		int64_t v = run->adds[i].value;
		assert_true(v >= 1 && v <= ctr);
		assert_false(value_seen[v]);
		value_seen[v] = true;
	}
	free(value_seen);
	free(seen);
	berth_result_free(&r);
	berth_close(b);
	assert_int_equal(cluster_restart(c, run->leader), 0);
	free(run);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_async_adds_leader_kill, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
