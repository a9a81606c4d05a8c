/* tests/unit/test_berthctl.c: the berthctl program, run as a child process: bad command
 * lines exit 1 without contacting anyone; exit codes and output against fake servers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/msg.h"
#include "tests/unit/client_fake.h"
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

#define T_CHILD_LIMIT_MS 10000
#define T_OUT_MAX 8192

static char t_prog[PATH_MAX];

/* build/tests/test_berthctl -> build/berthctl */
static int t_setup(void **state)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(t_prog, sizeof(t_prog), "%s/../berthctl", dirname(exe));
	assert_int_equal(access(t_prog, X_OK), 0);
	return 0;
}

struct t_run {
	int status; /* exit code */
	char out[T_OUT_MAX];
	char err[T_OUT_MAX];
};

/* Reads what is available from fd into buf; returns 0 at end of stream. */
static int t_drain(int fd, char *buf, size_t *len)
{
	ssize_t n = read(fd, buf + *len, T_OUT_MAX - 1 - *len);
	if (n > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
	return n > 0 || *len == T_OUT_MAX - 1;
}

/* Runs berthctl with argv (NULL-terminated, without the program), stdin from `in`, with
 * BERTH_ENDPOINTS and BERTH_TOKEN cleared; kills it after T_CHILD_LIMIT_MS. */
static void t_run(struct t_run *r, const char *in, const char *const *args)
{
	int pin[2], pout[2], perr[2], st;
	const char *argv[16] = {t_prog};
	size_t na = 1, lo = 0, le = 0;
	for (; args[na - 1] != NULL; na++)
		argv[na] = args[na - 1];
	assert_true(na < 16);
	assert_int_equal(pipe(pin), 0);
	assert_int_equal(pipe(pout), 0);
	assert_int_equal(pipe(perr), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		unsetenv("BERTH_ENDPOINTS");
		unsetenv("BERTH_TOKEN");
		execv(t_prog, (char *const *)argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (in != NULL)
		assert_int_equal(write(pin[1], in, strlen(in)), (ssize_t)strlen(in));
	close(pin[1]);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int open_out = 1, open_err = 1;
	while (open_out || open_err) {
		struct pollfd pfd[2] = {{.fd = open_out ? pout[0] : -1, .events = POLLIN},
					{.fd = open_err ? perr[0] : -1, .events = POLLIN}};
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > T_CHILD_LIMIT_MS) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, 100) <= 0)
			continue;
		if (pfd[0].revents)
			open_out = t_drain(pout[0], r->out, &lo);
		if (pfd[1].revents)
			open_err = t_drain(perr[0], r->err, &le);
	}
	close(pout[0]);
	close(perr[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st)); /* killed: it hung */
	r->status = WEXITSTATUS(st);
}

static void t_expect(const char *in, const char *const *args, int status, const char *out_has,
		     const char *err_has)
{
	static struct t_run r;
	memset(&r, 0, sizeof(r));
	t_run(&r, in, args);
	if (r.status != status || (out_has && !strstr(r.out, out_has)) ||
	    (err_has && !strstr(r.err, err_has)))
		fail_msg("berthctl %s %s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant "
			 "stdout \"%s\", stderr \"%s\"",
			 args[0] ? args[0] : "", args[0] && args[1] ? args[1] : "", r.status,
			 status, r.out, r.err, out_has ? out_has : "", err_has ? err_has : "");
}

