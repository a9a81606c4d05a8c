/* jepsen/procs.h: programs a workload runs on the host beside the members (berth-worker,
 * berth-agent): start, SIGKILL, stop and restart, each by its pid.
 *
 * Each process is a program and its argument vector (copied), run with the harness's
 * environment plus BERTH_TOKEN (the token never appears on a command line), stdin
 * /dev/null, stdout and stderr appended to its log (across restarts), in a process group of
 * its own (a Ctrl-C is the harness's to handle), and SIGKILLed by the kernel when the
 * thread that started it dies (PR_SET_PDEATHSIG): start processes from the thread that
 * lives for the whole run, as the members (jepsen/nodes.h). Every signal goes to a pid
 * this struct started and every exit is reaped with waitpid(pid), never waitpid(-1).
 * Not thread-safe: one thread at a time. */
#ifndef BERTH_JEPSEN_PROCS_H
#define BERTH_JEPSEN_PROCS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCS_MAX 16
#define PROCS_MAX_ARGS 48

struct procs_proc {
	char name[32];                  /* "worker1": its name in events */
	char log[512];                  /* DIR/NAME.log */
	char *argv[PROCS_MAX_ARGS + 1]; /* owned copies, NULL-terminated; argv[0] the program */
	pid_t pid;                      /* 0: not running */
	int last_status;                /* waitpid status of the last exit; -1: none yet */
	bool killed;                    /* SIGKILLed by procs_kill and not started since */
};

struct procs {
	struct procs_proc p[PROCS_MAX];
	unsigned n;
	char token[128];
	char errmsg[512];
};

/* An empty table; token may be NULL. */
void procs_init(struct procs *ps, const char *token);
/* Adds a process (not started): argv NULL-terminated, argv[0] the program's path; its log
 * is DIR/NAME.log. 0; BERTH_EBADREQ (table full, too many or too long arguments);
 * BERTH_ENOMEM. */
int procs_add(struct procs *ps, const char *name, const char *dir, const char *const *argv);
/* Starts process i (not running). 0; BERTH_EBUSY (it runs); BERTH_EIO (the log or fork
 * failed; a program that cannot be run exits 127 at once: see procs_alive). */
int procs_start(struct procs *ps, unsigned i);
/* Whether process i runs; an exit is reaped into last_status. */
bool procs_alive(struct procs *ps, unsigned i);
/* SIGKILL and reap (deadline 5 s); marks it killed. Not running: 0. */
int procs_kill(struct procs *ps, unsigned i);
/* SIGTERM, up to timeout_ms, then SIGKILL. 0 when it exited by itself (or did not run);
 * BERTH_ETIMEOUT when it had to be killed. */
int procs_stop(struct procs *ps, unsigned i, uint32_t timeout_ms);
/* Stops every process (procs_stop) and frees the arguments; how many had to be killed.
 * Idempotent. */
unsigned procs_close(struct procs *ps, uint32_t timeout_ms);

#endif
