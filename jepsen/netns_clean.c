/* jepsen/netns_clean.c: a run's objects found by name, listed, and removed; leftovers of
 * dead runs found and removed. */
#include "jepsen/netns.h"

#include "jepsen/cmd.h"

#include "client/net.h"
#include "common/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#define CLEAN_MAX_OBJS 128
#define CLEAN_MAX_RUNS 64
#define CLEAN_KILL_WAIT_MS 5000

enum clean_kind { CLEAN_NETNS, CLEAN_LINK, CLEAN_MOUNT, CLEAN_RULE, CLEAN_LOCK };

struct clean_obj {
	enum clean_kind kind;
	char id[NETNS_ID_MAX + 1];
	char name[256]; /* namespace, link, mount point, rule spec ("-A FORWARD ...") */
};

struct clean_list {
	struct clean_obj o[CLEAN_MAX_OBJS];
	unsigned n;
};

/* The run id in "bj-ID-rest" (want: only that id; NULL: any), or false. */
static bool clean_match(const char *name, const char *want, char id[NETNS_ID_MAX + 1])
{
	size_t pl = strlen(NETNS_PREFIX);
	if (strncmp(name, NETNS_PREFIX, pl) != 0)
		return false;
	const char *dash = strchr(name + pl, '-');
	size_t n = dash != NULL ? (size_t)(dash - name - pl) : 0;
	if (n == 0 || n > NETNS_ID_MAX)
		return false;
	memcpy(id, name + pl, n);
	id[n] = '\0';
	return netns_id_check(id) == 0 && (want == NULL || strcmp(id, want) == 0);
}

static void clean_add(struct clean_list *l, enum clean_kind kind, const char *id, const char *name)
{
	if (l->n == CLEAN_MAX_OBJS)
		return;
	struct clean_obj *o = &l->o[l->n++];
	o->kind = kind;
	snprintf(o->id, sizeof o->id, "%s", id);
	snprintf(o->name, sizeof o->name, "%s", name);
}

static void clean_dir(struct clean_list *l, const char *dir, enum clean_kind kind, const char *want)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	char id[NETNS_ID_MAX + 1];
	while ((e = readdir(d)) != NULL)
		if (clean_match(e->d_name, want, id))
			clean_add(l, kind, id, e->d_name);
	closedir(d);
}

/* mountinfo's octal escapes (\040 for a space) undone in place. */
static void clean_unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r != '\0'; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* tmpfs mounts whose source names a run: "ID PARENT M:N ROOT POINT OPTS ... - tmpfs SRC ...". */
static void clean_mounts(struct clean_list *l, const char *want)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return;
	char line[4096], id[NETNS_ID_MAX + 1];
	while (fgets(line, sizeof line, f) != NULL) {
		char *save = NULL, *point = NULL, *tok = strtok_r(line, " \n", &save);
		for (int i = 0; tok != NULL && i < 4; i++) {
			tok = strtok_r(NULL, " \n", &save);
			if (i == 3)
				point = tok;
		}
		while (tok != NULL && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		char *fstype = strtok_r(NULL, " \n", &save);
		char *src = strtok_r(NULL, " \n", &save);
		if (point == NULL || fstype == NULL || src == NULL ||
		    strcmp(fstype, "tmpfs") != 0 || !clean_match(src, want, id))
			continue;
		clean_unescape(point);
		clean_add(l, CLEAN_MOUNT, id, point);
	}
	fclose(f);
}

/* Host FORWARD rules carrying a run's comment. */
static void clean_rules(struct clean_list *l, const char *want)
{
	static char out[65536];
	const char *argv[] = {"iptables", "-w", "-S", "FORWARD", NULL};
	if (cmd_run(argv, CMD_TIMEOUT_MS, out, sizeof out, NULL, 0) != 0)
		return;
	char *save = NULL, id[NETNS_ID_MAX + 1];
	for (char *line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *c = strstr(line, "--comment " NETNS_PREFIX);
		if (c != NULL && strncmp(line, "-A FORWARD ", 11) == 0 &&
		    clean_match(c + strlen("--comment "), want, id))
			clean_add(l, CLEAN_RULE, id, line);
	}
}

