/* tests/unit/test_config.c: berth-store's option table: defaults, parsing, validation
 * with messages naming the option, and the --bootstrap member list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/config.h"

#include <stdlib.h>
#include <string.h>

#define BOOT "1=127.0.0.1:7001/127.0.0.1:7101,2=10.0.0.2:7001/10.0.0.2:7101"

/* Parses a NULL-terminated list of arguments (after the program name). */
static enum config_result parse(struct config *c, char *err, const char *const *args)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = "berth-store";
	for (; *args != NULL && argc < 63; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	err[0] = 0;
	return config_parse(c, argc, argv, err, 512);
}

static const char *BASE[] = {
	"--id",           "1", "--data", "/tmp/d", "--peer-addr", "127.0.0.1:7001", "--client-addr",
	"127.0.0.1:7101", NULL};

static void test_config_defaults(void **state)
{
	struct config c;
	char err[512];
	(void)state;
	unsetenv("BERTH_TOKEN");
	assert_int_equal(parse(&c, err, BASE), CONFIG_OK);
	assert_int_equal(c.id, 1);
	assert_string_equal(c.data, "/tmp/d");
	assert_int_equal(c.election_ms, 400);
	assert_int_equal(c.heartbeat_ms, 50);
	assert_int_equal(c.snapshot_threshold, 32768);
	assert_int_equal(c.snapshot_trailing, 16384);
	assert_int_equal(c.max_inflight, 1024);
	assert_int_equal(c.max_batch, 256);
	assert_int_equal(c.max_key_bytes, 1024);
	assert_int_equal(c.max_value_bytes, 1048576);
	assert_int_equal(c.max_txn_ops, 128);
	assert_int_equal(c.compact_keep, 100000);
	assert_string_equal(c.token, "");
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.nmembers, 0);
	struct fsm_config f;
	config_fsm(&c, &f);
	assert_int_equal(f.max_key_bytes, 1024);
	assert_int_equal(f.map_bytes, (size_t)65536 << 20);
}

static void test_config_bootstrap_members(void **state)
{
	struct config c;
	char err[512];
	const char *args[] = {"--id",
			      "2",
			      "--data",
			      "/d",
			      "--peer-addr",
			      "10.0.0.2:7001",
			      "--client-addr",
			      "10.0.0.2:7101",
			      "--bootstrap",
			      BOOT,
			      "--token",
			      "s3cret",
			      "--max-batch",
			      "64",
			      NULL};
	(void)state;
	assert_int_equal(parse(&c, err, args), CONFIG_OK);
	assert_int_equal(c.nmembers, 2);
	assert_int_equal(c.members[0].id, 1);
	assert_string_equal(c.members[0].peer, "127.0.0.1:7001");
	assert_string_equal(c.members[0].client, "127.0.0.1:7101");
	assert_string_equal(config_client_of(&c, 2), "10.0.0.2:7101");
	assert_null(config_client_of(&c, 3));
	assert_string_equal(c.token, "s3cret");
	assert_int_equal(c.max_batch, 64);
}

static void test_config_token_from_env(void **state)
{
	struct config c;
	char err[512];
	(void)state;
	setenv("BERTH_TOKEN", "from-env", 1);
	assert_int_equal(parse(&c, err, BASE), CONFIG_OK);
	assert_string_equal(c.token, "from-env");
	unsetenv("BERTH_TOKEN");
}

/* BERTH_LOG_LEVEL is the default; --log-level overrides it; a bad value is refused. */
static void test_config_log_level_from_env(void **state)
{
	struct config c;
	char err[512];
	const char *args[] = {"--id",          "1",   "--data",      "/d",   "--peer-addr", "a:1",
			      "--client-addr", "a:2", "--log-level", "warn", NULL};
	(void)state;
	setenv("BERTH_LOG_LEVEL", "debug", 1);
	assert_int_equal(parse(&c, err, BASE), CONFIG_OK);
	assert_string_equal(c.log_level, "debug");
	assert_int_equal(parse(&c, err, args), CONFIG_OK);
	assert_string_equal(c.log_level, "warn");
	setenv("BERTH_LOG_LEVEL", "chatty", 1);
	assert_int_equal(parse(&c, err, BASE), CONFIG_ERROR);
	assert_non_null(strstr(err, "chatty"));
	unsetenv("BERTH_LOG_LEVEL");
	assert_int_equal(parse(&c, err, BASE), CONFIG_OK);
	assert_string_equal(c.log_level, "info");
}

