/* tests/unit/test_jepsen_history.c: history.jsonl written by threads and read back, every
 * kind of bad line refused with its message, the limits, and the pairing of operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "jepsen/history.h"
#include "tests/unit/jhist.h"
#include "tests/unit/support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmpdir;
static char path[4096];

static int setup(void **state)
{
	(void)state;
	tmpdir = support_tmpdir();
	snprintf(path, sizeof(path), "%s/history.jsonl", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	support_rmrf(tmpdir);
	free(tmpdir);
	return 0;
}

static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

enum { THREADS = 4, PER_THREAD = 500 };

struct worker {
	struct hist_writer *w;
	int process;
};

static void *client(void *arg)
{
	struct worker *c = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		json_t *v = json_integer(c->process * 100000 + i);
		uint64_t a = hist_append(c->w, c->process, HIST_INVOKE, "write", "k", v);
		uint64_t b =
			hist_append(c->w, c->process, i % 3 ? HIST_OK : HIST_INFO, "write", "k", v);
		json_decref(v);
		if (a == HIST_NOINDEX || b <= a)
			return "bad index";
	}
	return NULL;
}

/* Four threads write at once; the file reads back whole, in order, and pairs. */
static void test_jepsen_history_threads(void **state)
{
	char err[256];
	struct worker c[THREADS];
	pthread_t t[THREADS];
	(void)state;
	struct hist_writer *w = hist_open(path, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(hist_append(w, HIST_NEMESIS, HIST_INFO, "start", NULL, NULL), 0);
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct worker){w, i};
		assert_int_equal(pthread_create(&t[i], NULL, client, &c[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *rv;
		assert_int_equal(pthread_join(t[i], &rv), 0);
		assert_null(rv);
	}
	json_t *obj = json_pack("{s:[i,n],s:s}", "a", 1, "b", "é");
	assert_int_equal(hist_append(w, 7, HIST_INVOKE, "cas", "k\"ey", obj),
			 1 + 2 * THREADS * PER_THREAD);
	json_decref(obj);
	assert_true(hist_now(w) > 0);
	assert_int_equal(hist_close(w, err, sizeof(err)), 0);

	struct history h;
	assert_int_equal(hist_load(path, &h, err, sizeof(err)), 0);
	assert_int_equal(h.n, 2 + 2 * THREADS * PER_THREAD);
	for (size_t i = 0; i < h.n; i++) {
		assert_int_equal(h.ev[i].index, i);
		if (i > 0)
			assert_true(h.ev[i].time >= h.ev[i - 1].time);
	}
	assert_int_equal(h.ev[0].process, HIST_NEMESIS);
	assert_null(h.ev[0].key);
	assert_true(json_is_null(h.ev[0].value));
	const struct hist_event *last = &h.ev[h.n - 1];
	assert_string_equal(last->f, "cas");
	assert_string_equal(last->key, "k\"ey");
	assert_int_equal(last->type, HIST_INVOKE);
	assert_string_equal(json_string_value(json_object_get(last->value, "b")), "é");

	struct hist_op *ops;
	size_t n;
	assert_int_equal(hist_pair(&h, &ops, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1 + THREADS * PER_THREAD); /* the last cas: never completed */
	size_t info = 0;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].complete != NULL) {
			assert_int_equal(ops[i].complete->process, ops[i].invoke->process);
			assert_true(json_equal(ops[i].complete->value, ops[i].invoke->value));
		}
		info += ops[i].type == HIST_INFO;
	}
	/* i % 3 == 0 completed info (167 a thread), and the cas never completed. */
	assert_int_equal(info, THREADS * 167 + 1);
	free(ops);
	hist_free(&h);
	assert_int_equal(h.n, 0);
}

