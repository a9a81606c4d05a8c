/* tests/integ/test_cluster_ctl_sched.c: berthctl's cluster commands against three real
 * members, run as the program: a task definition registered twice (revisions 1 and 2),
 * tasks run, listed, described and stopped, a service created, updated to a new
 * revision (a new PRIMARY deployment), refused deletion then deleted, an instance
 * written by hand with the model's encoder drained, activated and given attributes, and
 * cluster describe --json read back with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/model.h"
#include "tests/integ/integ.h"
#include "tests/unit/ctl_run.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char t_eps[256];

#define A(...) ((const char *const[]){"--endpoints", t_eps, __VA_ARGS__, NULL})

static const char t_taskdef[] =
	"{\"family\": \"web\", \"containerDefinitions\": [{\"name\": \"nginx\", \"image\": "
	"\"nginx:1.25\", \"cpu\": 256, \"memory\": 512, \"portMappings\": [{\"containerPort\": "
	"80, \"hostPort\": 8080}]}]}";

/* stdout of a run that must succeed, parsed as JSON (decref it). */
static json_t *t_json(const char *const *args)
{
	json_error_t e;
	const struct ctl_run *r = ctl_expect(NULL, args, 0, NULL, NULL);
	json_t *o = json_loads(r->out, 0, &e);
	if (o == NULL)
		fail_msg("not JSON (%s): %s", e.text, r->out);
	return o;
}

static void t_put(struct berth *b, const char *key, const void *v, size_t n, uint64_t lease)
{
	struct berth_result r;
	assert_int_equal(berth_put(b, key, strlen(key), v, n, lease, &r), 0);
	berth_result_free(&r);
}

static void t_put_int(struct berth *b, const char *key, int64_t v)
{
	uint8_t buf[9];
	t_put(b, key, buf, mp_int_encode(v, buf), 0);
}

/* Instance i-1 as an agent registers it, alive on a lease. */
static void t_instance(struct berth *b)
{
	struct model_pair attrs[] = {{"zone", "a"}};
	struct model_port_range ports[] = {{8000, 9000}};
	struct model_instance in = {.id = "i-1",
				    .cluster = "default",
				    .cpu = 2048,
				    .memory = 4096,
				    .ports = ports,
				    .nports = 1,
				    .attributes = attrs,
				    .nattributes = 1,
				    .status = MODEL_INSTANCE_ACTIVE,
				    .registered_ms = 1700000000000u};
	struct berth_result r;
	struct mp_buf buf;
	char err[256], key[MODEL_KEY_MAX];
	assert_int_equal(berth_lease_grant(b, 60, 0, &r), 0);
	in.lease = r.resp.reply.id;
	berth_result_free(&r);
	mp_buf_init(&buf);
	assert_int_equal(model_instance_encode(&in, &buf, err, sizeof(err)), 0);
	model_key_instance(key, "default", "i-1");
	t_put(b, key, buf.data, buf.len, 0);
	model_key_alive(key, "default", "i-1");
	t_put(b, key, "", 0, in.lease);
	mp_buf_close(&buf);
}

/* Places task tid on i-1 as a worker would (docs/commits.md, "Place"), without the
 * compares: PENDING, counters, port 8080, index. */
static void t_place(struct berth *b, const char *tid)
{
	struct berth_result r;
	struct model_task t;
	struct mp_buf buf;
	char err[256], key[MODEL_KEY_MAX];
	model_key_task(key, "default", tid);
	assert_int_equal(berth_get(b, key, strlen(key), 0, false, &r), 0);
	const struct reply_kv *kv = berth_result_kv(&r);
	assert_non_null(kv);
	assert_int_equal(model_task_decode(kv->value.p, kv->value.n, &t, err, sizeof(err)), 0);
	berth_result_free(&r);
	t.last_status = MODEL_TASK_PENDING;
	t.instance = strdup("i-1");
	mp_buf_init(&buf);
	assert_int_equal(model_task_encode(&t, &buf, err, sizeof(err)), 0);
	t_put(b, key, buf.data, buf.len, 0);
	mp_buf_close(&buf);
	model_task_free(&t);
	model_key_alloc_cpu(key, "default", "i-1");
	t_put_int(b, key, 256);
	model_key_alloc_mem(key, "default", "i-1");
	t_put_int(b, key, 512);
	model_key_alloc_port(key, "default", "i-1", 8080);
	t_put(b, key, tid, strlen(tid), 0);
	model_key_placed(key, "default", "i-1", tid);
	t_put(b, key, "", 0, 0);
}

