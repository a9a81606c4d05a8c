/* tests/integ/cluster.c: berth-store members as child processes for the integration tests:
 * folders, ports, fork/exec, leader wait, kill, restart, stop and cleanup. */
#include "tests/integ/cluster.h"

#include "tests/integ/child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CLUSTER_PORT_LOW 10000
#define CLUSTER_PORT_HIGH 30000 /* below the usual ephemeral range (32768..) */
#define CLUSTER_PORT_TRIES 200
#define CLUSTER_POLL_MS 20
#define CLUSTER_PORT_WAIT_MS 10000

uint64_t cluster_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A pause between polls of a condition that has its own deadline. */
static void cluster_pause(unsigned ms)
{
	poll(NULL, 0, (int)ms);
}

static bool cluster_port_free(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Two blocks of CLUSTER_MAX ports (raft, then client) at a pid-derived base, every port of
 * both checked free; moves on by one block of 10 per try. */
static int cluster_pick_ports(struct cluster *c)
{
	unsigned span = (CLUSTER_PORT_HIGH - CLUSTER_PORT_LOW) / 10;
	unsigned slot = ((unsigned)getpid() * 37u) % span;
	for (unsigned t = 0; t < CLUSTER_PORT_TRIES; t++, slot = (slot + 1) % span) {
		int base = CLUSTER_PORT_LOW + (int)slot * 10;
		bool ok = true;
		for (unsigned i = 0; i < c->n && ok; i++)
			ok = cluster_port_free(base + (int)i) &&
			     cluster_port_free(base + CLUSTER_MAX + (int)i);
		if (!ok)
			continue;
		for (unsigned i = 0; i < c->n; i++) {
			c->m[i].peer_port = base + (int)i;
			c->m[i].client_port = base + CLUSTER_MAX + (int)i;
		}
		return 0;
	}
	fprintf(stderr, "cluster: no free ports after %d tries\n", CLUSTER_PORT_TRIES);
	return -1;
}

static bool cluster_port_accepts(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Reaps member i if it has exited (waiting up to timeout_ms). true when reaped. */
static bool cluster_reap(struct cluster_member *m, uint32_t timeout_ms)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	int status;
	if (m->pid <= 0)
		return true;
	for (;;) {
		pid_t r = waitpid(m->pid, &status, WNOHANG);
		if (r == m->pid || (r < 0 && errno == ECHILD)) {
			m->last_status = r == m->pid ? status : -1;
			m->pid = 0;
			return true;
		}
		if (cluster_now_ms() >= deadline)
			return false;
		cluster_pause(5);
	}
}

static void cluster_log_line(const struct cluster_member *m, const char *what)
{
	FILE *f = fopen(m->log, "a");
	if (f == NULL)
		return;
	fprintf(f, "==== cluster: %s member %llu at %llu ms\n", what, (unsigned long long)m->id,
		(unsigned long long)cluster_now_ms());
	fclose(f);
}

/* argv for berth-store: before (NULL-terminated, may be NULL), then member i's options.
 * id is the caller's buffer for the id's text. */
static void cluster_argv(struct cluster *c, unsigned i, const char *const *before, char *id,
			 size_t idlen, char **argv)
{
	struct cluster_member *m = &c->m[i];
	unsigned k = 0;
	snprintf(id, idlen, "%llu", (unsigned long long)m->id);
	argv[k++] = c->bin;
	for (unsigned j = 0; before != NULL && before[j] != NULL && j < CLUSTER_MAX_ARGS; j++)
		argv[k++] = (char *)before[j];
	argv[k++] = "--id";
	argv[k++] = id;
	argv[k++] = "--data";
	argv[k++] = m->dir;
	argv[k++] = "--peer-addr";
	argv[k++] = m->peer;
	argv[k++] = "--client-addr";
	argv[k++] = m->client;
	if (m->join) {
		argv[k++] = "--join";
	} else {
		argv[k++] = "--bootstrap";
		argv[k++] = c->bootstrap;
	}
	for (unsigned j = 0; j < c->nextra; j++)
		argv[k++] = c->extra[j];
	argv[k] = NULL;
}

/* Forks berth-store with argv (argv[0] is c->bin), its output appended to member i's log;
 * the pid, or -1. */
static pid_t cluster_fork(struct cluster *c, unsigned i, char **argv)
{
	return child_fork(c->m[i].log, argv);
}

static int cluster_spawn(struct cluster *c, unsigned i)
{
	char id[24];
	char *argv[16 + 2 * CLUSTER_MAX_ARGS];
	cluster_argv(c, i, NULL, id, sizeof(id), argv);
	cluster_log_line(&c->m[i], "start");
	pid_t pid = cluster_fork(c, i, argv);
	if (pid < 0)
		return -1;
	c->m[i].pid = pid;
	return 0;
}

int cluster_run_tool(struct cluster *c, unsigned i, const char *const *before, uint32_t timeout_ms,
		     int *status)
{
	char id[24];
	char *argv[16 + 2 * CLUSTER_MAX_ARGS];
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	cluster_argv(c, i, before, id, sizeof(id), argv);
	cluster_log_line(&c->m[i], "run a tool for");
	pid_t pid = cluster_fork(c, i, argv);
	if (pid < 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 || cluster_now_ms() >= deadline) {
			fprintf(stderr, "cluster: %s %s for member %u: no exit after %u ms\n",
				c->bin, before ? before[0] : "", i + 1, timeout_ms);
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		cluster_pause(5);
	}
}

/* Waits until member i accepts connections on its client port. */
static int cluster_wait_port(struct cluster *c, unsigned i)
{
	struct cluster_member *m = &c->m[i];
	uint64_t deadline = cluster_now_ms() + CLUSTER_PORT_WAIT_MS;
	while (cluster_now_ms() < deadline) {
		if (!cluster_alive(c, i)) {
			fprintf(stderr, "cluster: member %llu exited (status 0x%x); see %s\n",
				(unsigned long long)m->id, m->last_status, m->log);
			return -1;
		}
		if (cluster_port_accepts(m->client_port))
			return 0;
		cluster_pause(CLUSTER_POLL_MS);
	}
	fprintf(stderr, "cluster: member %llu does not accept on %s after %d ms\n",
		(unsigned long long)m->id, m->client, CLUSTER_PORT_WAIT_MS);
	return -1;
}

/* Member i's id, addresses, folder and log from its ports. */
static void cluster_name(struct cluster *c, unsigned i)
{
	struct cluster_member *m = &c->m[i];
	char root[sizeof(c->root)];
	memcpy(root, c->root, sizeof(root));
	m->id = i + 1;
	m->last_status = -1;
	snprintf(m->peer, sizeof(m->peer), "127.0.0.1:%d", m->peer_port);
	snprintf(m->client, sizeof(m->client), "127.0.0.1:%d", m->client_port);
	snprintf(m->dir, sizeof(m->dir), "%s/n%u", root, i + 1);
	snprintf(m->log, sizeof(m->log), "%s/n%u.log", root, i + 1);
	c->eps[i] = m->client;
}

int cluster_start(struct cluster *c, unsigned n, const char *const *extra)
{
	const char *bin = getenv("BERTH_STORE_BIN");
	const char *tmp = getenv("TMPDIR");
	size_t off = 0;

	memset(c, 0, sizeof(*c));
	if (n == 0 || n > CLUSTER_MAX)
		return -1;
	c->n = n;
	if (bin == NULL || bin[0] == 0)
		bin = "build/berth-store";
	if (realpath(bin, c->bin) == NULL || access(c->bin, X_OK) != 0) {
		fprintf(stderr, "cluster: berth-store binary '%s' not found or not executable\n",
			bin);
		return -1;
	}
	for (; extra != NULL && extra[c->nextra] != NULL; c->nextra++) {
		if (c->nextra == CLUSTER_MAX_ARGS || strlen(extra[c->nextra]) >= 64)
			return -1;
		strcpy(c->extra[c->nextra], extra[c->nextra]);
		if (c->nextra > 0 && !strcmp(c->extra[c->nextra - 1], "--token"))
			snprintf(c->token, sizeof(c->token), "%s", c->extra[c->nextra]);
	}
	/* berth-store takes its token from BERTH_TOKEN when --token is not given. */
	unsetenv("BERTH_TOKEN");
	if (tmp == NULL || tmp[0] == 0 || strlen(tmp) > 200)
		tmp = "/tmp";
	snprintf(c->root, sizeof(c->root), "%s/berth-integ-XXXXXX", tmp);
	if (mkdtemp(c->root) == NULL) {
		fprintf(stderr, "cluster: mkdtemp %s: %s\n", c->root, strerror(errno));
		c->root[0] = 0;
		return -1;
	}
	if (cluster_pick_ports(c) != 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct cluster_member *m = &c->m[i];
		cluster_name(c, i);
		off += (size_t)snprintf(c->bootstrap + off, sizeof(c->bootstrap) - off,
					"%s%llu=%s/%s", i ? "," : "", (unsigned long long)m->id,
					m->peer, m->client);
	}
	for (unsigned i = 0; i < n; i++)
		if (cluster_spawn(c, i) != 0)
			return -1;
	for (unsigned i = 0; i < n; i++)
		if (cluster_wait_port(c, i) != 0)
			return -1;
	return 0;
}

int cluster_add(struct cluster *c)
{
	unsigned i = c->n;
	if (c->root[0] == 0 || i == 0 || i >= CLUSTER_MAX) {
		fprintf(stderr, "cluster: add: no room for another member\n");
		return -1;
	}
	struct cluster_member *m = &c->m[i];
	m->peer_port = c->m[0].peer_port + (int)i;
	m->client_port = c->m[0].client_port + (int)i;
	if (!cluster_port_free(m->peer_port) || !cluster_port_free(m->client_port)) {
		fprintf(stderr, "cluster: add: port %d or %d is taken\n", m->peer_port,
			m->client_port);
		return -1;
	}
	cluster_name(c, i);
	m->join = true;
	c->n++;
	if (cluster_spawn(c, i) != 0 || cluster_wait_port(c, i) != 0)
		return -1;
	return (int)i;
}

static struct berth *cluster_open(struct cluster *c, const char *const *eps, size_t n,
				  uint32_t timeout_ms)
{
	struct berth_options o = {.endpoints = eps,
				  .nendpoints = n,
				  .token = c->token[0] ? c->token : NULL,
				  .timeout_ms = timeout_ms,
				  .connect_timeout_ms = timeout_ms < 300 ? timeout_ms : 300};
	struct berth *b;
	char err[BERTH_ERRMSG_BYTES];
	if (berth_open(&b, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "cluster: berth_open: %s\n", err);
		return NULL;
	}
	return b;
}

struct berth *cluster_client(struct cluster *c, unsigned first, uint32_t timeout_ms)
{
	const char *eps[CLUSTER_MAX];
	for (unsigned k = 0; k < c->n; k++)
		eps[k] = c->eps[(first + k) % c->n];
	return cluster_open(c, eps, c->n, timeout_ms);
}

struct berth *cluster_client_only(struct cluster *c, unsigned i, uint32_t timeout_ms)
{
	return cluster_open(c, &c->eps[i], 1, timeout_ms);
}

int cluster_status(struct cluster *c, unsigned i, struct cluster_status *out)
{
	struct berth_result res = {0};
	struct berth *b = cluster_client_only(c, i, 500);
	int rv = b == NULL ? BERTH_ENOMEM : berth_status(b, NULL, &res);
	memset(out, 0, sizeof(*out));
	if (rv == 0) {
		const struct wire_status *st = &res.resp.status;
		*out = (struct cluster_status){st->state,  st->id,      st->term, st->leader,
					       st->commit, st->applied, st->rev};
	}
	berth_result_free(&res);
	berth_close(b);
	return rv;
}

int cluster_wait_leader(struct cluster *c, uint32_t timeout_ms, unsigned *leader, uint64_t *term)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	while (cluster_now_ms() < deadline) {
		struct cluster_status st;
		uint64_t lid = 0, t = 0;
		bool agree = true, leads = false;
		for (unsigned i = 0; i < c->n && agree; i++) {
			if (!cluster_alive(c, i))
				continue;
			if (cluster_status(c, i, &st) != 0 || st.leader == 0 ||
			    (lid != 0 && (st.leader != lid || st.term != t))) {
				agree = false;
				break;
			}
			lid = st.leader;
			t = st.term;
			if (st.id == lid && st.state == WIRE_LEADER)
				leads = true;
		}
		if (agree && leads && lid >= 1 && lid <= c->n && cluster_alive(c, lid - 1)) {
			*leader = (unsigned)lid - 1;
			if (term != NULL)
				*term = t;
			return 0;
		}
		cluster_pause(CLUSTER_POLL_MS);
	}
	fprintf(stderr, "cluster: no agreed leader after %u ms\n", timeout_ms);
	return -1;
}

