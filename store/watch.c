/* store/watch.c: watchers as cursors into the revision table, pushed once per iteration. */
#include "store/watch.h"

#include "common/err.h"
#include "common/log.h"
#include "common/wire.h"
#include "store/node.h"

#include <stdlib.h>
#include <string.h>

static uint64_t watch_now_ms(struct node *n)
{
	return uv_now(n->loop);
}

static void watch_ring_add(struct watch_hub *h, struct watcher *w)
{
	if (h->ring == NULL) {
		w->next = w->prev = w;
		h->ring = w;
	} else { /* just before the start: the end of the ring */
		w->next = h->ring;
		w->prev = h->ring->prev;
		w->prev->next = w;
		h->ring->prev = w;
	}
	h->count++;
}

static void watch_ring_del(struct watch_hub *h, struct watcher *w)
{
	if (w->next == w) {
		h->ring = NULL;
	} else {
		w->prev->next = w->next;
		w->next->prev = w->prev;
		if (h->ring == w)
			h->ring = w->next;
	}
	h->count--;
}

static void watch_free(struct node *n, struct watcher *w)
{
	watch_ring_del(&n->watch, w);
	free(w->key);
	free(w);
}

static void watch_timer_cb(uv_timer_t *t)
{
	struct node *n = t->data;
	n->watch.progress_due = true;
	node_kick(n);
}

static int watch_check(const struct node *n, const struct msg_op *op)
{
	if (op->key.n > n->cfg.max_key_bytes || op->end.n > n->cfg.max_key_bytes)
		return BERTH_ETOOLARGE;
	if (op->flags & ~(MSG_F_PREFIX | MSG_F_KEYS_ONLY))
		return BERTH_EBADREQ;
	if ((op->flags & MSG_F_PREFIX) && op->end.n > 0)
		return BERTH_EBADREQ;
	if (op->key.n == 0 && !(op->flags & MSG_F_PREFIX))
		return BERTH_EBADREQ;
	if (op->limit != 0 || op->rev != 0)
		return BERTH_EBADREQ;
	return 0;
}

int watch_create(struct node *n, struct conn *c, struct watcher **list, const struct msg_req *r,
		 uint64_t *id, uint64_t *start)
{
	struct watch_hub *h = &n->watch;
	unsigned mine = 0;
	int rv;
	if ((rv = watch_check(n, &r->watch)) != 0)
		return rv;
	for (struct watcher *w = *list; w != NULL; w = w->cnext)
		mine++;
	if (mine >= WATCH_MAX_PER_CONN)
		return BERTH_ETOOLARGE;
	if (h->count >= n->cfg.max_watchers)
		return BERTH_EBUSY;
	struct watcher *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->key = malloc(r->watch.key.n + r->watch.end.n + 1)) == NULL) {
		free(w);
		return BERTH_ENOMEM;
	}
	if (!h->timer_on) {
		uv_timer_init(n->loop, &h->timer);
		h->timer.data = n;
		uv_timer_start(&h->timer, watch_timer_cb, n->cfg.watch_progress_ms,
			       n->cfg.watch_progress_ms);
		h->timer_on = true;
	}
	if (r->watch.key.n > 0)
		memcpy(w->key, r->watch.key.p, r->watch.key.n);
	if (r->watch.end.n > 0)
		memcpy(w->key + r->watch.key.n, r->watch.end.p, r->watch.end.n);
	w->klen = r->watch.key.n;
	w->elen = r->watch.end.n;
	w->flags = r->watch.flags;
	w->conn = c;
	w->id = ++h->next_id;
	*start = r->rev != 0 ? r->rev : fsm_revision(&n->fsm);
	w->rev = *start + 1;
	w->push_ms = watch_now_ms(n);
	w->cnext = *list;
	*list = w;
	watch_ring_add(h, w);
	h->work = true;
	node_kick(n);
	*id = w->id;
	return 0;
}

int watch_cancel(struct node *n, struct watcher **list, uint64_t id)
{
	for (struct watcher **pp = list; *pp != NULL; pp = &(*pp)->cnext) {
		struct watcher *w = *pp;
		if (w->id == id) {
			*pp = w->cnext;
			watch_free(n, w);
			return 0;
		}
	}
	return BERTH_ENOTFOUND;
}

void watch_conn_gone(struct node *n, struct watcher **list)
{
	while (*list != NULL) {
		struct watcher *w = *list;
		*list = w->cnext;
		watch_free(n, w);
	}
}

void watch_wake(struct node *n)
{
	n->watch.work = true;
	node_kick(n);
}

void watch_stop(struct node *n)
{
	if (n->watch.timer_on) {
		uv_close((uv_handle_t *)&n->watch.timer, NULL);
		n->watch.timer_on = false;
	}
}

