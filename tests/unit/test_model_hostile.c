/* tests/unit/test_model_hostile.c: the cluster model's decoders against hostile msgpack:
 * wrong shapes and types, versions, unknown and duplicate fields, lying counts, depth,
 * every limit; each refused with its exact message, leaving a zeroed record. The encoder
 * refuses invalid records the same way. Inputs are exact heap copies (ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/model.h"
#include "common/err.h"
#include "tests/unit/codec_lit.h"
#include "tests/unit/model_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { TASKDEF, INSTANCE, TASK, SERVICE };

union any_rec {
	struct model_taskdef td;
	struct model_instance in;
	struct model_task t;
	struct model_service s;
};

static int decode(enum kind k, const uint8_t *p, size_t n, union any_rec *r, char *err,
		  size_t errlen)
{
	switch (k) {
	case TASKDEF:
		return model_taskdef_decode(p, n, &r->td, err, errlen);
	case INSTANCE:
		return model_instance_decode(p, n, &r->in, err, errlen);
	case TASK:
		return model_task_decode(p, n, &r->t, err, errlen);
	case SERVICE:
		return model_service_decode(p, n, &r->s, err, errlen);
	}
	return -1;
}

struct bad {
	enum kind kind;
	const char *lit;
	const char *msg;
};

/* Each case names the fields it varies; the heads hold the rest of a valid record. */
#define I_HEAD "v: 1, cluster: c, memory: 2048, status: ACTIVE, registeredAt: 5, lease: 9"
#define I_ID I_HEAD ", id: 'i-1'"
#define I_OK I_ID ", cpu: 1"
#define T_HEAD "v: 1, family: web"
#define T_C "name: a, image: busybox, memory: 8"
#define K_HEAD "v: 1, id: t, cluster: c, family: f, cpu: 0, memory: 1, createdAt: 1, updatedAt: 2"
#define K_OK K_HEAD ", group: 'family:f', revision: 1, desiredStatus: RUNNING"
#define K_OK1 K_OK ", lastStatus: PROVISIONING"
#define S_HEAD "v: 1, name: web, cluster: c, family: f, revision: 3, status: ACTIVE, createdAt: 4"
#define IDCHARS "must contain only letters, digits, '-', '_' and '.', and not start with '.'"
#define NOT_WELL_FORMED "not one well-formed msgpack object"

