/* jepsen/cmd.c: system tools run with posix_spawn, a deadline and their output kept. */
#include "jepsen/cmd.h"

#include "client/net.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const cmd_fallback_dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};

static bool cmd_try_dir(const char *dir, size_t dlen, const char *program, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%.*s/%s", (int)dlen, dir, program);
	return n > 0 && (size_t)n < len && access(buf, X_OK) == 0;
}

int cmd_path(const char *program, char *buf, size_t len)
{
	if (strchr(program, '/') != NULL) {
		int n = snprintf(buf, len, "%s", program);
		return n > 0 && (size_t)n < len && access(buf, X_OK) == 0 ? 0 : BERTH_ENOTFOUND;
	}
	const char *path = getenv("PATH");
	while (path != NULL && *path != '\0') {
		const char *colon = strchr(path, ':');
		size_t dlen = colon != NULL ? (size_t)(colon - path) : strlen(path);
		if (dlen > 0 && cmd_try_dir(path, dlen, program, buf, len))
			return 0;
		path = colon != NULL ? colon + 1 : NULL;
	}
	for (size_t i = 0; i < sizeof cmd_fallback_dirs / sizeof cmd_fallback_dirs[0]; i++) {
		const char *d = cmd_fallback_dirs[i];
		if (cmd_try_dir(d, strlen(d), program, buf, len))
			return 0;
	}
	return BERTH_ENOTFOUND;
}

/* "ip netns add bj-x-n1" into buf, cut to fit. */
static void cmd_words(const char *const *argv, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; argv[i] != NULL && used + 1 < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? " " : "", argv[i]);
		if (n < 0)
			break;
		used += (size_t)n < len - used ? (size_t)n : len - used - 1;
	}
}

/* The captured bytes of one pipe: kept up to cap - 1, the rest dropped. */
struct cmd_sink {
	int fd;
	char *buf;
	size_t cap, len;
};

static void cmd_sink_read(struct cmd_sink *s)
{
	char tmp[4096];
	ssize_t n = read(s->fd, tmp, sizeof tmp);
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(s->fd);
			s->fd = -1;
		}
		return;
	}
	if (s->buf != NULL && s->len + 1 < s->cap) {
		size_t keep = (size_t)n < s->cap - 1 - s->len ? (size_t)n : s->cap - 1 - s->len;
		memcpy(s->buf + s->len, tmp, keep);
		s->len += keep;
		s->buf[s->len] = '\0';
	}
}

/* Reads both pipes until they close or the deadline passes; true when they closed. */
static bool cmd_drain(struct cmd_sink *sinks, uint64_t deadline_ms)
{
	while (sinks[0].fd >= 0 || sinks[1].fd >= 0) {
		uint64_t now = net_now_ms();
		if (now >= deadline_ms)
			return false;
		struct pollfd p[2] = {{.fd = sinks[0].fd, .events = POLLIN},
				      {.fd = sinks[1].fd, .events = POLLIN}};
		int r = poll(p, 2, (int)(deadline_ms - now));
		if (r < 0 && errno != EINTR)
			return false;
		for (int i = 0; i < 2 && r > 0; i++)
			if (sinks[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
				cmd_sink_read(&sinks[i]);
	}
	return true;
}

/* Waits for pid until deadline_ms (polling: waitpid has no timeout); then SIGKILL. */
static int cmd_reap(pid_t pid, uint64_t deadline_ms, int *status, bool *killed)
{
	*killed = false;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (net_now_ms() >= deadline_ms && !*killed) {
			kill(pid, SIGKILL);
			*killed = true;
			deadline_ms = net_now_ms() + 5000;
		} else if (*killed && net_now_ms() >= deadline_ms) {
			return -1;
		}
		net_sleep_ms(2);
	}
}

static void cmd_close_pipes(int a[2], int b[2])
{
	for (int i = 0; i < 2; i++) {
		if (a[i] >= 0)
			close(a[i]);
		if (b[i] >= 0)
			close(b[i]);
	}
}

/* The first line of stderr, for a message. */
static void cmd_first_line(const char *s, char *buf, size_t len)
{
	while (*s == '\n' || *s == ' ')
		s++;
	size_t n = strcspn(s, "\n");
	snprintf(buf, len, "%.*s", (int)n, *s != '\0' ? s : "(no message)");
}

int cmd_run(const char *const *argv, uint32_t timeout_ms, char *out, size_t outlen, char *err,
	    size_t errlen)
{
	char words[256], path[512], ebuf[512] = "", line[256];
	size_t nargs = 0;
	char nowhere[1];
	if (err == NULL) {
		err = nowhere;
		errlen = sizeof nowhere;
	}
	if (out != NULL && outlen > 0)
		out[0] = '\0';
	while (nargs <= CMD_MAX_ARGS && argv[nargs] != NULL)
		nargs++;
	if (nargs == 0 || nargs > CMD_MAX_ARGS) {
		snprintf(err, errlen, "cmd: %zu words (1..%d)", nargs, CMD_MAX_ARGS);
		return BERTH_EBADREQ;
	}
	cmd_words(argv, words, sizeof words);
	if (cmd_path(argv[0], path, sizeof path) != 0) {
		snprintf(err, errlen, "%s: %s not found in PATH or the sbin directories", words,
			 argv[0]);
		return BERTH_ENOTFOUND;
	}
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		snprintf(err, errlen, "%s: pipe: %s", words, strerror(errno));
		cmd_close_pipes(po, pe);
		return BERTH_EIO;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	pid_t pid;
	int rc = posix_spawn(&pid, path, &fa, &attr, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(po[1]);
	close(pe[1]);
	if (rc != 0) {
		snprintf(err, errlen, "%s: spawn: %s", words, strerror(rc));
		close(po[0]);
		close(pe[0]);
		return rc == ENOMEM ? BERTH_ENOMEM : BERTH_EIO;
	}
	uint64_t deadline = net_now_ms() + timeout_ms;
	struct cmd_sink sinks[2] = {{.fd = po[0], .buf = out, .cap = out != NULL ? outlen : 0},
				    {.fd = pe[0], .buf = ebuf, .cap = sizeof ebuf}};
	cmd_drain(sinks, deadline);
	int status = 0;
	bool killed;
	int reaped = cmd_reap(pid, deadline, &status, &killed);
	for (int i = 0; i < 2; i++)
		if (sinks[i].fd >= 0)
			close(sinks[i].fd);
	cmd_first_line(ebuf, line, sizeof line);
	if (reaped != 0 || killed) {
		snprintf(err, errlen, "%s: no exit within %u ms (killed): %s", words, timeout_ms,
			 line);
		return BERTH_ETIMEOUT;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(err, errlen, "%s: exit %d: %s", words, WEXITSTATUS(status), line);
	else
		snprintf(err, errlen, "%s: signal %d: %s", words, WTERMSIG(status), line);
	return BERTH_EIO;
}
