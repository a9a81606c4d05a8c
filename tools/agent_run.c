/* tools/agent_run.c: running one task for berth-agent. Sim mode: a timer of the run
 * time (--run-ms), ending with exit code 0, or 1 for the --fail-rate fraction. Exec mode:
 * each container with a command runs as a local process (uv_spawn, reaped by libuv's
 * SIGCHLD handling) with the container's environment; the task ends when an essential
 * container exits (the others get SIGTERM, then SIGKILL after --stop-grace-ms), with that
 * container's exit code (128 + N for a signal N). */
#include "tools/agent.h"

#include "common/err.h"
#include "common/log.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct agent_proc {
	uv_process_t h; /* first: the exit callback gets &h */
	size_t container;
	bool running;
};

/* The run's end: reason (kept when a kill already gave one), exit code. */
static void run_end(struct agent_task *t, bool has_exit, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void run_end(struct agent_task *t, bool has_exit, int code, const char *fmt, ...)
{
	if (t->reason[0] == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
		va_end(ap);
	}
	t->has_exit = has_exit;
	t->exit_code = code;
	t->local = AGENT_LOCAL_ENDED;
	uv_timer_stop(&t->run_timer);
	if (has_exit && code != 0 && !t->killed) /* a run this agent ended is no failure */
		t->ag->n.failed++;
	log_info("task %s: run ended: %s (exit code %d)", t->id, t->reason, has_exit ? code : -1);
}

/* ---- sim ---- */

static void run_sim_done(uv_timer_t *tm)
{
	struct agent_task *t = tm->data;
	struct agent *ag = t->ag;
	double u = (double)(agent_rand(ag) >> 11) / (double)(1ull << 53);
	if (u < ag->cfg->fail_rate_v)
		run_end(t, true, 1, "simulated failure");
	else
		run_end(t, true, 0, "run completed (simulated)");
	agent_task_ended(t);
}

static void run_sim_start(struct agent_task *t)
{
	const struct agent_config *c = t->ag->cfg;
	t->local = AGENT_LOCAL_RUNNING;
	if (c->run_max_ms == 0)
		return; /* --run-ms 0: until stopped */
	uint64_t ms = c->run_min_ms + agent_rand(t->ag) % (c->run_max_ms - c->run_min_ms + 1);
	uv_timer_start(&t->run_timer, run_sim_done, ms, 0);
}

/* ---- exec ---- */

static void run_handle_closed(uv_handle_t *h)
{
	struct agent_task *t = h->data;
	if (--t->open_handles > 0)
		return;
	model_task_free(&t->rec);
	model_taskdef_free(&t->td);
	free(t->procs);
	free(t);
}

static void run_signal_all(struct agent_task *t, int sig)
{
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].running)
			uv_process_kill(&t->procs[i].h, sig);
}

static void run_grace_over(uv_timer_t *tm)
{
	struct agent_task *t = tm->data;
	log_warn("task %s: %zu processes still run after SIGTERM; SIGKILL", t->id, t->nrunning);
	run_signal_all(t, SIGKILL);
}

/* SIGTERM to every running process; SIGKILL after the grace. */
static void run_terminate(struct agent_task *t)
{
	t->local = AGENT_LOCAL_KILLING;
	run_signal_all(t, SIGTERM);
	uv_timer_start(&t->run_timer, run_grace_over, t->ag->cfg->stop_grace_ms, 0);
}

static void run_exited(uv_process_t *h, int64_t status, int term_signal)
{
	struct agent_proc *p = (struct agent_proc *)h;
	struct agent_task *t = h->data;
	const struct model_container *c = &t->td.containers[p->container];
	int code = term_signal != 0 ? 128 + term_signal : (int)status;
	p->running = false;
	t->nrunning--;
	uv_close((uv_handle_t *)h, run_handle_closed);
	log_info("task %s: container %s exited with code %d", t->id, c->name, code);
	if (c->essential && !t->essential_exited) {
		t->essential_exited = true;
		t->has_exit = true;
		t->exit_code = code;
		if (t->reason[0] == 0)
			snprintf(t->reason, sizeof(t->reason), "essential container %s exited",
				 c->name);
		if (t->nrunning > 0 && t->local == AGENT_LOCAL_RUNNING)
			run_terminate(t);
	}
	if (t->nrunning > 0)
		return;
	if (t->essential_exited)
		run_end(t, true, t->exit_code, "%s", t->reason);
	else
		run_end(t, true, code, "every container exited");
	agent_task_ended(t);
}

/* "NAME=VALUE" strings for the container: its environment, then PATH (the agent's, unless
 * the container sets one) and the task's identity. NULL-terminated, or NULL. */
