/* jepsen/nodes.c: the members' processes: prepared, started in their namespaces,
 * signalled by pid, reaped, stopped and cleaned up. */
#include "jepsen/nodes.h"

#include "jepsen/cmd.h"
#include "jepsen/spawn.h"

#include "client/net.h"
#include "common/err.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES_KILL_WAIT_MS 5000
#define NODES_MAX_ENV 256

extern char **environ;

static int nodes_fail(struct nodes *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int nodes_fail(struct nodes *s, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
	va_end(ap);
	return code;
}

static int nodes_copy(struct nodes *s, char *dst, size_t len, const char *src, const char *what)
{
	int n = snprintf(dst, len, "%s", src);
	if (n < 0 || (size_t)n >= len)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: %s longer than %zu bytes", what,
				  len - 1);
	return 0;
}

static int nodes_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0; /* the directory itself stays (it may be a mount point) */
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* Removes everything inside dir, not crossing into other mounts. */
static int nodes_empty_dir(const char *dir)
{
	if (access(dir, F_OK) != 0)
		return 0;
	return nftw(dir, nodes_rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0 ? 0 : -1;
}

static int nodes_prepare(struct nodes *s, unsigned i, const char *dir)
{
	struct nodes_node *nd = &s->node[i];
	const char *ip = s->net->node[i].ip;
	nd->id = i + 1;
	nd->last_status = -1;
	nd->member = i < s->members;
	nd->join = !nd->member;
	snprintf(nd->peer, sizeof nd->peer, "%s:%d", ip, NODES_PEER_PORT);
	snprintf(nd->client, sizeof nd->client, "%s:%d", ip, NODES_CLIENT_PORT);
	s->eps[i] = nd->client;
	if (snprintf(nd->data, sizeof nd->data, "%s/n%u", dir, i + 1) >= (int)sizeof nd->data ||
	    snprintf(nd->log, sizeof nd->log, "%s/n%u.log", dir, i + 1) >= (int)sizeof nd->log ||
	    snprintf(nd->clock, sizeof nd->clock, "%s/n%u.clock", dir, i + 1) >=
		    (int)sizeof nd->clock)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: folder %s: path too long", dir);
	if (mkdir(nd->data, 0700) != 0 && errno != EEXIST)
		return nodes_fail(s, BERTH_EIO, "nodes: mkdir %s: %s", nd->data, strerror(errno));
	if (s->tmpfs_mib > 0) {
		char opts[64];
		snprintf(opts, sizeof opts, "size=%um,mode=0700", s->tmpfs_mib);
		if (mount(s->net->node[i].ns, nd->data, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
			return nodes_fail(s, BERTH_EIO, "nodes: mount tmpfs on %s: %s", nd->data,
					  strerror(errno));
		nd->mounted = true;
	}
	if (s->lib[0] != '\0')
		return nodes_set_clock(s, i, 0);
	return 0;
}

int nodes_init(struct nodes *s, const struct nodes_options *o)
{
	memset(s, 0, sizeof *s);
	if (o->net == NULL || o->net->lock_fd < 0 || o->bin == NULL || o->dir == NULL)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: bin, dir and a created net are needed");
	s->net = o->net;
	s->n = o->net->n;
	if (o->members == 0 || o->members > s->n)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: %u members of %u nodes", o->members,
				  s->n);
	if (o->tmpfs_mib > NODES_TMPFS_MAX_MIB)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: tmpfs of %u MiB (at most %d)",
				  o->tmpfs_mib, NODES_TMPFS_MAX_MIB);
	s->members = o->members;
	s->tmpfs_mib = o->tmpfs_mib;
	s->keep_data = o->keep_data;
	s->start_wait_ms = o->start_wait_ms != 0 ? o->start_wait_ms : NODES_START_WAIT_MS;
	int rc;
	if ((rc = nodes_copy(s, s->bin, sizeof s->bin, o->bin, "bin")) != 0 ||
	    (rc = nodes_copy(s, s->token, sizeof s->token, o->token != NULL ? o->token : "",
			     "token")) != 0)
		return rc;
	if (access(s->bin, X_OK) != 0)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: %s: not an executable", s->bin);
	if (cmd_path("ip", s->ip, sizeof s->ip) != 0)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: the ip program (iproute2) not found");
	if (o->faketime) {
		const char *lib = o->faketime_lib != NULL ? o->faketime_lib : NODES_FAKETIME_LIB;
		if ((rc = nodes_copy(s, s->lib, sizeof s->lib, lib, "faketime_lib")) != 0)
			return rc;
		if (access(s->lib, R_OK) != 0)
			return nodes_fail(s, BERTH_EBADREQ,
					  "nodes: %s: not found (install libfaketime: "
					  "tools/install-deps)",
					  s->lib);
	}
	for (const char *const *e = o->extra; e != NULL && *e != NULL; e++) {
		if (s->nextra == NODES_MAX_EXTRA)
			return nodes_fail(s, BERTH_EBADREQ, "nodes: more than %d extra options",
					  NODES_MAX_EXTRA);
		if ((rc = nodes_copy(s, s->extra[s->nextra++], sizeof s->extra[0], *e,
				     "an extra option")) != 0)
			return rc;
	}
	size_t used = 0;
	for (unsigned i = 0; i < s->members; i++) {
		const char *ip = s->net->node[i].ip;
		int k = snprintf(s->bootstrap + used, sizeof s->bootstrap - used,
				 "%s%u=%s:%d/%s:%d", i > 0 ? "," : "", i + 1, ip, NODES_PEER_PORT,
				 ip, NODES_CLIENT_PORT);
		used += (size_t)k;
	}
	for (unsigned i = 0; i < s->n; i++) {
		if ((rc = nodes_prepare(s, i, o->dir)) != 0) {
			char keep[sizeof s->errmsg];
			memcpy(keep, s->errmsg, sizeof keep);
			nodes_close(s, 0);
			memcpy(s->errmsg, keep, sizeof keep);
			return rc;
		}
	}
	return 0;
}

/* The environment of a member: the caller's, with the token and libfaketime's settings
 * replacing any of the same names. Strings point into store. */
static void nodes_env(struct nodes *s, unsigned i, char **env, char store[][NODES_PATH_BYTES + 64])
{
	static const char *const ours[] = {"BERTH_TOKEN=", "LD_PRELOAD=", "FAKETIME",
					   "ASAN_OPTIONS="};
	size_t n = 0, k = 0;
	const char *asan = getenv("ASAN_OPTIONS");
	for (char **e = environ; *e != NULL && n < NODES_MAX_ENV - 8; e++) {
		bool skip = false;
		for (size_t j = 0; j < sizeof ours / sizeof ours[0]; j++)
			skip |= strncmp(*e, ours[j], strlen(ours[j])) == 0;
		if (!skip)
			env[n++] = *e;
	}
	if (s->token[0] != '\0')
		snprintf(store[k], sizeof store[k], "BERTH_TOKEN=%s", s->token),
			env[n++] = store[k++];
	if (s->lib[0] != '\0') {
		snprintf(store[k], sizeof store[k], "LD_PRELOAD=%s", s->lib), env[n++] = store[k++];
		snprintf(store[k], sizeof store[k], "FAKETIME_TIMESTAMP_FILE=%s", s->node[i].clock);
		env[n++] = store[k++];
		env[n++] = "FAKETIME_NO_CACHE=1";
		env[n++] = "FAKETIME_DONT_FAKE_MONOTONIC=1";
		snprintf(store[k], sizeof store[k], "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
			 asan != NULL ? asan : "", asan != NULL && asan[0] != '\0' ? ":" : "");
		env[n++] = store[k++];
	} else if (asan != NULL) {
		snprintf(store[k], sizeof store[k], "ASAN_OPTIONS=%s", asan), env[n++] = store[k++];
	}
	env[n] = NULL;
}

/* Starts the member (jepsen/spawn.h). */
static int nodes_spawn(struct nodes *s, unsigned i, char **argv, char **env)
{
	struct nodes_node *nd = &s->node[i];
	char err[512];
	pid_t pid;
	if (spawn_logged(s->ip, argv, env, nd->log, &pid, err, sizeof(err)) != 0)
		return nodes_fail(s, BERTH_EIO, "nodes: %s", err);
	nd->pid = pid;
	nd->paused = false;
	return 0;
}

/* Waits for the client port to accept a connection while the member runs. */
static int nodes_wait_port(struct nodes *s, unsigned i)
{
	struct nodes_node *nd = &s->node[i];
	struct net_endpoint ep;
	char err[256];
	uint64_t deadline = net_now_ms() + s->start_wait_ms;
	if (net_endpoint_parse(nd->client, &ep, err, sizeof err) != 0)
		return nodes_fail(s, BERTH_EINTERNAL, "nodes: %s", err);
	while (net_now_ms() < deadline) {
		if (!nodes_alive(s, i))
			return nodes_fail(s, BERTH_EIO,
					  "nodes: n%u exited at start (status 0x%x): see %s", i + 1,
					  (unsigned)nd->last_status, nd->log);
		int fd;
		if (net_connect(&ep, 200, net_now_ms() + 200, &fd, err, sizeof err) == 0) {
			close(fd);
			return 0;
		}
		net_sleep_ms(20);
	}
	nodes_kill(s, i);
	return nodes_fail(s, BERTH_ETIMEOUT, "nodes: n%u: %s did not open in %u ms: see %s", i + 1,
			  nd->client, s->start_wait_ms, nd->log);
}

int nodes_start(struct nodes *s, unsigned i)
{
	if (i >= s->n)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: node %u of %u", i + 1, s->n);
	struct nodes_node *nd = &s->node[i];
	if (nodes_alive(s, i))
		return nodes_fail(s, BERTH_EBUSY, "nodes: n%u runs already", i + 1);
	static char *env[NODES_MAX_ENV];
	static char store[8][NODES_PATH_BYTES + 64];
	char id[24];
	char *argv[24 + NODES_MAX_EXTRA];
	size_t n = 0;
	snprintf(id, sizeof id, "%llu", (unsigned long long)nd->id);
	argv[n++] = "ip";
	argv[n++] = "netns";
	argv[n++] = "exec";
	argv[n++] = s->net->node[i].ns;
	argv[n++] = s->bin;
	argv[n++] = "--id";
	argv[n++] = id;
	argv[n++] = "--data";
	argv[n++] = nd->data;
	argv[n++] = "--peer-addr";
	argv[n++] = nd->peer;
	argv[n++] = "--client-addr";
	argv[n++] = nd->client;
	if (nd->join) {
		argv[n++] = "--join";
	} else {
		argv[n++] = "--bootstrap";
		argv[n++] = s->bootstrap;
	}
	for (unsigned k = 0; k < s->nextra; k++)
		argv[n++] = s->extra[k];
	argv[n] = NULL;
	nodes_env(s, i, env, store);
	int rc = nodes_spawn(s, i, argv, env);
	return rc != 0 ? rc : nodes_wait_port(s, i);
}

int nodes_start_members(struct nodes *s)
{
	int first = 0;
	for (unsigned i = 0; i < s->n; i++) {
		if (!s->node[i].member || nodes_alive(s, i))
			continue;
		int rc = nodes_start(s, i);
		if (rc != 0 && first == 0)
			first = rc;
	}
	return first;
}

/* Waits up to timeout_ms for node i to exit; true when it did (status recorded). */
static bool nodes_wait(struct nodes *s, unsigned i, uint32_t timeout_ms)
{
	uint64_t deadline = net_now_ms() + timeout_ms;
	for (;;) {
		if (!nodes_alive(s, i))
			return true;
		if (net_now_ms() >= deadline)
			return false;
		net_sleep_ms(5);
	}
}

bool nodes_alive(struct nodes *s, unsigned i)
{
	struct nodes_node *nd = &s->node[i];
	if (i >= s->n || nd->pid == 0)
		return false;
	int status;
	pid_t r = waitpid(nd->pid, &status, WNOHANG);
	if (r == 0)
		return true;
	if (r == nd->pid)
		nd->last_status = status;
	/* r < 0: not our child any more (reaped elsewhere): it does not run either. */
	nd->pid = 0;
	nd->paused = false;
	return false;
}

unsigned nodes_reap(struct nodes *s)
{
	unsigned running = 0;
	for (unsigned i = 0; i < s->n; i++)
		running += nodes_alive(s, i);
	return running;
}

int nodes_kill(struct nodes *s, unsigned i)
{
	if (i >= s->n)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: node %u of %u", i + 1, s->n);
	if (!nodes_alive(s, i))
		return 0;
	kill(s->node[i].pid, SIGKILL);
	if (!nodes_wait(s, i, NODES_KILL_WAIT_MS))
		return nodes_fail(s, BERTH_ETIMEOUT, "nodes: n%u survived SIGKILL", i + 1);
	return 0;
}

int nodes_stop(struct nodes *s, unsigned i, uint32_t timeout_ms, int *status)
{
	if (i >= s->n)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: node %u of %u", i + 1, s->n);
	if (nodes_alive(s, i)) {
		kill(s->node[i].pid, SIGTERM);
		if (s->node[i].paused)
			kill(s->node[i].pid, SIGCONT);
		if (!nodes_wait(s, i, timeout_ms)) {
			nodes_kill(s, i);
			if (status != NULL)
				*status = s->node[i].last_status;
			return nodes_fail(s, BERTH_ETIMEOUT,
					  "nodes: n%u did not stop in %u ms: killed", i + 1,
					  timeout_ms);
		}
	}
	if (status != NULL)
		*status = s->node[i].last_status;
	return 0;
}

static int nodes_signal(struct nodes *s, unsigned i, int sig, bool paused)
{
	if (i >= s->n)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: node %u of %u", i + 1, s->n);
	if (!nodes_alive(s, i))
		return nodes_fail(s, BERTH_ECLOSED, "nodes: n%u does not run", i + 1);
	kill(s->node[i].pid, sig);
	s->node[i].paused = paused;
	return 0;
}

int nodes_pause(struct nodes *s, unsigned i)
{
	return nodes_signal(s, i, SIGSTOP, true);
}

int nodes_resume(struct nodes *s, unsigned i)
{
	return nodes_signal(s, i, SIGCONT, false);
}

int nodes_restart(struct nodes *s, unsigned i)
{
	int rc = nodes_kill(s, i);
	return rc != 0 ? rc : nodes_start(s, i);
}

int nodes_wipe(struct nodes *s, unsigned i)
{
	if (i >= s->n)
		return nodes_fail(s, BERTH_EBADREQ, "nodes: node %u of %u", i + 1, s->n);
	if (nodes_alive(s, i))
		return nodes_fail(s, BERTH_EBUSY, "nodes: n%u runs: stop it before a wipe", i + 1);
	if (nodes_empty_dir(s->node[i].data) != 0)
		return nodes_fail(s, BERTH_EIO, "nodes: emptying %s: %s", s->node[i].data,
				  strerror(errno));
	s->node[i].join = true;
	return 0;
}

unsigned nodes_close(struct nodes *s, uint32_t timeout_ms)
{
	unsigned killed = 0;
	for (unsigned i = 0; i < s->n; i++)
		if (s->node[i].pid != 0 && nodes_alive(s, i)) {
			kill(s->node[i].pid, SIGTERM);
			if (s->node[i].paused)
				kill(s->node[i].pid, SIGCONT);
		}
	for (unsigned i = 0; i < s->n; i++) {
		if (s->node[i].pid != 0 && !nodes_wait(s, i, timeout_ms)) {
			nodes_kill(s, i);
			killed++;
		}
		struct nodes_node *nd = &s->node[i];
		if (nd->mounted && umount2(nd->data, MNT_DETACH) == 0)
			nd->mounted = false;
		if (nd->data[0] != '\0' && !s->keep_data && !nd->mounted &&
		    nodes_empty_dir(nd->data) == 0)
			rmdir(nd->data);
		if (nd->clock[0] != '\0')
			unlink(nd->clock);
	}
	return killed;
}
