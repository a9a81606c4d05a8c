/* tests/unit/test_model_taskdef.c: the task definition JSON that `berthctl taskdef register`
 * reads (ECS RegisterTaskDefinition): a full example, defaults, a table of bad task
 * definitions each refused with its exact message, and every limit at and past its edge. */
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

/* The example of docs/model.md. */
static const char example[] =
	"{\n"
	"  \"family\": \"web\",\n"
	"  \"containerDefinitions\": [\n"
	"    {\n"
	"      \"name\": \"nginx\",\n"
	"      \"image\": \"nginx:1.25\",\n"
	"      \"command\": [\"nginx\", \"-g\", \"daemon off;\"],\n"
	"      \"environment\": [{\"name\": \"MODE\", \"value\": \"production\"}],\n"
	"      \"cpu\": 256,\n"
	"      \"memory\": 512,\n"
	"      \"portMappings\": [{\"containerPort\": 80, \"hostPort\": 8080, \"protocol\": "
	"\"tcp\"}],\n"
	"      \"essential\": true\n"
	"    },\n"
	"    {\n"
	"      \"name\": \"log-router\",\n"
	"      \"image\": \"fluent/fluent-bit:2.2\",\n"
	"      \"memory\": 64,\n"
	"      \"portMappings\": [{\"containerPort\": 24224}],\n"
	"      \"essential\": false\n"
	"    }\n"
	"  ],\n"
	"  \"cpu\": \"512\",\n"
	"  \"memory\": \"1024\"\n"
	"}\n";

static void test_model_taskdef_example(void **state)
{
	struct model_taskdef td;
	char err[256];
	uint16_t ports[MODEL_HOST_PORTS_MAX];
	(void)state;

	assert_int_equal(model_taskdef_parse_json(example, strlen(example), &td, err, sizeof(err)),
			 0);
	assert_string_equal(td.family, "web");
	assert_int_equal(td.revision, 0);
	assert_int_equal(td.ncontainers, 2);
	assert_string_equal(td.containers[0].command[2], "daemon off;");
	assert_string_equal(td.containers[0].environment[0].value, "production");
	assert_int_equal(td.containers[0].ports[0].protocol, MODEL_TCP);
	assert_int_equal(td.containers[1].cpu, 0);
	assert_int_equal(td.containers[1].ports[0].host_port, 0);
	assert_int_equal(td.containers[1].ports[0].protocol, MODEL_TCP);
	assert_false(td.containers[1].essential);
	assert_int_equal(td.cpu, 512);
	assert_int_equal(td.memory, 1024);
	assert_int_equal(model_taskdef_host_ports(&td, ports), 1);
	assert_int_equal(ports[0], 8080);

	/* Its JSON carries the revision once assigned; the full reader takes it back. */
	td.revision = 3;
	json_t *j = model_taskdef_to_json(&td);
	struct model_taskdef back;
	assert_int_equal(model_taskdef_from_json(j, &back, err, sizeof(err)), 0);
	assert_int_equal(back.revision, 3);
	assert_int_equal(back.containers[1].memory, 64);
	json_decref(j);
	model_taskdef_free(&back);
	model_taskdef_free(&td);
}

/* Absent task-level cpu and memory are the containers' sums; essential defaults to true. */
static void test_model_taskdef_defaults(void **state)
{
	static const char text[] =
		"{\"family\": \"f\", \"containerDefinitions\": ["
		"{\"name\": \"a\", \"image\": \"x\", \"cpu\": 100, \"memory\": 10},"
		"{\"name\": \"b\", \"image\": \"y\", \"cpu\": 28, \"memory\": 6}]}";
	struct model_taskdef td;
	char err[256];
	(void)state;
	assert_int_equal(model_taskdef_parse_json(text, strlen(text), &td, err, sizeof(err)), 0);
	assert_int_equal(td.cpu, 128);
	assert_int_equal(td.memory, 16);
	assert_true(td.containers[0].essential);
	assert_true(td.containers[1].essential);
	assert_int_equal(td.containers[0].ncommand, 0);
	assert_null(td.containers[0].command);
	model_taskdef_free(&td);
}

struct bad {
	const char *json;
	const char *msg;
};