bool cluster_alive(struct cluster *c, unsigned i)
{
	struct cluster_member *m = &c->m[i];
	int status;
	if (m->pid <= 0)
		return false;
	pid_t r = waitpid(m->pid, &status, WNOHANG);
	if (r == 0)
		return true;
	m->last_status = r == m->pid ? status : -1;
	m->pid = 0;
	return false;
}

void cluster_kill(struct cluster *c, unsigned i)
{
	struct cluster_member *m = &c->m[i];
	if (m->pid <= 0)
		return;
	cluster_log_line(m, "SIGKILL to");
	kill(m->pid, SIGKILL);
	if (!cluster_reap(m, 5000))
		fprintf(stderr, "cluster: member %llu (pid %d) not reaped 5 s after SIGKILL\n",
			(unsigned long long)m->id, (int)m->pid);
}

int cluster_crash_machine(struct cluster *c, unsigned i)
{
	char path[CLUSTER_PATH_BYTES + 32];
	cluster_kill(c, i);
	snprintf(path, sizeof(path), "%s/state/unsynced", c->m[i].dir);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "cluster: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs("00000000-0000-4000-8000-000000000000\n", f); /* no boot has this id */
	return fclose(f) == 0 ? 0 : -1;
}

int cluster_restart(struct cluster *c, unsigned i)
{
	if (cluster_alive(c, i)) {
		fprintf(stderr, "cluster: restart: member %u is running\n", i + 1);
		return -1;
	}
	if (cluster_spawn(c, i) != 0)
		return -1;
	return cluster_wait_port(c, i);
}

