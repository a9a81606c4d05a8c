/* jepsen/nodes_ctl.c: what the harness asks of the members: their faked clocks, their
 * endpoints, a client handle, and who leads. */
#include "jepsen/nodes.h"

#include "client/net.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NODES_CLOCK_MAX_MS (10LL * 366 * 24 * 3600 * 1000)
#define NODES_STATUS_MS 1000

int nodes_set_clock(struct nodes *s, unsigned i, int64_t offset_ms)
{
	if (i >= s->n || s->lib[0] == '\0' || offset_ms > NODES_CLOCK_MAX_MS ||
	    offset_ms < -NODES_CLOCK_MAX_MS) {
		snprintf(s->errmsg, sizeof s->errmsg,
			 "nodes: clock of node %u: needs faketime and |offset| <= 10 years", i + 1);
		return BERTH_EBADREQ;
	}
	struct nodes_node *nd = &s->node[i];
	char tmp[NODES_PATH_BYTES + 8], text[48];
	snprintf(tmp, sizeof tmp, "%s.tmp", nd->clock);
	/* libfaketime's relative form: "+S.mmm" or "-S.mmm" seconds from the real time. */
	uint64_t mag = (uint64_t)(offset_ms < 0 ? -offset_ms : offset_ms);
	int len = snprintf(text, sizeof text, "%c%llu.%03llu\n", offset_ms < 0 ? '-' : '+',
			   (unsigned long long)(mag / 1000), (unsigned long long)(mag % 1000));
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)len) != len || close(fd) != 0 ||
	    rename(tmp, nd->clock) != 0) {
		snprintf(s->errmsg, sizeof s->errmsg, "nodes: writing %s: %s", nd->clock,
			 strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return BERTH_EIO;
	}
	nd->clock_ms = offset_ms;
	return 0;
}

size_t nodes_endpoints(const struct nodes *s, bool members_only, const char **out, size_t max)
{
	size_t n = 0;
	for (unsigned i = 0; i < s->n && n < max; i++)
		if (!members_only || s->node[i].member)
			out[n++] = s->node[i].client;
	return n;
}

struct berth *nodes_client(struct nodes *s, uint32_t timeout_ms)
{
	struct berth_options o = {.endpoints = s->eps,
				  .nendpoints = s->n,
				  .token = s->token[0] != '\0' ? s->token : NULL,
				  .timeout_ms = timeout_ms};
	struct berth *b = NULL;
	char err[256];
	if (berth_open(&b, &o, err, sizeof err) != 0) {
		snprintf(s->errmsg, sizeof s->errmsg, "nodes: client: %s", err);
		return NULL;
	}
	return b;
}

int nodes_leader(struct nodes *s, uint32_t timeout_ms, unsigned *leader, uint64_t *term)
{
	struct berth *b = nodes_client(s, NODES_STATUS_MS);
	if (b == NULL)
		return BERTH_ENOMEM;
	uint64_t deadline = net_now_ms() + timeout_ms;
	int rc = BERTH_ETIMEOUT;
	do {
		uint64_t best_term = 0;
		unsigned best = s->n;
		for (unsigned i = 0; i < s->n; i++) {
			if (!nodes_alive(s, i) || s->node[i].paused)
				continue;
			struct berth_result res = {0};
			if (berth_status(b, s->node[i].client, &res) == 0 && res.resp.has_status &&
			    res.resp.status.state == WIRE_LEADER &&
			    res.resp.status.term > best_term) {
				best_term = res.resp.status.term;
				best = i;
			}
			berth_result_free(&res);
		}
		if (best < s->n) {
			*leader = best;
			if (term != NULL)
				*term = best_term;
			rc = 0;
			break;
		}
		net_sleep_ms(50);
	} while (net_now_ms() < deadline);
	berth_close(b);
	if (rc != 0)
		snprintf(s->errmsg, sizeof s->errmsg, "nodes: no leader within %u ms", timeout_ms);
	return rc;
}
