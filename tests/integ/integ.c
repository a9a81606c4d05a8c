/* tests/integ/integ.c: the integration tests' cmocka fixture and checked puts and gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/integ/integ.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The fixture of the test running now, for the signal handler below. */
static struct integ *integ_current;

/* tests/run-unit stops a test that runs too long with SIGTERM (timeout(1)), and a person
 * with Ctrl-C: the members die with the test (PR_SET_PDEATHSIG) but the folder would stay.
 * The handler stops and removes everything, then exits. cluster_close is not
 * async-signal-safe (it frees, reads directories and prints); deliberately so: the
 * process ends right after, and leaving nothing behind matters more here. */
static void integ_signal(int sig)
{
	if (integ_current != NULL)
		cluster_close(&integ_current->c, false);
	signal(sig, SIG_DFL);
	raise(sig);
}

int integ_setup(void **state)
{
	struct integ *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	*state = f;
	integ_current = f;
	signal(SIGTERM, integ_signal);
	signal(SIGINT, integ_signal);
	return 0;
}

int integ_teardown(void **state)
{
	struct integ *f = *state;
	integ_current = NULL;
	if (!f->passed && f->c.root[0] != 0)
		printf("test failed: the members' logs follow (folder %s)\n", f->c.root);
	cluster_close(&f->c, !f->passed);
	free(f);
	return 0;
}

void integ_start(struct integ *f, unsigned n, const char *const *extra, unsigned *leader)
{
	const char *args[CLUSTER_MAX_ARGS + 1] = {INTEG_ELECTION_ARGS};
	unsigned k = 4, l;
	for (unsigned i = 0; extra != NULL && extra[i] != NULL && k < CLUSTER_MAX_ARGS; i++)
		args[k++] = extra[i];
	args[k] = NULL;
	assert_int_equal(cluster_start(&f->c, n, args), 0);
	assert_int_equal(cluster_wait_leader(&f->c, INTEG_LEADER_WAIT_MS, &l, NULL), 0);
	if (leader != NULL)
		*leader = l;
}

void integ_finish(struct integ *f)
{
	bool running[CLUSTER_MAX];
	for (unsigned i = 0; i < f->c.n; i++)
		running[i] = cluster_alive(&f->c, i);
	assert_int_equal(cluster_stop_all(&f->c, 10000), 0);
	for (unsigned i = 0; i < f->c.n; i++) {
		int st = f->c.m[i].last_status;
		if (!running[i])
			continue;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			printf("member %u: waitpid status 0x%x after SIGTERM\n", i + 1, st);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(cluster_sanitizer_reports(&f->c), 0);
	f->passed = true;
}

uint64_t integ_put(struct berth *b, const char *key, const char *value)
{
	struct berth_result r = {0};
	int rv = berth_put(b, key, strlen(key), value, strlen(value), 0, &r);
	if (rv != 0)
		printf("put %s: %s: %s\n", key, err_name(rv), berth_errmsg(b));
	assert_int_equal(rv, 0);
	assert_true(r.has_resp && r.resp.has_reply);
	uint64_t rev = r.resp.reply.rev;
	assert_true(rev > 0);
	berth_result_free(&r);
	return rev;
}

uint64_t integ_expect(struct berth *b, const char *key, const char *value, bool serializable)
{
	struct berth_result r = {0};
	int rv = berth_get(b, key, strlen(key), 0, serializable, &r);
	if (rv != 0)
		printf("get %s: %s: %s\n", key, err_name(rv), berth_errmsg(b));
	assert_int_equal(rv, 0);
	const struct reply_kv *kv = berth_result_kv(&r);
	if (value == NULL) {
		assert_null(kv);
	} else {
		assert_non_null(kv);
		assert_int_equal(kv->value.n, strlen(value));
		assert_memory_equal(kv->value.p, value, kv->value.n);
	}
	uint64_t member = r.resp.hdr.member;
	berth_result_free(&r);
	return member;
}

int64_t integ_int(struct berth *b, const char *key, bool serializable)
{
	struct berth_result r = {0};
	int64_t v;
	int rv = berth_get(b, key, strlen(key), 0, serializable, &r);
	if (rv != 0)
		printf("get %s: %s: %s\n", key, err_name(rv), berth_errmsg(b));
	assert_int_equal(rv, 0);
	const struct reply_kv *kv = berth_result_kv(&r);
	assert_non_null(kv);
	assert_int_equal(mp_value_int(kv->value.p, kv->value.n, &v), 0);
	berth_result_free(&r);
	return v;
}

unsigned integ_key_number(struct bytes key, const char *prefix, unsigned limit)
{
	size_t n = strlen(prefix);
	unsigned long i = 0;
	assert_true(key.n > n && key.n - n <= 9);
	assert_memory_equal(key.p, prefix, n);
	for (size_t k = n; k < key.n; k++) {
		assert_true(key.p[k] >= '0' && key.p[k] <= '9');
		i = i * 10 + (unsigned long)(key.p[k] - '0');
	}
	assert_true(i < limit);
	return (unsigned)i;
}
