/* jepsen/nemesis_member.c: membership faults through libberth's member calls: a member
 * removed, wiped and added back; the cluster grown with spares and shrunk back. */
#include "jepsen/nemesis_int.h"

#include "client/net.h"
#include "common/err.h"

#include <stdio.h>

#define MEMBER_CALL_MS 10000

/* Answers worth another try: no leader yet, a change under way, an unknown outcome. */
static bool member_retry(int rc)
{
	return rc == BERTH_ETIMEOUT || rc == BERTH_EBUSY || rc == BERTH_ENOTLEADER ||
	       rc == BERTH_ENOCONN || rc == BERTH_EUNAVAILABLE || rc == BERTH_ENOQUORUM ||
	       rc == BERTH_ECLOSED;
}

/* The code of a call: the request's, or the node's, or the state machine's. */
static int member_code(int rc, const struct berth_result *res)
{
	if (rc == 0 && res->has_resp && res->resp.err != 0)
		return res->resp.err;
	return rc;
}

/* Whether id is a voter, as the leader says (0: yes; BERTH_ENOTFOUND: no; else why not). */
static int member_is_voter(struct berth *b, uint64_t id)
{
	struct berth_result res = {0};
	int rc = member_code(berth_member_list(b, false, &res), &res);
	if (rc == 0) {
		rc = BERTH_ENOTFOUND;
		for (uint32_t k = 0; res.resp.has_status && k < res.resp.status.nmembers; k++)
			if (res.resp.status.members[k].id == id &&
			    res.resp.status.members[k].role == WIRE_VOTER)
				rc = 0;
	}
	berth_result_free(&res);
	return rc;
}

/* Adds (add) or removes node i until it is done or member_wait_ms passes. */
static int member_change(struct nemesis *nm, unsigned i, bool add)
{
	struct nodes_node *nd = &nm->nodes->node[i];
	struct berth *b = nodes_client(nm->nodes, MEMBER_CALL_MS);
	if (b == NULL)
		return nemesis_fail(nm, BERTH_ENOMEM, "nemesis: %s", nm->nodes->errmsg);
	uint64_t deadline = net_now_ms() + nm->member_wait_ms;
	int rc;
	for (;;) {
		struct berth_result res = {0};
		if (add)
			rc = berth_member_add(b, nd->id, nd->peer, nd->client, false, &res);
		else
			rc = berth_member_remove(b, nd->id, &res);
		rc = member_code(rc, &res);
		berth_result_free(&res);
		if (add && rc == BERTH_EEXISTS && member_is_voter(b, nd->id) == 0)
			rc = 0; /* an earlier try got through */
		if (!add && rc == BERTH_ENOTFOUND)
			rc = 0; /* likewise */
		if (rc == 0 || !member_retry(rc) || net_now_ms() >= deadline)
			break;
		net_sleep_ms(200);
	}
	if (rc != 0)
		nemesis_fail(nm, rc, "nemesis: member %s n%u: %s", add ? "add" : "remove", i + 1,
			     berth_errmsg(b));
	berth_close(b);
	if (rc == 0)
		nd->member = add;
	return rc;
}

/* Takes node i out: removed from the configuration, stopped, its data wiped. */
static int member_out(struct nemesis *nm, unsigned i)
{
	int rc = member_change(nm, i, false);
	if (rc != 0)
		return rc;
	nodes_stop(nm->nodes, i, nm->stop_wait_ms, NULL);
	if ((rc = nodes_wipe(nm->nodes, i)) != 0)
		return nemesis_fail(nm, rc, "nemesis: %s", nm->nodes->errmsg);
	return 0;
}

/* Brings node i in: started with --join on an empty directory, then added. */
static int member_in(struct nemesis *nm, unsigned i)
{
	int rc = 0;
	if (!nodes_alive(nm->nodes, i)) {
		if ((rc = nodes_wipe(nm->nodes, i)) == 0)
			rc = nodes_start(nm->nodes, i);
		if (rc != 0)
			return nemesis_fail(nm, rc, "nemesis: %s", nm->nodes->errmsg);
	}
	return member_change(nm, i, true);
}

int nemesis_member_start(struct nemesis *nm, enum nemesis_kind k, json_t *value)
{
	unsigned m[NETNS_MAX_NODES], n = nemesis_members(nm, m);
	json_t *nodes = json_array();
	json_object_set_new(value, "nodes", nodes);
	if (k == NEMESIS_MEMBER_READD) {
		if (n < 3)
			return nemesis_fail(nm, BERTH_EBADREQ,
					    "nemesis: member-readd needs 3 members (%u)", n);
		unsigned i = m[nemesis_rand(nm, n)];
		nm->touched[NEMESIS_F_MEMBER][i] = true;
		nemesis_push(nodes, i);
		return member_out(nm, i);
	}
	if (k != NEMESIS_MEMBER_GROW)
		return nemesis_fail(nm, BERTH_EINTERNAL, "nemesis: %s is not a membership fault",
				    nemesis_kind_name(k));
	if (n >= nm->grow_to)
		return nemesis_fail(nm, BERTH_EBADREQ,
				    "nemesis: member-grow: %u members already, grow_to %u (create "
				    "the net with spare nodes)",
				    n, nm->grow_to);
	for (unsigned i = 0; i < nm->nodes->n && n < nm->grow_to; i++) {
		if (nm->nodes->node[i].member)
			continue;
		nm->touched[NEMESIS_F_MEMBER][i] = true;
		int rc = member_in(nm, i);
		if (rc != 0)
			return rc;
		nemesis_push(nodes, i);
		n++;
	}
	return 0;
}

/* member-readd: the node comes back; member-grow: the added nodes go. Each step is
 * idempotent, so a heal after a start that failed halfway finishes the job. */
int nemesis_member_heal(struct nemesis *nm, enum nemesis_family f, json_t *value)
{
	json_t *nodes = json_array();
	json_object_set_new(value, "nodes", nodes);
	int first = 0;
	bool readd = nm->kind[f] == NEMESIS_MEMBER_READD;
	for (unsigned i = 0; i < nm->nodes->n; i++) {
		if (!nm->touched[f][i])
			continue;
		struct nodes_node *nd = &nm->nodes->node[i];
		int rc = 0;
		if (readd && !nd->member) {
			rc = member_in(nm, i);
		} else if (readd && !nodes_alive(nm->nodes, i)) {
			if ((rc = nodes_start(nm->nodes, i)) != 0)
				nemesis_fail(nm, rc, "nemesis: %s", nm->nodes->errmsg);
		} else if (!readd && nd->member) {
			rc = member_out(nm, i);
		} else if (!readd && nodes_alive(nm->nodes, i)) {
			nodes_stop(nm->nodes, i, nm->stop_wait_ms, NULL);
			if ((rc = nodes_wipe(nm->nodes, i)) != 0)
				nemesis_fail(nm, rc, "nemesis: %s", nm->nodes->errmsg);
		}
		if (rc == 0)
			nemesis_push(nodes, i);
		else if (first == 0)
			first = rc;
	}
	return first;
}
