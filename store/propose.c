/* store/propose.c: requests to raft entries, batched per loop iteration (store/propose.h). */
#include "store/propose.h"

#include "common/err.h"
#include "common/log.h"
#include "common/mbatch.h"
#include "store/node.h"

#include <stdlib.h>
#include <string.h>

/* A batch entry in raft's hands: its requests in log order. */
struct proposal {
	struct raft_apply req;
	struct node *node;
	struct pending *list;
	unsigned count;
};

static void propose_wait_commit(struct node *n, struct pending *p)
{
	p->next = n->srv.commit_wait;
	n->srv.commit_wait = p;
}

static void propose_one_cb(struct raft_apply *req, int status, void *result)
{
	struct pending *p = req->data;
	struct node *n = p->node;
	struct rfsm_reply rep;
	(void)result;
	n->srv.inflight--;
	if (status != 0) {
		/* RAFT_LEADERSHIPLOST and the like: the entry may still commit. */
		server_finish(p, BERTH_EUNAVAILABLE);
		return;
	}
	if (rfsm_take(&n->rfsm, req->index, &rep) != 0) {
		log_error("no reply kept for applied entry %llu", (unsigned long long)req->index);
		server_finish(p, BERTH_EINTERNAL);
		return;
	}
	p->reply = rep.bytes;
	p->reply_len = rep.len;
	p->batch = rep.batch;
	free(rep.ends);
	propose_wait_commit(n, p);
	node_kick(n); /* the hook may have run already in this iteration */
}

static void propose_batch_cb(struct raft_apply *req, int status, void *result)
{
	struct proposal *b = req->data;
	struct node *n = b->node;
	struct rfsm_reply rep = {0};
	int err = 0;
	(void)result;
	n->srv.inflight -= b->count;
	if (status != 0) {
		err = BERTH_EUNAVAILABLE;
	} else if (rfsm_take(&n->rfsm, req->index, &rep) != 0) {
		log_error("no reply kept for applied entry %llu", (unsigned long long)req->index);
		err = BERTH_EINTERNAL;
	}
	size_t start = 0;
	for (unsigned i = 0; b->list != NULL; i++) {
		struct pending *p = b->list;
		b->list = p->next;
		size_t end = rep.ends != NULL && i < rep.nends ? rep.ends[i] : rep.len;
		if (err == 0 && i >= rep.nends) {
			log_error("entry %llu: %u replies for %u requests",
				  (unsigned long long)req->index, rep.nends, b->count);
			err = BERTH_EINTERNAL;
		}
		p->reply = err == 0 ? malloc(end > start ? end - start : 1) : NULL;
		if (err != 0 || p->reply == NULL) {
			server_finish(p, err != 0 ? err : BERTH_ENOMEM);
			continue;
		}
		memcpy(p->reply, rep.bytes + start, end - start);
		p->reply_len = end - start;
		p->batch = rep.batch;
		start = end;
		propose_wait_commit(n, p);
	}
	rfsm_reply_free(&rep);
	free(b);
	node_kick(n);
}

/* Hands one entry to raft; on failure answers the requests (list, count) and frees
 * buf. req is the raft_apply to use: the lone request's own, or the proposal's. */
static void propose_submit(struct node *n, struct raft_apply *req, raft_apply_cb cb,
			   const struct bytes *entry, struct pending *list, unsigned count)
{
	static const uint8_t zero[8];
	size_t pad = (8 - entry->n % 8) % 8; /* raft_uv wants 8-byte multiples (RAFT-NOTES) */
	struct raft_buffer buf = {raft_malloc(entry->n + pad), entry->n + pad};
	int rv = buf.base == NULL ? RAFT_NOMEM : 0;
	if (rv == 0) {
		memcpy(buf.base, entry->p, entry->n);
		memcpy((uint8_t *)buf.base + entry->n, zero, pad);
		rv = raft_apply(&n->raft, req, &buf, 1, cb);
	}
	if (rv == 0) {
		n->srv.inflight += count;
		return;
	}
	if (rv != RAFT_NOTLEADER && rv != RAFT_NOSPACE && rv != RAFT_NOMEM) {
		/* Any other failure leaves raft's memory and disk in disagreement (RAFT-NOTES). */
		node_fatal(n, "raft_apply", rv);
		return;
	}
	raft_free(buf.base); /* still ours on these */
	int err = rv == RAFT_NOTLEADER ? BERTH_ENOTLEADER
		  : rv == RAFT_NOMEM   ? BERTH_ENOMEM
				       : BERTH_EBUSY;
	if (req->data != list) /* a proposal: free it; its requests are answered below */
		free(req->data);
	while (list != NULL) {
		struct pending *p = list;
		list = p->next;
		server_finish(p, err);
	}
}

