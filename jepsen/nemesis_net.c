/* jepsen/nemesis_net.c: network faults: partitions (one node, the leader, random halves,
 * the majority ring, one way) and random packet loss, as drop rules in the nodes' chains. */
#include "jepsen/nemesis_int.h"

#include "common/err.h"

#include <string.h>

/* Node `to` hears nothing from `from`; recorded in drops as [to, from]. */
static int net_drop(struct nemesis *nm, unsigned to, unsigned from, json_t *drops)
{
	nm->touched[NEMESIS_F_PARTITION][to] = true;
	int rc = netns_drop(nm->net, to, from);
	if (rc != 0)
		return nemesis_fail(nm, rc, "nemesis: %s", nm->net->errmsg);
	json_t *pair = json_array();
	nemesis_push(pair, to);
	nemesis_push(pair, from);
	json_array_append_new(drops, pair);
	return 0;
}

/* Splits the members in two groups, g[i] = 0 or 1, cut off from each other both ways. */
static int net_split(struct nemesis *nm, const unsigned *m, unsigned n, const int *g, json_t *value)
{
	json_t *groups = json_array(), *a = json_array(), *b = json_array(), *drops = json_array();
	json_array_append_new(groups, a);
	json_array_append_new(groups, b);
	json_object_set_new(value, "groups", groups);
	json_object_set_new(value, "drops", drops);
	for (unsigned i = 0; i < n; i++)
		nemesis_push(g[i] == 0 ? a : b, m[i]);
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++)
			if (g[i] != g[j]) {
				int rc = net_drop(nm, m[i], m[j], drops);
				if (rc != 0)
					return rc;
			}
	return 0;
}

/* Each member sees a majority around it in a random ring, no two the same majority:
 * position p sees p - (q-1)/2 .. p + q/2 (q = n/2 + 1, a majority), and drops the rest.
 * With 3 members the drops are one way (n1 hears n2, n2 hears n3, n3 hears n1). */
static int net_ring(struct nemesis *nm, unsigned *m, unsigned n, json_t *value)
{
	json_t *drops = json_array();
	json_object_set_new(value, "drops", drops);
	nemesis_shuffle(nm, m, n);
	json_t *ring = json_array();
	for (unsigned i = 0; i < n; i++)
		nemesis_push(ring, m[i]);
	json_object_set_new(value, "ring", ring);
	unsigned q = n / 2 + 1, back = (q - 1) / 2, ahead = q / 2;
	for (unsigned p = 0; p < n; p++)
		for (unsigned d = 0; d < n; d++) {
			unsigned fwd = (d + n - p) % n; /* how far ahead of p position d is */
			if (fwd <= ahead || n - fwd <= back)
				continue;
			int rc = net_drop(nm, m[p], m[d], drops);
			if (rc != 0)
				return rc;
		}
	return 0;
}

static int net_loss(struct nemesis *nm, const unsigned *m, unsigned n, json_t *value)
{
	json_t *nodes = json_array();
	json_object_set_new(value, "p", json_real(nm->loss_p));
	json_object_set_new(value, "nodes", nodes);
	for (unsigned i = 0; i < n; i++) {
		nm->touched[NEMESIS_F_LOSS][m[i]] = true;
		int rc = netns_loss(nm->net, m[i], m[i], nm->loss_p);
		if (rc != 0)
			return nemesis_fail(nm, rc, "nemesis: %s", nm->net->errmsg);
		nemesis_push(nodes, m[i]);
	}
	return 0;
}

int nemesis_net_start(struct nemesis *nm, enum nemesis_kind k, json_t *value)
{
	unsigned m[NETNS_MAX_NODES], n = nemesis_members(nm, m), leader = 0;
	int g[NETNS_MAX_NODES] = {0};
	if (n < 2)
		return nemesis_fail(nm, BERTH_EBADREQ, "nemesis: %s needs 2 members (%u)",
				    nemesis_kind_name(k), n);
	switch (k) {
	case NEMESIS_PARTITION_ONE:
		g[nemesis_rand(nm, n)] = 1;
		return net_split(nm, m, n, g, value);
	case NEMESIS_PARTITION_LEADER: {
		int rc = nemesis_leader(nm, &leader);
		if (rc != 0)
			return rc;
		for (unsigned i = 0; i < n; i++)
			g[i] = m[i] == leader;
		return net_split(nm, m, n, g, value);
	}
	case NEMESIS_PARTITION_HALVES: {
		/* A random minority of n/2 members (first group: the majority). */
		unsigned order[NETNS_MAX_NODES];
		for (unsigned i = 0; i < n; i++)
			order[i] = i;
		nemesis_shuffle(nm, order, n);
		for (unsigned i = 0; i < n / 2; i++)
			g[order[i]] = 1;
		return net_split(nm, m, n, g, value);
	}
	case NEMESIS_PARTITION_RING:
		return net_ring(nm, m, n, value);
	case NEMESIS_PARTITION_ONEWAY: {
		json_t *drops = json_array();
		json_object_set_new(value, "drops", drops);
		unsigned to = (unsigned)nemesis_rand(nm, n);
		unsigned from = (to + 1 + (unsigned)nemesis_rand(nm, n - 1)) % n;
		return net_drop(nm, m[to], m[from], drops);
	}
	case NEMESIS_LOSS:
		return net_loss(nm, m, n, value);
	default:
		return nemesis_fail(nm, BERTH_EINTERNAL, "nemesis: %s is not a network fault",
				    nemesis_kind_name(k));
	}
}

int nemesis_net_heal(struct nemesis *nm, enum nemesis_family f, json_t *value)
{
	json_t *nodes = json_array();
	json_object_set_new(value, "nodes", nodes);
	int first = 0;
	for (unsigned i = 0; i < nm->net->n; i++) {
		if (!nm->touched[f][i])
			continue;
		int rc = netns_heal(nm->net, i);
		if (rc != 0 && first == 0)
			first = nemesis_fail(nm, rc, "nemesis: %s", nm->net->errmsg);
		nemesis_push(nodes, i);
	}
	return first;
}
