/* jepsen/spawn.c: a long-running child with its output in a log (jepsen/spawn.h). */
#include "jepsen/spawn.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int spawn_logged(const char *path, char *const argv[], char *const env[], const char *log,
		 pid_t *pid, char *err, size_t errlen)
{
	int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		snprintf(err, errlen, "open %s: %s", log, strerror(errno));
		return BERTH_EIO;
	}
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0) {
		snprintf(err, errlen, "open /dev/null: %s", strerror(errno));
		close(logfd);
		return BERTH_EIO;
	}
	pid_t parent = getpid();
	pid_t p = fork();
	if (p == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(127);
		if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
			_exit(127);
		execve(path, argv, env);
		_exit(127);
	}
	int fork_errno = errno;
	close(logfd);
	close(nullfd);
	if (p < 0) {
		snprintf(err, errlen, "fork: %s", strerror(fork_errno));
		return BERTH_EIO;
	}
	*pid = p;
	return 0;
}