/* --join takes no value, is off by default, and excludes --bootstrap. */
static void test_config_join(void **state)
{
	struct config c;
	char err[512];
	const char *join[] = {"--id",          "4",   "--data", "/d", "--peer-addr", "a:1",
			      "--client-addr", "a:2", "--join", NULL};
	const char *both[] = {"--id",          "1",   "--data", "/d",          "--peer-addr", "a:1",
			      "--client-addr", "a:2", "--join", "--bootstrap", "1=a:1/a:2",   NULL};
	const char *value[] = {"--id",          "4",   "--data",     "/d", "--peer-addr", "a:1",
			       "--client-addr", "a:2", "--join=yes", NULL};
	(void)state;
	assert_int_equal(parse(&c, err, BASE), CONFIG_OK);
	assert_int_equal(c.join, 0);
	assert_int_equal(parse(&c, err, join), CONFIG_OK);
	assert_int_equal(c.join, 1);
	assert_int_equal(c.nmembers, 0);
	assert_int_equal(parse(&c, err, both), CONFIG_ERROR);
	assert_non_null(strstr(err, "--join and --bootstrap"));
	assert_int_equal(parse(&c, err, value), CONFIG_ERROR);
	assert_non_null(strstr(err, "--join"));
}

/* Each bad command line is refused with a message that names what is wrong. */
static void test_config_errors(void **state)
{
	static const struct {
		const char *args[20];
		const char *msg;
	} cases[] = {
		{{NULL}, "are required"},
		{{"--id", "0", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2", NULL},
		 "--id"},
		{{"--id", "x", NULL}, "--id"},
		{{"--id", "-1", NULL}, "--id"},
		{{"--id", "4294967296", NULL}, "--id"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "nohost", "--client-addr", "a:2",
		  NULL},
		 "--peer-addr"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:0", NULL},
		 "--client-addr"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:65536",
		  NULL},
		 "--client-addr"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--log-level", "loud", NULL},
		 "--log-level"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--heartbeat-ms", "1000", NULL},
		 "--heartbeat-ms"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--election-ms", "99", NULL},
		 "--election-ms"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--max-key-bytes", "4097", NULL},
		 "--max-key-bytes"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--bootstrap", "1=a:1", NULL},
		 "--bootstrap"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--bootstrap", "1=a:1/a:2,1=b:1/b:2", NULL},
		 "twice"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--bootstrap", "2=b:1/b:2", NULL},
		 "does not name this member"},
		{{"--id", "1", "--data", "/d", "--peer-addr", "a:1", "--client-addr", "a:2",
		  "--bootstrap", "x=b:1/b:2", NULL},
		 "--bootstrap"},
		{{"--id", "1", "--bogus", "3", NULL}, "unknown option"},
		{{"--id", NULL}, "missing value"},
		{{"--id", "1", "stray", NULL}, "unexpected argument"},
	};
	struct config c;
	char err[512];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum config_result r = parse(&c, err, cases[i].args);
		if (r != CONFIG_ERROR || strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: result %d, message '%s', wanted '%s'", i, r, err,
				 cases[i].msg);
	}
	const char *help[] = {"--help", NULL};
	assert_int_equal(parse(&c, err, help), CONFIG_HELP);
}

static void test_config_split_addr(void **state)
{
	char host[16];
	int port = 0;
	(void)state;
	assert_int_equal(config_split_addr("127.0.0.1:7101", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7101);
	assert_int_not_equal(config_split_addr(":1", host, sizeof(host), &port), 0);
	assert_int_not_equal(config_split_addr("h:", host, sizeof(host), &port), 0);
	assert_int_not_equal(config_split_addr("h:1x", host, sizeof(host), &port), 0);
	assert_int_not_equal(
		config_split_addr("averyveryverylonghost:1", host, sizeof(host), &port), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_bootstrap_members),
		cmocka_unit_test(test_config_token_from_env),
		cmocka_unit_test(test_config_log_level_from_env),
		cmocka_unit_test(test_config_join),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_split_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
