/* tests/unit/test_model_keys.c: the cluster model's keyspace: every key and prefix built
 * exactly, parsed back, names that would forge a key refused, revisions that sort
 * numerically, malformed keys refused; names and generated ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/model.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void check_parse(const char *key, enum model_key_kind kind, struct model_key *k)
{
	assert_int_equal(model_key_parse(key, strlen(key), k), 0);
	assert_int_equal(k->kind, kind);
}

static void test_model_keys_build_and_parse(void **state)
{
	char key[MODEL_KEY_MAX];
	struct model_key k;
	(void)state;

	assert_int_equal(model_key_family(key, "web"), 0);
	assert_string_equal(key, "/berth/taskdefs/web");
	check_parse(key, MODEL_KEY_FAMILY, &k);
	assert_string_equal(k.family, "web");

	assert_int_equal(model_key_taskdef(key, "web", 42), 0);
	assert_string_equal(key, "/berth/taskdefs/web/0000000042");
	check_parse(key, MODEL_KEY_TASKDEF, &k);
	assert_string_equal(k.family, "web");
	assert_int_equal(k.revision, 42);

	assert_int_equal(model_key_instance(key, "prod", "i-1.a"), 0);
	assert_string_equal(key, "/berth/c/prod/instances/i-1.a");
	check_parse(key, MODEL_KEY_INSTANCE, &k);
	assert_string_equal(k.cluster, "prod");
	assert_string_equal(k.instance, "i-1.a");

	assert_int_equal(model_key_alive(key, "prod", "i-1"), 0);
	assert_string_equal(key, "/berth/c/prod/alive/i-1");
	check_parse(key, MODEL_KEY_ALIVE, &k);
	assert_string_equal(k.instance, "i-1");

	assert_int_equal(model_key_alloc_cpu(key, "prod", "i-1"), 0);
	assert_string_equal(key, "/berth/c/prod/alloc/i-1/cpu");
	check_parse(key, MODEL_KEY_ALLOC_CPU, &k);
	assert_string_equal(k.instance, "i-1");

	assert_int_equal(model_key_alloc_mem(key, "prod", "i-1"), 0);
	assert_string_equal(key, "/berth/c/prod/alloc/i-1/mem");
	check_parse(key, MODEL_KEY_ALLOC_MEM, &k);

	assert_int_equal(model_key_alloc_port(key, "prod", "i-1", 65535), 0);
	assert_string_equal(key, "/berth/c/prod/alloc/i-1/port/65535");
	check_parse(key, MODEL_KEY_ALLOC_PORT, &k);
	assert_int_equal(k.port, 65535);
	assert_string_equal(k.instance, "i-1");

	assert_int_equal(model_key_task(key, "prod", "0123456789abcdef"), 0);
	assert_string_equal(key, "/berth/c/prod/tasks/0123456789abcdef");
	check_parse(key, MODEL_KEY_TASK, &k);
	assert_string_equal(k.task, "0123456789abcdef");

	assert_int_equal(model_key_placed(key, "prod", "i-1", "t1"), 0);
	assert_string_equal(key, "/berth/c/prod/placed/i-1/t1");
	check_parse(key, MODEL_KEY_PLACED, &k);
	assert_string_equal(k.instance, "i-1");
	assert_string_equal(k.task, "t1");

	assert_int_equal(model_key_service(key, "prod", "web_2"), 0);
	assert_string_equal(key, "/berth/c/prod/services/web_2");
	check_parse(key, MODEL_KEY_SERVICE, &k);
	assert_string_equal(k.service, "web_2");

	assert_int_equal(model_key_group(key, "prod", "service:web", "i-1"), 0);
	assert_string_equal(key, "/berth/c/prod/group/service:web/i-1");
	check_parse(key, MODEL_KEY_GROUP, &k);
	assert_string_equal(k.group, "service:web");
	assert_string_equal(k.instance, "i-1");
	assert_int_equal(model_key_group(key, "prod", "family:web", "i-1"), 0);
	assert_string_equal(key, "/berth/c/prod/group/family:web/i-1");

	/* The longest names still make a key under the store's limit. */
	char name[MODEL_NAME_MAX + 1], id[MODEL_ID_MAX + 1], group[MODEL_GROUP_MAX + 1];
	memset(name, 'n', MODEL_NAME_MAX);
	name[MODEL_NAME_MAX] = '\0';
	memset(id, 'i', MODEL_ID_MAX);
	id[MODEL_ID_MAX] = '\0';
	snprintf(group, sizeof(group), "service:%s", name);
	assert_int_equal(model_key_group(key, name, group, id), 0);
	check_parse(key, MODEL_KEY_GROUP, &k);
	assert_string_equal(k.group, group);
	assert_int_equal(model_key_alloc_port(key, name, id, 10000), 0);
	check_parse(key, MODEL_KEY_ALLOC_PORT, &k);
	assert_string_equal(k.cluster, name);
}

