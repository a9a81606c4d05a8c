/* tests/integ/test_bench_kv.c: `berth-bench kv` as the program against three real
 * members, in the shapes of etcd's benchmark table: 300 clients on 30 connections put
 * (more clients than the threads driver allows and than one byte of the key could tell
 * apart: every client's own key is there afterwards), linearizable reads, CAS on distinct
 * keys twice (the second run starts from the versions the first left) and on a hot key, with the JSON and the row the comparison with etcd reads (tools/bench-compare);
 * bad command lines exit 2 with a message naming the option and write nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/child.h"
#include "tests/integ/integ.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char t_eps[256];

/* Runs berth-bench kv with args (NULL-terminated) into log, asserts its exit status (the
 * log printed when it differs) and returns the log's text (static buffer). */
static const char *t_kv(struct integ *f, const char *log, const char *const *args, int want)
{
	static char buf[16384];
	const char *bin = getenv("BERTH_BENCH_BIN");
	char *argv[40];
	unsigned k = 0;
	argv[k++] = (char *)(bin != NULL ? bin : "build/berth-bench");
	argv[k++] = "kv";
	argv[k++] = "--endpoints";
	argv[k++] = t_eps;
	for (unsigned i = 0; args[i] != NULL && k < 39; i++)
		argv[k++] = (char *)args[i];
	argv[k] = NULL;
	char path[CHILD_PATH_BYTES];
	snprintf(path, sizeof(path), "%s/%s", f->c.root, log);
	assert_int_equal(child_run(path, argv, 120000, want), 0);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static uint64_t t_u64(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_integer(v))
		fail_msg("\"%s\": not an integer", name);
	return (uint64_t)json_integer_value(v);
}

static double t_num(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_number(v))
		fail_msg("\"%s\": not a number", name);
	return json_number_value(v);
}

/* The report of a run with --json: its case, shape, counts and ordered percentiles. */
static json_t *t_report(const char *out, const char *kcase, uint64_t clients, uint64_t conns,
			uint64_t requests)
{
	json_error_t jerr;
	json_t *o = json_loads(out, JSON_DISABLE_EOF_CHECK, &jerr);
	if (o == NULL)
		fail_msg("not JSON (%s): %s", jerr.text, out);
	assert_string_equal(json_string_value(json_object_get(o, "case")), kcase);
	assert_int_equal(t_u64(o, "clients"), clients);
	assert_int_equal(t_u64(o, "conns"), conns);
	assert_int_equal(t_u64(o, "requests"), requests);
	assert_int_equal(json_object_size(json_object_get(o, "errors")), 0);
	double p50 = t_num(o, "p50_us"), p90 = t_num(o, "p90_us"), p99 = t_num(o, "p99_us");
	assert_true(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= t_num(o, "max_us"));
	assert_true(t_num(o, "ok_per_s") > 0);
	return o;
}

