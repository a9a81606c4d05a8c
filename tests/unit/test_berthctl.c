/* tests/unit/test_berthctl.c: the berthctl program, run as a child process: bad command
 * lines exit 1 without contacting anyone; exit codes and output against fake servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/msg.h"
#include "tests/unit/client_fake.h"
#include "tests/unit/ctl_run.h"
#include "tests/unit/support.h"

#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void test_berthctl_bad_command_lines(void **state)
{
	struct fake f = {0};
	(void)state;
	fake_start(&f, FAKE_OK);
	const char *e = f.addr;
#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
	ctl_expect(NULL, A("--endpoints", e), 1, NULL, "no command");
	ctl_expect(NULL, A("--endpoints", e, "frob"), 1, NULL, "unknown command \"frob\"");
	ctl_expect(NULL, A("--endpoints", e, "put", "k"), 1, NULL, "usage: berthctl put KEY VALUE");
	ctl_expect(NULL, A("--endpoints", e, "put", "k", "v", "w"), 1, NULL, "usage");
	ctl_expect(NULL, A("--endpoints", e, "get", "k", "--prefix"), 1, NULL,
		   "unknown option --prefix for get");
	ctl_expect(NULL, A("--endpoints", e, "get", "k", "--rev", "x1"), 1, NULL,
		   "--rev: \"x1\" is not a non-negative integer");
	ctl_expect(NULL, A("--endpoints", e, "get", "k", "--rev"), 1, NULL, "--rev needs a value");
	ctl_expect(NULL, A("--endpoints", e, "--timeout", "0", "get", "k"), 1, NULL,
		   "out of range");
	ctl_expect(NULL, A("--endpoints", e, "ls", "--keys-only", "--count-only"), 1, NULL,
		   "exclude each other");
	ctl_expect(NULL, A("--endpoints", e, "lease"), 1, NULL, "grant, revoke or keepalive");
	ctl_expect(NULL, A("--endpoints", e, "lease", "grant", "0"), 1, NULL, "TTL must be");
	ctl_expect(NULL, A("--endpoints", e, "compact", "-1"), 1, NULL, "not a non-negative");
	ctl_expect(NULL, A("--endpoints", e, "watch"), 1, NULL, "watch: a KEY, or --prefix");
	ctl_expect(NULL, A("--endpoints", e, "watch", "a", "b", "--prefix"), 1, NULL,
		   "--prefix takes no END");
	ctl_expect(NULL, A("--endpoints", e, "watch", "a", "--serializable"), 1, NULL,
		   "unknown option --serializable for watch");
	ctl_expect(NULL, A("--endpoints", e, "watch", "a", "--limit", "x"), 1, NULL,
		   "--limit: \"x\" is not a non-negative integer");
	ctl_expect(NULL, A("--endpoints", e, "snapshot"), 1, NULL, "snapshot: save?");
	ctl_expect(NULL, A("--endpoints", e, "snapshot", "save"), 1, NULL,
		   "usage: berthctl snapshot save FILE");
	ctl_expect(NULL, A("--endpoints", e, "snapshot", "load", "f"), 1, NULL,
		   "unknown command \"snapshot load\"");
	ctl_expect(NULL, A("--endpoints", e, "member"), 1, NULL, "list, add, remove or transfer");
	ctl_expect(NULL, A("--endpoints", e, "member", "join"), 1, NULL,
		   "unknown command \"member join\"");
	ctl_expect(NULL, A("--endpoints", e, "member", "add", "4", "a:1"), 1, NULL,
		   "usage: berthctl member add ID PEER-ADDR CLIENT-ADDR");
	ctl_expect(NULL, A("--endpoints", e, "member", "add", "0", "a:1", "a:2"), 1, NULL,
		   "must be 1..4294967295");
	ctl_expect(NULL, A("--endpoints", e, "member", "remove", "4294967296"), 1, NULL,
		   "must be 1..4294967295");
	ctl_expect(NULL, A("--endpoints", e, "member", "remove", "x"), 1, NULL,
		   "not a non-negative");
	ctl_expect(NULL, A("--endpoints", e, "member", "add", "4", "nocolon", "a:2"), 1, NULL,
		   "host:port");
	ctl_expect(NULL, A("--endpoints", e, "member", "list", "--no-wait"), 1, NULL,
		   "unknown option --no-wait");
	ctl_expect(NULL, A("--endpoints", e, "member", "transfer", "1", "2"), 1, NULL, "usage");
	ctl_expect(NULL, A("--endpoints", "127.0.0.1:7101,::1:7102", "get", "k"), 1, NULL,
		   "endpoint \"::1:7102\": too many ':'");
	ctl_expect(NULL, A("--endpoints", ",", "get", "k"), 1, NULL, "empty list");
	ctl_expect(NULL, A("--bogus", "get", "k"), 1, NULL, "unknown option --bogus");
	ctl_expect("{\"success\": [{\"op\": \"put\", \"key\": \"a\"}]}", A("--endpoints", e, "txn"),
		   1, NULL, "txn: success[0]: missing \"value\"");
	ctl_expect("{oops", A("--endpoints", e, "txn"), 1, NULL, "txn: line 1");
	/* Help exits 0 and contacts nobody either. */
	ctl_expect(NULL, A("--help"), 0, "usage: berthctl", NULL);
	ctl_expect(NULL, A("ls", "--help"), 0, "usage: berthctl [GLOBAL OPTIONS] ls [PREFIX]",
		   NULL);
	fake_stop(&f);
	assert_int_equal(f.conns, 0);
}