static const struct bad bad[] = {
	/* shape, version, field names */
	{INSTANCE, "[1]", "must be a map"},
	{INSTANCE, "{1: 2}", "field names must be strings"},
	{INSTANCE, "{cluster: c, id: 'i-1'}", "missing format version \"v\""},
	{INSTANCE, "{v: 2, id: 'i-1'}", "unsupported format version (this is 1)"},
	{INSTANCE, "{v: -1}", "unsupported format version (this is 1)"},
	{INSTANCE, "{v: 1, v: 1}", "duplicate field \"v\""},
	{INSTANCE, "{" I_OK ", id: 'i-2'}", "duplicate field \"id\""},
	{INSTANCE, "{" I_OK ", zone: a}", "unknown field \"zone\""},
	{INSTANCE, "{" I_ID "}", "cpu: required"},
	/* strings */
	{INSTANCE, "{" I_HEAD ", cpu: 1, id: 5}", "id: must be a string"},
	{INSTANCE, "{" I_HEAD ", cpu: 1, id: b'i-1'}", "id: must be a string"},
	{INSTANCE, "{" I_HEAD ", cpu: 1, id: 'a\\x00b'}", "id: must not contain NUL bytes"},
	{INSTANCE, "{" I_HEAD ", cpu: 1, id: 'a/b'}", "id: " IDCHARS},
	{INSTANCE, "{" I_HEAD ", cpu: 1, id: '.x'}", "id: " IDCHARS},
	{INSTANCE, "{" I_HEAD ", cpu: 1, id: ''}", "id: must be 1..128 characters"},
	/* numbers and enumerations */
	{INSTANCE, "{" I_ID ", cpu: -1}", "cpu: must be 0..1048576"},
	{INSTANCE, "{" I_ID ", cpu: 1048577}", "cpu: must be 0..1048576"},
	{INSTANCE, "{" I_ID ", cpu: 1.5}", "cpu: must be an integer"},
	{INSTANCE, "{" I_ID ", cpu: nil}", "cpu: must be an integer"},
	{INSTANCE, "{v: 1, id: 'i-1', cpu: 1, cluster: c, memory: 1, status: draining}",
	 "status: must be one of ACTIVE, DRAINING"},
	{INSTANCE, "{v: 1, id: 'i-1', cpu: 1, cluster: c, memory: 1, status: 1}",
	 "status: must be one of ACTIVE, DRAINING"},
	{INSTANCE, "{v: 1, id: 'i-1', cpu: 1, cluster: c, memory: 1, registeredAt: -5}",
	 "registeredAt: must be 0..9223372036854775807"},
	/* nested records and lists */
	{INSTANCE, "{" I_OK ", ports: [{from: 10, to: 5}]}", "ports[0].to: must not be below from"},
	{INSTANCE, "{" I_OK ", ports: [{from: 10, to: 20}, {from: 20, to: 30}]}",
	 "ports[1]: ranges must be sorted and must not overlap"},
	{INSTANCE, "{" I_OK ", ports: [{from: 0, to: 5}]}", "ports[0].from: must be 1..65535"},
	{INSTANCE, "{" I_OK ", ports: [{from: 1, to: 65536}]}", "ports[0].to: must be 1..65535"},
	{INSTANCE, "{" I_OK ", ports: {from: 1}}", "ports: must be an array"},
	{INSTANCE, "{" I_OK ", ports: [5]}", "ports[0]: must be a map"},
	{INSTANCE, "{" I_OK ", attributes: [{name: zone, value: a}, {name: zone, value: b}]}",
	 "attributes[1].name: \"zone\" is used twice"},
	{INSTANCE, "{" I_OK ", attributes: [{name: zone, value: ' a'}]}",
	 "attributes[0].value: must contain only letters, digits, '-', '_', '.', '@', '/', ':' "
	 "and inner spaces"},
	{INSTANCE, "{" I_OK ", attributes: [{name: 'zone:x', value: a}]}",
	 "attributes[0].name: must contain only letters, digits, '-', '_', '.' and '/'"},
	{INSTANCE, "{" I_OK ", attributes: [{name: zone}]}", "attributes[0].value: required"},
	/* bytes that msgpack-c would trust */
	{INSTANCE, "{" I_OK ", attributes: #dd 00 00 ff ff#}", NOT_WELL_FORMED},
	{INSTANCE, "{" I_OK ", id: #db 7f ff ff ff 61#}", NOT_WELL_FORMED},
	{INSTANCE, "{" I_OK "} 1", NOT_WELL_FORMED},
	{INSTANCE, "{" I_OK ", x: #d4 01 02#}", NOT_WELL_FORMED},
	{INSTANCE, "{" I_OK ", attributes: [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}",
	 NOT_WELL_FORMED},
	{INSTANCE, "", NOT_WELL_FORMED},
	/* task definitions */
	{TASKDEF, "{" T_HEAD ", containerDefinitions: []}",
	 "containerDefinitions: must have 1..10 entries"},
	{TASKDEF, "{" T_HEAD "}", "containerDefinitions: required"},
	{TASKDEF, "{" T_HEAD ", containerDefinitions: [{name: a}]}",
	 "containerDefinitions[0].image: required"},
	{TASKDEF, "{" T_HEAD ", containerDefinitions: [{" T_C ", command: [1]}]}",
	 "containerDefinitions[0].command[0]: must be a string"},
	{TASKDEF, "{" T_HEAD ", containerDefinitions: [{" T_C ", command: ['\\xff']}]}",
	 "containerDefinitions[0].command[0]: must be valid UTF-8"},
	{TASKDEF,
	 "{" T_HEAD ", containerDefinitions: [{" T_C ", portMappings: [{containerPort: 80,"
	 " hostPort: 0}]}]}",
	 "containerDefinitions[0].portMappings[0].hostPort: must be 1..65535"},
	{TASKDEF,
	 "{" T_HEAD ", containerDefinitions: [{" T_C ", portMappings: [{containerPort: 80,"
	 " protocol: sctp}]}]}",
	 "containerDefinitions[0].portMappings[0].protocol: must be one of tcp, udp"},
	{TASKDEF, "{" T_HEAD ", containerDefinitions: [{" T_C ", essential: 1}]}",
	 "containerDefinitions[0].essential: must be true or false"},
	{TASKDEF, "{" T_HEAD ", revision: 1000000000, containerDefinitions: [{" T_C "}]}",
	 "revision: must be 0..999999999"},
	/* tasks */
	{TASK,
	 "{" K_HEAD
	 ", group: 'family:f', revision: 1, desiredStatus: PENDING, lastStatus: PENDING}",
	 "desiredStatus: must be RUNNING or STOPPED"},
	{TASK, "{" K_OK ", lastStatus: PENDING}", "instanceId: required once the task is placed"},
	{TASK, "{" K_OK ", lastStatus: PROVISIONING, instanceId: i}",
	 "instanceId: a PROVISIONING task is not placed"},
	{TASK,
	 "{" K_HEAD ", group: 'svc:f', revision: 1, lastStatus: STOPPED, desiredStatus: STOPPED}",
	 "group: must be service:NAME or family:NAME"},
	{TASK,
	 "{" K_HEAD
	 ", group: 'family:f/x', revision: 1, lastStatus: STOPPED, desiredStatus: STOPPED}",
	 "group: must be service:NAME or family:NAME"},
	{TASK,
	 "{" K_HEAD
	 ", group: 'family:f', revision: 0, lastStatus: STOPPED, desiredStatus: STOPPED}",
	 "revision: must be 1..999999999"},
	{TASK, "{" K_OK1 ", exitCode: 2147483648}",
	 "exitCode: must be an integer in -2147483648..2147483647"},
	{TASK, "{" K_OK1 ", exitCode: -2147483649}",
	 "exitCode: must be an integer in -2147483648..2147483647"},
	{TASK, "{" K_OK ", lastStatus: STOPPED, hostPorts: [80, 80]}",
	 "hostPorts[1]: 80 appears twice"},
	{TASK, "{" K_OK1 ", hostPorts: [0]}", "hostPorts[0]: must be 1..65535"},
	{TASK, "{" K_OK1 ", placementStrategy: [{type: binpack, field: disk}]}",
	 "placementStrategy[0].field: binpack takes cpu or memory"},
	{TASK, "{" K_OK1 ", placementStrategy: [{field: cpu}]}",
	 "placementStrategy[0].type: required"},
	{TASK,
	 "{" K_OK1 ", placementStrategy: [{type: random}, {type: random}, {type: random},"
	 " {type: random}, {type: random}, {type: random}]}",
	 "placementStrategy: must have at most 5 entries"},
	{TASK,
	 "{" K_OK1 ", placementConstraints: [{type: distinctInstance}, {type: distinctInstance}]}",
	 "placementConstraints[1]: distinctInstance is already given"},
	{TASK, "{" K_OK1 ", placementConstraints: [{type: memberOf}]}",
	 "placementConstraints[0].expression: required for memberOf"},
	/* services */
	{SERVICE, "{" S_HEAD ", desiredCount: 10001}", "desiredCount: must be 0..10000"},
	{SERVICE,
	 "{" S_HEAD ", desiredCount: 1, deploymentConfiguration: {minimumHealthyPercent: 100,"
	 " maximumPercent: 100}}",
	 "deploymentConfiguration.maximumPercent: must be above 100 when minimumHealthyPercent "
	 "is 100"},
	{SERVICE,
	 "{" S_HEAD ", desiredCount: 1, deploymentConfiguration: {minimumHealthyPercent: 101}}",
	 "deploymentConfiguration.minimumHealthyPercent: must be 0..100"},
	{SERVICE, "{" S_HEAD ", desiredCount: 1, deploymentConfiguration: {maximumPercent: 1001}}",
	 "deploymentConfiguration.maximumPercent: must be 100..1000"},
	{SERVICE,
	 "{" S_HEAD
	 ", desiredCount: 1, deployments: [{id: a, family: f, revision: 1, status: PRIMARY,"
	 " createdAt: 1}, {id: b, family: f, revision: 2, status: PRIMARY, createdAt: 2}]}",
	 "deployments: exactly one must be PRIMARY"},
	{SERVICE,
	 "{" S_HEAD
	 ", desiredCount: 1, deployments: [{id: a, family: f, revision: 1, status: PRIMARY,"
	 " createdAt: 1}, {id: a, family: f, revision: 2, status: ACTIVE, createdAt: 2}]}",
	 "deployments[1].id: \"a\" is used twice"},
};

