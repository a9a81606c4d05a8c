/* jepsen/netns_rules.c: fault rules in a node's BERTH-JNET chain: drops, random loss,
 * flushes, counts. */
#include "jepsen/netns.h"

#include "jepsen/cmd.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>

static int rules_check(struct netns *net, unsigned to, unsigned from)
{
	if (net->lock_fd < 0 || to >= net->n || from >= net->n) {
		snprintf(net->errmsg, sizeof net->errmsg, "netns: node %u or %u of %u", to + 1,
			 from + 1, net->n);
		return BERTH_EBADREQ;
	}
	return 0;
}

/* iptables words after "ip netns exec NS iptables -w", in node i's namespace. */
static int rules_run(struct netns *net, unsigned i, const char *const *words, char *out,
		     size_t outlen)
{
	const char *argv[CMD_MAX_ARGS] = {"ip", "netns", "exec", net->node[i].ns, "iptables", "-w"};
	size_t n = 6;
	for (size_t k = 0; words[k] != NULL && n + 1 < CMD_MAX_ARGS; k++)
		argv[n++] = words[k];
	argv[n] = NULL;
	return cmd_run(argv, CMD_TIMEOUT_MS, out, outlen, net->errmsg, sizeof net->errmsg);
}

int netns_drop(struct netns *net, unsigned to, unsigned from)
{
	int rc = rules_check(net, to, from);
	if (rc != 0)
		return rc;
	if (to == from) {
		snprintf(net->errmsg, sizeof net->errmsg, "netns: a drop from node %u to itself",
			 to + 1);
		return BERTH_EBADREQ;
	}
	const char *words[] = {"-A", NETNS_CHAIN, "-s", net->node[from].ip, "-j", "DROP", NULL};
	return rules_run(net, to, words, NULL, 0);
}

int netns_loss(struct netns *net, unsigned to, unsigned from, double p)
{
	int rc = rules_check(net, to, from);
	if (rc != 0)
		return rc;
	if (!(p > 0 && p <= 1)) {
		snprintf(net->errmsg, sizeof net->errmsg, "netns: loss probability %g (0 < p <= 1)",
			 p);
		return BERTH_EBADREQ;
	}
	char prob[32], range[40];
	snprintf(prob, sizeof prob, "%.6f", p);
	/* from == to: every other node: the subnet's addresses after the host's (.1). */
	if (from == to)
		snprintf(range, sizeof range, "10.77.%u.2-10.77.%u.254", net->subnet, net->subnet);
	else
		snprintf(range, sizeof range, "%s", net->node[from].ip);
	const char *words[] = {"-A", NETNS_CHAIN, "-m",     "iprange", "--src-range",   range,
			       "-m", "statistic", "--mode", "random",  "--probability", prob,
			       "-j", "DROP",      NULL};
	return rules_run(net, to, words, NULL, 0);
}

int netns_heal(struct netns *net, unsigned i)
{
	int rc = rules_check(net, i, i);
	if (rc != 0)
		return rc;
	const char *words[] = {"-F", NETNS_CHAIN, NULL};
	return rules_run(net, i, words, NULL, 0);
}

int netns_heal_all(struct netns *net)
{
	int first = 0;
	char keep[NETNS_ERR_BYTES] = "";
	for (unsigned i = 0; i < net->n; i++) {
		int rc = netns_heal(net, i);
		if (rc != 0 && first == 0) {
			first = rc;
			memcpy(keep, net->errmsg, sizeof keep);
		}
	}
	if (first != 0)
		memcpy(net->errmsg, keep, sizeof keep);
	return first;
}

int netns_rule_count(struct netns *net, unsigned i, unsigned *count)
{
	char out[8192];
	int rc = rules_check(net, i, i);
	if (rc != 0)
		return rc;
	const char *words[] = {"-S", NETNS_CHAIN, NULL};
	if ((rc = rules_run(net, i, words, out, sizeof out)) != 0)
		return rc;
	*count = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "-A ", 3) == 0)
			(*count)++;
	return 0;
}
