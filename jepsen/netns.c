/* jepsen/netns.c: a run's network made and removed: lock, subnet, bridge, namespaces. */
#include "jepsen/netns.h"

#include "jepsen/cmd.h"

#include "common/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define NETNS_SUBNET_LOCK NETNS_LOCK_DIR "/subnet.mutex" /* not a run's ID.lock */

int netns_id_check(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;
	if (n == 0 || n > NETNS_ID_MAX)
		return BERTH_EBADREQ;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')))
			return BERTH_EBADREQ;
	return 0;
}

static int netns_fail(struct netns *net, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(net->errmsg, sizeof net->errmsg, fmt, ap);
	va_end(ap);
	return code;
}

/* Runs argv; a failure's message goes to net->errmsg. */
static int netns_cmd(struct netns *net, const char *const *argv)
{
	return cmd_run(argv, CMD_TIMEOUT_MS, NULL, 0, net->errmsg, sizeof net->errmsg);
}

/* Opens (creating) a lock file under NETNS_LOCK_DIR and flocks it; -1 with errno. */
static int netns_lock(const char *path, bool wait)
{
	if (mkdir(NETNS_LOCK_DIR, 0700) != 0 && errno != EEXIST)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The third octets of 10.77.x.y addresses on this host, as a bitmap. */
static void netns_used_subnets(unsigned char used[256])
{
	struct ifaddrs *ifa = NULL;
	memset(used, 0, 256);
	used[0] = used[255] = 1;
	if (getifaddrs(&ifa) != 0)
		return;
	for (struct ifaddrs *p = ifa; p != NULL; p = p->ifa_next) {
		if (p->ifa_addr == NULL || p->ifa_addr->sa_family != AF_INET)
			continue;
		uint32_t a = ntohl(((struct sockaddr_in *)(void *)p->ifa_addr)->sin_addr.s_addr);
		if ((a >> 16) == ((10u << 8) | 77u))
			used[(a >> 8) & 0xff] = 1;
	}
	freeifaddrs(ifa);
}

/* Picks a free subnet (starting from one derived from the id) and makes the bridge with
 * its address, under a host-wide lock so that two runs never pick the same one. */
static int netns_make_bridge(struct netns *net)
{
	int fd = netns_lock(NETNS_SUBNET_LOCK, true);
	if (fd < 0)
		return netns_fail(net, BERTH_EIO, "netns: lock %s: %s", NETNS_SUBNET_LOCK,
				  strerror(errno));
	unsigned char used[256];
	netns_used_subnets(used);
	unsigned h = 0;
	for (const char *c = net->id; *c != '\0'; c++)
		h = h * 31 + (unsigned char)*c;
	unsigned s = 0;
	for (unsigned k = 0; k < 254 && s == 0; k++)
		if (!used[1 + (h + k) % 254])
			s = 1 + (h + k) % 254;
	int rc = 0;
	if (s == 0) {
		rc = netns_fail(net, BERTH_ENOSPACE, "netns: no free subnet 10.77.x.0/24");
		goto out;
	}
	net->subnet = s;
	snprintf(net->host_ip, sizeof net->host_ip, "10.77.%u.1", s);
	char cidr[24];
	snprintf(cidr, sizeof cidr, "%s/24", net->host_ip);
	const char *add[] = {"ip", "link", "add", net->bridge, "type", "bridge", NULL};
	const char *addr[] = {"ip", "addr", "add", cidr, "dev", net->bridge, NULL};
	const char *up[] = {"ip", "link", "set", net->bridge, "up", NULL};
	if ((rc = netns_cmd(net, add)) == 0 && (rc = netns_cmd(net, addr)) == 0)
		rc = netns_cmd(net, up);
out:
	close(fd);
	return rc;
}

static int netns_make_node(struct netns *net, unsigned i)
{
	struct netns_node *nd = &net->node[i];
	char cidr[24];
	snprintf(cidr, sizeof cidr, "%s/24", nd->ip);
	const char *const steps[][CMD_MAX_ARGS] = {
		{"ip", "netns", "add", nd->ns, NULL},
		{"ip", "link", "add", nd->veth, "type", "veth", "peer", "name", "eth0", "netns",
		 nd->ns, NULL},
		{"ip", "link", "set", nd->veth, "master", net->bridge, NULL},
		{"ip", "link", "set", nd->veth, "up", NULL},
		{"ip", "-n", nd->ns, "addr", "add", cidr, "dev", "eth0", NULL},
		{"ip", "-n", nd->ns, "link", "set", "eth0", "up", NULL},
		{"ip", "-n", nd->ns, "link", "set", "lo", "up", NULL},
		{"ip", "netns", "exec", nd->ns, "iptables", "-w", "-N", NETNS_CHAIN, NULL},
		{"ip", "netns", "exec", nd->ns, "iptables", "-w", "-I", "INPUT", "-j", NETNS_CHAIN,
		 NULL},
	};
	for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
		int rc = netns_cmd(net, steps[k]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int netns_create(struct netns *net, const char *id, unsigned n)
{
	memset(net, 0, sizeof *net);
	net->lock_fd = -1;
	if (netns_id_check(id) != 0)
		return netns_fail(net, BERTH_EBADREQ, "netns: run id \"%s\": 1..%d of [a-z0-9]",
				  id != NULL ? id : "", NETNS_ID_MAX);
	if (n == 0 || n > NETNS_MAX_NODES)
		return netns_fail(net, BERTH_EBADREQ, "netns: %u nodes (1..%d)", n,
				  NETNS_MAX_NODES);
	char lock[128], seen[256];
	snprintf(lock, sizeof lock, "%s/%s.lock", NETNS_LOCK_DIR, id);
	int fd = netns_lock(lock, false);
	if (fd < 0 && errno == EWOULDBLOCK)
		return netns_fail(net, BERTH_EEXISTS, "netns: run %s is in use by a live process",
				  id);
	if (fd < 0)
		return netns_fail(net, BERTH_EIO, "netns: lock %s: %s", lock, strerror(errno));
	/* The lock file is ours now; anything else of this id is an earlier run's. */
	if (netns_leftovers(id, seen, sizeof seen) > 1) {
		close(fd);
		return netns_fail(net, BERTH_EEXISTS,
				  "netns: leftovers of an earlier run %s (%s): remove them with "
				  "netns_cleanup_all (berth-jepsen --cleanup)",
				  id, seen);
	}
	snprintf(net->id, sizeof net->id, "%s", id);
	snprintf(net->bridge, sizeof net->bridge, NETNS_PREFIX "%s-br", id);
	net->n = n;
	net->lock_fd = fd;
	int rc = netns_make_bridge(net);
	for (unsigned i = 0; i < n; i++) {
		snprintf(net->node[i].ns, sizeof net->node[i].ns, NETNS_PREFIX "%s-n%u", id, i + 1);
		snprintf(net->node[i].veth, sizeof net->node[i].veth, NETNS_PREFIX "%s-v%u", id,
			 i + 1);
		snprintf(net->node[i].ip, sizeof net->node[i].ip, "10.77.%u.%u", net->subnet,
			 11 + i);
		if (rc == 0)
			rc = netns_make_node(net, i);
	}
	if (rc == 0) {
		char comment[32];
		snprintf(comment, sizeof comment, NETNS_PREFIX "%s-fwd", id);
		const char *fwd[] = {"iptables",  "-w",    "-I",        "FORWARD", "-i",
				     net->bridge, "-o",    net->bridge, "-m",      "comment",
				     "--comment", comment, "-j",        "ACCEPT",  NULL};
		rc = netns_cmd(net, fwd);
	}
	if (rc != 0) {
		char keep[NETNS_ERR_BYTES];
		memcpy(keep, net->errmsg, sizeof keep);
		netns_destroy(net);
		memcpy(net->errmsg, keep, sizeof keep);
		net->lock_fd = -1;
		return rc;
	}
	return 0;
}

int netns_destroy(struct netns *net)
{
	if (net->lock_fd < 0)
		return 0;
	int rc = netns_remove_run(net->id, net->errmsg, sizeof net->errmsg);
	char lock[128];
	snprintf(lock, sizeof lock, "%s/%s.lock", NETNS_LOCK_DIR, net->id);
	if (rc == 0)
		unlink(lock);
	close(net->lock_fd);
	net->lock_fd = -1;
	return rc;
}
