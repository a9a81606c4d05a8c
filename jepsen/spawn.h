/* jepsen/spawn.h: a long-running child of the harness (a berth-store member, a
 * berth-worker, a berth-agent): its own process group (a Ctrl-C to the harness is the
 * harness's to handle), SIGKILL from the kernel when the thread that started it dies
 * (PR_SET_PDEATHSIG: start children from the thread that lives for the whole run),
 * stdin /dev/null, stdout and stderr appended to a log, no other descriptor (everything
 * else is close-on-exec), signals unblocked. Only async-signal-safe calls between fork and
 * exec: argv and env are built by the caller before. */
#ifndef BERTH_JEPSEN_SPAWN_H
#define BERTH_JEPSEN_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* Starts path with argv and env (NULL-terminated), output appended to log (created
 * 0600). 0 with *pid; BERTH_EIO with "open LOG: ..." or "fork: ..." in err. A program
 * that cannot be executed exits 127 (its status tells). */
int spawn_logged(const char *path, char *const argv[], char *const env[], const char *log,
		 pid_t *pid, char *err, size_t errlen);

#endif