/* Does the watcher's range hold key? */
static bool watch_match(const struct watcher *w, struct bytes key)
{
	size_t kn = w->klen;
	const uint8_t *end = w->key + kn;
	if (w->flags & MSG_F_PREFIX)
		return key.n >= kn && (kn == 0 || memcmp(key.p, w->key, kn) == 0);
	int c = memcmp(key.p, w->key, key.n < kn ? key.n : kn);
	if (w->elen == 0)
		return c == 0 && key.n == kn;
	if (c < 0 || (c == 0 && key.n < kn))
		return false;
	if (w->elen == 1 && end[0] == 0)
		return true; /* to the last key */
	c = memcmp(key.p, end, key.n < w->elen ? key.n : w->elen);
	return c < 0 || (c == 0 && key.n < w->elen);
}

/* Pushes one frame for w. Removes nothing. */
static void watch_push(struct node *n, struct watcher *w, const struct wire_watch *ww,
		       const struct mp_buf *events)
{
	static const uint8_t hdr[4];
	struct wire_header h;
	struct mp_buf b;
	node_header(n, &h);
	mp_buf_init(&b);
	mp_buf_append(&b, hdr, sizeof(hdr));
	wire_watch_pack(&b, &h, ww, events ? events->data : NULL, events ? events->len : 0);
	server_conn_push(w->conn, &b);
	w->push_ms = watch_now_ms(n);
	n->watch.frames++;
	n->watch.events += ww->nevents;
}

/* Sends the cancellation and frees the watcher. */
static void watch_end(struct node *n, struct watcher *w, int err, uint64_t compacted)
{
	/* Everything below w->rev is complete (a partial revision stays unreported). */
	struct wire_watch ww = {.id = w->id, .rev = w->rev - 1, .err = err, .compacted = compacted};
	log_info("watch %llu cancelled: %s", (unsigned long long)w->id, err_text(err));
	watch_push(n, w, &ww, NULL);
	watch_cancel(n, server_conn_watchers(w->conn), w->id);
}

struct watch_pass {
	MDB_txn *txn;
	MDB_cursor *cur;
	uint64_t head, compacted;
	unsigned budget; /* changes left to read in this pass */
};

