/* tests/unit/test_worker_cache.c: the worker's cache (worker/cache.c): records and
 * counters by key, updates older than what it holds ignored (a failure branch's read and
 * the watch may come in any order), hooks, refused records and foreign keys ignored; its
 * string map (worker/wmap.c); and berth-worker's options (worker/wconfig.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "worker/cache.h"
#include "worker/wconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	unsigned tasks, removed, capacity, lost, services, freed, used;
	int64_t used_rev;
};

static void h_task(struct cache *c, struct cache_task *t, bool removed, void *data)
{
	struct seen *s = data;
	(void)c;
	(void)t;
	s->tasks++;
	s->removed += removed;
}
static void h_capacity(struct cache *c, void *data)
{
	(void)c;
	((struct seen *)data)->capacity++;
}
static void h_lost(struct cache *c, struct cache_inst *in, void *data)
{
	(void)c;
	(void)in;
	((struct seen *)data)->lost++;
}
static void h_service(struct cache *c, struct cache_svc *s, void *data)
{
	(void)c;
	(void)s;
	((struct seen *)data)->services++;
}
static void h_free(struct cache *c, struct cache_task *t, void *data)
{
	(void)c;
	(void)t;
	((struct seen *)data)->freed++;
}

static void h_used(struct cache *c, struct cache_inst *in, int64_t rev, void *data)
{
	struct seen *s = data;
	(void)c;
	(void)in;
	s->used++;
	s->used_rev = rev;
}

/* Applies key = value (len bytes; NULL: a delete) at mod_rev. */
static int apply(struct cache *c, const char *key, const void *value, size_t len, int64_t rev)
{
	struct reply_kv kv = {{(const uint8_t *)key, strlen(key)}, {value, len}, 1, rev, 1, 0};
	return cache_apply(c, value != NULL ? MSG_OP_PUT : MSG_OP_DEL, &kv);
}

static int apply_int(struct cache *c, const char *key, int64_t v, int64_t rev)
{
	uint8_t buf[9];
	size_t n = mp_int_encode(v, buf);
	return apply(c, key, buf, n, rev);
}

static void put_instance(struct cache *c, const char *cluster, const char *iid, uint32_t cpu,
			 int64_t rev)
{
	char err[256], key[MODEL_KEY_MAX];
	struct model_pair attr = {(char *)"zone", (char *)"a"};
	struct model_instance in = {(char *)iid, (char *)cluster,       cpu, 100, NULL, 0, &attr,
				    1,           MODEL_INSTANCE_ACTIVE, 1,   1};
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(model_instance_encode(&in, &out, err, sizeof(err)), 0);
	assert_int_equal(model_key_instance(key, "cl", iid), 0);
	assert_int_equal(apply(c, key, out.data, out.len, rev), 0);
	mp_buf_close(&out);
}

static void put_task(struct cache *c, const char *tid, enum model_task_status st, int64_t rev)
{
	char err[256], key[MODEL_KEY_MAX];
	struct model_task t = {0};
	t.id = (char *)tid;
	t.cluster = (char *)"cl";
	t.family = (char *)"web";
	t.revision = 1;
	t.memory = 1;
	t.group = (char *)"family:web";
	t.desired_status = MODEL_TASK_RUNNING;
	t.last_status = st;
	t.instance = st == MODEL_TASK_PROVISIONING ? NULL : (char *)"i-1";
	struct mp_buf out;
	mp_buf_init(&out);
	assert_int_equal(model_task_encode(&t, &out, err, sizeof(err)), 0);
	assert_int_equal(model_key_task(key, "cl", tid), 0);
	assert_int_equal(apply(c, key, out.data, out.len, rev), 0);
	mp_buf_close(&out);
}

