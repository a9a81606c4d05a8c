/* store/ttl.c: lease deadlines on the leader, keepalives, expiry proposals. */
#include "store/ttl.h"

#include "common/err.h"
#include "common/log.h"
#include "store/node.h"

#include <stdlib.h>
#include <string.h>

void ttl_close(struct ttl *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static struct ttl_entry *ttl_find(struct ttl *t, uint64_t id)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->e[mid].id == id)
			return &t->e[mid];
		if (t->e[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Rebuilds the table from the state machine's leases (in id order), keeping the
 * deadlines of leases it already had and giving new ones `grace` past their TTL. */
struct ttl_sync {
	struct ttl *old;
	struct ttl_entry *e;
	size_t n, cap;
	uint64_t now, grace;
	int err;
};

static int ttl_sync_cb(void *ctx, uint64_t id, int64_t ttl_s)
{
	struct ttl_sync *s = ctx;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct ttl_entry *e = realloc(s->e, cap * sizeof(*e));
		if (e == NULL) {
			s->err = BERTH_ENOMEM;
			return 1;
		}
		s->e = e;
		s->cap = cap;
	}
	const struct ttl_entry *had = ttl_find(s->old, id);
	s->e[s->n++] = (struct ttl_entry){
		id, ttl_s, had ? had->deadline_ms : s->now + (uint64_t)ttl_s * 1000 + s->grace};
	return 0;
}

static int ttl_sync(struct node *n, uint64_t grace)
{
	struct ttl *t = &n->ttl;
	struct ttl_sync s = {.old = t, .now = uv_now(n->loop), .grace = grace};
	int rv = fsm_lease_foreach(&n->fsm, ttl_sync_cb, &s);
	if (rv == 0 && s.err != 0)
		rv = s.err;
	if (rv != 0) {
		free(s.e);
		return rv;
	}
	free(t->e);
	t->e = s.e;
	t->n = s.n;
	t->cap = s.cap;
	t->synced_ms = s.now;
	return 0;
}

void ttl_expire_done(struct node *n)
{
	n->ttl.expiring = false;
	/* The expiry is committed (or failed): forget what it removed right away. */
	if (n->ttl.term != 0)
		ttl_sync(n, 0);
}

static void ttl_expire(struct node *n)
{
	struct ttl *t = &n->ttl;
	uint64_t now = uv_now(n->loop);
	uint64_t ids[MSG_MAX_EXPIRE];
	uint32_t k = 0;
	for (size_t i = 0; i < t->n && k < MSG_MAX_EXPIRE; i++)
		if (t->e[i].deadline_ms <= now)
			ids[k++] = t->e[i].id;
	if (k == 0)
		return;
	struct msg_cmd cmd = {.type = MSG_CMD_LEASE_EXPIRE, .nleases = k, .leases = ids};
	/* Set before proposing: a proposal refused at once calls ttl_expire_done. */
	t->expiring = true;
	if (server_propose_internal(n, &cmd, ttl_expire_done) != 0) {
		t->expiring = false;
		return;
	}
	t->expired_total += k;
	log_debug("expiring %u lease(s)", k);
}

void ttl_tick(struct node *n)
{
	struct ttl *t = &n->ttl;
	uint64_t term = raft_current_term(&n->raft);
	if (!node_is_leader(n) || n->srv.ready_term != term) {
		/* Not (yet) a confirmed leader: no deadlines are kept. */
		if (t->term != 0) {
			free(t->e);
			t->e = NULL;
			t->n = t->cap = 0;
			t->term = 0;
		}
		return;
	}
	if (t->term != term) {
		/* A new leader: every lease gets its TTL plus one election timeout. */
		if (ttl_sync(n, n->cfg.election_ms) != 0)
			return;
		t->term = term;
		log_info("leader of term %llu: tracking %zu lease(s)", (unsigned long long)term,
			 t->n);
	} else if (uv_now(n->loop) - t->synced_ms >= TTL_SYNC_MS && !t->expiring) {
		ttl_sync(n, 0);
	}
	if (!t->expiring)
		ttl_expire(n);
}

int ttl_keepalive(struct node *n, uint64_t id, int64_t *ttl_s)
{
	struct ttl *t = &n->ttl;
	if (t->term == 0 || t->term != raft_current_term(&n->raft))
		return BERTH_EUNAVAILABLE;
	/* The committed state decides whether the lease exists (revoked or expired ones are
	 * gone at once); the table only holds deadlines. */
	int64_t ttl;
	int rv = fsm_lease_get(&n->fsm, id, &ttl);
	if (rv != 0)
		return rv == BERTH_ENOTFOUND ? rv : BERTH_EUNAVAILABLE;
	struct ttl_entry *e = ttl_find(t, id);
	if (e == NULL && ttl_sync(n, 0) == 0)
		e = ttl_find(t, id); /* granted since the last look */
	if (e == NULL)
		return BERTH_EUNAVAILABLE;
	e->deadline_ms = uv_now(n->loop) + (uint64_t)e->ttl_s * 1000;
	*ttl_s = e->ttl_s;
	return 0;
}