static void clean_scan(struct clean_list *l, const char *want)
{
	l->n = 0;
	clean_dir(l, "/run/netns", CLEAN_NETNS, want);
	clean_dir(l, "/sys/class/net", CLEAN_LINK, want);
	clean_mounts(l, want);
	clean_rules(l, want);
	DIR *d = opendir(NETNS_LOCK_DIR);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char id[NETNS_ID_MAX + 1];
		size_t n = strlen(e->d_name);
		if (n < 6 || n - 5 > NETNS_ID_MAX || strcmp(e->d_name + n - 5, ".lock") != 0)
			continue;
		memcpy(id, e->d_name, n - 5);
		id[n - 5] = '\0';
		if (netns_id_check(id) == 0 && (want == NULL || strcmp(id, want) == 0))
			clean_add(l, CLEAN_LOCK, id, e->d_name);
	}
	if (d != NULL)
		closedir(d);
}

/* The pids inside namespace ns (ip netns pids), at most max; how many. */
static unsigned clean_pids(const char *ns, pid_t *pids, unsigned max)
{
	char out[4096];
	const char *argv[] = {"ip", "netns", "pids", ns, NULL};
	unsigned n = 0;
	if (cmd_run(argv, CMD_TIMEOUT_MS, out, sizeof out, NULL, 0) != 0)
		return 0;
	char *save = NULL;
	for (char *t = strtok_r(out, " \n", &save); t != NULL && n < max;
	     t = strtok_r(NULL, " \n", &save)) {
		long v = strtol(t, NULL, 10);
		if (v > 1)
			pids[n++] = (pid_t)v;
	}
	return n;
}

static const char *const clean_kind_names[] = {"netns", "link", "mount", "rule", "lock"};

