/* tests/integ/child.c: child processes for the integration tests (tests/integ/child.h). */
#include "tests/integ/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_POLL_MS 10
#define CHILD_LINE_BYTES 512
#define CHILD_DUMP_MAX 120

static uint64_t child_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

pid_t child_fork(const char *log, char *const *argv)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "child: open %s: %s\n", log, strerror(errno));
		return -1;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "child: fork: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls until execv. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int in = open("/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		close_range(3, ~0u, 0); /* sockets the test holds are not the child's */
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	return pid;
}

int child_start(struct child *ch, const char *log, char *const *argv)
{
	snprintf(ch->log, sizeof(ch->log), "%s", log);
	ch->last_status = -1;
	ch->pid = child_fork(log, argv);
	if (ch->pid < 0) {
		ch->pid = 0;
		return -1;
	}
	return 0;
}

int child_wait(struct child *ch, uint32_t timeout_ms, int *status)
{
	uint64_t deadline = child_now_ms() + timeout_ms;
	int st;
	if (ch->pid <= 0) {
		if (status != NULL)
			*status = ch->last_status;
		return 0;
	}
	for (;;) {
		pid_t r = waitpid(ch->pid, &st, WNOHANG);
		if (r == ch->pid || (r < 0 && errno == ECHILD)) {
			ch->last_status = r == ch->pid ? st : -1;
			ch->pid = 0;
			if (status != NULL)
				*status = ch->last_status;
			return 0;
		}
		if (child_now_ms() >= deadline)
			return -1;
		poll(NULL, 0, CHILD_POLL_MS);
	}
}

int child_stop(struct child *ch, int sig, uint32_t timeout_ms, int *status)
{
	if (ch->pid <= 0)
		return child_wait(ch, 0, status);
	kill(ch->pid, sig);
	if (child_wait(ch, timeout_ms, status) == 0)
		return 0;
	kill(ch->pid, SIGKILL);
	child_wait(ch, 5000, status);
	return -1;
}

bool child_log_has(const struct child *ch, const char *s)
{
	char line[CHILD_LINE_BYTES];
	bool found = false;
	FILE *f = fopen(ch->log, "r");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

void child_dump_log(const struct child *ch, unsigned lines)
{
	static char ring[CHILD_DUMP_MAX][CHILD_LINE_BYTES];
	char line[CHILD_LINE_BYTES];
	unsigned long total = 0;
	FILE *f = fopen(ch->log, "r");
	if (f == NULL)
		return;
	if (lines > CHILD_DUMP_MAX)
		lines = CHILD_DUMP_MAX;
	while (fgets(line, sizeof(line), f) != NULL)
		memcpy(ring[total++ % lines], line, sizeof(line));
	fclose(f);
	printf("---- last %lu lines of %s\n", total < lines ? total : (unsigned long)lines,
	       ch->log);
	for (unsigned long k = total < lines ? 0 : total - lines; k < total; k++)
		printf("%s%s", ring[k % lines], strchr(ring[k % lines], '\n') ? "" : "\n");
	fflush(stdout);
}

int child_run(const char *log, char *const *argv, uint32_t timeout_ms, int want)
{
	struct child ch = {0};
	int st = -1;
	if (child_start(&ch, log, argv) != 0)
		return -1;
	if (child_wait(&ch, timeout_ms, &st) != 0) {
		child_stop(&ch, SIGKILL, 5000, NULL);
		child_dump_log(&ch, 40);
		printf("%s did not end in %u ms\n", argv[0], timeout_ms);
		return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == want)
		return 0;
	child_dump_log(&ch, 40);
	printf("%s: waitpid status %d, wanted exit %d\n", argv[0], st, want);
	return -1;
}