static void test_berthctl_against_fake(void **state)
{
	struct fake f = {0}, s = {0};
	char dead[32];
	(void)state;
	fake_start(&f, FAKE_OK);
	fake_start(&s, FAKE_SILENT);
	snprintf(dead, sizeof(dead), "127.0.0.1:%u", fake_dead_port());
	const char *e = f.addr;
	ctl_expect(NULL, A("--endpoints", e, "put", "k", "v"), 0, "OK (revision 1)", NULL);
	ctl_expect(NULL, A("--endpoints", e, "get", "k"), 0, "val\n", NULL);
	ctl_expect(NULL, A("--endpoints", e, "--json", "get", "k"), 0, "\"value_b64\": \"dmFs\"",
		   NULL);
	ctl_expect(NULL, A("--endpoints", e, "ls", "p/"), 0, "p/\tval\n", NULL);
	ctl_expect("{\"compare\": [{\"key\": \"a\", \"target\": \"version\", \"op\": \"=\", "
		   "\"value\": 0}], \"success\": [{\"op\": \"put\", \"key\": \"a\", \"value\": "
		   "\"1\"}]}",
		   A("--endpoints", e, "txn"), 0, "SUCCESS\nput: OK\n", NULL);
	ctl_expect(NULL, A("--endpoints", e, "status"), 0, "leader", NULL);
	ctl_expect(NULL, A("--endpoints", e, "lease", "keepalive", "5"), 1, NULL, "BERTH_EBADREQ");
	ctl_expect(NULL, A("--endpoints", dead, "--timeout", "200", "get", "k"), 1, NULL,
		   "BERTH_ENOCONN");
	ctl_expect(NULL, A("--endpoints", dead, "--timeout", "200", "--json", "get", "k"), 1,
		   "\"name\": \"BERTH_ENOCONN\"", NULL);
	ctl_expect(NULL, A("--endpoints", s.addr, "--timeout", "300", "put", "k", "v"), 2, NULL,
		   "outcome is unknown");
	/* A save that fails is definite (exit 1), and leaves no file behind. */
	char *dir = support_tmpdir(), file[600], part[700];
	snprintf(file, sizeof(file), "%s/b.snap", dir);
	snprintf(part, sizeof(part), "%s.part", file);
	ctl_expect(NULL, A("--endpoints", dead, "--timeout", "200", "snapshot", "save", file), 1,
		   NULL, "no snapshot was saved");
	ctl_expect(NULL, A("--endpoints", s.addr, "--timeout", "300", "snapshot", "save", file), 1,
		   NULL, "BERTH_ECLOSED");
	ctl_expect(NULL,
		   A("--endpoints", dead, "--timeout", "200", "--json", "snapshot", "save", file),
		   1, "\"name\": \"BERTH_ENOCONN\"", NULL);
	assert_int_equal(access(file, F_OK), -1);
	assert_int_equal(access(part, F_OK), -1);
	support_rmrf(dir);
	free(dir);
	fake_stop(&f);
	fake_stop(&s);
	assert_int_equal(fake_count(&f, MSG_REQ_TXN), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_berthctl_bad_command_lines),
		cmocka_unit_test(test_berthctl_against_fake),
	};

	return cmocka_run_group_tests(tests, ctl_run_setup, NULL);
}
