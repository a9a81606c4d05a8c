/* common/msg.c: encoding and hostile-input decoding of commands and client requests.
 *
 * Field names are short strings, and a field equal to its default is left out:
 *   compare  {t: target, o: operator, k: key, v: bytes | n: integer}
 *   op       {t: type, k: key, e: end, f: flags, v: value, d: delta, l: lease,
 *             lim: limit, r: revision}
 *   txn      {c: [compare], s: [op], f: [op]}
 *   command  {T: type, ts: time_ms, sid, seq, x: txn, rev, lease, ttl, leases: [id],
 *             mid, peer, client}
 *   request  {T: type, id, sid, seq, ser: bool, x: txn, rev, lease, ttl, wid, w: op,
 *             proto, token, mid, peer, client, nowait: bool} */
#include "common/msg.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static void msg_pack_bytes_field(msgpack_packer *pk, const char *name, struct bytes b)
{
	if (b.n > 0)
		mp_pack_kv_bin(pk, name, b.p, b.n);
}

static void msg_op_pack(msgpack_packer *pk, const struct msg_op *op)
{
	uint32_t n = 2 + (op->end.n > 0) + (op->flags != 0) + (op->value.n > 0) + (op->delta != 0) +
		     (op->lease != 0) + (op->limit != 0) + (op->rev != 0);
	msgpack_pack_map(pk, n);
	mp_pack_kv_u64(pk, "t", op->type);
	mp_pack_kv_bin(pk, "k", op->key.p, op->key.n);
	msg_pack_bytes_field(pk, "e", op->end);
	if (op->flags != 0)
		mp_pack_kv_u64(pk, "f", op->flags);
	msg_pack_bytes_field(pk, "v", op->value);
	if (op->delta != 0)
		mp_pack_kv_i64(pk, "d", op->delta);
	if (op->lease != 0)
		mp_pack_kv_u64(pk, "l", op->lease);
	if (op->limit != 0)
		mp_pack_kv_u64(pk, "lim", op->limit);
	if (op->rev != 0)
		mp_pack_kv_u64(pk, "r", op->rev);
}

static int msg_op_unpack(const msgpack_object *o, struct msg_op *op)
{
	uint64_t type, flags;
	memset(op, 0, sizeof(*op));
	if (o->type != MSGPACK_OBJECT_MAP)
		return BERTH_EBADREQ;
	if (mp_get_u64(mp_map_get(o, "t"), &type) || type >= MSG_OP_TYPE_COUNT)
		return BERTH_EBADREQ;
	if (mp_get_bytes(mp_map_get(o, "k"), &op->key.p, &op->key.n))
		return BERTH_EBADREQ;
	if (mp_opt_u64(o, "f", 0, &flags) || (flags & ~(uint64_t)MSG_F_ALL) != 0)
		return BERTH_EBADREQ;
	op->type = (uint8_t)type;
	op->flags = (uint8_t)flags;
	if (mp_opt_bytes(o, "e", &op->end.p, &op->end.n) ||
	    mp_opt_bytes(o, "v", &op->value.p, &op->value.n) || mp_opt_i64(o, "d", 0, &op->delta) ||
	    mp_opt_u64(o, "l", 0, &op->lease) || mp_opt_u64(o, "lim", 0, &op->limit) ||
	    mp_opt_u64(o, "r", 0, &op->rev))
		return BERTH_EBADREQ;
	return 0;
}

static void msg_cmp_pack(msgpack_packer *pk, const struct msg_compare *c)
{
	msgpack_pack_map(pk, 4);
	mp_pack_kv_u64(pk, "t", c->target);
	mp_pack_kv_u64(pk, "o", c->op);
	mp_pack_kv_bin(pk, "k", c->key.p, c->key.n);
	if (c->target == MSG_CMP_VALUE)
		mp_pack_kv_bin(pk, "v", c->value.p, c->value.n);
	else
		mp_pack_kv_i64(pk, "n", c->num);
}