/* Appends "; " and the formatted text to report (cut at len). */
__attribute__((format(printf, 4, 5))) static void clean_report(char *report, size_t len,
							       size_t *used, const char *fmt, ...)
{
	if (len == 0 || *used + 1 >= len)
		return;
	if (*used > 0) {
		report[(*used)++] = ';';
		if (*used + 1 < len)
			report[(*used)++] = ' ';
		report[*used] = '\0';
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(report + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used += (size_t)n < len - *used ? (size_t)n : len - *used - 1;
}

unsigned netns_leftovers(const char *id, char *report, size_t len)
{
	static struct clean_list l;
	size_t used = 0;
	unsigned count = 0;
	pid_t pids[64];
	if (len > 0)
		report[0] = '\0';
	if (netns_id_check(id) != 0)
		return 0;
	clean_scan(&l, id);
	for (unsigned i = 0; i < l.n; i++) {
		count++;
		clean_report(report, len, &used, "%s %s", clean_kind_names[l.o[i].kind],
			     l.o[i].kind == CLEAN_RULE ? "FORWARD" : l.o[i].name);
		if (l.o[i].kind != CLEAN_NETNS)
			continue;
		unsigned np = clean_pids(l.o[i].name, pids, 64);
		for (unsigned k = 0; k < np; k++) {
			clean_report(report, len, &used, "pid %d", (int)pids[k]);
			count++;
		}
	}
	return count;
}

/* SIGKILL to every process in the run's namespaces, then waits until none is left. */
static bool clean_kill(const struct clean_list *l, char *report, size_t len, size_t *used)
{
	pid_t pids[64];
	uint64_t deadline = net_now_ms() + CLEAN_KILL_WAIT_MS;
	for (;;) {
		unsigned total = 0;
		for (unsigned i = 0; i < l->n; i++) {
			if (l->o[i].kind != CLEAN_NETNS)
				continue;
			unsigned np = clean_pids(l->o[i].name, pids, 64);
			for (unsigned k = 0; k < np; k++)
				kill(pids[k], SIGKILL);
			total += np;
		}
		if (total == 0)
			return true;
		if (net_now_ms() >= deadline) {
			clean_report(report, len, used, "processes still running after SIGKILL");
			return false;
		}
		net_sleep_ms(20);
	}
}

/* Runs argv; a failure goes to the report. */
static bool clean_cmd(const char *const *argv, char *report, size_t len, size_t *used)
{
	char err[256];
	if (cmd_run(argv, CMD_TIMEOUT_MS, NULL, 0, err, sizeof err) == 0)
		return true;
	clean_report(report, len, used, "%s", err);
	return false;
}

/* Splits a rule line "-A FORWARD ..." into argv for iptables -D. */
static void clean_rule_argv(char *line, const char **argv, size_t max)
{
	size_t n = 0;
	argv[n++] = "iptables";
	argv[n++] = "-w";
	char *save = NULL;
	for (char *t = strtok_r(line, " ", &save); t != NULL && n + 1 < max;
	     t = strtok_r(NULL, " ", &save))
		argv[n++] = strcmp(t, "-A") == 0 ? "-D" : t;
	argv[n] = NULL;
}

int netns_remove_run(const char *id, char *report, size_t len)
{
	static struct clean_list l;
	size_t used = 0;
	bool ok = true;
	if (len > 0)
		report[0] = '\0';
	if (netns_id_check(id) != 0)
		return BERTH_EBADREQ;
	clean_scan(&l, id);
	ok = clean_kill(&l, report, len, &used);
	for (unsigned i = 0; i < l.n; i++)
		if (l.o[i].kind == CLEAN_MOUNT && umount2(l.o[i].name, MNT_DETACH) != 0 &&
		    errno != EINVAL && errno != ENOENT) {
			clean_report(report, len, &used, "umount %s: %s", l.o[i].name,
				     strerror(errno));
			ok = false;
		}
	/* veth host ends first (deleting one removes its pair at once, while a namespace's
	 * own devices go away asynchronously after it is deleted), then the namespaces,
	 * then the bridge, then the host rules. */
	for (int pass = 0; pass < 4; pass++) {
		for (unsigned i = 0; i < l.n; i++) {
			struct clean_obj *o = &l.o[i];
			bool veth = o->kind == CLEAN_LINK &&
				    o->name[strlen(NETNS_PREFIX) + strlen(id) + 1] == 'v';
			if (pass == 0 && veth) {
				const char *argv[] = {"ip", "link", "del", o->name, NULL};
				ok &= clean_cmd(argv, report, len, &used);
			} else if (pass == 1 && o->kind == CLEAN_NETNS) {
				const char *argv[] = {"ip", "netns", "del", o->name, NULL};
				ok &= clean_cmd(argv, report, len, &used);
			} else if (pass == 2 && o->kind == CLEAN_LINK && !veth) {
				const char *argv[] = {"ip", "link", "del", o->name, NULL};
				ok &= clean_cmd(argv, report, len, &used);
			} else if (pass == 3 && o->kind == CLEAN_RULE) {
				const char *argv[CMD_MAX_ARGS];
				clean_rule_argv(o->name, argv, CMD_MAX_ARGS);
				ok &= clean_cmd(argv, report, len, &used);
			}
		}
	}
	return ok ? 0 : BERTH_EIO;
}

int netns_cleanup_all(unsigned *removed, char *report, size_t len)
{
	static struct clean_list l;
	char ids[CLEAN_MAX_RUNS][NETNS_ID_MAX + 1], one[512];
	unsigned nids = 0, done = 0;
	size_t used = 0;
	int rc = 0;
	if (len > 0)
		report[0] = '\0';
	clean_scan(&l, NULL);
	for (unsigned i = 0; i < l.n; i++) {
		unsigned k = 0;
		while (k < nids && strcmp(ids[k], l.o[i].id) != 0)
			k++;
		if (k == nids && nids < CLEAN_MAX_RUNS)
			memcpy(ids[nids++], l.o[i].id, NETNS_ID_MAX + 1);
	}
	for (unsigned k = 0; k < nids; k++) {
		char lock[128];
		snprintf(lock, sizeof lock, "%s/%.*s.lock", NETNS_LOCK_DIR, NETNS_ID_MAX, ids[k]);
		int fd = open(lock, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd); /* a live run holds it */
			continue;
		}
		int r = netns_remove_run(ids[k], one, sizeof one);
		if (r == 0) {
			unlink(lock);
			done++;
		} else {
			clean_report(report, len, &used, "run %s: %s", ids[k], one);
			rc = r;
		}
		if (fd >= 0)
			close(fd);
	}
	if (removed != NULL)
		*removed = done;
	return rc;
}
