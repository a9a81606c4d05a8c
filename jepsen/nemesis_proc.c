/* jepsen/nemesis_proc.c: faults on the members' processes and hosts: SIGKILL (one, the
 * leader, all, leader cycles), SIGSTOP pauses, faked clock offsets, a full disk. */
#include "jepsen/nemesis_int.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define PROC_BALLOON "balloon"

/* A random running member's index, or BERTH_ECLOSED. */
static int proc_pick(struct nemesis *nm, unsigned *out)
{
	unsigned m[NETNS_MAX_NODES], n = nemesis_members(nm, m), up[NETNS_MAX_NODES], k = 0;
	for (unsigned i = 0; i < n; i++)
		if (nodes_alive(nm->nodes, m[i]) && !nm->nodes->node[m[i]].paused)
			up[k++] = m[i];
	if (k == 0)
		return nemesis_fail(nm, BERTH_ECLOSED, "nemesis: no member runs");
	*out = up[nemesis_rand(nm, k)];
	return 0;
}

/* One node for a fault: the leader, or a random running member. */
static int proc_target(struct nemesis *nm, bool leader, unsigned *out)
{
	return leader ? nemesis_leader(nm, out) : proc_pick(nm, out);
}

static int proc_kill(struct nemesis *nm, unsigned i, json_t *nodes)
{
	nm->touched[NEMESIS_F_KILL][i] = true;
	int rc = nodes_kill(nm->nodes, i);
	if (rc != 0)
		return nemesis_fail(nm, rc, "nemesis: %s", nm->nodes->errmsg);
	nemesis_push(nodes, i);
	return 0;
}

