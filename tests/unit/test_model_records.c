/* tests/unit/test_model_records.c: the cluster model's records (client/model.h): msgpack
 * and JSON round trips of every record with every field set, defaults, the exact JSON,
 * every truncation refused, hostile msgpack, invalid records refused by the encoder.
 *
 * Inputs to the decoders are exact heap copies, so that ASan catches any read past them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client/model.h"
#include "client/model_field.h"
#include "common/err.h"
#include "tests/unit/codec_lit.h"
#include "tests/unit/model_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One record type seen through plain pointers, so that every test runs on all four. */
struct rec_ops {
	const char *name;
	size_t size;
	void (*sample)(void *);
	int (*encode)(const void *, struct mp_buf *, char *, size_t);
	int (*decode)(const uint8_t *, size_t, void *, char *, size_t);
	json_t *(*to_json)(const void *);
	int (*from_json)(const json_t *, void *, char *, size_t);
	void (*free)(void *);
};

#define REC_OPS(T, name)                                                                           \
	static void name##_sample(void *r)                                                         \
	{                                                                                          \
		model_sample_##name(r);                                                            \
	}                                                                                          \
	static int name##_encode(const void *r, struct mp_buf *b, char *e, size_t n)               \
	{                                                                                          \
		return model_##name##_encode(r, b, e, n);                                          \
	}                                                                                          \
	static int name##_decode(const uint8_t *p, size_t n, void *r, char *e, size_t en)          \
	{                                                                                          \
		return model_##name##_decode(p, n, r, e, en);                                      \
	}                                                                                          \
	static json_t *name##_to_json(const void *r)                                               \
	{                                                                                          \
		return model_##name##_to_json(r);                                                  \
	}                                                                                          \
	static int name##_from_json(const json_t *j, void *r, char *e, size_t n)                   \
	{                                                                                          \
		return model_##name##_from_json(j, r, e, n);                                       \
	}                                                                                          \
	static void name##_free(void *r)                                                           \
	{                                                                                          \
		model_##name##_free(r);                                                            \
	}                                                                                          \
	static const struct rec_ops name##_ops = {                                                 \
		#name,         sizeof(T),      name##_sample,    name##_encode,                    \
		name##_decode, name##_to_json, name##_from_json, name##_free};

REC_OPS(struct model_taskdef, taskdef)
REC_OPS(struct model_instance, instance)
REC_OPS(struct model_task, task)
REC_OPS(struct model_service, service)

static const struct rec_ops *const all_ops[] = {&taskdef_ops, &instance_ops, &task_ops,
						&service_ops};

/* Union big enough for any record. */
union any_rec {
	struct model_taskdef td;
	struct model_instance in;
	struct model_task t;
	struct model_service s;
};

static uint8_t *encode_sample(const struct rec_ops *o, size_t *n)
{
	union any_rec r;
	struct mp_buf b;
	char err[256];
	memset(&r, 0, sizeof(r));
	o->sample(&r);
	mp_buf_init(&b);
	assert_int_equal(o->encode(&r, &b, err, sizeof(err)), 0);
	o->free(&r);
	return codec_lit_finish(&b, n);
}

static void assert_zeroed(const void *r, size_t size)
{
	static const union any_rec zero;
	assert_memory_equal(r, &zero, size);
}