int cluster_wait_exit(struct cluster *c, unsigned i, uint32_t timeout_ms, int *status)
{
	struct cluster_member *m = &c->m[i];
	if (m->pid <= 0 || !cluster_reap(m, timeout_ms))
		return -1;
	*status = m->last_status;
	return 0;
}

int cluster_term(struct cluster *c, unsigned i, uint32_t timeout_ms, int *status)
{
	struct cluster_member *m = &c->m[i];
	if (m->pid <= 0)
		return -1;
	cluster_log_line(m, "SIGTERM to");
	kill(m->pid, SIGTERM);
	if (cluster_reap(m, timeout_ms)) {
		*status = m->last_status;
		return 0;
	}
	fprintf(stderr, "cluster: member %llu did not exit %u ms after SIGTERM: SIGKILL\n",
		(unsigned long long)m->id, timeout_ms);
	cluster_kill(c, i);
	return -1;
}

unsigned cluster_stop_all(struct cluster *c, uint32_t timeout_ms)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	unsigned killed = 0;
	for (unsigned i = 0; i < c->n; i++)
		if (c->m[i].pid > 0) {
			cluster_log_line(&c->m[i], "SIGTERM to");
			kill(c->m[i].pid, SIGTERM);
		}
	for (unsigned i = 0; i < c->n; i++) {
		uint64_t now = cluster_now_ms();
		if (cluster_reap(&c->m[i], now < deadline ? (uint32_t)(deadline - now) : 0))
			continue;
		fprintf(stderr, "cluster: member %llu did not stop after SIGTERM: SIGKILL\n",
			(unsigned long long)c->m[i].id);
		cluster_kill(c, i);
		killed++;
	}
	return killed;
}

