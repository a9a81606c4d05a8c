/* client/ctl_kv.c: berthctl's key-value commands: put, get, del, ls, range, txn, compact,
 * lease grant, revoke and keepalive, watch and snapshot save (docs/berthctl.md). */
#include "client/ctl.h"
#include "client/txnjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest transaction spec read from stdin. */
#define CTL_MAX_STDIN (64u << 20)

int ctl_put(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	const char *k = c->pos[0], *v = c->pos[1];
	berth_put(b, k, strlen(k), v, strlen(v), c->lease, &r);
	return ctl_report(c, b, &r, CTL_SHOW_PUT);
}

int ctl_get(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_get(b, c->pos[0], strlen(c->pos[0]), c->rev, c->serializable, &r);
	return ctl_report(c, b, &r, CTL_SHOW_GET);
}

int ctl_del(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_delete(b, c->pos[0], strlen(c->pos[0]), c->prefix, &r);
	return ctl_report(c, b, &r, CTL_SHOW_DEL);
}

static int ctl_range_run(struct ctl *c, struct berth *b, struct berth_range *q)
{
	struct berth_result r;
	q->limit = c->limit;
	q->keys_only = c->keys_only;
	q->count_only = c->count_only;
	q->rev = c->rev;
	q->serializable = c->serializable;
	berth_range(b, q, &r);
	return ctl_report(c, b, &r, CTL_SHOW_RANGE);
}

int ctl_ls(struct ctl *c, struct berth *b)
{
	const char *p = c->npos > 0 ? c->pos[0] : "";
	struct berth_range q = {.key = p, .klen = strlen(p), .prefix = true};
	if (q.klen == 0) { /* every key: [ "\0", end of keyspace ) */
		q.key = "";
		q.klen = 1;
		q.end = "";
		q.elen = 1;
		q.prefix = false;
	}
	return ctl_range_run(c, b, &q);
}

int ctl_range(struct ctl *c, struct berth *b)
{
	struct berth_range q = {.key = c->pos[0], .klen = strlen(c->pos[0])};
	if (c->npos > 1) {
		q.end = c->pos[1];
		q.elen = strlen(c->pos[1]);
	}
	if (q.elen == 0) { /* no END: to the last key */
		q.end = "";
		q.elen = 1;
	}
	return ctl_range_run(c, b, &q);
}

int ctl_txn(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	struct txnjson t;
	char err[256];
	size_t len = 0, cap = 0;
	char *text = NULL;
	int rv;

	while (!feof(stdin) && !ferror(stdin)) {
		if (cap - len < 4096) {
			if (cap >= CTL_MAX_STDIN) {
				free(text);
				return ctl_usage_error(c, "txn: the spec on stdin is too large");
			}
			cap = cap ? cap * 2 : 8192;
			char *p = realloc(text, cap);
			if (p == NULL) {
				free(text);
				return ctl_usage_error(c, "txn: out of memory");
			}
			text = p;
		}
		len += fread(text + len, 1, cap - len, stdin);
	}
	if (ferror(stdin)) {
		free(text);
		return ctl_usage_error(c, "txn: reading stdin: %s", strerror(errno));
	}
	rv = txnjson_parse(text ? text : "", len, &t, err, sizeof(err));
	free(text);
	if (rv != 0)
		return ctl_usage_error(c, "txn: %s", err);
	berth_txn(b, &t.txn, t.serializable || c->serializable, &r);
	rv = ctl_report(c, b, &r, CTL_SHOW_TXN);
	txnjson_free(&t);
	return rv;
}

int ctl_compact(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_compact(b, c->num, &r);
	return ctl_report(c, b, &r, CTL_SHOW_COMPACT);
}

int ctl_lease_grant(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_lease_grant(b, (int64_t)c->num, c->id, &r);
	return ctl_report(c, b, &r, CTL_SHOW_LEASE_GRANT);
}

int ctl_lease_revoke(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_lease_revoke(b, c->num, &r);
	return ctl_report(c, b, &r, CTL_SHOW_LEASE_REVOKE);
}

int ctl_lease_keepalive(struct ctl *c, struct berth *b)
{
	struct berth_result r;
	berth_lease_keepalive(b, c->num, &r);
	return ctl_report(c, b, &r, CTL_SHOW_LEASE_KEEPALIVE);
}

int ctl_watch_cmd(struct ctl *c, struct berth *b)
{
	return ctl_watch(c, b, c->npos > 0 ? c->pos[0] : "", c->npos > 1 ? c->pos[1] : NULL);
}

int ctl_snapshot_save(struct ctl *c, struct berth *b)
{
	struct berth_snapshot s;
	int err = berth_snapshot_save(b, c->pos[0], &s);
	return ctl_snapshot_report(c, b, err, c->pos[0], &s);
}