#define FAM "\"family\": \"web\", "
#define C(body) "{\"name\": \"a\", \"image\": \"i\", \"memory\": 8" body "}"
#define C2(body) "{\"name\": \"b\", \"image\": \"i\", \"memory\": 8" body "}"
#define CDEF(list) FAM "\"containerDefinitions\": [" list "]"
#define PM(x) ", \"portMappings\": [" x "]"
#define CHARS "must contain only letters, digits, '-' and '_'"

static const struct bad bad[] = {
	{"[]", "must be an object"},
	{"{" CDEF(C("")) ", \"revision\": 3}", "revision: set by berth, not accepted here"},
	{"{" CDEF(C("")) ", \"networkMode\": \"bridge\"}", "unknown field \"networkMode\""},
	{"{\"containerDefinitions\": [" C("") "]}", "family: required"},
	{"{\"family\": \"\", \"containerDefinitions\": [" C("") "]}",
	 "family: must be 1..255 characters"},
	{"{\"family\": \"a b\", \"containerDefinitions\": [" C("") "]}", "family: " CHARS},
	{"{\"family\": \"a/b\", \"containerDefinitions\": [" C("") "]}", "family: " CHARS},
	{"{\"family\": 5, \"containerDefinitions\": [" C("") "]}", "family: must be a string"},
	{"{\"family\": \"web\"}", "containerDefinitions: required"},
	{"{" CDEF("") "}", "containerDefinitions: must have 1..10 entries"},
	{"{" FAM "\"containerDefinitions\": {}}", "containerDefinitions: must be an array"},
	{"{" CDEF("5") "}", "containerDefinitions[0]: must be an object"},
	{"{" CDEF("{\"name\": \"a\"}") "}", "containerDefinitions[0].image: required"},
	{"{" CDEF(C(", \"links\": []")) "}", "containerDefinitions[0]: unknown field \"links\""},
	{"{" CDEF(C("") "," C("")) "}", "containerDefinitions[1].name: \"a\" is used twice"},
	{"{" CDEF("{\"name\": \"a.b\", \"image\": \"i\"}") "}",
	 "containerDefinitions[0].name: " CHARS},
	{"{" CDEF("{\"name\": \"a\", \"image\": \"my image\"}") "}",
	 "containerDefinitions[0].image: must be printable ASCII without spaces"},
	{"{" CDEF(C(", \"essential\": false")) "}",
	 "containerDefinitions: at least one container must be essential"},
	{"{" CDEF(C(", \"essential\": \"yes\"")) "}",
	 "containerDefinitions[0].essential: must be true or false"},
	{"{" CDEF(C(", \"command\": \"ls\"")) "}",
	 "containerDefinitions[0].command: must be an array"},
	{"{" CDEF(C(", \"command\": [\"ls\", null]")) "}",
	 "containerDefinitions[0].command[1]: must be a string"},
	{"{" CDEF(C(", \"environment\": [{\"name\": \"A\", \"value\": \"1\"}, {\"name\": \"A\","
		    " \"value\": \"2\"}]")) "}",
	 "containerDefinitions[0].environment[1].name: \"A\" is used twice"},
	{"{" CDEF(C(", \"environment\": [{\"name\": \"1A\", \"value\": \"1\"}]")) "}",
	 "containerDefinitions[0].environment[0].name: must be a letter or '_' followed by "
	 "letters, digits and '_'"},
	{"{" CDEF(C(", \"environment\": [{\"name\": \"A\"}]")) "}",
	 "containerDefinitions[0].environment[0].value: required"},
	{"{" CDEF(C("") "," C2(PM("{\"containerPort\": 80, \"hostPort\": 0}"))) "}",
	 "containerDefinitions[1].portMappings[0].hostPort: must be 1..65535"},
	{"{" CDEF(C("") "," C2(PM("{\"containerPort\": 80, \"hostPort\": 65536}"))) "}",
	 "containerDefinitions[1].portMappings[0].hostPort: must be 1..65535"},
	{"{" CDEF(C(PM("{\"containerPort\": 0}"))) "}",
	 "containerDefinitions[0].portMappings[0].containerPort: must be 1..65535"},
	{"{" CDEF(C(PM("{\"hostPort\": 80}"))) "}",
	 "containerDefinitions[0].portMappings[0].containerPort: required"},
	{"{" CDEF(C(PM("{\"containerPort\": 80, \"protocol\": \"sctp\"}"))) "}",
	 "containerDefinitions[0].portMappings[0].protocol: must be one of tcp, udp"},
	{"{" CDEF(C(PM("{\"containerPort\": 80, \"hostPort\": 8080}")) "," C2(
		 PM("{\"containerPort\": 81, \"hostPort\": 8080, \"protocol\": \"udp\"}"))) "}",
	 "containerDefinitions[1].portMappings[0].hostPort: 8080 is already mapped by "
	 "containerDefinitions[0].portMappings[0]"},
	{"{" CDEF(C(PM("{\"containerPort\": 80, \"hostPort\": 8080}, {\"containerPort\": 81,"
		       " \"hostPort\": 8080}"))) "}",
	 "containerDefinitions[0].portMappings[1].hostPort: 8080 is already mapped by "
	 "containerDefinitions[0].portMappings[0]"},
	{"{" CDEF(C(", \"cpu\": 256")) ", \"cpu\": 100}",
	 "cpu: 100 does not cover the containers' 256"},
	{"{" CDEF(C("")) ", \"memory\": \"4\"}", "memory: 4 does not cover the containers' 8"},
	{"{" CDEF(C(", \"cpu\": -1")) "}", "containerDefinitions[0].cpu: must be 0..1048576"},
	{"{" CDEF(C("")) ", \"cpu\": \"1 vCPU\"}", "cpu: must be an integer or a string of digits"},
	{"{" CDEF(C("")) ", \"cpu\": \"\"}", "cpu: must be an integer or a string of digits"},
	{"{" CDEF(C("")) ", \"cpu\": \"1048577\"}", "cpu: must be 0..1048576"},
	{"{" CDEF(C("")) ", \"memory\": 1.5}", "memory: must be an integer"},
	{"{" CDEF(C("")) ", \"memory\": -1}", "memory: must be 0..16777216"},
	{"{" CDEF("{\"name\": \"a\", \"image\": \"i\"}") "}",
	 "memory: must be given for the task or for its containers"},
};