static int cluster_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "cluster: remove %s: %s\n", path, strerror(errno));
	return 0;
}

static int cluster_rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	nftw(path, cluster_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return lstat(path, &st) == 0 ? -1 : 0;
}

int cluster_wipe(struct cluster *c, unsigned i)
{
	if (c->m[i].pid > 0)
		return -1;
	return cluster_rm_tree(c->m[i].dir);
}

unsigned cluster_snapshot_files(const struct cluster *c, unsigned i)
{
	char path[CLUSTER_PATH_BYTES + 8];
	unsigned n = 0;
	struct dirent *e;
	snprintf(path, sizeof(path), "%s/raft", c->m[i].dir);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, "snapshot-", 9) == 0;
	closedir(d);
	return n;
}

unsigned cluster_sanitizer_reports(const struct cluster *c)
{
	static const char *const pats[] = {"ERROR: AddressSanitizer",
					   "runtime error:", "LeakSanitizer"};
	unsigned found = 0;
	char line[4096];
	for (unsigned i = 0; i < c->n; i++) {
		FILE *f = fopen(c->m[i].log, "r");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++)
				if (strstr(line, pats[p]) != NULL) {
					printf("sanitizer report in %s: %s", c->m[i].log, line);
					found++;
					break;
				}
		fclose(f);
	}
	return found;
}