/* Reads w forward from (rev, sub) and pushes what matched. 0 or a fatal LMDB error. */
static int watch_scan(struct node *n, struct watch_pass *ps, struct watcher *w)
{
	struct kv *kv = &n->fsm.kv;
	struct wire_watch ww = {.id = w->id};
	struct mp_buf ev;
	uint8_t rk[12];
	MDB_val k = {sizeof(rk), rk}, v;
	uint64_t cur_rev = 0;
	bool stopped = false;
	int rc, rv = 0;

	kv_be64_put(rk, w->rev);
	rk[8] = (uint8_t)(w->sub >> 24);
	rk[9] = (uint8_t)(w->sub >> 16);
	rk[10] = (uint8_t)(w->sub >> 8);
	rk[11] = (uint8_t)w->sub;
	mp_buf_init(&ev);
	rc = mdb_cursor_get(ps->cur, &k, &v, MDB_SET_RANGE);
	for (; rc == 0; rc = mdb_cursor_get(ps->cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 12) {
			rv = BERTH_ECORRUPT;
			break;
		}
		uint64_t r = kv_be64_get(k.mv_data);
		const uint8_t *s = (const uint8_t *)k.mv_data + 8;
		uint32_t sub =
			(uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
		if (r > ps->head)
			break;
		if (r != cur_rev) { /* a revision boundary: stop here if over budget */
			if (cur_rev != 0 && (ps->budget == 0 || ev.len >= WATCH_FRAME_BYTES)) {
				w->rev = r;
				w->sub = 0;
				stopped = true;
				break;
			}
			cur_rev = r;
		} else if (ev.len >= WATCH_FRAME_BYTES) { /* one revision larger than a frame */
			w->rev = r;
			w->sub = sub;
			ww.more = true;
			stopped = true;
			break;
		}
		if (ps->budget > 0)
			ps->budget--;
		MDB_val hk = v, hv;
		struct kv_rec rec;
		if ((rc = mdb_get(ps->txn, kv->hist, &hk, &hv)) != 0 ||
		    (rv = kv_rec_read(&hv, &rec)) != 0) {
			rv = rv ? rv : kv_err(kv, rc, "watch hist");
			break;
		}
		if (!watch_match(w, rec.key))
			continue;
		struct wire_event e = {.type = rec.kind == KV_PUT ? MSG_OP_PUT : MSG_OP_DEL};
		e.kv.key = rec.key;
		e.kv.mod_rev = rec.mod_rev;
		if (rec.kind == KV_PUT) {
			e.kv.create_rev = rec.create_rev;
			e.kv.version = rec.version;
			e.kv.lease = rec.lease;
			if (!(w->flags & MSG_F_KEYS_ONLY))
				e.kv.value = rec.value;
		} else {
			e.kv.mod_rev = (int64_t)r;
		}
		wire_event_pack(&ev.pk, &e);
		ww.nevents++;
	}
	if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
		rv = kv_err(kv, rc, "watch scan");
	if (rv == 0 && (rv = mp_buf_error(&ev)) == 0) {
		if (!stopped) {
			w->rev = ps->head + 1;
			w->sub = 0;
		}
		ww.rev = w->rev - 1;
		if (ww.nevents > 0 || ww.more)
			watch_push(n, w, &ww, &ev);
		if (stopped)
			n->watch.work = true;
	}
	mp_buf_close(&ev);
	return rv;
}

/* Progress, staleness and overflow rules that need no reading. 1 when w was cancelled. */
static int watch_rules(struct node *n, struct watch_pass *ps, struct watcher *w, uint64_t now,
		       bool stale)
{
	if (stale) {
		watch_end(n, w, BERTH_ENOQUORUM, 0);
		return 1;
	}
	if (w->rev <= ps->compacted) {
		watch_end(n, w, BERTH_ECOMPACTED, ps->compacted);
		return 1;
	}
	if (w->rev > ps->head) { /* caught up */
		if (n->watch.progress_due && now - w->push_ms >= n->cfg.watch_progress_ms) {
			struct wire_watch ww = {.id = w->id, .rev = ps->head};
			watch_push(n, w, &ww, NULL);
		}
		return 0;
	}
	if (server_conn_unsent(w->conn) >= WATCH_WINDOW_BYTES) {
		if (ps->head - w->rev >= n->cfg.watch_max_lag) {
			watch_end(n, w, BERTH_EWATCHOVERFLOW, 0);
			return 1;
		}
	}
	return 0;
}

void watch_iteration(struct node *n)
{
	struct watch_hub *h = &n->watch;
	struct watch_pass ps = {.budget = WATCH_PASS_ENTRIES};
	uint64_t now = watch_now_ms(n);
	bool stale = false;
	int rc, rv = 0;

	if (h->ring == NULL)
		return;
	raft_id leader;
	const char *leader_addr;
	raft_leader(&n->raft, &leader, &leader_addr);
	if (leader != 0)
		h->noleader_since_ms = 0;
	else if (h->noleader_since_ms == 0)
		h->noleader_since_ms = now;
	else if (now - h->noleader_since_ms >= 4 * n->cfg.election_ms)
		stale = true;
	if (!h->work && !h->progress_due && !stale && h->seen_rev == fsm_revision(&n->fsm))
		return;
	if ((rc = mdb_txn_begin(n->fsm.kv.env, NULL, MDB_RDONLY, &ps.txn)) != 0) {
		node_fatal(n, "watch", kv_err(&n->fsm.kv, rc, "watch read"));
		return;
	}
	if ((rc = mdb_cursor_open(ps.txn, n->fsm.kv.revs, &ps.cur)) != 0 ||
	    (rv = kv_meta_get(&n->fsm.kv, ps.txn, "rev", &ps.head)) != 0 ||
	    (rv = kv_meta_get(&n->fsm.kv, ps.txn, "compacted", &ps.compacted)) != 0) {
		mdb_txn_abort(ps.txn);
		node_fatal(n, "watch", rv ? rv : kv_err(&n->fsm.kv, rc, "watch cursor"));
		return;
	}
	h->work = false;
	/* One pass round the ring, from where the last one stopped. */
	struct watcher *w = h->ring;
	unsigned left = h->count;
	while (left-- > 0 && w != NULL) {
		struct watcher *next = w->next;
		if (watch_rules(n, &ps, w, now, stale)) {
			w = h->ring == NULL ? NULL : next; /* w is gone; next is not */
			continue;
		}
		if (w->rev <= ps.head && server_conn_unsent(w->conn) < WATCH_WINDOW_BYTES) {
			if (ps.budget == 0) {
				h->ring = w; /* the next pass starts here */
				h->work = true;
				break;
			}
			if ((rv = watch_scan(n, &ps, w)) != 0)
				break;
		}
		w = next;
	}
	mdb_cursor_close(ps.cur);
	mdb_txn_abort(ps.txn);
	if (rv != 0) {
		node_fatal(n, "watch", rv);
		return;
	}
	h->progress_due = false;
	h->seen_rev = ps.head;
	if (h->work)
		node_kick(n);
}