static void test_model_hostile_table(void **state)
{
	static const size_t sizes[] = {sizeof(struct model_taskdef), sizeof(struct model_instance),
				       sizeof(struct model_task), sizeof(struct model_service)};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		size_t n;
		union any_rec r, zero;
		char err[256];
		uint8_t *p = codec_lit_pack(bad[i].lit, &n);
		print_message("%zu: %s\n", i, bad[i].lit);
		memset(&r, 0x5A, sizeof(r));
		memset(&zero, 0, sizeof(zero));
		assert_int_equal(decode(bad[i].kind, p, n, &r, err, sizeof(err)), BERTH_EBADREQ);
		assert_string_equal(err, bad[i].msg);
		assert_memory_equal(&r, &zero, sizes[bad[i].kind]);
		free(p);
	}
}

/* A list one longer than its limit, packed by hand. */
static void test_model_hostile_limits(void **state)
{
	union any_rec r;
	char err[256];
	size_t n;
	uint8_t *p;
	(void)state;

	/* 65 port ranges for an instance (the limit is 64). */
	char lit[8192];
	size_t len = (size_t)snprintf(lit, sizeof(lit), "{" I_OK ", ports: [");
	for (int i = 0; i < MODEL_PORT_RANGES_MAX + 1; i++)
		len += (size_t)snprintf(lit + len, sizeof(lit) - len, "%s{from: %d, to: %d}",
					i ? ", " : "", 100 + 2 * i, 100 + 2 * i);
	snprintf(lit + len, sizeof(lit) - len, "]}");
	p = codec_lit_pack(lit, &n);
	assert_int_equal(model_instance_decode(p, n, &r.in, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "ports: must have at most 64 entries");
	free(p);

	/* The same with 64 is accepted. */
	len = (size_t)snprintf(lit, sizeof(lit), "{" I_OK ", ports: [");
	for (int i = 0; i < MODEL_PORT_RANGES_MAX; i++)
		len += (size_t)snprintf(lit + len, sizeof(lit) - len, "%s{from: %d, to: %d}",
					i ? ", " : "", 100 + 2 * i, 100 + 2 * i);
	snprintf(lit + len, sizeof(lit) - len, "]}");
	p = codec_lit_pack(lit, &n);
	assert_int_equal(model_instance_decode(p, n, &r.in, err, sizeof(err)), 0);
	assert_int_equal(r.in.nports, MODEL_PORT_RANGES_MAX);
	model_instance_free(&r.in);
	free(p);

	/* A task definition over 64 KiB is refused before it is looked at. */
	uint8_t *big = calloc(1, MODEL_TASKDEF_BYTES_MAX + 1);
	assert_non_null(big);
	assert_int_equal(
		model_taskdef_decode(big, MODEL_TASKDEF_BYTES_MAX + 1, &r.td, err, sizeof(err)),
		BERTH_ETOOLARGE);
	assert_string_equal(err, "the task definition is 65537 bytes encoded; at most 65536");
	free(big);
}

/* Records built in C are checked by the encoder with the same rules; nothing is
 * appended to the buffer on failure. */
static void test_model_hostile_encode(void **state)
{
	struct model_taskdef td = {0};
	struct model_instance in = {0};
	struct model_task t = {0};
	struct model_service s = {0};
	struct mp_buf b;
	char err[256];
	(void)state;

	mp_buf_init(&b);
	mp_buf_append(&b, "x", 1);

	model_sample_taskdef(&td);
	td.containers[1].ports[0].host_port = 8080;
	assert_int_equal(model_taskdef_encode(&td, &b, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "containerDefinitions[1].portMappings[0].hostPort: 8080 is "
				 "already mapped by containerDefinitions[0].portMappings[0]");
	td.containers[1].ports[0].host_port = 8081;
	td.cpu = 255;
	assert_int_equal(model_taskdef_encode(&td, &b, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "cpu: 255 does not cover the containers' 256");
	td.cpu = 256;
	free(td.containers[1].name);
	td.containers[1].name = model_sample_str("nginx");
	assert_int_equal(model_taskdef_encode(&td, &b, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "containerDefinitions[1].name: \"nginx\" is used twice");
	model_taskdef_free(&td);

	model_sample_instance(&in);
	in.status = (enum model_instance_status)7;
	assert_int_equal(model_instance_encode(&in, &b, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "status: unknown value 7");
	model_instance_free(&in);

	model_sample_task(&t);
	free(t.family);
	t.family = NULL;
	assert_int_equal(model_task_encode(&t, &b, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "family: required");
	model_task_free(&t);

	model_sample_service(&s);
	s.strategies[2].type = MODEL_BINPACK;
	assert_int_equal(model_service_encode(&s, &b, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "placementStrategy[2].field: binpack takes cpu or memory");
	model_service_free(&s);

	assert_int_equal(b.len, 1);
	mp_buf_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_hostile_table),
		cmocka_unit_test(test_model_hostile_limits),
		cmocka_unit_test(test_model_hostile_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
