/* tests/unit/test_model_placement.c: placement strategies and constraints: the compact
 * command line forms and the ECS JSON objects, accepted and formatted back, or refused with
 * their exact messages. */
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

struct good {
	const char *cli;
	int type;
	int field;
	const char *text; /* field or expression */
};

static void test_model_placement_cli(void **state)
{
	static const struct good strategies[] = {
		{"binpack:cpu", MODEL_BINPACK, MODEL_FIELD_CPU, "cpu"},
		{"binpack:memory", MODEL_BINPACK, MODEL_FIELD_MEMORY, "memory"},
		{"spread:instanceId", MODEL_SPREAD, MODEL_FIELD_INSTANCE_ID, "instanceId"},
		{"spread:attribute:zone", MODEL_SPREAD, MODEL_FIELD_ATTR, "attribute:zone"},
		{"spread:attribute:ecs.availability-zone", MODEL_SPREAD, MODEL_FIELD_ATTR,
		 "attribute:ecs.availability-zone"},
		{"random", MODEL_RANDOM, -1, NULL},
	};
	static const struct good constraints[] = {
		{"distinctInstance", MODEL_DISTINCT_INSTANCE, 0, NULL},
		{"memberOf:attribute:zone in (a, b)", MODEL_MEMBER_OF, 0,
		 "attribute:zone in (a, b)"},
		{"memberOf:not(attribute:x exists)", MODEL_MEMBER_OF, 0, "not(attribute:x exists)"},
	};
	char err[256], back[64];
	(void)state;

	for (size_t i = 0; i < ARRAY_LEN(strategies); i++) {
		struct model_strategy s;
		const char *attr = NULL;
		assert_int_equal(model_strategy_parse(strategies[i].cli, &s, err, sizeof(err)), 0);
		assert_int_equal(s.type, strategies[i].type);
		assert_int_equal(model_strategy_field(&s, &attr), strategies[i].field);
		if (strategies[i].text == NULL)
			assert_null(s.field);
		else
			assert_string_equal(s.field, strategies[i].text);
		if (strategies[i].field == MODEL_FIELD_ATTR)
			assert_string_equal(attr, strategies[i].text + strlen("attribute:"));
		assert_int_equal(model_strategy_format(&s, back, sizeof(back)),
				 strlen(strategies[i].cli));
		assert_string_equal(back, strategies[i].cli);
		model_strategy_free(&s);
		assert_null(s.field);
	}
	for (size_t i = 0; i < ARRAY_LEN(constraints); i++) {
		struct model_constraint c;
		assert_int_equal(model_constraint_parse(constraints[i].cli, &c, err, sizeof(err)),
				 0);
		assert_int_equal(c.type, constraints[i].type);
		if (constraints[i].text == NULL)
			assert_null(c.expression);
		else
			assert_string_equal(c.expression, constraints[i].text);
		assert_int_equal(model_constraint_format(&c, back, sizeof(back)),
				 strlen(constraints[i].cli));
		assert_string_equal(back, constraints[i].cli);
		model_constraint_free(&c);
	}

	/* format says how much room it needs, as snprintf does. */
	struct model_strategy s;
	assert_int_equal(model_strategy_parse("spread:attribute:zone", &s, err, sizeof(err)), 0);
	assert_int_equal(model_strategy_format(&s, back, 8), 21);
	assert_string_equal(back, "spread:");
	model_strategy_free(&s);
}

struct bad {
	const char *in;
	const char *msg;
};

#define SPREAD_MSG "field: spread takes instanceId or attribute:NAME"