/* Kill the leader, wait for the next one, restart the old one; cycles times. */
static int proc_cycle(struct nemesis *nm, json_t *nodes)
{
	for (unsigned c = 0; c < nm->cycles; c++) {
		unsigned leader, next;
		int rc = nemesis_leader(nm, &leader);
		if (rc == 0)
			rc = proc_kill(nm, leader, nodes);
		if (rc != 0)
			return rc;
		json_t *v = json_pack("{s:s, s:[o]}", "kind", "kill-leader-cycle", "nodes",
				      nemesis_name(leader));
		if (nm->event != NULL)
			nm->event(nm->ctx, "start-kill", v);
		rc = nemesis_leader(nm, &next);
		int st = nodes_start(nm->nodes, leader);
		json_object_set_new(v, "restarted", json_array());
		if (st == 0)
			nemesis_push(json_object_get(v, "restarted"), leader);
		if (nm->event != NULL)
			nm->event(nm->ctx, "stop-kill", v);
		json_decref(v);
		if (st != 0)
			return nemesis_fail(nm, st, "nemesis: restart: %s", nm->nodes->errmsg);
		nm->touched[NEMESIS_F_KILL][leader] = false;
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Fills node i's data directory: a file of every free byte, then writes until ENOSPC. */
static int proc_balloon(struct nemesis *nm, unsigned i, json_t *value)
{
	char path[NODES_PATH_BYTES + 16];
	struct statvfs fs;
	const char *dir = nm->nodes->node[i].data;
	snprintf(path, sizeof path, "%s/%s", dir, PROC_BALLOON);
	if (statvfs(dir, &fs) != 0)
		return nemesis_fail(nm, BERTH_EIO, "nemesis: statvfs %s: %s", dir, strerror(errno));
	nm->touched[NEMESIS_F_DISK][i] = true;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return nemesis_fail(nm, BERTH_EIO, "nemesis: %s: %s", path, strerror(errno));
	off_t want = (off_t)fs.f_bavail * (off_t)fs.f_frsize;
	if (want > 0 && posix_fallocate(fd, 0, want) != 0)
		want = 0; /* the writes below fill it */
	static const char zeros[65536];
	off_t size = want;
	ssize_t w;
	while ((w = pwrite(fd, zeros, sizeof zeros, size)) > 0)
		size += w;
	int err = errno;
	close(fd);
	if (w < 0 && err != ENOSPC)
		return nemesis_fail(nm, BERTH_EIO, "nemesis: filling %s: %s", path, strerror(err));
	json_object_set_new(value, "balloon_bytes", json_integer((json_int_t)size));
	return 0;
}

static int proc_clock(struct nemesis *nm, enum nemesis_kind k, json_t *value)
{
	unsigned m[NETNS_MAX_NODES], n = nemesis_members(nm, m);
	json_t *offsets = json_object();
	json_object_set_new(value, "offsets_ms", offsets);
	bool pick[NETNS_MAX_NODES] = {false};
	if (n == 0)
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: no members");
	if (k == NEMESIS_CLOCK_JUMP) {
		pick[nemesis_rand(nm, n)] = true;
	} else {
		bool any = false;
		for (unsigned i = 0; i < n; i++)
			any |= pick[i] = nemesis_rand(nm, 2) == 1;
		if (!any)
			pick[nemesis_rand(nm, n)] = true;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!pick[i])
			continue;
		int64_t off;
		if (k == NEMESIS_CLOCK_JUMP)
			off = nemesis_rand(nm, 2) == 0 ? -nm->clock_jump_ms : nm->clock_jump_ms;
		else
			off = (int64_t)nemesis_rand(nm, (uint64_t)(2 * nm->clock_skew_ms + 1)) -
			      nm->clock_skew_ms;
		nm->touched[NEMESIS_F_CLOCK][m[i]] = true;
		int rc = nodes_set_clock(nm->nodes, m[i], off);
		if (rc != 0)
			return nemesis_fail(nm, rc, "nemesis: %s", nm->nodes->errmsg);
		char name[16];
		snprintf(name, sizeof name, "n%u", m[i] + 1);
		json_object_set_new(offsets, name, json_integer(off));
	}
	return 0;
}

int nemesis_proc_start(struct nemesis *nm, enum nemesis_kind k, json_t *value)
{
	json_t *nodes = json_array();
	json_object_set_new(value, "nodes", nodes);
	unsigned i;
	int rc;
	switch (k) {
	case NEMESIS_KILL_ONE:
	case NEMESIS_KILL_LEADER:
		if ((rc = proc_target(nm, k == NEMESIS_KILL_LEADER, &i)) != 0)
			return rc;
		return proc_kill(nm, i, nodes);
	case NEMESIS_KILL_ALL:
		for (i = 0; i < nm->nodes->n; i++)
			if (nm->nodes->node[i].member && nodes_alive(nm->nodes, i) &&
			    (rc = proc_kill(nm, i, nodes)) != 0)
				return rc;
		return 0;
	case NEMESIS_KILL_LEADER_CYCLE:
		return proc_cycle(nm, nodes);
	case NEMESIS_PAUSE_ONE:
	case NEMESIS_PAUSE_LEADER:
		if ((rc = proc_target(nm, k == NEMESIS_PAUSE_LEADER, &i)) != 0)
			return rc;
		nm->touched[NEMESIS_F_PAUSE][i] = true;
		if ((rc = nodes_pause(nm->nodes, i)) != 0)
			return nemesis_fail(nm, rc, "nemesis: %s", nm->nodes->errmsg);
		nemesis_push(nodes, i);
		return 0;
	case NEMESIS_CLOCK_SKEW:
	case NEMESIS_CLOCK_JUMP:
		if (nm->nodes->lib[0] == '\0')
			return nemesis_fail(nm, BERTH_EBADREQ,
					    "nemesis: %s needs the nodes started with faketime",
					    nemesis_kind_name(k));
		return proc_clock(nm, k, value);
	case NEMESIS_DISK_FULL:
		if (nm->nodes->tmpfs_mib == 0)
			return nemesis_fail(
				nm, BERTH_EBADREQ,
				"nemesis: disk-full needs the nodes' tmpfs (tmpfs_mib)");
		if ((rc = proc_pick(nm, &i)) != 0)
			return rc;
		nemesis_push(nodes, i);
		return proc_balloon(nm, i, value);
	default:
		return nemesis_fail(nm, BERTH_EINTERNAL, "nemesis: %s is not a process fault",
				    nemesis_kind_name(k));
	}
}

int nemesis_proc_heal(struct nemesis *nm, enum nemesis_family f, json_t *value)
{
	json_t *nodes = json_array(), *restarted = json_array();
	json_object_set_new(value, "nodes", nodes);
	int first = 0;
	for (unsigned i = 0; i < nm->nodes->n; i++) {
		if (!nm->touched[f][i])
			continue;
		nemesis_push(nodes, i);
		int rc = 0;
		bool told = false; /* nm->errmsg says it already */
		if (f == NEMESIS_F_PAUSE) {
			rc = nodes_resume(nm->nodes, i);
			rc = rc == BERTH_ECLOSED ? 0 : rc; /* killed meanwhile: nothing to resume */
		} else if (f == NEMESIS_F_CLOCK) {
			rc = nodes_set_clock(nm->nodes, i, 0);
		} else if (f == NEMESIS_F_DISK) {
			char path[NODES_PATH_BYTES + 16];
			snprintf(path, sizeof path, "%s/%s", nm->nodes->node[i].data, PROC_BALLOON);
			if (unlink(path) != 0 && errno != ENOENT) {
				rc = nemesis_fail(nm, BERTH_EIO, "nemesis: unlink %s: %s", path,
						  strerror(errno));
				told = true;
			}
		}
		/* A killed node, or one the full disk stopped, runs again. */
		if (rc == 0 && (f == NEMESIS_F_KILL || f == NEMESIS_F_DISK) &&
		    nm->nodes->node[i].member && !nodes_alive(nm->nodes, i)) {
			if (f == NEMESIS_F_DISK)
				json_object_set_new(value, "exit_status",
						    json_integer(nm->nodes->node[i].last_status));
			rc = nodes_start(nm->nodes, i);
			if (rc == 0)
				nemesis_push(restarted, i);
		}
		if (rc != 0 && first == 0)
			first = told ? rc
				     : nemesis_fail(nm, rc, "nemesis: n%u: %s", i + 1,
						    nm->nodes->errmsg);
	}
	if (f == NEMESIS_F_KILL || f == NEMESIS_F_DISK)
		json_object_set_new(value, "restarted", restarted);
	else
		json_decref(restarted);
	return first;
}