static char **run_env(const struct agent_task *t, const struct model_container *c)
{
	size_t n = c->nenvironment, k = 0;
	char **env = calloc(n + 5, sizeof(*env));
	bool has_path = false;
	const char *path = getenv("PATH");
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct model_pair *e = &c->environment[i];
		has_path = has_path || strcmp(e->name, "PATH") == 0;
		if (asprintf(&env[k++], "%s=%s", e->name, e->value) < 0)
			env[--k] = NULL;
	}
	if (!has_path && asprintf(&env[k++], "PATH=%s", path ? path : "/usr/bin:/bin") < 0)
		env[--k] = NULL;
	if (asprintf(&env[k++], "BERTH_TASK_ID=%s", t->id) < 0)
		env[--k] = NULL;
	if (asprintf(&env[k++], "BERTH_INSTANCE_ID=%s", t->rec.instance) < 0)
		env[--k] = NULL;
	if (asprintf(&env[k++], "BERTH_CONTAINER_NAME=%s", c->name) < 0)
		env[--k] = NULL;
	return env;
}

static void run_env_free(char **env)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

static void run_exec_start(struct agent_task *t)
{
	struct agent *ag = t->ag;
	size_t n = 0;
	for (size_t i = 0; i < t->td.ncontainers; i++)
		n += t->td.containers[i].ncommand > 0;
	if (n == 0) {
		run_end(t, true, 127, "no container of %s:%u has a command to run", t->td.family,
			t->td.revision);
		return;
	}
	if ((t->procs = calloc(n, sizeof(*t->procs))) == NULL) {
		run_end(t, true, 127, "exec: %s", err_text(BERTH_ENOMEM));
		return;
	}
	t->local = AGENT_LOCAL_RUNNING;
	for (size_t i = 0; i < t->td.ncontainers; i++) {
		const struct model_container *c = &t->td.containers[i];
		if (c->ncommand == 0)
			continue;
		struct agent_proc *p = &t->procs[t->nprocs];
		char **args = calloc(c->ncommand + 1, sizeof(*args));
		char **env = run_env(t, c);
		uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
						 {.flags = UV_INHERIT_FD, .data.fd = 1},
						 {.flags = UV_INHERIT_FD, .data.fd = 2}};
		int rv = UV_ENOMEM;
		if (args != NULL && env != NULL) {
			memcpy(args, c->command, c->ncommand * sizeof(*args));
			uv_process_options_t o = {.exit_cb = run_exited,
						  .file = c->command[0],
						  .args = args,
						  .env = env,
						  .stdio_count = 3,
						  .stdio = stdio};
			/* The handle is initialised even when the spawn fails: always closed. */
			rv = uv_spawn(ag->loop, &p->h, &o);
			p->h.data = t;
			t->open_handles++;
			t->nprocs++;
			if (rv != 0)
				uv_close((uv_handle_t *)&p->h, run_handle_closed);
		}
		free(args);
		run_env_free(env);
		if (rv != 0) {
			snprintf(t->reason, sizeof(t->reason), "cannot run container %s (%s): %s",
				 c->name, c->command[0], uv_strerror(rv));
			t->has_exit = true;
			t->exit_code = 127;
			t->essential_exited = true;
			if (t->nrunning > 0) {
				run_terminate(t); /* the end comes with the last exit */
				return;
			}
			run_end(t, true, 127, "%s", t->reason);
			return;
		}
		p->container = i;
		p->running = true;
		t->nrunning++;
		log_info("task %s: container %s started (pid %d): %s", t->id, c->name, p->h.pid,
			 c->command[0]);
	}
}

/* ---- the interface ---- */

void agent_run_start(struct agent_task *t)
{
	t->reason[0] = 0;
	t->has_exit = false;
	t->killed = false;
	if (t->ag->cfg->exec)
		run_exec_start(t);
	else
		run_sim_start(t);
}

void agent_run_kill(struct agent_task *t, const char *reason)
{
	if (t->local != AGENT_LOCAL_RUNNING)
		return;
	if (t->reason[0] == 0)
		snprintf(t->reason, sizeof(t->reason), "%s", reason);
	t->killed = true;
	if (!t->ag->cfg->exec) {
		run_end(t, false, 0, "%s", reason); /* sim: ended now, no exit code */
		return;
	}
	run_terminate(t); /* exec: the end comes with the last exit (run_exited) */
}

void agent_run_free(struct agent_task *t)
{
	run_signal_all(t, SIGKILL);
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].running) {
			t->procs[i].running = false;
			uv_close((uv_handle_t *)&t->procs[i].h, run_handle_closed);
		}
	uv_close((uv_handle_t *)&t->run_timer, run_handle_closed);
	uv_close((uv_handle_t *)&t->retry_timer, run_handle_closed);
}