void propose_flush(struct node *n)
{
	struct server *s = &n->srv;
	if (s->qn == 0)
		return;
	struct pending *list = s->qhead;
	unsigned count = s->qn;
	s->qhead = NULL;
	s->qtail = &s->qhead;
	s->qn = 0;
	int err = !node_is_leader(n) ? BERTH_ENOTLEADER : mp_buf_error(&s->qbuf);
	if (err != 0) {
		while (list != NULL) {
			struct pending *p = list;
			list = p->next;
			server_finish(p, err);
		}
		mp_buf_reset(&s->qbuf);
		return;
	}
	if (count == 1) {
		struct bytes one = mbatch_element(&s->qbuf, MBATCH_HDR);
		list->apply.data = list;
		propose_submit(n, &list->apply, propose_one_cb, &one, list, 1);
	} else {
		struct proposal *b = malloc(sizeof(*b));
		mbatch_end(&s->qbuf, count);
		struct bytes all = {s->qbuf.data, s->qbuf.len};
		if (b == NULL) {
			mp_buf_reset(&s->qbuf);
			while (list != NULL) {
				struct pending *p = list;
				list = p->next;
				server_finish(p, BERTH_ENOMEM);
			}
			return;
		}
		*b = (struct proposal){.node = n, .list = list, .count = count};
		b->req.data = b;
		propose_submit(n, &b->req, propose_batch_cb, &all, list, count);
		s->batches++;
		s->batched += count;
	}
	mp_buf_reset(&s->qbuf);
}

void propose_cmd(struct node *n, struct pending *p, const struct msg_cmd *cmd)
{
	struct server *s = &n->srv;
	if (!node_is_leader(n)) {
		server_finish(p, BERTH_ENOTLEADER);
		return;
	}
	if (s->inflight + s->qn >= n->cfg.max_pending) {
		server_finish(p, BERTH_EBUSY);
		return;
	}
	if (cmd->type == MSG_CMD_TXN && p->done == NULL) {
		if (s->qn == 0) {
			s->qtail = &s->qhead;
			mp_buf_reset(&s->qbuf);
			mbatch_begin(&s->qbuf);
		}
		mbatch_add(&s->qbuf, cmd);
		p->next = NULL;
		*s->qtail = p;
		s->qtail = &p->next;
		if (++s->qn >= MBATCH_MAX || s->qbuf.len >= MBATCH_SOFT_BYTES)
			propose_flush(n);
		return;
	}
	/* Not batched: after what came before it, alone. */
	propose_flush(n);
	struct mp_buf b;
	mp_buf_init(&b);
	msg_cmd_encode(&b, cmd);
	if (mp_buf_error(&b) != 0) {
		mp_buf_close(&b);
		server_finish(p, BERTH_ENOMEM);
		return;
	}
	struct bytes one = {b.data, b.len};
	p->apply.data = p;
	p->next = NULL;
	propose_submit(n, &p->apply, propose_one_cb, &one, p, 1);
	mp_buf_close(&b);
}

void propose_drain(struct node *n)
{
	struct server *s = &n->srv;
	while (s->qhead != NULL) {
		struct pending *p = s->qhead;
		s->qhead = p->next;
		server_pending_free(p);
	}
	s->qtail = &s->qhead;
	s->qn = 0;
	mp_buf_close(&s->qbuf);
}
