/* jepsen/procs.c: host processes of a workload, by pid (jepsen/procs.h). */
#include "jepsen/procs.h"
#include "jepsen/spawn.h"

#include "common/err.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROCS_KILL_WAIT_MS 5000
#define PROCS_ENV_MAX 512

extern char **environ;

static int procs_fail(struct procs *ps, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int procs_fail(struct procs *ps, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->errmsg, sizeof(ps->errmsg), fmt, ap);
	va_end(ap);
	return code;
}

static uint64_t procs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void procs_init(struct procs *ps, const char *token)
{
	memset(ps, 0, sizeof(*ps));
	if (token != NULL)
		snprintf(ps->token, sizeof(ps->token), "%s", token);
}

int procs_add(struct procs *ps, const char *name, const char *dir, const char *const *argv)
{
	if (ps->n == PROCS_MAX)
		return procs_fail(ps, BERTH_EBADREQ, "procs: at most %d processes", PROCS_MAX);
	struct procs_proc *p = &ps->p[ps->n];
	memset(p, 0, sizeof(*p));
	size_t k = 0;
	while (argv[k] != NULL)
		k++;
	if (k == 0 || k > PROCS_MAX_ARGS)
		return procs_fail(ps, BERTH_EBADREQ, "procs: %s: 1..%d arguments", name,
				  PROCS_MAX_ARGS);
	if ((size_t)snprintf(p->name, sizeof(p->name), "%s", name) >= sizeof(p->name) ||
	    (size_t)snprintf(p->log, sizeof(p->log), "%s/%s.log", dir, name) >= sizeof(p->log))
		return procs_fail(ps, BERTH_EBADREQ, "procs: %s: name or folder too long", name);
	for (size_t i = 0; i < k; i++)
		if ((p->argv[i] = strdup(argv[i])) == NULL) {
			for (size_t j = 0; j < i; j++)
				free(p->argv[j]);
			return procs_fail(ps, BERTH_ENOMEM, "procs: out of memory");
		}
	p->last_status = -1;
	ps->n++;
	return 0;
}

int procs_start(struct procs *ps, unsigned i)
{
	struct procs_proc *p = &ps->p[i];
	if (i >= ps->n)
		return procs_fail(ps, BERTH_EBADREQ, "procs: process %u of %u", i, ps->n);
	if (procs_alive(ps, i))
		return procs_fail(ps, BERTH_EBUSY, "procs: %s runs already", p->name);
	/* The environment is built before fork: only async-signal-safe calls after it. */
	static char tok[160];
	char *env[PROCS_ENV_MAX + 2];
	size_t n = 0;
	for (char **e = environ; *e != NULL && n < PROCS_ENV_MAX; e++)
		if (strncmp(*e, "BERTH_TOKEN=", 12) != 0)
			env[n++] = *e;
	if (ps->token[0] != 0) {
		snprintf(tok, sizeof(tok), "BERTH_TOKEN=%s", ps->token);
		env[n++] = tok;
	}
	env[n] = NULL;
	char err[512];
	pid_t pid;
	if (spawn_logged(p->argv[0], p->argv, env, p->log, &pid, err, sizeof(err)) != 0)
		return procs_fail(ps, BERTH_EIO, "procs: %s", err);
	p->pid = pid;
	p->killed = false;
	return 0;
}

bool procs_alive(struct procs *ps, unsigned i)
{
	struct procs_proc *p = &ps->p[i];
	if (i >= ps->n || p->pid == 0)
		return false;
	int status;
	pid_t r = waitpid(p->pid, &status, WNOHANG);
	if (r == 0)
		return true;
	if (r == p->pid)
		p->last_status = status;
	p->pid = 0; /* r < 0: not our child any more: it does not run either */
	return false;
}

/* Waits up to timeout_ms for process i to exit; true when it did. */
static bool procs_wait(struct procs *ps, unsigned i, uint32_t timeout_ms)
{
	uint64_t deadline = procs_now_ms() + timeout_ms;
	while (procs_alive(ps, i)) {
		if (procs_now_ms() >= deadline)
			return false;
		struct timespec ts = {0, 5 * 1000000};
		nanosleep(&ts, NULL);
	}
	return true;
}

int procs_kill(struct procs *ps, unsigned i)
{
	if (i >= ps->n || !procs_alive(ps, i))
		return 0;
	kill(ps->p[i].pid, SIGKILL);
	ps->p[i].killed = true;
	if (!procs_wait(ps, i, PROCS_KILL_WAIT_MS))
		return procs_fail(ps, BERTH_ETIMEOUT, "procs: %s survived SIGKILL", ps->p[i].name);
	return 0;
}

int procs_stop(struct procs *ps, unsigned i, uint32_t timeout_ms)
{
	if (i >= ps->n || !procs_alive(ps, i))
		return 0;
	kill(ps->p[i].pid, SIGTERM);
	if (procs_wait(ps, i, timeout_ms))
		return 0;
	procs_kill(ps, i);
	return procs_fail(ps, BERTH_ETIMEOUT, "procs: %s did not stop in %u ms: killed",
			  ps->p[i].name, timeout_ms);
}

unsigned procs_close(struct procs *ps, uint32_t timeout_ms)
{
	unsigned killed = 0;
	for (unsigned i = 0; i < ps->n; i++) {
		killed += procs_stop(ps, i, timeout_ms) != 0;
		for (size_t k = 0; ps->p[i].argv[k] != NULL; k++) {
			free(ps->p[i].argv[k]);
			ps->p[i].argv[k] = NULL;
		}
	}
	ps->n = 0;
	return killed;
}
