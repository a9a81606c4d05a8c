/* store/rfsm.c: libraft's state machine interface over store/fsm.c, with batching. */
#include "store/rfsm.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rfsm_set_fatal(struct rfsm *s, int rv, const char *what)
{
	if (s->fatal == 0) {
		s->fatal = rv;
		snprintf(s->errmsg, sizeof(s->errmsg), "rfsm %s: %s: %.200s", what, err_name(rv),
			 s->fsm->kv.errmsg);
	}
}

int rfsm_flush(struct rfsm *s)
{
	if (s->fatal)
		return s->fatal;
	if (s->fsm->batch == NULL)
		return 0;
	int rv = fsm_batch_commit(s->fsm);
	if (rv != 0) {
		rfsm_set_fatal(s, rv, "commit");
		return rv;
	}
	s->pending = 0;
	s->committed++;
	return 0;
}

static int rfsm_keep(struct rfsm *s, uint64_t index, unsigned nends)
{
	if (s->nreplies == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct rfsm_reply *r = realloc(s->replies, cap * sizeof(*r));
		if (r == NULL)
			return BERTH_ENOMEM;
		s->replies = r;
		s->cap = cap;
	}
	uint8_t *bytes = malloc(s->out.len ? s->out.len : 1);
	size_t *ends = nends > 1 ? malloc(nends * sizeof(*ends)) : NULL;
	if (bytes == NULL || (nends > 1 && ends == NULL)) {
		free(bytes);
		free(ends);
		return BERTH_ENOMEM;
	}
	if (s->out.len != 0) /* a skipped entry appends nothing: data may be NULL */
		memcpy(bytes, s->out.data, s->out.len);
	if (ends != NULL)
		memcpy(ends, s->ends, nends * sizeof(*ends));
	s->replies[s->nreplies++] =
		(struct rfsm_reply){index, s->committed, bytes, s->out.len, nends, ends};
	return 0;
}

static int rfsm_apply(struct raft_fsm *raft, const struct raft_buffer *buf, void **result)
{
	struct rfsm *s = raft->data;
	uint64_t index = raft_last_applied(s->r) + 1;
	unsigned nends;
	int rv;

	*result = NULL;
	if (s->fatal)
		return RAFT_IOERR;
	if (s->fsm->batch == NULL && (rv = fsm_batch_begin(s->fsm)) != 0) {
		rfsm_set_fatal(s, rv, "begin");
		return RAFT_IOERR;
	}
	mp_buf_reset(&s->out);
	rv = fsm_apply_entry(s->fsm, index, buf->base, buf->len, &s->out, s->ends, &nends);
	if (rv == 0)
		rv = rfsm_keep(s, index, nends);
	if (rv != 0) {
		fsm_batch_abort(s->fsm);
		rfsm_set_fatal(s, rv, "apply");
		return RAFT_IOERR;
	}
	if (++s->pending >= s->max_batch && rfsm_flush(s) != 0)
		return RAFT_IOERR;
	return 0;
}

/* Snapshot writer into one growing raft_malloc'd buffer. */
struct rfsm_snap {
	uint8_t *p;
	size_t len, cap;
};