static void test_model_records_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(all_ops); i++) {
		const struct rec_ops *o = all_ops[i];
		union any_rec r, back;
		char err[256];
		size_t n1, n2, n3;
		print_message("%s\n", o->name);

		/* msgpack: decode, encode again, the same bytes. */
		uint8_t *b1 = encode_sample(o, &n1);
		assert_int_equal(o->decode(b1, n1, &back, err, sizeof(err)), 0);
		struct mp_buf b;
		mp_buf_init(&b);
		assert_int_equal(o->encode(&back, &b, err, sizeof(err)), 0);
		uint8_t *b2 = codec_lit_finish(&b, &n2);
		assert_int_equal(n1, n2);
		assert_memory_equal(b1, b2, n1);

		/* JSON: the sample as JSON text, read back, the same msgpack and JSON. */
		memset(&r, 0, sizeof(r));
		o->sample(&r);
		json_t *j = o->to_json(&r);
		assert_non_null(j);
		char *text = json_dumps(j, JSON_COMPACT);
		assert_non_null(text);
		json_t *j2 = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(j2);
		union any_rec viajson;
		assert_int_equal(o->from_json(j2, &viajson, err, sizeof(err)), 0);
		json_t *j3 = o->to_json(&viajson);
		assert_true(json_equal(j, j3));
		mp_buf_init(&b);
		assert_int_equal(o->encode(&viajson, &b, err, sizeof(err)), 0);
		uint8_t *b3 = codec_lit_finish(&b, &n3);
		assert_int_equal(n1, n3);
		assert_memory_equal(b1, b3, n1);

		free(text);
		json_decref(j);
		json_decref(j2);
		json_decref(j3);
		free(b1);
		free(b2);
		free(b3);
		o->free(&r);
		o->free(&back);
		o->free(&viajson);
		assert_zeroed(&back, o->size);
	}
}

/* The decoded records carry every value (the byte comparison above could not tell a
 * field that both directions drop). */
static void test_model_records_fields(void **state)
{
	union any_rec r;
	char err[256];
	size_t n;
	uint8_t *b;
	(void)state;

	b = encode_sample(&taskdef_ops, &n);
	assert_int_equal(model_taskdef_decode(b, n, &r.td, err, sizeof(err)), 0);
	assert_string_equal(r.td.family, "web-app_2");
	assert_int_equal(r.td.revision, 7);
	assert_int_equal(r.td.ncontainers, 2);
	assert_string_equal(r.td.containers[0].image, "docker.io/library/nginx:1.25");
	assert_int_equal(r.td.containers[0].ncommand, 3);
	assert_string_equal(r.td.containers[0].command[2], "daemon off; \xc3\xa9t\xc3\xa9");
	assert_string_equal(r.td.containers[0].environment[1].name, "_EMPTY");
	assert_string_equal(r.td.containers[0].environment[1].value, "");
	assert_int_equal(r.td.containers[0].ports[0].host_port, 8080);
	assert_int_equal(r.td.containers[0].ports[1].container_port, 53);
	assert_int_equal(r.td.containers[0].ports[1].host_port, 0);
	assert_int_equal(r.td.containers[0].ports[1].protocol, MODEL_UDP);
	assert_true(r.td.containers[0].essential);
	assert_false(r.td.containers[1].essential);
	assert_int_equal(r.td.containers[1].memory, 64);
	assert_int_equal(r.td.cpu, 1024);
	assert_int_equal(r.td.memory, 2048);
	uint16_t ports[MODEL_HOST_PORTS_MAX];
	assert_int_equal(model_taskdef_host_ports(&r.td, ports), 2);
	assert_int_equal(ports[0], 8080);
	assert_int_equal(ports[1], 65535);

	/* A task takes what it needs from its task definition. */
	struct model_task t = {0};
	model_sample_task(&t);
	assert_int_equal(model_task_resources(&t, &r.td), 0);
	assert_string_equal(t.family, "web-app_2");
	assert_int_equal(t.revision, 7);
	assert_int_equal(t.cpu, 1024);
	assert_int_equal(t.memory, 2048);
	assert_int_equal(t.nhost_ports, 2);
	assert_int_equal(t.host_ports[0], 8080);
	assert_int_equal(t.host_ports[1], 65535);
	r.td.revision = 0;
	assert_int_equal(model_task_resources(&t, &r.td), BERTH_EBADREQ);
	assert_int_equal(t.revision, 7);
	model_task_free(&t);
	model_taskdef_free(&r.td);
	free(b);

	b = encode_sample(&instance_ops, &n);
	assert_int_equal(model_instance_decode(b, n, &r.in, err, sizeof(err)), 0);
	assert_string_equal(r.in.id, "i-0a1b2c.zone-a");
	assert_int_equal(r.in.ports[1].from, 8000);
	assert_int_equal(r.in.ports[1].to, 65535);
	assert_string_equal(model_instance_attr(&r.in, "team/owner"),
			    "ops@example.com: night shift");
	assert_null(model_instance_attr(&r.in, "zone2"));
	assert_true(model_instance_offers(&r.in, 22));
	assert_false(model_instance_offers(&r.in, 23));
	assert_true(model_instance_offers(&r.in, 65535));
	assert_int_equal(r.in.status, MODEL_INSTANCE_DRAINING);
	assert_int_equal(r.in.registered_ms, 1764000000123);
	assert_true(r.in.lease == 0x7fffffffffffffffull);
	model_instance_free(&r.in);
	free(b);

	b = encode_sample(&task_ops, &n);
	assert_int_equal(model_task_decode(b, n, &r.t, err, sizeof(err)), 0);
	assert_string_equal(r.t.group, "service:web");
	assert_int_equal(r.t.nhost_ports, 2);
	assert_int_equal(r.t.host_ports[1], 65535);
	assert_int_equal(r.t.nstrategies, 3);
	assert_int_equal(r.t.strategies[0].type, MODEL_SPREAD);
	const char *attr = NULL;
	assert_int_equal(model_strategy_field(&r.t.strategies[0], &attr), MODEL_FIELD_ATTR);
	assert_string_equal(attr, "zone");
	assert_int_equal(model_strategy_field(&r.t.strategies[1], NULL), MODEL_FIELD_MEMORY);
	assert_null(r.t.strategies[2].field);
	assert_int_equal(model_strategy_field(&r.t.strategies[2], NULL), -1);
	assert_null(r.t.constraints[0].expression);
	assert_string_equal(r.t.constraints[1].expression, "attribute:ecs.instance-type =~ t3.*");
	assert_int_equal(r.t.desired_status, MODEL_TASK_STOPPED);
	assert_string_equal(r.t.instance, "i-0a1b2c.zone-a");
	assert_true(r.t.has_exit_code);
	assert_int_equal(r.t.exit_code, -2147483647 - 1);
	assert_int_equal(r.t.updated_ms, 1764000005000);
	model_task_free(&r.t);
	free(b);

	b = encode_sample(&service_ops, &n);
	assert_int_equal(model_service_decode(b, n, &r.s, err, sizeof(err)), 0);
	assert_int_equal(r.s.desired_count, 6);
	assert_int_equal(r.s.config.min_healthy_percent, 50);
	assert_int_equal(r.s.config.max_percent, 150);
	assert_int_equal(r.s.ndeployments, 2);
	assert_string_equal(r.s.deployments[1].id, "d-1");
	assert_int_equal(r.s.deployments[1].status, MODEL_DEPLOYMENT_ACTIVE);
	assert_int_equal(r.s.deployments[0].pending, 1);
	assert_int_equal(r.s.status, MODEL_SERVICE_DRAINING);
	model_service_free(&r.s);
	free(b);
}