static void test_bench_kv_run(void **state)
{
	struct integ *f = *state;
	unsigned leader;
	integ_start(f, 3, NULL, &leader);
	snprintf(t_eps, sizeof(t_eps), "%s,%s,%s", f->c.eps[0], f->c.eps[1], f->c.eps[2]);

	/* Bad command lines first, on the empty store: exit 2, a message, nothing written. */
	static const struct {
		const char *args[8];
		const char *msg;
	} bad[] = {
		{{"--clients", "300", NULL}, "more than 256 clients need --conns"},
		{{"--clients", "4001", "--conns", "10", NULL}, "--clients"},
		{{"--clients", "10", "--conns", "11", NULL}, "--conns: at most --clients"},
		{{"--clients", "10", "--conns", "0", NULL}, "--conns"},
		{{"--case", "range", NULL}, "unknown case \"range\""},
		{{"--json", "--row", NULL}, "exclude each other"},
		{{"--key-bytes", "7", NULL}, "--key-bytes"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char log[32];
		snprintf(log, sizeof(log), "bad%zu.log", i);
		const char *out = t_kv(f, log, bad[i].args, 2);
		if (strstr(out, bad[i].msg) == NULL)
			fail_msg("case %zu: no \"%s\" in: %s", i, bad[i].msg, out);
	}
	struct berth *b = cluster_client(&f->c, leader, 5000);
	assert_non_null(b);
	integ_expect(b, "00000000", NULL, false);
	integ_expect(b, "000ffffe", NULL, false); /* put's setup write */

	/* 300 clients on 30 connections, one put each: key 0 of every client. */
	json_t *o =
		t_report(t_kv(f, "put.log",
			      (const char *const[]){"--case", "put", "--clients", "300", "--conns",
						    "30", "--requests", "300", "--json", NULL},
			      0),
			 "put", 300, 30, 300);
	assert_int_equal(t_u64(o, "ok"), 300);
	json_decref(o);
	char key[16], val[257];
	memset(val, 'v', 256);
	val[256] = '\0';
	for (unsigned t = 0; t < 300; t++) {
		snprintf(key, sizeof(key), "%03x%05x", t, 0u);
		integ_expect(b, key, val, false);
	}

	/* Linearizable reads of the keys each client wrote in setup, 260 clients on 20. */
	o = t_report(t_kv(f, "get.log",
			  (const char *const[]){"--case", "get-lin", "--clients", "260", "--conns",
						"20", "--requests", "2600", "--json", NULL},
			  0),
		     "get-lin", 260, 20, 2600);
	assert_int_equal(t_u64(o, "ok"), 2600);
	json_decref(o);

	/* CAS on distinct keys, twice: the second run reads the versions the first left, so
	 * no compare fails (16 requests per client: each is the first on its key). */
	for (int run = 0; run < 2; run++) {
		o = t_report(t_kv(f, run ? "cas2.log" : "cas1.log",
				  (const char *const[]){"--case", "cas-distinct", "--clients", "4",
							"--conns", "2", "--requests", "64",
							"--json", NULL},
				  0),
			     "cas-distinct", 4, 2, 64);
		assert_int_equal(t_u64(o, "ok"), 64);
		assert_int_equal(t_u64(o, "conflicts"), 0);
		json_decref(o);
	}

	/* Every client CASes one key: at most one wins per version, so conflicts show. */
	o = t_report(t_kv(f, "hot.log",
			  (const char *const[]){"--case", "cas-hot", "--clients", "8", "--conns",
						"8", "--requests", "400", "--json", NULL},
			  0),
		     "cas-hot", 8, 8, 400);
	uint64_t ok = t_u64(o, "ok"), conflicts = t_u64(o, "conflicts");
	assert_int_equal(ok + conflicts, 400);
	assert_true(ok > 0 && conflicts > 0);
	json_decref(o);
	struct berth_result r;
	assert_int_equal(berth_get(b, "ffffffff", 8, 0, false, &r), 0);
	assert_non_null(berth_result_kv(&r));
	/* The hot key did not exist before: each success made one version of it. */
	assert_int_equal(berth_result_kv(&r)->version, (int64_t)ok);
	berth_result_free(&r);

	/* The row tools/bench-compare reads: case clients conns ok/s p50 p90 p99 max. */
	const char *row = t_kv(f, "row.log",
			       (const char *const[]){"--case", "get-ser", "--clients", "2",
						     "--requests", "20", "--row", NULL},
			       0);
	char name[16];
	unsigned long long clients, conns;
	double rate, p50, p90, p99, max;
	assert_int_equal(sscanf(row, "%15s %llu %llu %lf %lf %lf %lf %lf", name, &clients, &conns,
				&rate, &p50, &p90, &p99, &max),
			 8);
	assert_string_equal(name, "get-ser");
	assert_int_equal(clients, 2);
	assert_int_equal(conns, 2); /* threads: one connection each */
	assert_true(rate > 0 && p50 <= p99);
	berth_close(b);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bench_kv_run, integ_setup, integ_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