static int rfsm_snap_write(void *ctx, const void *data, size_t n)
{
	struct rfsm_snap *b = ctx;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		while (cap - b->len < n)
			cap *= 2;
		uint8_t *p = raft_realloc(b->p, cap);
		if (p == NULL)
			return BERTH_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int rfsm_snapshot(struct raft_fsm *raft, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct rfsm *s = raft->data;
	struct rfsm_snap b = {0};
	/* The snapshot must hold every entry applied so far: commit the open batch. */
	if (rfsm_flush(s) != 0)
		return RAFT_IOERR;
	int rv = fsm_snapshot_write(s->fsm, rfsm_snap_write, &b);
	*bufs = rv == 0 ? raft_malloc(sizeof(**bufs)) : NULL;
	if (*bufs == NULL) {
		raft_free(b.p);
		return rv == BERTH_ENOMEM || rv == 0 ? RAFT_NOMEM : RAFT_IOERR;
	}
	(*bufs)[0].base = b.p;
	(*bufs)[0].len = b.len;
	*n_bufs = 1;
	return 0;
}

static int rfsm_snapshot_finalize(struct raft_fsm *raft, struct raft_buffer *bufs[],
				  unsigned *n_bufs)
{
	/* libraft 0.22.1 finalizes once the snapshot is written (or when it closes). */
	((struct rfsm *)raft->data)->snapshot_on_disk = true;
	for (unsigned i = 0; i < *n_bufs; i++)
		raft_free((*bufs)[i].base);
	raft_free(*bufs);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int rfsm_restore(struct raft_fsm *raft, struct raft_buffer *buf)
{
	struct rfsm *s = raft->data;
	uint64_t applied;
	int rv;
	if (rfsm_flush(s) != 0)
		return RAFT_IOERR;
	if ((rv = fsm_snapshot_peek(buf->base, buf->len, &applied)) != 0) {
		snprintf(s->errmsg, sizeof(s->errmsg), "rfsm restore: unreadable snapshot: %s",
			 err_name(rv));
		return RAFT_CORRUPT;
	}
	if (fsm_applied(s->fsm) >= applied) {
		/* The database already holds everything the snapshot does. */
		s->restores_skipped++;
	} else if ((rv = fsm_restore_buf(s->fsm, buf->base, buf->len)) != 0) {
		rfsm_set_fatal(s, rv, "restore");
		return RAFT_IOERR;
	}
	s->restores++;
	s->snapshot_on_disk = true; /* libraft persisted it before restoring it */
	raft_free(buf->base);
	return 0;
}

void rfsm_init(struct rfsm *s, struct fsm *f, unsigned max_batch)
{
	memset(s, 0, sizeof(*s));
	s->fsm = f;
	s->max_batch = max_batch ? max_batch : 1;
	mp_buf_init(&s->out);
	s->raft.version = 2;
	s->raft.data = s;
	s->raft.apply = rfsm_apply;
	s->raft.snapshot = rfsm_snapshot;
	s->raft.restore = rfsm_restore;
	s->raft.snapshot_finalize = rfsm_snapshot_finalize;
}

void rfsm_attach(struct rfsm *s, struct raft *r)
{
	s->r = r;
}

void rfsm_close(struct rfsm *s)
{
	rfsm_drop(s);
	free(s->replies);
	s->replies = NULL;
	s->cap = 0;
	mp_buf_close(&s->out);
}

uint64_t rfsm_committed(const struct rfsm *s)
{
	return s->committed;
}

int rfsm_take(struct rfsm *s, uint64_t index, struct rfsm_reply *out)
{
	for (size_t i = 0; i < s->nreplies; i++) {
		if (s->replies[i].index != index)
			continue;
		*out = s->replies[i];
		s->replies[i] = s->replies[--s->nreplies];
		return 0;
	}
	return BERTH_ENOTFOUND;
}

void rfsm_reply_free(struct rfsm_reply *r)
{
	free(r->bytes);
	free(r->ends);
	r->bytes = NULL;
	r->ends = NULL;
}

void rfsm_drop(struct rfsm *s)
{
	for (size_t i = 0; i < s->nreplies; i++)
		rfsm_reply_free(&s->replies[i]);
	s->nreplies = 0;
}

void rfsm_drop_upto(struct rfsm *s, uint64_t index)
{
	size_t j = 0;
	for (size_t i = 0; i < s->nreplies; i++) {
		if (s->replies[i].index <= index)
			rfsm_reply_free(&s->replies[i]);
		else
			s->replies[j++] = s->replies[i];
	}
	s->nreplies = j;
}

int rfsm_fatal(const struct rfsm *s)
{
	return s->fatal;
}