static int msg_cmp_unpack(const msgpack_object *o, struct msg_compare *c)
{
	uint64_t target, op;
	memset(c, 0, sizeof(*c));
	if (o->type != MSGPACK_OBJECT_MAP)
		return BERTH_EBADREQ;
	if (mp_get_u64(mp_map_get(o, "t"), &target) || target >= MSG_CMP_TARGET_COUNT ||
	    mp_get_u64(mp_map_get(o, "o"), &op) || op >= MSG_CMP_OP_COUNT ||
	    mp_get_bytes(mp_map_get(o, "k"), &c->key.p, &c->key.n))
		return BERTH_EBADREQ;
	c->target = (uint8_t)target;
	c->op = (uint8_t)op;
	if (c->target == MSG_CMP_VALUE)
		return mp_get_bytes(mp_map_get(o, "v"), &c->value.p, &c->value.n);
	return mp_get_i64(mp_map_get(o, "n"), &c->num);
}

void msg_txn_pack(msgpack_packer *pk, const struct msg_txn *t)
{
	msgpack_pack_map(pk, 3);
	mp_pack_cstr(pk, "c");
	msgpack_pack_array(pk, t->ncmp);
	for (uint32_t i = 0; i < t->ncmp; i++)
		msg_cmp_pack(pk, &t->cmp[i]);
	mp_pack_cstr(pk, "s");
	msgpack_pack_array(pk, t->nsucc);
	for (uint32_t i = 0; i < t->nsucc; i++)
		msg_op_pack(pk, &t->succ[i]);
	mp_pack_cstr(pk, "f");
	msgpack_pack_array(pk, t->nfail);
	for (uint32_t i = 0; i < t->nfail; i++)
		msg_op_pack(pk, &t->fail[i]);
}