static void test_model_taskdef_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		struct model_taskdef td, zero;
		char err[256];
		print_message("%zu: %s\n", i, bad[i].json);
		memset(&td, 0x5A, sizeof(td));
		memset(&zero, 0, sizeof(zero));
		assert_int_equal(model_taskdef_parse_json(bad[i].json, strlen(bad[i].json), &td,
							  err, sizeof(err)),
				 BERTH_EBADREQ);
		assert_string_equal(err, bad[i].msg);
		assert_memory_equal(&td, &zero, sizeof(td));
	}
}

/* Text that is not JSON, or has a key twice, is refused with jansson's position. */
static void test_model_taskdef_not_json(void **state)
{
	struct model_taskdef zero = {0};
	static const char *const texts[] = {"", "{", "{\"family\": \"a\", \"family\": \"b\"}",
					    "{\"family\": \"a\"} x", "{\"family\": \"a\\u0000b\"}"};
	struct model_taskdef td;
	char err[256];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		assert_int_equal(
			model_taskdef_parse_json(texts[i], strlen(texts[i]), &td, err, sizeof(err)),
			BERTH_EBADREQ);
		assert_true(strncmp(err, "line 1 column ", 14) == 0);
		assert_memory_equal(&td, &zero, sizeof(td));
	}

	/* A NUL that jansson lets through (built in memory) is refused by the model. */
	json_t *j = json_pack("{s:s%,s:[{s:s,s:s,s:i}]}", "family", "a\0b", (size_t)3,
			      "containerDefinitions", "name", "a", "image", "i", "memory", 1);
	assert_non_null(j);
	assert_int_equal(model_taskdef_from_json(j, &td, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "family: must not contain NUL characters");
	json_decref(j);
}

/* n containers named c0.., each with `args` arguments of `arglen` bytes and `ports` host
 * ports (numbered from base). */
