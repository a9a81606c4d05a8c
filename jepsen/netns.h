/* jepsen/netns.h: the harness's test network: a Linux bridge on the host, one network
 * namespace per node joined to it by a veth pair, iptables rules inside the namespaces,
 * and the removal of whatever an earlier run left behind.
 *
 * Layout of run ID (1..6 of [a-z0-9]) with n nodes, k = 1..n:
 *   bridge  bj-ID-br   on the host, address 10.77.S.1/24 (S: a free subnet, 1..254)
 *   link    bj-ID-vK   the host end of node k's veth pair, a port of the bridge
 *   netns   bj-ID-nK   node k: eth0 (the other end) 10.77.S.(10+K)/24, lo up
 *   chain   BERTH-JNET in every namespace's filter table, jumped to first from INPUT:
 *                      every fault rule lives there (netns_drop, netns_loss)
 *   rule    FORWARD -i bj-ID-br -o bj-ID-br -j ACCEPT (comment bj-ID-fwd) on the host: a
 *                      host whose FORWARD policy drops (Docker) and that filters bridged
 *                      traffic (br_netfilter) still lets the nodes talk
 *   lock    /run/berth-jnet/ID.lock, flock'ed by the process that created the run for
 *                      as long as it lives: a run whose lock nobody holds is a leftover
 * Everything of a run carries the prefix "bj-ID-" (a tmpfs that jepsen/nodes.h mounts
 * for a node has the node's namespace name as its source), so leftovers are found by
 * name. The host reaches every node directly at its address (clients and the nemesis act
 * from outside); nodes reach each other and the host through the bridge.
 *
 * Every ip and iptables call goes through cmd_run (jepsen/cmd.h): argv, no shell, exit
 * status checked, stderr in the message. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN);
 * without it netns_create fails with the tool's own message ("Operation not permitted").
 * Not thread-safe: one thread at a time per struct netns. */
#ifndef BERTH_JEPSEN_NETNS_H
#define BERTH_JEPSEN_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#define NETNS_PREFIX "bj-"
#define NETNS_ID_MAX 6
#define NETNS_MAX_NODES 9
#define NETNS_CHAIN "BERTH-JNET"
#define NETNS_LOCK_DIR "/run/berth-jnet"
#define NETNS_ERR_BYTES 512

struct netns_node {
	char ns[24];   /* "bj-ID-nK" */
	char veth[16]; /* "bj-ID-vK" */
	char ip[16];   /* "10.77.S.(10+K)" */
};

struct netns {
	char id[NETNS_ID_MAX + 1];
	unsigned subnet; /* S */
	char bridge[16]; /* "bj-ID-br" */
	char host_ip[16];
	unsigned n;
	struct netns_node node[NETNS_MAX_NODES];
	int lock_fd; /* -1: not created, or destroyed */
	char errmsg[NETNS_ERR_BYTES];
};

/* 0 when id is 1..NETNS_ID_MAX of [a-z0-9]; else BERTH_EBADREQ. */
int netns_id_check(const char *id);

/* Creates run id's network with n nodes (1..NETNS_MAX_NODES: the members plus spares for
 * growing the cluster). 0 with *net filled. Failures leave nothing behind (what was made is
 * removed): BERTH_EBADREQ (id, n); BERTH_EEXISTS (a live run holds the id, or leftovers of
 * an earlier run with this id exist: netns_cleanup_all removes them); BERTH_EIO (a tool
 * failed, e.g. not root; net->errmsg says which and why); BERTH_ENOSPACE (no free subnet). */
int netns_create(struct netns *net, const char *id, unsigned n);

/* Removes everything the run made: processes still inside its namespaces (SIGKILL, then
 * waits until they are gone), veth pairs, namespaces (and so their rules), the bridge, the
 * host rule, the lock. Idempotent; on a zeroed struct or after a failed create, nothing. 0,
 * or BERTH_EIO when something could not be removed (named in net->errmsg; the run's lock is
 * released anyway so netns_cleanup_all can retry). */
int netns_destroy(struct netns *net);

/* Fault rules (jepsen/netns_rules.c), in node `to`'s BERTH-JNET chain, on what it receives:
 *   netns_drop   every packet from node `from` is dropped (one way: `to` hears nothing
 *                from `from`; a partition is a drop both ways)
 *   netns_loss   each packet from node `from` (from == to: from every other node) is
 *                dropped with probability p (0 < p <= 1; iptables -m statistic)
 *   netns_heal   flushes node i's chain;  netns_heal_all: every node's
 *   netns_rule_count  how many rules node i's chain holds
 * Traffic from the host (clients) is never touched. 0; BERTH_EBADREQ (a node index, p);
 * BERTH_EIO (iptables failed; net->errmsg). */
int netns_drop(struct netns *net, unsigned to, unsigned from);
int netns_loss(struct netns *net, unsigned to, unsigned from, double p);
int netns_heal(struct netns *net, unsigned i);
int netns_heal_all(struct netns *net);
int netns_rule_count(struct netns *net, unsigned i, unsigned *count);

/* Leftovers (jepsen/netns_clean.c). What of run id exists on this host, described in
 * report ("netns bj-x-n1; link bj-x-br; mount /tmp/r/n1; pid 123; rule FORWARD; lock",
 * cut to len): the count of objects (0: nothing). */
unsigned netns_leftovers(const char *id, char *report, size_t len);

/* Finds every run on this host by name (namespaces, links, tmpfs mounts, host rules, lock
 * files) and removes those whose lock no live process holds, processes inside their
 * namespaces first. Runs of live harness processes are left alone. *removed (may be NULL)
 * counts the runs removed. 0, or BERTH_EIO when something could not be removed (report
 * says what; len may be 0). */
int netns_cleanup_all(unsigned *removed, char *report, size_t len);

/* Removes whatever of run id exists, without looking at its lock (netns_destroy and
 * netns_cleanup_all use it). 0 or BERTH_EIO with report. */
int netns_remove_run(const char *id, char *report, size_t len);

#endif