static int msg_array(const msgpack_object *map, const char *key, const msgpack_object **items,
		     uint32_t *n)
{
	const msgpack_object *o = mp_map_get(map, key);
	if (o == NULL) {
		*items = NULL;
		*n = 0;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return BERTH_EBADREQ;
	*items = o->via.array.ptr;
	*n = o->via.array.size;
	return 0;
}

int msg_txn_unpack(const msgpack_object *o, struct msg_txn *t)
{
	const msgpack_object *c, *s, *f;
	uint32_t nc, ns, nf;
	memset(t, 0, sizeof(*t));
	if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
		return BERTH_EBADREQ;
	if (msg_array(o, "c", &c, &nc) || msg_array(o, "s", &s, &ns) || msg_array(o, "f", &f, &nf))
		return BERTH_EBADREQ;
	/* One allocation holds all three arrays; the counts are bounded by the input size
	 * (validated), so this is at most a constant times the frame. */
	size_t bytes =
		(size_t)nc * sizeof(struct msg_compare) + ((size_t)ns + nf) * sizeof(struct msg_op);
	void *mem = bytes ? calloc(1, bytes) : NULL;
	if (bytes && mem == NULL)
		return BERTH_ENOMEM;
	t->cmp = nc ? mem : NULL;
	t->succ = ns ? (struct msg_op *)((char *)mem + (size_t)nc * sizeof(struct msg_compare))
		     : NULL;
	t->fail = nf ? (struct msg_op *)((char *)mem + (size_t)nc * sizeof(struct msg_compare) +
					 (size_t)ns * sizeof(struct msg_op))
		     : NULL;
	t->ncmp = nc;
	t->nsucc = ns;
	t->nfail = nf;
	/* Keep the block reachable from whichever pointer is first, for msg_txn_free. */
	int rv = 0;
	for (uint32_t i = 0; i < nc && rv == 0; i++)
		rv = msg_cmp_unpack(&c[i], &t->cmp[i]);
	for (uint32_t i = 0; i < ns && rv == 0; i++)
		rv = msg_op_unpack(&s[i], &t->succ[i]);
	for (uint32_t i = 0; i < nf && rv == 0; i++)
		rv = msg_op_unpack(&f[i], &t->fail[i]);
	if (rv != 0) {
		free(mem);
		memset(t, 0, sizeof(*t));
	}
	return rv;
}

void msg_txn_free(struct msg_txn *t)
{
	void *mem = t->cmp ? (void *)t->cmp : t->succ ? (void *)t->succ : (void *)t->fail;
	free(mem);
	memset(t, 0, sizeof(*t));
}

bool msg_txn_writes(const struct msg_txn *t)
{
	for (uint32_t i = 0; i < t->nsucc; i++)
		if (t->succ[i].type != MSG_OP_RANGE)
			return true;
	for (uint32_t i = 0; i < t->nfail; i++)
		if (t->fail[i].type != MSG_OP_RANGE)
			return true;
	return false;
}

/* A member address: a non-empty string or bin of at most MSG_MEMBER_ADDR_MAX bytes
 * without NUL bytes (it becomes a C string). */
static int msg_addr(const msgpack_object *o, struct bytes *out)
{
	if (mp_get_bytes(o, &out->p, &out->n) || out->n == 0 || out->n > MSG_MEMBER_ADDR_MAX ||
	    memchr(out->p, 0, out->n) != NULL)
		return BERTH_EBADREQ;
	return 0;
}

static int msg_member_id(const msgpack_object *m, bool required, uint64_t *id)
{
	const msgpack_object *o = mp_map_get(m, "mid");
	*id = 0;
	if (o == NULL)
		return required ? BERTH_EBADREQ : 0;
	if (mp_get_u64(o, id) || *id > MSG_MEMBER_ID_MAX || (required && *id == 0))
		return BERTH_EBADREQ;
	return 0;
}

static void msg_pack_addrs(msgpack_packer *pk, struct bytes peer, struct bytes client)
{
	mp_pack_kv_bin(pk, "peer", peer.p, peer.n);
	mp_pack_kv_bin(pk, "client", client.p, client.n);
}

void msg_cmd_encode(struct mp_buf *b, const struct msg_cmd *c)
{
	msgpack_packer *pk = &b->pk;
	bool txn = c->type == MSG_CMD_TXN;
	bool rev = c->type == MSG_CMD_COMPACT;
	bool lease = c->type == MSG_CMD_LEASE_GRANT || c->type == MSG_CMD_LEASE_REVOKE;
	bool ttl = c->type == MSG_CMD_LEASE_GRANT || c->type == MSG_CMD_SESSION_OPEN;
	bool leases = c->type == MSG_CMD_LEASE_EXPIRE;
	bool member = c->type == MSG_CMD_MEMBER;
	bool addrs = member && (c->peer.n > 0 || c->client.n > 0);
	msgpack_pack_map(pk, 4 + txn + rev + lease + ttl + leases + member + 2 * addrs);
	mp_pack_kv_u64(pk, "T", c->type);
	mp_pack_kv_u64(pk, "ts", c->time_ms);
	mp_pack_kv_u64(pk, "sid", c->session);
	mp_pack_kv_u64(pk, "seq", c->seq);
	if (txn) {
		mp_pack_cstr(pk, "x");
		msg_txn_pack(pk, &c->txn);
	}
	if (rev)
		mp_pack_kv_u64(pk, "rev", c->rev);
	if (lease)
		mp_pack_kv_u64(pk, "lease", c->lease);
	if (ttl)
		mp_pack_kv_i64(pk, "ttl", c->ttl);
	if (leases) {
		mp_pack_cstr(pk, "leases");
		msgpack_pack_array(pk, c->nleases);
		for (uint32_t i = 0; i < c->nleases; i++)
			msgpack_pack_uint64(pk, c->leases[i]);
	}
	if (member)
		mp_pack_kv_u64(pk, "mid", c->member);
	if (addrs)
		msg_pack_addrs(pk, c->peer, c->client);
}

int msg_cmd_decode(const uint8_t *buf, size_t n, struct msg_cmd *c)
{
	struct mp_doc d;
	uint64_t type;
	int rv;
	memset(c, 0, sizeof(*c));
	if ((rv = mp_doc_init(&d, buf, n)) != 0)
		return rv;
	const msgpack_object *m = d.root;
	rv = BERTH_EBADREQ;
	if (m->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(m, "T"), &type) || type == 0 ||
	    type >= MSG_CMD_TYPE_END)
		goto out;
	c->type = (uint8_t)type;
	if (mp_opt_u64(m, "ts", 0, &c->time_ms) || mp_opt_u64(m, "sid", 0, &c->session) ||
	    mp_opt_u64(m, "seq", 0, &c->seq))
		goto out;
	switch (c->type) {
	case MSG_CMD_TXN:
		rv = msg_txn_unpack(mp_map_get(m, "x"), &c->txn);
		goto out;
	case MSG_CMD_COMPACT:
		if (mp_get_u64(mp_map_get(m, "rev"), &c->rev))
			goto out;
		break;
	case MSG_CMD_LEASE_GRANT:
		if (mp_opt_u64(m, "lease", 0, &c->lease) ||
		    mp_get_i64(mp_map_get(m, "ttl"), &c->ttl))
			goto out;
		break;
	case MSG_CMD_LEASE_REVOKE:
		if (mp_get_u64(mp_map_get(m, "lease"), &c->lease))
			goto out;
		break;
	case MSG_CMD_SESSION_OPEN:
		if (mp_get_i64(mp_map_get(m, "ttl"), &c->ttl))
			goto out;
		break;
	case MSG_CMD_LEASE_EXPIRE: {
		const msgpack_object *ids;
		uint32_t nids;
		if (msg_array(m, "leases", &ids, &nids) || nids > MSG_MAX_EXPIRE)
			goto out;
		if (nids > 0) {
			c->leases = calloc(nids, sizeof(*c->leases));
			if (c->leases == NULL) {
				rv = BERTH_ENOMEM;
				goto out;
			}
		}
		c->nleases = nids;
		for (uint32_t i = 0; i < nids; i++)
			if (mp_get_u64(&ids[i], &c->leases[i]))
				goto out;
		break;
	}
	case MSG_CMD_MEMBER: {
		/* Both addresses (record) or neither (forget). */
		const msgpack_object *p = mp_map_get(m, "peer"), *cl = mp_map_get(m, "client");
		if (msg_member_id(m, true, &c->member) || (p == NULL) != (cl == NULL) ||
		    (p != NULL && (msg_addr(p, &c->peer) || msg_addr(cl, &c->client))))
			goto out;
		break;
	}
	default:
		break;
	}
	rv = 0;
out:
	mp_doc_close(&d);
	if (rv != 0)
		msg_cmd_free(c);
	return rv;
}