static char *gen(size_t n, size_t args, size_t arglen, size_t ports, unsigned base)
{
	size_t cap = 1024 + n * (args * (arglen + 4) + ports * 64 + 256);
	char *s = malloc(cap), *arg = malloc(arglen + 1);
	size_t len = 0;
	assert_non_null(s);
	assert_non_null(arg);
	memset(arg, 'x', arglen);
	arg[arglen] = '\0';
	len += (size_t)snprintf(s + len, cap - len,
				"{\"family\": \"big\", \"containerDefinitions\": [");
	for (size_t c = 0; c < n; c++) {
		len += (size_t)snprintf(s + len, cap - len,
					"%s{\"name\": \"c%zu\", \"image\": \"i\", \"memory\": 1,"
					" \"command\": [",
					c ? ", " : "", c);
		for (size_t a = 0; a < args; a++)
			len += (size_t)snprintf(s + len, cap - len, "%s\"%s\"", a ? ", " : "", arg);
		len += (size_t)snprintf(s + len, cap - len, "], \"portMappings\": [");
		for (size_t p = 0; p < ports; p++)
			len += (size_t)snprintf(s + len, cap - len,
						"%s{\"containerPort\": 1, \"hostPort\": %u}",
						p ? ", " : "", base++);
		len += (size_t)snprintf(s + len, cap - len, "]}");
	}
	snprintf(s + len, cap - len, "]}");
	free(arg);
	return s;
}

static int parse(const char *text, char *err)
{
	struct model_taskdef td;
	int rv = model_taskdef_parse_json(text, strlen(text), &td, err, 256);
	if (rv == 0)
		model_taskdef_free(&td);
	return rv;
}

static void test_model_taskdef_limits(void **state)
{
	char err[256], *s;
	(void)state;

	/* Containers: 10, not 11. */
	s = gen(MODEL_CONTAINERS_MAX, 0, 0, 0, 0);
	assert_int_equal(parse(s, err), 0);
	free(s);
	s = gen(MODEL_CONTAINERS_MAX + 1, 0, 0, 0, 0);
	assert_int_equal(parse(s, err), BERTH_EBADREQ);
	assert_string_equal(err, "containerDefinitions: must have 1..10 entries");
	free(s);

	/* Arguments: 64 of 4096 bytes, not 65, not 4097 bytes. */
	s = gen(1, MODEL_COMMAND_MAX, 100, 0, 0);
	assert_int_equal(parse(s, err), 0);
	free(s);
	s = gen(1, MODEL_COMMAND_MAX + 1, 1, 0, 0);
	assert_int_equal(parse(s, err), BERTH_EBADREQ);
	assert_string_equal(err, "containerDefinitions[0].command: must have at most 64 entries");
	free(s);
	s = gen(1, 1, MODEL_ARG_MAX, 0, 0);
	assert_int_equal(parse(s, err), 0);
	free(s);
	s = gen(1, 1, MODEL_ARG_MAX + 1, 0, 0);
	assert_int_equal(parse(s, err), BERTH_EBADREQ);
	assert_string_equal(err,
			    "containerDefinitions[0].command[0]: must be at most 4096 characters");
	free(s);

	/* Host ports: 32 in the task, not 33 (spread over two containers). */
	s = gen(2, 0, 0, MODEL_HOST_PORTS_MAX / 2, 1000);
	assert_int_equal(parse(s, err), 0);
	free(s);
	s = gen(1, 0, 0, MODEL_HOST_PORTS_MAX + 1, 1000);
	assert_int_equal(parse(s, err), BERTH_EBADREQ);
	assert_string_equal(err,
			    "containerDefinitions[0].portMappings: must have at most 32 entries");
	free(s);
	s = gen(3, 0, 0, 11, 1000);
	assert_int_equal(parse(s, err), BERTH_EBADREQ);
	assert_string_equal(err, "containerDefinitions[2].portMappings[10].hostPort: more than 32 "
				 "host ports in the task");
	free(s);

	/* The whole task definition: at most 64 KiB encoded. */
	s = gen(10, 17, 400, 0, 0);
	assert_int_equal(parse(s, err), BERTH_ETOOLARGE);
	assert_true(strncmp(err, "the task definition is ", 23) == 0);
	assert_non_null(strstr(err, " bytes encoded; at most 65536"));
	free(s);
	s = gen(10, 15, 400, 0, 0);
	assert_int_equal(parse(s, err), 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_taskdef_example),
		cmocka_unit_test(test_model_taskdef_defaults),
		cmocka_unit_test(test_model_taskdef_bad),
		cmocka_unit_test(test_model_taskdef_not_json),
		cmocka_unit_test(test_model_taskdef_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
