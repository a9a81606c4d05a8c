/* tests/unit/ctl_run.c: the berthctl program run as a child process, its exit status and
 * output captured under a deadline (unit and integration tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/ctl_run.h"

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

static char ctl_run_prog[PATH_MAX];

int ctl_run_setup(void **state)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(ctl_run_prog, sizeof(ctl_run_prog), "%s/../berthctl", dirname(exe));
	assert_int_equal(access(ctl_run_prog, X_OK), 0);
	return 0;
}

/* Reads what is available from fd into buf; returns 0 at end of stream. */
static int ctl_run_drain(int fd, char *buf, size_t *len)
{
	ssize_t n = read(fd, buf + *len, CTL_RUN_OUT_MAX - 1 - *len);
	if (n > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
	return n > 0 || *len == CTL_RUN_OUT_MAX - 1;
}

void ctl_run(struct ctl_run *r, const char *in, const char *const *args)
{
	int pin[2], pout[2], perr[2], st;
	const char *argv[CTL_RUN_ARGS_MAX + 1] = {ctl_run_prog};
	size_t na = 1, lo = 0, le = 0;
	for (; args[na - 1] != NULL; na++)
		argv[na] = args[na - 1];
	assert_true(na <= CTL_RUN_ARGS_MAX);
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
		execv(ctl_run_prog, (char *const *)argv);
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
		if (ms > CTL_RUN_LIMIT_MS) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(pfd, 2, 100) <= 0)
			continue;
		if (pfd[0].revents)
			open_out = ctl_run_drain(pout[0], r->out, &lo);
		if (pfd[1].revents)
			open_err = ctl_run_drain(perr[0], r->err, &le);
	}
	close(pout[0]);
	close(perr[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st)); /* killed: it hung */
	r->status = WEXITSTATUS(st);
}

const struct ctl_run *ctl_expect(const char *in, const char *const *args, int status,
				 const char *out_has, const char *err_has)
{
	static struct ctl_run r;
	char line[1024];
	size_t n = 0;
	memset(&r, 0, sizeof(r));
	ctl_run(&r, in, args);
	if (r.status != status || (out_has && !strstr(r.out, out_has)) ||
	    (err_has && !strstr(r.err, err_has))) {
		line[0] = '\0';
		for (size_t i = 0; args[i] != NULL && n < sizeof(line); i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", args[i]);
		fail_msg("berthctl%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout "
			 "\"%s\", stderr \"%s\"",
			 line, r.status, status, r.out, r.err, out_has ? out_has : "",
			 err_has ? err_has : "");
	}
	return &r;
}