static void assert_json(json_t *j, const char *want)
{
	assert_non_null(j);
	char *text = json_dumps(j, JSON_COMPACT);
	assert_string_equal(text, want);
	free(text);
	json_decref(j);
}

/* The JSON people read: ECS names, enumerations by name, absent optional fields left out,
 * defaults written out. */
static void test_model_records_json_text(void **state)
{
	char err[256];
	size_t n;
	union any_rec r;
	(void)state;

	uint8_t *b = codec_lit_pack("{v: 1, id: 'i-1', cluster: c, cpu: 1024, memory: 2048,"
				    " status: ACTIVE, registeredAt: 5, lease: 9}",
				    &n);
	assert_int_equal(model_instance_decode(b, n, &r.in, err, sizeof(err)), 0);
	assert_json(model_instance_to_json(&r.in),
		    "{\"id\":\"i-1\",\"cluster\":\"c\",\"cpu\":1024,\"memory\":2048,\"ports\":[],"
		    "\"attributes\":[],\"status\":\"ACTIVE\",\"registeredAt\":5,\"lease\":9}");
	model_instance_free(&r.in);
	free(b);

	b = codec_lit_pack("{v: 1, id: t, cluster: c, family: f, revision: 1, cpu: 0, memory: 1,"
			   " group: 'family:f', desiredStatus: RUNNING, lastStatus: PROVISIONING,"
			   " createdAt: 1, updatedAt: 2}",
			   &n);
	assert_int_equal(model_task_decode(b, n, &r.t, err, sizeof(err)), 0);
	assert_null(r.t.instance);
	assert_false(r.t.has_exit_code);
	assert_json(model_task_to_json(&r.t),
		    "{\"id\":\"t\",\"cluster\":\"c\",\"family\":\"f\",\"revision\":1,\"cpu\":0,"
		    "\"memory\":1,\"hostPorts\":[],\"group\":\"family:f\","
		    "\"placementStrategy\":[],\"placementConstraints\":[],"
		    "\"desiredStatus\":\"RUNNING\",\"lastStatus\":\"PROVISIONING\","
		    "\"createdAt\":1,\"updatedAt\":2}");
	model_task_free(&r.t);
	free(b);

	/* Service defaults: deploymentConfiguration 100 / 200. */
	b = codec_lit_pack("{v: 1, name: web, cluster: c, family: f, revision: 3,"
			   " desiredCount: 2, status: ACTIVE, createdAt: 4}",
			   &n);
	assert_int_equal(model_service_decode(b, n, &r.s, err, sizeof(err)), 0);
	assert_int_equal(r.s.config.min_healthy_percent, 100);
	assert_int_equal(r.s.config.max_percent, 200);
	assert_json(model_service_to_json(&r.s),
		    "{\"name\":\"web\",\"cluster\":\"c\",\"family\":\"f\",\"revision\":3,"
		    "\"desiredCount\":2,\"placementStrategy\":[],\"placementConstraints\":[],"
		    "\"deploymentConfiguration\":{\"minimumHealthyPercent\":100,"
		    "\"maximumPercent\":200},\"deployments\":[],\"status\":\"ACTIVE\","
		    "\"createdAt\":4}");
	model_service_free(&r.s);
	free(b);
}