/* Revision keys sort as numbers do, so a range over a family lists them in order. */
static void test_model_keys_revisions_sort(void **state)
{
	static const uint32_t revs[] = {1, 2, 9, 10, 99, 100, 12345, 999999999};
	char a[MODEL_KEY_MAX], b[MODEL_KEY_MAX];
	(void)state;
	for (size_t i = 0; i + 1 < ARRAY_LEN(revs); i++) {
		assert_int_equal(model_key_taskdef(a, "f", revs[i]), 0);
		assert_int_equal(model_key_taskdef(b, "f", revs[i + 1]), 0);
		assert_true(strcmp(a, b) < 0);
	}
	assert_int_equal(model_key_taskdef(a, "f", 0), BERTH_EBADREQ);
	assert_int_equal(model_key_taskdef(a, "f", MODEL_REVISION_MAX + 1), BERTH_EBADREQ);
}

/* No name can add a '/' (or anything else) to a key. */
static void test_model_keys_forged_names(void **state)
{
	static const char *const clusters[] = {"", "a/b", "..", "a b", "prod/instances"};
	static const char *const ids[] = {"", "a/b", "../x", ".hidden", "a b", "x\n"};
	char key[MODEL_KEY_MAX], longname[MODEL_NAME_MAX + 2], longid[MODEL_ID_MAX + 2];
	(void)state;
	memset(longname, 'a', MODEL_NAME_MAX + 1);
	longname[MODEL_NAME_MAX + 1] = '\0';
	memset(longid, 'a', MODEL_ID_MAX + 1);
	longid[MODEL_ID_MAX + 1] = '\0';

	for (size_t i = 0; i < ARRAY_LEN(clusters); i++) {
		assert_int_equal(model_key_instance(key, clusters[i], "i"), BERTH_EBADREQ);
		assert_int_equal(model_key_service(key, "c", clusters[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_family(key, clusters[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_taskdef(key, clusters[i], 1), BERTH_EBADREQ);
		assert_int_equal(model_key_prefix(key, MODEL_KEY_TASK, clusters[i], NULL),
				 BERTH_EBADREQ);
	}
	for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
		assert_int_equal(model_key_instance(key, "c", ids[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_alive(key, "c", ids[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_alloc_cpu(key, "c", ids[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_alloc_mem(key, "c", ids[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_alloc_port(key, "c", ids[i], 80), BERTH_EBADREQ);
		assert_int_equal(model_key_task(key, "c", ids[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_placed(key, "c", ids[i], "t"), BERTH_EBADREQ);
		assert_int_equal(model_key_placed(key, "c", "i", ids[i]), BERTH_EBADREQ);
		assert_int_equal(model_key_group(key, "c", "family:f", ids[i]), BERTH_EBADREQ);
	}
	assert_int_equal(model_key_instance(key, longname, "i"), BERTH_EBADREQ);
	assert_int_equal(model_key_instance(key, "c", longid), BERTH_EBADREQ);
	assert_int_equal(model_key_alloc_port(key, "c", "i", 0), BERTH_EBADREQ);
	assert_int_equal(model_key_group(key, "c", "service:a/b", "i"), BERTH_EBADREQ);
	assert_int_equal(model_key_group(key, "c", "task:a", "i"), BERTH_EBADREQ);
	assert_int_equal(model_key_group(key, "c", "service:", "i"), BERTH_EBADREQ);
	assert_int_equal(model_key_instance(key, NULL, "i"), BERTH_EBADREQ);
}

static void test_model_keys_parse_bad(void **state)
{
	static const char *const keys[] = {
		"",
		"/",
		"/berth",
		"/berth/x/y",
		"berth/c/c/instances/i",
		"/berth/taskdefs/",
		"/berth/taskdefs/web/",
		"/berth/taskdefs/web/1",
		"/berth/taskdefs/web/0000000000",
		"/berth/taskdefs/web/00000000001",
		"/berth/taskdefs/web/1000000000",
		"/berth/taskdefs/web/000000000x",
		"/berth/taskdefs/web/0000000001/x",
		"/berth/taskdefs/a.b",
		"/berth/c/c",
		"/berth/c/c/",
		"/berth/c/c/instances",
		"/berth/c/c/instances/",
		"/berth/c//instances/i",
		"/berth/c/c/instances/i/",
		"/berth/c/c/instances/i/x",
		"/berth/c/c/instances/.i",
		"/berth/c/c/nodes/i",
		"/berth/c/c/alloc/i",
		"/berth/c/c/alloc/i/disk",
		"/berth/c/c/alloc/i/port",
		"/berth/c/c/alloc/i/port/0",
		"/berth/c/c/alloc/i/port/080",
		"/berth/c/c/alloc/i/port/65536",
		"/berth/c/c/alloc/i/port/-1",
		"/berth/c/c/alloc/i/cpu/x",
		"/berth/c/c/placed/i",
		"/berth/c/c/placed/i/t/u",
		"/berth/c/c/group/web/i",
		"/berth/c/c/group/service:web",
		"/berth/c/c/services/a.b",
		"/berth/c/c/tasks/t/x/y/z/w/v/u",
	};
	struct model_key k;
	char big[MODEL_KEY_MAX + 8];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		print_message("%s\n", keys[i]);
		memset(&k, 0x5A, sizeof(k));
		assert_int_equal(model_key_parse(keys[i], strlen(keys[i]), &k), BERTH_EBADREQ);
		assert_int_equal(k.kind, 0);
		assert_int_equal(k.cluster[0], '\0');
	}
	/* A NUL inside, and a key over the limit. */
	assert_int_equal(model_key_parse("/berth/c/c/tasks/t\0x", 20, &k), BERTH_EBADREQ);
	memset(big, 'a', sizeof(big));
	memcpy(big, "/berth/c/c/tasks/", 17);
	assert_int_equal(model_key_parse(big, sizeof(big), &k), BERTH_EBADREQ);
}

static void test_model_keys_prefixes(void **state)
{
	char key[MODEL_KEY_MAX], full[MODEL_KEY_MAX];
	(void)state;
	assert_int_equal(model_key_prefix(key, MODEL_KEY_FAMILY, NULL, NULL), 0);
	assert_string_equal(key, "/berth/taskdefs/");
	assert_int_equal(model_key_prefix(key, MODEL_KEY_TASKDEF, NULL, "web"), 0);
	assert_string_equal(key, "/berth/taskdefs/web/");
	assert_int_equal(model_key_prefix(key, -1, "prod", NULL), 0);
	assert_string_equal(key, "/berth/c/prod/");
	assert_int_equal(model_key_prefix(key, MODEL_KEY_INSTANCE, "prod", NULL), 0);
	assert_string_equal(key, "/berth/c/prod/instances/");
	assert_int_equal(model_key_prefix(key, MODEL_KEY_ALIVE, "prod", NULL), 0);
	assert_string_equal(key, "/berth/c/prod/alive/");
	assert_int_equal(model_key_prefix(key, MODEL_KEY_TASK, "prod", NULL), 0);
	assert_string_equal(key, "/berth/c/prod/tasks/");
	assert_int_equal(model_key_prefix(key, MODEL_KEY_SERVICE, "prod", NULL), 0);
	assert_string_equal(key, "/berth/c/prod/services/");
	assert_int_equal(model_key_prefix(key, MODEL_KEY_PLACED, "prod", "i-1"), 0);
	assert_string_equal(key, "/berth/c/prod/placed/i-1/");
	assert_int_equal(model_key_placed(full, "prod", "i-1", "t"), 0);
	assert_true(strncmp(full, key, strlen(key)) == 0);
	assert_int_equal(model_key_prefix(key, MODEL_KEY_ALLOC_PORT, "prod", "i-1"), 0);
	assert_string_equal(key, "/berth/c/prod/alloc/i-1/port/");
	assert_int_equal(model_key_prefix(key, MODEL_KEY_GROUP, "prod", "family:web"), 0);
	assert_string_equal(key, "/berth/c/prod/group/family:web/");

	/* The family prefix of "web" does not cover "web2"'s revisions. */
	assert_int_equal(model_key_prefix(key, MODEL_KEY_TASKDEF, NULL, "web"), 0);
	assert_int_equal(model_key_taskdef(full, "web2", 1), 0);
	assert_false(strncmp(full, key, strlen(key)) == 0);

	assert_int_equal(model_key_prefix(key, MODEL_KEY_ALLOC_CPU, "prod", "i"), BERTH_EBADREQ);
	assert_int_equal(model_key_prefix(key, MODEL_KEY_FAMILY, "prod", NULL), BERTH_EBADREQ);
	assert_int_equal(model_key_prefix(key, MODEL_KEY_TASKDEF, "prod", "web"), BERTH_EBADREQ);
	assert_int_equal(model_key_prefix(key, MODEL_KEY_INSTANCE, "prod", "i"), BERTH_EBADREQ);
	assert_int_equal(model_key_prefix(key, MODEL_KEY_PLACED, "prod", NULL), BERTH_EBADREQ);
	assert_int_equal(model_key_prefix(key, 99, "prod", NULL), BERTH_EBADREQ);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_model_keys_names_and_ids(void **state)
{
	char id[MODEL_TASK_ID_LEN + 1], first[MODEL_TASK_ID_LEN + 1];
	uint64_t rng = 42, again = 42;
	(void)state;

	assert_null(model_name_check(MODEL_NAME, "web-app_2"));
	assert_string_equal(model_name_check(MODEL_NAME, ""), "must be 1..255 characters");
	assert_string_equal(model_name_check(MODEL_NAME, "a.b"),
			    "must contain only letters, digits, '-' and '_'");
	assert_null(model_name_check(MODEL_NAME_ID, "i-0a.b_c"));
	assert_string_equal(model_name_check(MODEL_NAME_ID, NULL), "must be 1..128 characters");
	assert_null(model_name_check(MODEL_NAME_GROUP, "service:web"));
	assert_null(model_name_check(MODEL_NAME_GROUP, "family:web"));
	assert_string_equal(model_name_check(MODEL_NAME_GROUP, "web"),
			    "must be service:NAME or family:NAME");

	/* Ids: 16 lowercase hex, valid ids, the same sequence for the same seed, and no
	 * repeat in 10,000. */
	model_id_new(&rng, first);
	model_id_new(&again, id);
	assert_string_equal(first, id);
	assert_int_equal(strlen(first), MODEL_TASK_ID_LEN);
	assert_int_equal(strspn(first, "0123456789abcdef"), MODEL_TASK_ID_LEN);
	assert_null(model_name_check(MODEL_NAME_ID, first));
	char(*seen)[MODEL_TASK_ID_LEN + 1] = calloc(10000, sizeof(*seen));
	assert_non_null(seen);
	for (size_t i = 0; i < 10000; i++) {
		model_id_new(&rng, seen[i]);
		assert_string_not_equal(seen[i], first);
	}
	qsort(seen, 10000, sizeof(*seen), cmp_id);
	for (size_t i = 1; i < 10000; i++)
		assert_string_not_equal(seen[i - 1], seen[i]);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_keys_build_and_parse),
		cmocka_unit_test(test_model_keys_revisions_sort),
		cmocka_unit_test(test_model_keys_forged_names),
		cmocka_unit_test(test_model_keys_parse_bad),
		cmocka_unit_test(test_model_keys_prefixes),
		cmocka_unit_test(test_model_keys_names_and_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
