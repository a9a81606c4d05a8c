/* jepsen/cmd.h: running a system tool (ip, iptables) for the harness: posix_spawn with an
 * argument vector (never a shell), a deadline, its exit status checked, its output kept.
 *
 * The program (argv[0]) is looked up in $PATH and then in /usr/sbin, /sbin, /usr/bin and
 * /bin (ip and iptables live in sbin, which a non-login root shell may lack). stdin is
 * /dev/null; stdout and stderr go to pipes read until the program exits. A program still
 * running at the deadline gets SIGKILL and is reaped. Thread-safe: nothing is shared. */
#ifndef BERTH_JEPSEN_CMD_H
#define BERTH_JEPSEN_CMD_H

#include <stddef.h>
#include <stdint.h>

#define CMD_MAX_ARGS 32
#define CMD_TIMEOUT_MS 10000 /* what the harness gives one ip or iptables call */

/* Runs argv (NULL-terminated, at most CMD_MAX_ARGS words) and waits up to timeout_ms.
 * out (may be NULL) receives stdout, NUL-terminated, cut at outlen - 1 bytes (the rest is
 * read and dropped). 0 when the program exited with status 0. Otherwise err (may be NULL)
 * holds "ip netns add bj-x-n1: exit 1: <the first line of stderr>" and the code says why:
 * BERTH_EIO (a non-zero exit or a signal), BERTH_ENOTFOUND (no such program),
 * BERTH_ETIMEOUT (killed at the deadline), BERTH_EBADREQ (argv too long), BERTH_ENOMEM. */
int cmd_run(const char *const *argv, uint32_t timeout_ms, char *out, size_t outlen, char *err,
	    size_t errlen);

/* The full path of program into buf, looked up as above: 0, or BERTH_ENOTFOUND. */
int cmd_path(const char *program, char *buf, size_t len);

#endif
