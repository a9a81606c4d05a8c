/* tests/unit/test_opttab.c: the option table parser: defaults, environment, every type,
 * and every refusal with its message (common/opttab.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/opttab.h"

#include <stdlib.h>
#include <string.h>

struct t_cfg {
	uint64_t count;
	char name[8];
	uint64_t verbose;
	char tag[3][5];
	unsigned ntag;
};

static const struct opttab_opt t_opts[] = {
	OPTTAB_U64(struct t_cfg, count, "3", 1, 10, "how many"),
	OPTTAB_STR(struct t_cfg, name, "x", "a name"),
	OPTTAB_FLAG(struct t_cfg, verbose, "say more"),
	OPTTAB_MULTI(struct t_cfg, tag, ntag, "a tag (repeatable)"),
};
static const struct opttab_env t_envs[] = {{"T_OPTTAB_NAME", "name"}};

/* Parses the NULL-terminated words after a program name. */
static enum opttab_result t_parse(struct t_cfg *c, char *err, const char *const *words)
{
	char *argv[16] = {"prog"};
	int argc = 1;
	while (words[argc - 1] != NULL)
		argv[argc] = (char *)words[argc - 1], argc++;
	err[0] = 0;
	return opttab_parse(t_opts, 4, t_envs, 1, c, sizeof(*c), argc, argv, err, 256);
}
#define W(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_opttab_values(void **state)
{
	struct t_cfg c;
	char err[256];
	(void)state;
	unsetenv("T_OPTTAB_NAME");
	assert_int_equal(t_parse(&c, err, (const char *const[]){NULL}), OPTTAB_OK);
	assert_int_equal(c.count, 3);
	assert_string_equal(c.name, "x");
	assert_int_equal(c.verbose, 0);
	assert_int_equal(c.ntag, 0);
	assert_int_equal(t_parse(&c, err,
				 W("--count", "10", "--name=abc", "--verbose", "--tag", "a",
				   "--tag", "bcde")),
			 OPTTAB_OK);
	assert_int_equal(c.count, 10);
	assert_string_equal(c.name, "abc");
	assert_int_equal(c.verbose, 1);
	assert_int_equal(c.ntag, 2);
	assert_string_equal(c.tag[1], "bcde");
	setenv("T_OPTTAB_NAME", "env", 1);
	assert_int_equal(t_parse(&c, err, (const char *const[]){NULL}), OPTTAB_OK);
	assert_string_equal(c.name, "env");
	assert_int_equal(t_parse(&c, err, W("--name", "cli")), OPTTAB_OK);
	assert_string_equal(c.name, "cli"); /* the command line wins */
	setenv("T_OPTTAB_NAME", "toolongname", 1);
	assert_int_equal(t_parse(&c, err, (const char *const[]){NULL}), OPTTAB_ERROR);
	assert_string_equal(err, "--name: longer than 7 bytes (from $T_OPTTAB_NAME)");
	unsetenv("T_OPTTAB_NAME");
	assert_int_equal(t_parse(&c, err, W("--help")), OPTTAB_HELP);
}

static void test_opttab_refusals(void **state)
{
	const struct {
		const char *const *words;
		const char *msg;
	} cases[] = {
		{W("--count", "0"), "--count: '0' is not a number in 1..10"},
		{W("--count", "11"), "--count: '11' is not a number in 1..10"},
		{W("--count", "-1"), "--count: '-1' is not a number in 1..10"},
		{W("--count", "3x"), "--count: '3x' is not a number in 1..10"},
		{W("--count", ""), "--count: '' is not a number in 1..10"},
		{W("--count"), "missing value for option: '--count'"},
		{W("--bogus"), "unknown option: '--bogus'"},
		{W("extra"), "unexpected argument 'extra'"},
		{W("--name", "12345678"), "--name: longer than 7 bytes"},
		{W("--tag", "12345"), "--tag: longer than 4 bytes"},
		{W("--tag", "a", "--tag", "b", "--tag", "c", "--tag", "d"), "--tag: more than 3"},
	};
	struct t_cfg c;
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(t_parse(&c, err, cases[i].words), OPTTAB_ERROR);
		assert_string_equal(err, cases[i].msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opttab_values),
		cmocka_unit_test(test_opttab_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