static void test_cluster_ctl_sched_commands(void **state)
{
	struct integ *f = *state;
	struct cluster *c = &f->c;
	char file[CLUSTER_PATH_BYTES], ids[3][MODEL_TASK_ID_LEN + 1];
	const struct ctl_run *r;
	uint64_t t0 = cluster_now_ms();
	integ_start(f, 3, NULL, NULL);
	snprintf(t_eps, sizeof(t_eps), "%s,%s,%s", c->eps[0], c->eps[1], c->eps[2]);
	struct berth *b = cluster_client(c, 0, 5000);
	assert_non_null(b);

	/* Task definitions: revisions 1 and 2 of one family. */
	snprintf(file, sizeof(file), "%s/web.json", c->root);
	FILE *fp = fopen(file, "w");
	assert_non_null(fp);
	fputs(t_taskdef, fp);
	fclose(fp);
	ctl_expect(NULL, A("taskdef", "register", file), 0, "web:1\n", NULL);
	ctl_expect(t_taskdef, A("taskdef", "register", "-"), 0, "web:2\n", NULL);
	r = ctl_expect(NULL, A("taskdef", "list"), 0, NULL, NULL);
	assert_string_equal(r->out, "web:1\nweb:2\n");
	ctl_expect(NULL, A("taskdef", "describe", "web"), 0, "web:2  cpu 256  memory 512 MiB",
		   NULL);
	json_t *o = t_json(A("--json", "taskdef", "describe", "web:1"));
	assert_int_equal(json_integer_value(json_object_get(o, "revision")), 1);
	json_decref(o);
	ctl_expect(NULL, A("taskdef", "describe", "web:3"), 1, NULL, "web:3 not found");
	ctl_expect(NULL, A("taskdef", "describe", "db"), 1, NULL, "\"db\" not found");

	/* Tasks: three PROVISIONING, one stopped before it was ever placed. */
	r = ctl_expect(NULL,
		       A("task", "run", "--taskdef", "web:1", "--count", "3", "--strategy",
			 "spread:attribute:zone", "--constraint", "distinctInstance",
			 "--started-by", "test"),
		       0, NULL, NULL);
	assert_int_equal(strlen(r->out), 3 * (MODEL_TASK_ID_LEN + 1));
	for (int i = 0; i < 3; i++) {
		memcpy(ids[i], r->out + i * (MODEL_TASK_ID_LEN + 1), MODEL_TASK_ID_LEN);
		ids[i][MODEL_TASK_ID_LEN] = '\0';
	}
	o = t_json(A("--json", "task", "list", "--status", "provisioning"));
	assert_int_equal(json_array_size(json_object_get(o, "tasks")), 3);
	json_decref(o);
	ctl_expect(NULL, A("task", "describe", ids[0]), 0, "status PROVISIONING, desired RUNNING",
		   NULL);
	ctl_expect(NULL, A("task", "describe", ids[0]), 0, "constraint distinctInstance", NULL);
	ctl_expect(NULL, A("task", "stop", ids[0], "--reason", "not needed"), 0, "stop requested",
		   NULL);
	ctl_expect(NULL, A("task", "stop", ids[0]), 0, "already asked to stop", NULL);
	o = t_json(A("--json", "task", "describe", ids[0]));
	assert_string_equal(json_string_value(json_object_get(o, "lastStatus")), "STOPPED");
	assert_string_equal(json_string_value(json_object_get(o, "stoppedReason")), "not needed");
	json_decref(o);
	ctl_expect(NULL, A("task", "list", "--status", "STOPPED"), 0, ids[0], NULL);
	ctl_expect(NULL, A("task", "describe", "nosuchtask"), 1, NULL, "not found");

	/* An instance written by hand, one task placed on it as a worker would. */
	t_instance(b);
	t_place(b, ids[1]);
	ctl_expect(NULL, A("task", "list", "--instance", "i-1"), 0, ids[1], NULL);
	ctl_expect(NULL, A("instance", "list"), 0, "i-1", NULL);
	ctl_expect(NULL, A("instance", "describe", "i-1"), 0, "cpu: 256 of 2048 used", NULL);
	ctl_expect(NULL, A("instance", "describe", "i-1"), 0, "ports in use: 8080", NULL);
	ctl_expect(NULL, A("instance", "drain", "i-1"), 0, "is now DRAINING", NULL);
	ctl_expect(NULL, A("instance", "drain", "i-1"), 0, "was already DRAINING", NULL);
	ctl_expect(NULL, A("instance", "describe", "i-1"), 0, ": DRAINING, alive", NULL);
	ctl_expect(NULL, A("instance", "activate", "i-1"), 0, "is now ACTIVE", NULL);
	r = ctl_expect(NULL, A("instance", "attributes", "i-1", "type=m5", "zone=b"), 0, NULL,
		       NULL);
	assert_string_equal(r->out, "zone=b\ntype=m5\n");
	r = ctl_expect(NULL, A("instance", "attributes", "i-1", "zone="), 0, NULL, NULL);
	assert_string_equal(r->out, "type=m5\n");
	ctl_expect(NULL, A("instance", "attributes", "i-1", "zone=a"), 0, "zone=a", NULL);
	ctl_expect(NULL, A("instance", "attributes", "i-1", "bad=a;b"), 1, NULL, "value");
	ctl_expect(NULL, A("instance", "drain", "i-2"), 1, NULL, "instance i-2 not found");

	/* cluster describe, read by jansson. */
	o = t_json(A("--json", "cluster", "describe"));
	json_t *in = json_array_get(json_object_get(o, "instances"), 0);
	assert_non_null(in);
	assert_string_equal(json_string_value(json_object_get(in, "id")), "i-1");
	assert_true(json_is_true(json_object_get(in, "alive")));
	assert_string_equal(json_string_value(json_object_get(in, "zone")), "a");
	json_t *cpu = json_object_get(in, "cpu"), *mem = json_object_get(in, "memory");
	assert_int_equal(json_integer_value(json_object_get(cpu, "used")), 256);
	assert_int_equal(json_integer_value(json_object_get(cpu, "total")), 2048);
	assert_int_equal(json_integer_value(json_object_get(mem, "used")), 512);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(in, "ports"), 0)), 8080);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(in, "tasks"), "pending")), 1);
	json_t *by = json_object_get(o, "tasks");
	assert_int_equal(json_integer_value(json_object_get(by, "PROVISIONING")), 1);
	assert_int_equal(json_integer_value(json_object_get(by, "STOPPED")), 1);
	json_decref(o);
	ctl_expect(NULL, A("cluster", "describe"), 0, "1 instances (1 alive)", NULL);
	o = t_json(A("--json", "cluster", "describe", "--cluster", "other"));
	assert_int_equal(json_array_size(json_object_get(o, "instances")), 0);
	json_decref(o);

	/* Services: create, a new revision (new PRIMARY deployment), delete. */
	ctl_expect(NULL,
		   A("service", "create", "api", "--taskdef", "web:1", "--count", "2", "--strategy",
		     "spread:instanceId", "--min-healthy", "50"),
		   0, "deployment", NULL);
	ctl_expect(NULL, A("service", "create", "api", "--taskdef", "web", "--count", "1"), 1, NULL,
		   "service api already exists");
	ctl_expect(NULL, A("service", "update", "api", "--taskdef", "web", "--count", "3"), 0,
		   "PRIMARY web:2", NULL);
	o = t_json(A("--json", "service", "describe", "api"));
	assert_int_equal(json_integer_value(json_object_get(o, "desiredCount")), 3);
	assert_int_equal(json_integer_value(json_object_get(o, "revision")), 2);
	json_t *deps = json_object_get(o, "deployments");
	assert_int_equal(json_array_size(deps), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(deps, 0), "status")),
			    "ACTIVE");
	assert_string_equal(json_string_value(json_object_get(json_array_get(deps, 1), "status")),
			    "PRIMARY");
	json_decref(o);
	ctl_expect(NULL, A("service", "list"), 0, "api", NULL);
	ctl_expect(NULL, A("service", "delete", "api"), 1, NULL, "scale it to 0 first");
	ctl_expect(NULL, A("service", "update", "api", "--count", "0"), 0, "desired 0", NULL);
	/* A task of the service that has not stopped holds the deletion back. */
	char svc_task[MODEL_TASK_ID_LEN + 1];
	r = ctl_expect(
		NULL,
		A("task", "run", "--taskdef", "web", "--count", "1", "--group", "service:api"), 0,
		NULL, NULL);
	assert_int_equal(strlen(r->out), MODEL_TASK_ID_LEN + 1);
	memcpy(svc_task, r->out, MODEL_TASK_ID_LEN);
	svc_task[MODEL_TASK_ID_LEN] = '\0';
	ctl_expect(NULL, A("service", "delete", "api"), 1, NULL, "1 of its tasks have not stopped");
	ctl_expect(NULL, A("task", "stop", svc_task), 0, "stop requested", NULL);
	ctl_expect(NULL, A("service", "delete", "api"), 0, "INACTIVE", NULL);
	ctl_expect(NULL, A("service", "update", "api", "--count", "1"), 1, NULL, "is INACTIVE");
	ctl_expect(NULL, A("service", "create", "api", "--taskdef", "web", "--count", "1"), 0,
		   "ACTIVE", NULL);

	/* 600 tasks: five transactions of up to 128, listed back in two pages of 500. */
	ctl_expect(NULL, A("task", "run", "--cluster", "big", "--taskdef", "web", "--count", "600"),
		   0, NULL, NULL);
	o = t_json(A("--json", "task", "list", "--cluster", "big"));
	json_t *all = json_object_get(o, "tasks");
	assert_int_equal(json_array_size(all), 600);
	for (size_t i = 1; i < 600; i++) /* in key order, each once */
		assert_true(
			strcmp(json_string_value(json_object_get(json_array_get(all, i - 1), "id")),
			       json_string_value(json_object_get(json_array_get(all, i), "id"))) <
			0);
	json_decref(o);
	berth_close(b);
	printf("berthctl cluster commands: %" PRIu64 " ms\n", cluster_now_ms() - t0);
	integ_finish(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_ctl_sched_commands, integ_setup,
						integ_teardown),
	};
	return cmocka_run_group_tests(tests, ctl_run_setup, NULL);
}