static void test_model_placement_cli_bad(void **state)
{
	static const struct bad strategies[] = {
		{"", "unknown strategy \"\""},
		{"Binpack:cpu", "unknown strategy \"Binpack\""},
		{"spreadx", "unknown strategy \"spreadx\""},
		{"binpack", "field: binpack takes cpu or memory"},
		{"binpack:disk", "field: binpack takes cpu or memory"},
		{"binpack:CPU", "field: binpack takes cpu or memory"},
		{"binpack:", "field: must be 1..138 characters"},
		{"spread", SPREAD_MSG},
		{"spread:zone", SPREAD_MSG},
		{"spread:attribute:", SPREAD_MSG},
		{"spread:attribute:a b", SPREAD_MSG},
		{"spread:attribute:a:b", SPREAD_MSG},
		{"random:x", "field: random takes no field"},
		{"random:", "field: must be 1..138 characters"},
	};
	static const struct bad constraints[] = {
		{"distinct", "unknown constraint \"distinct\""},
		{"distinctInstance:x", "expression: distinctInstance takes no expression"},
		{"memberOf", "expression: required for memberOf"},
		{"memberOf:", "expression: must be 1..2048 characters"},
		{"memberOf:attribute:zone == \xff", "expression: must be valid UTF-8"},
	};
	char err[256];
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(strategies); i++) {
		struct model_strategy s;
		print_message("%s\n", strategies[i].in);
		memset(&s, 0x5A, sizeof(s));
		assert_int_equal(model_strategy_parse(strategies[i].in, &s, err, sizeof(err)),
				 BERTH_EBADREQ);
		assert_string_equal(err, strategies[i].msg);
		assert_null(s.field);
	}
	for (size_t i = 0; i < ARRAY_LEN(constraints); i++) {
		struct model_constraint c;
		print_message("%s\n", constraints[i].in);
		assert_int_equal(model_constraint_parse(constraints[i].in, &c, err, sizeof(err)),
				 BERTH_EBADREQ);
		assert_string_equal(err, constraints[i].msg);
		assert_null(c.expression);
	}

	/* The expression's limit: 2048 bytes, not 2049. */
	char expr[9 + MODEL_EXPRESSION_MAX + 2];
	struct model_constraint c;
	memcpy(expr, "memberOf:", 9);
	memset(expr + 9, 'x', MODEL_EXPRESSION_MAX + 1);
	expr[9 + MODEL_EXPRESSION_MAX + 1] = '\0';
	assert_int_equal(model_constraint_parse(expr, &c, err, sizeof(err)), BERTH_EBADREQ);
	assert_string_equal(err, "expression: must be 1..2048 characters");
	expr[9 + MODEL_EXPRESSION_MAX] = '\0';
	assert_int_equal(model_constraint_parse(expr, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.expression), MODEL_EXPRESSION_MAX);
	model_constraint_free(&c);
}

static void test_model_placement_json(void **state)
{
	static const struct bad strategies[] = {
		{"[]", "must be an object"},
		{"{\"type\": \"spread\"}", SPREAD_MSG},
		{"{\"field\": \"cpu\"}", "type: required"},
		{"{\"type\": \"pack\"}", "type: must be one of binpack, spread, random"},
		{"{\"type\": 1}", "type: must be one of binpack, spread, random"},
		{"{\"type\": \"binpack\", \"field\": \"cpu\", \"weight\": 1}",
		 "unknown field \"weight\""},
		{"{\"type\": \"binpack\", \"field\": 5}", "field: must be a string"},
	};
	static const struct bad constraints[] = {
		{"{\"type\": \"memberOf\", \"expression\": 5}", "expression: must be a string"},
		{"{\"type\": \"memberOf\"}", "expression: required for memberOf"},
		{"{\"type\": \"distinctinstance\"}",
		 "type: must be one of distinctInstance, memberOf"},
	};
	struct model_strategy s;
	struct model_constraint c;
	char err[256];
	json_t *j;
	(void)state;

	j = json_loads("{\"type\": \"spread\", \"field\": \"attribute:zone\"}", 0, NULL);
	assert_int_equal(model_strategy_from_json(j, &s, err, sizeof(err)), 0);
	assert_int_equal(s.type, MODEL_SPREAD);
	assert_string_equal(s.field, "attribute:zone");
	model_strategy_free(&s);
	json_decref(j);
	j = json_loads("{\"type\": \"random\"}", 0, NULL);
	assert_int_equal(model_strategy_from_json(j, &s, err, sizeof(err)), 0);
	assert_int_equal(s.type, MODEL_RANDOM);
	json_decref(j);
	j = json_loads("{\"type\": \"memberOf\", \"expression\": \"attribute:zone != a\"}", 0,
		       NULL);
	assert_int_equal(model_constraint_from_json(j, &c, err, sizeof(err)), 0);
	assert_int_equal(c.type, MODEL_MEMBER_OF);
	assert_string_equal(c.expression, "attribute:zone != a");
	model_constraint_free(&c);
	json_decref(j);

	for (size_t i = 0; i < ARRAY_LEN(strategies); i++) {
		print_message("%s\n", strategies[i].in);
		j = json_loads(strategies[i].in, 0, NULL);
		assert_non_null(j);
		assert_int_equal(model_strategy_from_json(j, &s, err, sizeof(err)), BERTH_EBADREQ);
		assert_string_equal(err, strategies[i].msg);
		assert_null(s.field);
		json_decref(j);
	}
	for (size_t i = 0; i < ARRAY_LEN(constraints); i++) {
		print_message("%s\n", constraints[i].in);
		j = json_loads(constraints[i].in, 0, NULL);
		assert_non_null(j);
		assert_int_equal(model_constraint_from_json(j, &c, err, sizeof(err)),
				 BERTH_EBADREQ);
		assert_string_equal(err, constraints[i].msg);
		assert_null(c.expression);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_placement_cli),
		cmocka_unit_test(test_model_placement_cli_bad),
		cmocka_unit_test(test_model_placement_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