void msg_cmd_free(struct msg_cmd *c)
{
	msg_txn_free(&c->txn);
	free(c->leases);
	c->leases = NULL;
	c->nleases = 0;
}

void msg_req_encode(struct mp_buf *b, const struct msg_req *r)
{
	msgpack_packer *pk = &b->pk;
	bool txn = r->type == MSG_REQ_TXN;
	bool rev = r->type == MSG_REQ_COMPACT || r->type == MSG_REQ_WATCH;
	bool lease = r->type == MSG_REQ_LEASE_GRANT || r->type == MSG_REQ_LEASE_REVOKE ||
		     r->type == MSG_REQ_LEASE_KEEPALIVE;
	bool ttl = r->type == MSG_REQ_LEASE_GRANT || r->type == MSG_REQ_SESSION_OPEN;
	bool watch = r->type == MSG_REQ_WATCH;
	bool wid = r->type == MSG_REQ_WATCH_CANCEL;
	bool hello = r->type == MSG_REQ_HELLO;
	bool list = r->type == MSG_REQ_MEMBER_LIST;
	bool add = r->type == MSG_REQ_MEMBER_ADD;
	bool mid = add || r->type == MSG_REQ_MEMBER_REMOVE || r->type == MSG_REQ_MEMBER_TRANSFER;
	msgpack_pack_map(pk, 4 + 2 * txn + rev + lease + ttl + watch + wid + 2 * hello + list +
				     mid + 3 * add);
	mp_pack_kv_u64(pk, "T", r->type);
	mp_pack_kv_u64(pk, "id", r->id);
	mp_pack_kv_u64(pk, "sid", r->session);
	mp_pack_kv_u64(pk, "seq", r->seq);
	if (txn) {
		mp_pack_kv_bool(pk, "ser", r->serializable);
		mp_pack_cstr(pk, "x");
		msg_txn_pack(pk, &r->txn);
	}
	if (rev)
		mp_pack_kv_u64(pk, "rev", r->rev);
	if (lease)
		mp_pack_kv_u64(pk, "lease", r->lease);
	if (ttl)
		mp_pack_kv_i64(pk, "ttl", r->ttl);
	if (watch) {
		mp_pack_cstr(pk, "w");
		msg_op_pack(pk, &r->watch);
	}
	if (wid)
		mp_pack_kv_u64(pk, "wid", r->watch_id);
	if (hello) {
		mp_pack_kv_u64(pk, "proto", r->proto);
		mp_pack_kv_bin(pk, "token", r->token.p, r->token.n);
	}
	if (list)
		mp_pack_kv_bool(pk, "ser", r->serializable);
	if (mid)
		mp_pack_kv_u64(pk, "mid", r->member);
	if (add) {
		msg_pack_addrs(pk, r->peer, r->client);
		mp_pack_kv_bool(pk, "nowait", r->nowait);
	}
}