static void test_berthctl_bad_command_lines(void **state)
{
	struct fake f = {0};
	(void)state;
	fake_start(&f, FAKE_OK);
	const char *e = f.addr;
#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
	t_expect(NULL, A("--endpoints", e), 1, NULL, "no command");
	t_expect(NULL, A("--endpoints", e, "frob"), 1, NULL, "unknown command \"frob\"");
	t_expect(NULL, A("--endpoints", e, "put", "k"), 1, NULL, "usage: berthctl put KEY VALUE");
	t_expect(NULL, A("--endpoints", e, "put", "k", "v", "w"), 1, NULL, "usage");
	t_expect(NULL, A("--endpoints", e, "get", "k", "--prefix"), 1, NULL,
		 "unknown option --prefix for get");
	t_expect(NULL, A("--endpoints", e, "get", "k", "--rev", "x1"), 1, NULL,
		 "--rev: \"x1\" is not a non-negative integer");
	t_expect(NULL, A("--endpoints", e, "get", "k", "--rev"), 1, NULL, "--rev needs a value");
	t_expect(NULL, A("--endpoints", e, "--timeout", "0", "get", "k"), 1, NULL, "out of range");
	t_expect(NULL, A("--endpoints", e, "ls", "--keys-only", "--count-only"), 1, NULL,
		 "exclude each other");
	t_expect(NULL, A("--endpoints", e, "lease"), 1, NULL, "grant, revoke or keepalive");
	t_expect(NULL, A("--endpoints", e, "lease", "grant", "0"), 1, NULL, "TTL must be");
	t_expect(NULL, A("--endpoints", e, "compact", "-1"), 1, NULL, "not a non-negative");
	t_expect(NULL, A("--endpoints", e, "watch"), 1, NULL, "watch: a KEY, or --prefix");
	t_expect(NULL, A("--endpoints", e, "watch", "a", "b", "--prefix"), 1, NULL,
		 "--prefix takes no END");
	t_expect(NULL, A("--endpoints", e, "watch", "a", "--serializable"), 1, NULL,
		 "unknown option --serializable for watch");
	t_expect(NULL, A("--endpoints", e, "watch", "a", "--limit", "x"), 1, NULL,
		 "--limit: \"x\" is not a non-negative integer");
	t_expect(NULL, A("--endpoints", e, "snapshot"), 1, NULL, "snapshot: save?");
	t_expect(NULL, A("--endpoints", e, "snapshot", "save"), 1, NULL,
		 "usage: berthctl snapshot save FILE");
	t_expect(NULL, A("--endpoints", e, "snapshot", "load", "f"), 1, NULL,
		 "unknown command \"snapshot load\"");
	t_expect(NULL, A("--endpoints", e, "member"), 1, NULL, "list, add, remove or transfer");
	t_expect(NULL, A("--endpoints", e, "member", "join"), 1, NULL,
		 "unknown command \"member join\"");
	t_expect(NULL, A("--endpoints", e, "member", "add", "4", "a:1"), 1, NULL,
		 "usage: berthctl member add ID PEER-ADDR CLIENT-ADDR");
	t_expect(NULL, A("--endpoints", e, "member", "add", "0", "a:1", "a:2"), 1, NULL,
		 "must be 1..4294967295");
	t_expect(NULL, A("--endpoints", e, "member", "remove", "4294967296"), 1, NULL,
		 "must be 1..4294967295");
	t_expect(NULL, A("--endpoints", e, "member", "remove", "x"), 1, NULL, "not a non-negative");
	t_expect(NULL, A("--endpoints", e, "member", "add", "4", "nocolon", "a:2"), 1, NULL,
		 "host:port");
	t_expect(NULL, A("--endpoints", e, "member", "list", "--no-wait"), 1, NULL,
		 "unknown option --no-wait");
	t_expect(NULL, A("--endpoints", e, "member", "transfer", "1", "2"), 1, NULL, "usage");
	t_expect(NULL, A("--endpoints", "127.0.0.1:7101,::1:7102", "get", "k"), 1, NULL,
		 "endpoint \"::1:7102\": too many ':'");
	t_expect(NULL, A("--endpoints", ",", "get", "k"), 1, NULL, "empty list");
	t_expect(NULL, A("--bogus", "get", "k"), 1, NULL, "unknown option --bogus");
	t_expect("{\"success\": [{\"op\": \"put\", \"key\": \"a\"}]}", A("--endpoints", e, "txn"),
		 1, NULL, "txn: success[0]: missing \"value\"");
	t_expect("{oops", A("--endpoints", e, "txn"), 1, NULL, "txn: line 1");
	/* Help exits 0 and contacts nobody either. */
	t_expect(NULL, A("--help"), 0, "usage: berthctl", NULL);
	t_expect(NULL, A("ls", "--help"), 0, "usage: berthctl [GLOBAL OPTIONS] ls [PREFIX]", NULL);
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
	t_expect(NULL, A("--endpoints", e, "put", "k", "v"), 0, "OK (revision 1)", NULL);
	t_expect(NULL, A("--endpoints", e, "get", "k"), 0, "val\n", NULL);
	t_expect(NULL, A("--endpoints", e, "--json", "get", "k"), 0, "\"value_b64\": \"dmFs\"",
		 NULL);
	t_expect(NULL, A("--endpoints", e, "ls", "p/"), 0, "p/\tval\n", NULL);
	t_expect("{\"compare\": [{\"key\": \"a\", \"target\": \"version\", \"op\": \"=\", "
		 "\"value\": 0}], \"success\": [{\"op\": \"put\", \"key\": \"a\", \"value\": "
		 "\"1\"}]}",
		 A("--endpoints", e, "txn"), 0, "SUCCESS\nput: OK\n", NULL);
	t_expect(NULL, A("--endpoints", e, "status"), 0, "leader", NULL);
	t_expect(NULL, A("--endpoints", e, "lease", "keepalive", "5"), 1, NULL, "BERTH_EBADREQ");
	t_expect(NULL, A("--endpoints", dead, "--timeout", "200", "get", "k"), 1, NULL,
		 "BERTH_ENOCONN");
	t_expect(NULL, A("--endpoints", dead, "--timeout", "200", "--json", "get", "k"), 1,
		 "\"name\": \"BERTH_ENOCONN\"", NULL);
	t_expect(NULL, A("--endpoints", s.addr, "--timeout", "300", "put", "k", "v"), 2, NULL,
		 "outcome is unknown");
	/* A save that fails is definite (exit 1), and leaves no file behind. */
	char *dir = support_tmpdir(), file[600], part[700];
	snprintf(file, sizeof(file), "%s/b.snap", dir);
	snprintf(part, sizeof(part), "%s.part", file);
	t_expect(NULL, A("--endpoints", dead, "--timeout", "200", "snapshot", "save", file), 1,
		 NULL, "no snapshot was saved");
	t_expect(NULL, A("--endpoints", s.addr, "--timeout", "300", "snapshot", "save", file), 1,
		 NULL, "BERTH_ECLOSED");
	t_expect(NULL,
		 A("--endpoints", dead, "--timeout", "200", "--json", "snapshot", "save", file), 1,
		 "\"name\": \"BERTH_ENOCONN\"", NULL);
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

	return cmocka_run_group_tests(tests, t_setup, NULL);
}