/* Every proper prefix of every encoding is refused, and leaves a zeroed record. */
static void test_model_records_truncation(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(all_ops); i++) {
		const struct rec_ops *o = all_ops[i];
		size_t n;
		uint8_t *full = encode_sample(o, &n);
		for (size_t len = 0; len < n; len++) {
			uint8_t *p = codec_lit_dup(full, len);
			union any_rec r;
			char err[256];
			memset(&r, 0xA5, sizeof(r));
			assert_int_equal(o->decode(p, len, &r, err, sizeof(err)), BERTH_EBADREQ);
			assert_string_equal(err, "not one well-formed msgpack object");
			assert_zeroed(&r, o->size);
			free(p);
		}
		free(full);
	}
}

/* The error path of a field (model_field_push, _push_index) as snprintf wrote it, cut at
 * the buffer's end included: names and indexes pushed until far past 200 bytes. */
static void test_model_records_field_path(void **state)
{
	(void)state;
	static const char *const names[] = {"",
					    "a",
					    "containers",
					    "portMappings",
					    "placementConstraints",
					    "x234567890123456789012345"};
	static const size_t idx[] = {0, 7, 10, 65535, SIZE_MAX};
	for (size_t start = 0; start < 6; start++) {
		struct model_path p = {0};
		char ref[200] = "";
		size_t rlen = 0;
		for (size_t k = 0; k < 40; k++) {
			size_t old = p.len;
			int n;
			if ((start + k) % 3 == 2) {
				size_t i = idx[(start + k) % 5];
				assert_int_equal(model_field_push_index(&p, i), old);
				n = snprintf(ref + rlen, sizeof(ref) - rlen, "[%zu]", i);
			} else {
				const char *name = names[(start + k) % 6];
				assert_int_equal(model_field_push(&p, name), old);
				n = snprintf(ref + rlen, sizeof(ref) - rlen, "%s%s",
					     rlen > 0 ? "." : "", name);
			}
			if (n > 0)
				rlen += (size_t)n < sizeof(ref) - rlen ? (size_t)n
								       : sizeof(ref) - rlen - 1;
			assert_int_equal(p.len, rlen);
			assert_string_equal(p.at, ref);
		}
		model_field_pop(&p, 3);
		assert_int_equal(strlen(p.at), 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_records_round_trip),
		cmocka_unit_test(test_model_records_fields),
		cmocka_unit_test(test_model_records_json_text),
		cmocka_unit_test(test_model_records_field_path),
		cmocka_unit_test(test_model_records_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