int msg_req_decode(const uint8_t *buf, size_t n, struct msg_req *r)
{
	struct mp_doc d;
	uint64_t type, proto;
	int rv, ser = 0;
	memset(r, 0, sizeof(*r));
	if ((rv = mp_doc_init(&d, buf, n)) != 0)
		return rv;
	const msgpack_object *m = d.root;
	const msgpack_object *o;
	rv = BERTH_EBADREQ;
	if (m->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(m, "T"), &type) || type == 0 ||
	    type >= MSG_REQ_TYPE_END)
		goto out;
	r->type = (uint8_t)type;
	if (mp_opt_u64(m, "id", 0, &r->id) || mp_opt_u64(m, "sid", 0, &r->session) ||
	    mp_opt_u64(m, "seq", 0, &r->seq))
		goto out;
	switch (r->type) {
	case MSG_REQ_HELLO:
		if (mp_get_u64(mp_map_get(m, "proto"), &proto) || proto > UINT32_MAX ||
		    mp_opt_bytes(m, "token", &r->token.p, &r->token.n))
			goto out;
		r->proto = (uint32_t)proto;
		break;
	case MSG_REQ_TXN:
		if ((o = mp_map_get(m, "ser")) != NULL && mp_get_bool(o, &ser))
			goto out;
		r->serializable = ser != 0;
		rv = msg_txn_unpack(mp_map_get(m, "x"), &r->txn);
		goto out;
	case MSG_REQ_COMPACT:
		if (mp_get_u64(mp_map_get(m, "rev"), &r->rev))
			goto out;
		break;
	case MSG_REQ_LEASE_GRANT:
		if (mp_opt_u64(m, "lease", 0, &r->lease) ||
		    mp_get_i64(mp_map_get(m, "ttl"), &r->ttl))
			goto out;
		break;
	case MSG_REQ_LEASE_REVOKE:
	case MSG_REQ_LEASE_KEEPALIVE:
		if (mp_get_u64(mp_map_get(m, "lease"), &r->lease))
			goto out;
		break;
	case MSG_REQ_SESSION_OPEN:
		if (mp_get_i64(mp_map_get(m, "ttl"), &r->ttl))
			goto out;
		break;
	case MSG_REQ_WATCH:
		if (mp_opt_u64(m, "rev", 0, &r->rev) || (o = mp_map_get(m, "w")) == NULL ||
		    msg_op_unpack(o, &r->watch))
			goto out;
		break;
	case MSG_REQ_WATCH_CANCEL:
		if (mp_get_u64(mp_map_get(m, "wid"), &r->watch_id))
			goto out;
		break;
	case MSG_REQ_MEMBER_LIST:
		if ((o = mp_map_get(m, "ser")) != NULL && mp_get_bool(o, &ser))
			goto out;
		r->serializable = ser != 0;
		break;
	case MSG_REQ_MEMBER_ADD:
		if (msg_member_id(m, true, &r->member) ||
		    msg_addr(mp_map_get(m, "peer"), &r->peer) ||
		    msg_addr(mp_map_get(m, "client"), &r->client) ||
		    ((o = mp_map_get(m, "nowait")) != NULL && mp_get_bool(o, &ser)))
			goto out;
		r->nowait = ser != 0;
		break;
	case MSG_REQ_MEMBER_REMOVE:
	case MSG_REQ_MEMBER_TRANSFER:
		if (msg_member_id(m, r->type == MSG_REQ_MEMBER_REMOVE, &r->member))
			goto out;
		break;
	default:
		break;
	}
	rv = 0;
out:
	mp_doc_close(&d);
	if (rv != 0)
		msg_req_free(r);
	return rv;
}

void msg_req_free(struct msg_req *r)
{
	msg_txn_free(&r->txn);
}