static void test_worker_cache_tables(void **state)
{
	struct seen s = {0};
	struct cache_hooks hooks = {h_task, h_capacity, h_lost, h_service, h_free, &s, h_used};
	struct cache c;
	(void)state;
	assert_int_equal(cache_init(&c, "bad/name", &hooks), BERTH_EBADREQ);
	assert_int_equal(cache_init(&c, "cl", &hooks), 0);
	put_instance(&c, "cl", "i-1", 1000, 10);
	assert_int_equal(s.capacity, 1);
	struct cache_inst *in = cache_inst(&c, "i-1");
	assert_non_null(in);
	assert_true(in->has_rec);
	assert_false(in->alive);
	assert_string_equal(in->attrs[0].name, "zone");
	assert_int_equal(apply(&c, "/berth/c/cl/alive/i-1", "", 0, 11), 0);
	assert_true(in->alive);
	/* Counters: newer values win, older ones are ignored, a decrease may make room. */
	assert_int_equal(apply_int(&c, "/berth/c/cl/alloc/i-1/cpu", 300, 20), 0);
	assert_int_equal(apply_int(&c, "/berth/c/cl/alloc/i-1/cpu", 100, 15), 0);
	assert_int_equal(in->cpu_used, 300);
	assert_int_equal(in->cpu_rev, 20);
	assert_int_equal(s.used, 1); /* usage went up (the ignored older value is not told) */
	assert_int_equal(s.used_rev, 20);
	unsigned cap = s.capacity;
	assert_int_equal(apply_int(&c, "/berth/c/cl/alloc/i-1/cpu", 200, 21), 0);
	assert_int_equal(s.capacity, cap + 1);
	assert_int_equal(s.used, 1); /* down: capacity, not used */
	assert_int_equal(apply(&c, "/berth/c/cl/alloc/i-1/cpu", NULL, 0, 22), 0);
	assert_int_equal(in->cpu_used, 0);
	/* A counter that is not an integer reads 0 and is counted as bad. */
	assert_int_equal(apply(&c, "/berth/c/cl/alloc/i-1/mem", "\xc1", 1, 23), 0);
	assert_int_equal(in->mem_used, 0);
	assert_int_equal(c.bad, 1);
	/* Ports, placed keys, group counters. */
	assert_int_equal(apply(&c, "/berth/c/cl/alloc/i-1/port/80", "t1", 2, 24), 0);
	assert_non_null(wmap_get(&in->ports, "80"));
	assert_int_equal(apply(&c, "/berth/c/cl/alloc/i-1/port/80", NULL, 0, 25), 0);
	assert_null(wmap_get(&in->ports, "80"));
	assert_int_equal(apply(&c, "/berth/c/cl/placed/i-1/t1", "", 0, 26), 0);
	assert_int_equal(in->nplaced, 1);
	assert_int_equal(apply_int(&c, "/berth/c/cl/group/family:web/i-1", 2, 27), 0);
	assert_int_equal(cache_group(&c, "family:web", "i-1"), 2);
	assert_int_equal(cache_group(&c, "family:web", "i-2"), 0);
	/* Tasks. */
	put_task(&c, "t1", MODEL_TASK_PROVISIONING, 30);
	put_task(&c, "t1", MODEL_TASK_PENDING, 32);
	put_task(&c, "t1", MODEL_TASK_PROVISIONING, 31); /* older: ignored */
	assert_int_equal(s.tasks, 2);
	assert_int_equal(cache_task(&c, "t1")->rec.last_status, MODEL_TASK_PENDING);
	/* A record that does not decode is absent; one whose id is another key's too. */
	assert_int_equal(apply(&c, "/berth/c/cl/tasks/t1", "\x81", 1, 33), 0);
	assert_null(cache_task(&c, "t1"));
	assert_int_equal(s.removed, 1);
	assert_int_equal(s.freed, 1);
	put_instance(&c, "cl", "i-9", 1000, 34); /* stored under i-9's key, id i-9 */
	assert_true(cache_inst(&c, "i-9")->has_rec);
	put_instance(&c, "other", "i-9", 1000, 35); /* another cluster's record here */
	assert_false(cache_inst(&c, "i-9")->has_rec);
	assert_int_equal(c.bad, 3);
	/* Foreign keys and other clusters are ignored. */
	assert_int_equal(apply(&c, "/berth/c/other/alive/i-1", "", 0, 36), 0);
	assert_int_equal(apply(&c, "/elsewhere", "", 0, 37), 0);
	assert_int_equal(apply(&c, "/berth/c/cl/nonsense/x", "", 0, 38), 0);
	/* Losing the alive key calls the lost hook once. */
	assert_int_equal(apply(&c, "/berth/c/cl/alive/i-1", NULL, 0, 40), 0);
	assert_int_equal(apply(&c, "/berth/c/cl/alive/i-1", "", 0, 39), 0); /* older */
	assert_false(in->alive);
	assert_int_equal(s.lost, 1);
	put_task(&c, "t2", MODEL_TASK_PROVISIONING, 41);
	cache_reset(&c);
	assert_int_equal(s.freed, 2);
	assert_null(cache_inst(&c, "i-1"));
	cache_close(&c);
}

static void test_worker_wmap(void **state)
{
	struct wmap m;
	char k[32];
	(void)state;
	wmap_init(&m);
	assert_null(wmap_get(&m, "a"));
	assert_null(wmap_del(&m, "a"));
	for (uintptr_t i = 1; i <= 1000; i++) {
		snprintf(k, sizeof(k), "k%lu", (unsigned long)i);
		assert_int_equal(wmap_put(&m, k, (void *)i), 0);
	}
	assert_int_equal(m.n, 1000);
	for (uintptr_t i = 1; i <= 1000; i += 2) {
		snprintf(k, sizeof(k), "k%lu", (unsigned long)i);
		assert_ptr_equal(wmap_del(&m, k), (void *)i);
	}
	assert_int_equal(wmap_put(&m, "k2", (void *)7), 0); /* replaces */
	assert_int_equal(m.n, 500);
	uintptr_t sum = 0;
	const char *key;
	void *v;
	size_t n = 0;
	for (size_t i = 0; (i = wmap_next(&m, i, &key, &v)) != 0; n++)
		sum += (uintptr_t)v;
	assert_int_equal(n, 500);
	assert_int_equal(sum, 500 * 501 - 2 + 7); /* 2 + 4 + ... + 1000, with k2 = 7 */
	for (size_t i = 0; (i = wmap_next(&m, i, &key, &v)) != 0;)
		wmap_del(&m, key);
	assert_int_equal(m.n, 0);
	wmap_close(&m);
}