#define CLUSTER_DUMP_MAX 80

void cluster_dump_logs(const struct cluster *c, unsigned lines)
{
	static char ring[CLUSTER_DUMP_MAX][512];
	char line[512];
	if (lines > CLUSTER_DUMP_MAX)
		lines = CLUSTER_DUMP_MAX;
	for (unsigned i = 0; i < c->n; i++) {
		FILE *f = fopen(c->m[i].log, "r");
		unsigned long total = 0;
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			memcpy(ring[total++ % lines], line, sizeof(line));
		fclose(f);
		printf("---- last %lu lines of %s\n", total < lines ? total : (unsigned long)lines,
		       c->m[i].log);
		for (unsigned long k = total < lines ? 0 : total - lines; k < total; k++)
			printf("[n%u] %s%s", i + 1, ring[k % lines],
			       strchr(ring[k % lines], '\n') ? "" : "\n");
	}
	fflush(stdout);
}

void cluster_close(struct cluster *c, bool dump_logs)
{
	cluster_stop_all(c, 10000);
	if (c->root[0] == 0)
		return;
	if (dump_logs)
		cluster_dump_logs(c, 40);
	if (cluster_rm_tree(c->root) != 0)
		fprintf(stderr, "cluster: could not remove %s\n", c->root);
	c->root[0] = 0;
}

int cluster_wait_value(struct cluster *c, unsigned i, const char *key, const char *value,
		       uint32_t timeout_ms)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	struct berth *b = cluster_client_only(c, i, 500);
	struct berth_result res = {0};
	char seen[128] = "(nothing)";
	int rv = -1;
	if (b == NULL)
		return -1;
	while (rv != 0 && cluster_now_ms() < deadline) {
		int err = berth_get(b, key, strlen(key), 0, true, &res);
		const struct reply_kv *kv = err == 0 ? berth_result_kv(&res) : NULL;
		if (kv != NULL && kv->value.n == strlen(value) &&
		    !memcmp(kv->value.p, value, kv->value.n) && res.resp.hdr.member == c->m[i].id)
			rv = 0;
		else if (kv != NULL)
			snprintf(seen, sizeof(seen), "'%.*s'",
				 (int)(kv->value.n < 80 ? kv->value.n : 80),
				 (const char *)kv->value.p);
		else
			snprintf(seen, sizeof(seen), "%s", err ? err_name(err) : "no key");
		berth_result_free(&res);
		if (rv != 0)
			cluster_pause(CLUSTER_POLL_MS);
	}
	if (rv != 0)
		fprintf(stderr, "cluster: member %u: %s is %s, not '%s', after %u ms\n", i + 1, key,
			seen, value, timeout_ms);
	berth_close(b);
	return rv;
}