/* Bad arguments to the writer: no line, HIST_NOINDEX, the error kept for hist_close. */
static void test_jepsen_history_writer_errors(void **state)
{
	char err[256];
	(void)state;
	assert_null(hist_open("/nonexistent-dir/h.jsonl", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/h.jsonl: No such file"));
	struct hist_writer *w = hist_open(path, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(hist_append(w, 0, HIST_INVOKE, "read", NULL, NULL), 0);
	assert_int_equal(hist_append(w, -2, HIST_INVOKE, "read", NULL, NULL), HIST_NOINDEX);
	assert_int_equal(hist_append(w, 0, HIST_INVOKE, "", NULL, NULL), HIST_NOINDEX);
	assert_int_equal(hist_append(w, 0, HIST_INVOKE, "a-name-of-24-bytes-long!", NULL, NULL),
			 HIST_NOINDEX);
	assert_int_equal(hist_append(w, 0, HIST_OK, "read", NULL, NULL), 1);
	assert_int_equal(hist_close(w, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "hist_append: bad process, type or f");
	struct history h;
	assert_int_equal(hist_load(path, &h, err, sizeof(err)), 0);
	assert_int_equal(h.n, 2); /* nothing written by the refused calls */
	hist_free(&h);
}

/* Every kind of bad line: refused with "line N: ..." and nothing loaded. */
static void test_jepsen_history_bad_lines(void **state)
{
	static const char good[] = "{\"index\":0,\"time\":5,\"process\":0,\"type\":\"invoke\","
				   "\"f\":\"read\",\"key\":\"k\"}\n";
	static const struct {
		const char *line, *msg;
	} cases[] = {
		{"not json", "line 2: not JSON: "},
		{"[1,2]", "line 2: not a JSON object"},
		{"{\"index\":1,\"index\":2}", "line 2: not JSON: duplicate object key"},
		{"", "line 2: empty line"},
		{"{\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"read\"}",
		 "line 2: \"index\" missing"},
		{"{\"index\":-1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"index\" must be a non-negative integer"},
		{"{\"index\":1.5,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"index\" must be a non-negative integer"},
		{"{\"index\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"time\" missing"},
		{"{\"index\":1,\"time\":\"x\",\"process\":0,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"time\" must be a non-negative integer"},
		{"{\"index\":1,\"time\":1,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"process\" missing"},
		{"{\"index\":1,\"time\":1,\"process\":\"client\",\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"process\" must be an integer from 0"},
		{"{\"index\":1,\"time\":1,\"process\":-1,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"process\" must be an integer from 0"},
		{"{\"index\":1,\"time\":1,\"process\":1048577,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: \"process\" must be an integer from 0"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"f\":\"r\"}", "line 2: \"type\" missing"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"done\",\"f\":\"r\"}",
		 "line 2: \"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\""},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":3,\"f\":\"r\"}",
		 "line 2: \"type\" must be"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\"}", "line 2: \"f\" missing"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"\"}",
		 "line 2: \"f\" must be a string of 1 to 23 bytes"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"abcdefghijklmnopqrstuvwx\"}",
		 "line 2: \"f\" must be a string of 1 to 23 bytes"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\",\"key\":5}",
		 "line 2: \"key\" must be a string"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\",\"key\":\"a\\u0000b\"}",
		 "line 2: not JSON: "},
		{"{\"index\":0,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\"}",
		 "line 2: index 0 not greater than the previous 0"},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\"",
		 "line 2: not JSON: "},
		{"{\"index\":1,\"time\":1,\"process\":0,\"type\":\"ok\",\"f\":\"r\"} x",
		 "line 2: not JSON: "},
		{"{\"index\":99999999999999999999,\"time\":1}", "line 2: not JSON: "},
	};
	char text[1024], err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(text, sizeof(text), "%s%s\n%s", good, cases[i].line, good);
		write_file(text, (size_t)n);
		struct history h = {(void *)1, 1, 1}; /* overwritten */
		int rv = hist_load(path, &h, err, sizeof(err));
		if (rv != BERTH_EBADREQ || strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("case %zu: %d \"%s\", want \"%s\"", i, rv, err, cases[i].msg);
		assert_int_equal(h.n, 0);
		assert_null(h.ev);
	}
	/* A NUL byte in a line. */
	write_file("{\"index\":0,\0}\n", 14);
	struct history h;
	assert_int_equal(hist_load(path, &h, err, sizeof(err)), BERTH_EBADREQ);
	assert_non_null(strstr(err, "line 1: not JSON"));
	/* The last line without its newline is read; a missing file is an I/O error. */
	write_file(good, sizeof(good) - 2);
	assert_int_equal(hist_load(path, &h, err, sizeof(err)), 0);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ev[0].key, "k");
	hist_free(&h);
	assert_int_equal(hist_load("/nonexistent-file", &h, err, sizeof(err)), BERTH_EIO);
	assert_int_equal(hist_load(tmpdir, &h, err, sizeof(err)), BERTH_EBADREQ);
	assert_non_null(strstr(err, "not a regular file"));
}

/* A line over the limit, and a file over the limit (sparse: nothing is written). */
static void test_jepsen_history_limits(void **state)
{
	char err[256];
	struct history h;
	(void)state;
	size_t len = HIST_MAX_LINE_BYTES + 10;
	char *big = malloc(len);
	assert_non_null(big);
	memset(big, ' ', len);
	big[len - 1] = '\n';
	write_file(big, len);
	free(big);
	assert_int_equal(hist_load(path, &h, err, sizeof(err)), BERTH_ETOOLARGE);
	assert_non_null(strstr(err, "line 1: longer than 16777216 bytes"));
	assert_int_equal(truncate(path, (off_t)HIST_MAX_FILE_BYTES + 1), 0);
	assert_int_equal(hist_load(path, &h, err, sizeof(err)), BERTH_ETOOLARGE);
	assert_non_null(strstr(err, "file larger than 536870912 bytes"));
	assert_int_equal(h.n, 0);
	unlink(path);
}

static void expect_pair_error(const char *spec, const char *msg)
{
	struct history h = {0};
	struct hist_op *ops = NULL;
	size_t n = 0;
	char err[256] = "";
	jhist_parse(&h, spec);
	assert_int_equal(hist_pair(&h, &ops, &n, err, sizeof(err)), BERTH_EBADREQ);
	if (strstr(err, msg) == NULL)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", spec, err, msg);
	hist_free(&h);
}

static void test_jepsen_history_pairing(void **state)
{
	struct history h = {0};
	struct hist_op *ops;
	size_t n;
	char err[256];
	(void)state;
	jhist_parse(&h, "0 invoke write 1; 1 invoke read; n info kill; 1 ok read 1; 0 info write;"
			"0 invoke read; 1 invoke cas [1,2]; 1 fail cas [1,2]");
	assert_int_equal(hist_pair(&h, &ops, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ops[0].invoke->index, 0);
	assert_int_equal(ops[0].complete->index, 4);
	assert_int_equal(ops[0].type, HIST_INFO);
	assert_int_equal(ops[1].complete->index, 3);
	assert_int_equal(ops[1].type, HIST_OK);
	assert_null(ops[2].complete); /* never completed: info */
	assert_int_equal(ops[2].type, HIST_INFO);
	assert_int_equal(ops[3].type, HIST_FAIL);
	free(ops);
	hist_free(&h);
	/* The empty history. */
	assert_int_equal(hist_pair(&h, &ops, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(ops);
	/* A completion without its key is the invocation's. */
	jhist_parse(&h, "0 invoke write@a 1");
	jhist_add(&h, 0, HIST_OK, "write", NULL, NULL);
	assert_int_equal(hist_pair(&h, &ops, &n, err, sizeof(err)), 0);
	free(ops);
	hist_free(&h);
	expect_pair_error("0 ok read 1", "index 0: ok of process 0 without an invocation");
	expect_pair_error("0 invoke read; 0 ok read; 0 fail read",
			  "index 2: fail of process 0 without an invocation");
	expect_pair_error("0 invoke read; 0 invoke read", "index 1: process 0 invokes while its "
							  "operation at index 0 is pending");
	expect_pair_error("0 invoke read; 0 ok write", "index 1: completion (f \"write\") does "
						       "not match its invocation at index 0");
	expect_pair_error("0 invoke read@a; 0 ok read@b", "does not match");
}

/* hist_add's own checks (the loader relies on them). */
static void test_jepsen_history_add(void **state)
{
	struct history h = {0};
	char err[256];
	struct hist_event ev = {.index = 5, .process = 0, .f = "read"};
	(void)state;
	assert_int_equal(hist_add(&h, &ev, err, sizeof(err)), 0);
	assert_true(json_is_null(h.ev[0].value));
	assert_int_equal(hist_add(&h, &ev, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "index 5 not greater than the previous 5");
	ev.index = 6;
	ev.process = -2;
	assert_int_equal(hist_add(&h, &ev, err, sizeof(err)), BERTH_EBADREQ);
	ev.process = 0;
	ev.f[0] = '\0';
	assert_int_equal(hist_add(&h, &ev, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "f must be 1 to 23 bytes");
	assert_int_equal(h.n, 1);
	json_t *j = hist_event_json(&h.ev[0]);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"index\":5,\"time\":0,\"process\":0,\"type\":\"invoke\","
			       "\"f\":\"read\",\"value\":null}");
	free(s);
	json_decref(j);
	hist_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jepsen_history_threads),
		cmocka_unit_test(test_jepsen_history_writer_errors),
		cmocka_unit_test(test_jepsen_history_bad_lines),
		cmocka_unit_test(test_jepsen_history_limits),
		cmocka_unit_test(test_jepsen_history_pairing),
		cmocka_unit_test(test_jepsen_history_add),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