static enum wconfig_result parse(struct wconfig *c, const char *const *args, char *err)
{
	char *argv[16];
	int argc = 0;
	argv[argc++] = (char *)"berth-worker";
	for (; args[argc - 1] != NULL; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;
	return wconfig_parse(c, argc, argv, err, 256);
}

static void test_worker_options(void **state)
{
	static struct wconfig c;
	char err[256];
	(void)state;
	unsetenv("BERTH_ENDPOINTS");
	assert_int_equal(parse(&c, (const char *[]){NULL}, err), WCONFIG_ERROR);
	assert_string_equal(err, "--endpoints (or BERTH_ENDPOINTS) is required");
	assert_int_equal(parse(&c, (const char *[]){"--help", NULL}, err), WCONFIG_HELP);
	assert_int_equal(parse(&c, (const char *[]){"--endpoints", "a:1,b:2", NULL}, err),
			 WCONFIG_OK);
	assert_int_equal(c.neps, 2);
	assert_string_equal(c.eps[1], "b:2");
	assert_string_equal(c.cluster, "default");
	assert_false(c.coarse);
	assert_false(c.group);
	assert_int_equal(c.max_retries, 8);
	setenv("BERTH_ENDPOINTS", "h:9", 1);
	assert_int_equal(parse(&c,
			       (const char *[]){"--conflict", "coarse", "--commit", "group",
						"--max-retries", "0", "--seed", "42", NULL},
			       err),
			 WCONFIG_OK);
	unsetenv("BERTH_ENDPOINTS");
	assert_string_equal(c.eps[0], "h:9");
	assert_true(c.coarse);
	assert_true(c.group);
	assert_int_equal(c.seed, 42);
	struct {
		const char *args[5];
		const char *err;
	} bad[] = {
		{{"--endpoints", "nohost", NULL}, "--endpoints: 'nohost' is not host:port"},
		{{"--endpoints", "h:0", NULL}, "--endpoints: 'h:0' is not host:port"},
		{{"--endpoints", "h:1", "--conflict", "x", NULL},
		 "--conflict: 'x' is not fine or coarse"},
		{{"--endpoints", "h:1", "--commit", "all", NULL},
		 "--commit: 'all' is not incremental or group"},
		{{"--endpoints", "h:1", "--max-retries", "1001", NULL},
		 "--max-retries: '1001' is not a number in 0..1000"},
		{{"--endpoints", "h:1", "--cluster", "a b", NULL},
		 "--cluster: 'a b': must contain only letters, digits, '-' and '_'"},
		{{"--endpoints", "h:1", "--log-level", "loud", NULL},
		 "--log-level (or BERTH_LOG_LEVEL): 'loud' is not error, warn, info or debug"},
		{{"--endpoints", "h:1", "extra", NULL}, "unexpected argument 'extra'"},
		{{"--bogus", NULL}, "unknown option: '--bogus'"},
		{{"--seed", NULL}, "missing value for option: '--seed'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, bad[i].args, err), WCONFIG_ERROR);
		assert_string_equal(err, bad[i].err);
	}
}

/* The group counter's key is what snprintf("%s\x01%s") would write, cut the same way. */
static void test_worker_group_key(void **state)
{
	(void)state;
	static char group[MODEL_KEY_MAX + 64], iid[MODEL_KEY_MAX + 64];
	const size_t lens[] = {0,
			       1,
			       7,
			       500,
			       MODEL_KEY_MAX - 3,
			       MODEL_KEY_MAX - 2,
			       MODEL_KEY_MAX - 1,
			       MODEL_KEY_MAX,
			       MODEL_KEY_MAX + 40};
	for (size_t a = 0; a < sizeof(lens) / sizeof(lens[0]); a++)
		for (size_t b = 0; b < sizeof(lens) / sizeof(lens[0]); b++) {
			memset(group, 'g', lens[a]);
			group[lens[a]] = '\0';
			memset(iid, 'i', lens[b]);
			iid[lens[b]] = '\0';
			char want[3 * MODEL_KEY_MAX], got[MODEL_KEY_MAX];
			memset(got, 'x', sizeof(got));
			snprintf(want, sizeof(want), "%s\x01%s", group, iid);
			want[MODEL_KEY_MAX - 1] = '\0'; /* where snprintf into MODEL_KEY_MAX cuts */
			cache_group_key(got, group, iid);
			assert_string_equal(got, want);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_cache_tables),
		cmocka_unit_test(test_worker_wmap),
		cmocka_unit_test(test_worker_options),
		cmocka_unit_test(test_worker_group_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
