/* tests/integ/child.h: other programs (berth-agent) as child processes of an integration
 * test: started with stdout and stderr appended to a log file, signalled by PID only,
 * always reaped with waitpid, and killed by the kernel if the test process dies
 * (PR_SET_PDEATHSIG). Every wait has a deadline in milliseconds. */
#ifndef BERTH_TESTS_INTEG_CHILD_H
#define BERTH_TESTS_INTEG_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CHILD_PATH_BYTES 512

struct child {
	pid_t pid;       /* 0: not running */
	int last_status; /* waitpid status of the last exit, -1 if none */
	char log[CHILD_PATH_BYTES];
};

/* Forks and execs argv[0] with argv (NULL-terminated): stdin /dev/null, stdout and stderr
 * appended to log (created 0600), no other descriptor, SIGKILL when the test dies. The
 * pid, or -1 with a message on stderr. */
pid_t child_fork(const char *log, char *const *argv);
/* Starts argv[0] with argv (NULL-terminated), stdin from /dev/null, output appended to
 * log (created 0600). 0, or -1 with a message on stderr. */
int child_start(struct child *ch, const char *log, char *const *argv);
/* Waits up to timeout_ms for the child to exit by itself: 0 with the waitpid status in
 * *status (may be NULL), or -1 (it still runs). */
int child_wait(struct child *ch, uint32_t timeout_ms, int *status);
/* Sends sig and waits up to timeout_ms; then SIGKILL and reaps. 0 with the status when it
 * exited within timeout_ms, -1 when it had to be killed. A child not running: 0. */
int child_stop(struct child *ch, int sig, uint32_t timeout_ms, int *status);
/* Runs argv (as child_start) to its end, within timeout_ms, then SIGKILL. 0 when it exited
 * with status want; otherwise -1 after printing its log's last 40 lines and what went
 * wrong (killed at the deadline, another status, not started). */
int child_run(const char *log, char *const *argv, uint32_t timeout_ms, int want);
/* true when the log holds s. */
bool child_log_has(const struct child *ch, const char *s);
/* Prints the last lines of the log on stdout. */
void child_dump_log(const struct child *ch, unsigned lines);

#endif
