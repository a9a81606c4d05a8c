/* common/reply.c: decoding of results (hostile input: they come off the network). */
#include "common/reply.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

void reply_pack_error(msgpack_packer *pk, int err, uint64_t rev)
{
	msgpack_pack_map(pk, 2);
	mp_pack_kv_i64(pk, "err", err);
	mp_pack_kv_u64(pk, "rev", rev);
}

void reply_pack_kv(msgpack_packer *pk, const struct reply_kv *kv, bool keys_only)
{
	msgpack_pack_map(pk, 5 + !keys_only);
	mp_pack_kv_bin(pk, "k", kv->key.p, kv->key.n);
	if (!keys_only)
		mp_pack_kv_bin(pk, "v", kv->value.p, kv->value.n);
	mp_pack_kv_i64(pk, "c", kv->create_rev);
	mp_pack_kv_i64(pk, "m", kv->mod_rev);
	mp_pack_kv_i64(pk, "ver", kv->version);
	mp_pack_kv_u64(pk, "l", kv->lease);
}

int reply_kv_unpack(const msgpack_object *o, struct reply_kv *kv)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return BERTH_EBADREQ;
	if (mp_get_bytes(mp_map_get(o, "k"), &kv->key.p, &kv->key.n) ||
	    mp_opt_bytes(o, "v", &kv->value.p, &kv->value.n) ||
	    mp_opt_i64(o, "c", 0, &kv->create_rev) || mp_opt_i64(o, "m", 0, &kv->mod_rev) ||
	    mp_opt_i64(o, "ver", 0, &kv->version) || mp_opt_u64(o, "l", 0, &kv->lease))
		return BERTH_EBADREQ;
	return 0;
}

static int reply_op_unpack(const msgpack_object *o, struct reply_op *op)
{
	uint64_t type;
	int more = 0;
	const msgpack_object *m;
	if (o->type != MSGPACK_OBJECT_MAP || mp_get_u64(mp_map_get(o, "t"), &type) ||
	    type >= MSG_OP_TYPE_COUNT)
		return BERTH_EBADREQ;
	op->type = (uint8_t)type;
	if (mp_opt_u64(o, "n", 0, &op->count) || mp_opt_u64(o, "d", 0, &op->deleted) ||
	    mp_opt_i64(o, "v", 0, &op->value))
		return BERTH_EBADREQ;
	if ((m = mp_map_get(o, "more")) != NULL && mp_get_bool(m, &more))
		return BERTH_EBADREQ;
	op->more = more != 0;
	m = mp_map_get(o, "kvs");
	if (m == NULL)
		return 0;
	if (m->type != MSGPACK_OBJECT_ARRAY)
		return BERTH_EBADREQ;
	if (m->via.array.size > 0) {
		op->kvs = calloc(m->via.array.size, sizeof(*op->kvs));
		if (op->kvs == NULL)
			return BERTH_ENOMEM;
	}
	op->nkvs = m->via.array.size;
	for (uint32_t i = 0; i < op->nkvs; i++)
		if (reply_kv_unpack(&m->via.array.ptr[i], &op->kvs[i]))
			return BERTH_EBADREQ;
	return 0;
}

int reply_unpack(const msgpack_object *m, struct reply *r)
{
	int64_t err;
	int ok = 0, rv = BERTH_EBADREQ;
	const msgpack_object *o;
	memset(r, 0, sizeof(*r));
	if (m == NULL || m->type != MSGPACK_OBJECT_MAP || mp_opt_i64(m, "err", 0, &err) ||
	    !err_known((int)err) || err != (int)err || mp_opt_u64(m, "rev", 0, &r->rev) ||
	    mp_opt_u64(m, "id", 0, &r->id) || mp_opt_i64(m, "ttl", 0, &r->ttl))
		goto out;
	r->err = (int)err;
	if ((o = mp_map_get(m, "ok")) != NULL && mp_get_bool(o, &ok))
		goto out;
	r->succeeded = ok != 0;
	if ((o = mp_map_get(m, "r")) != NULL) {
		if (o->type != MSGPACK_OBJECT_ARRAY)
			goto out;
		if (o->via.array.size > 0) {
			r->ops = calloc(o->via.array.size, sizeof(*r->ops));
			if (r->ops == NULL) {
				rv = BERTH_ENOMEM;
				goto out;
			}
		}
		r->nops = o->via.array.size;
		for (uint32_t i = 0; i < r->nops; i++)
			if ((rv = reply_op_unpack(&o->via.array.ptr[i], &r->ops[i])) != 0)
				goto out;
	}
	rv = 0;
out:
	if (rv != 0)
		reply_free(r);
	return rv;
}

int reply_decode(const uint8_t *buf, size_t n, struct reply *r)
{
	struct mp_doc d;
	int rv;
	memset(r, 0, sizeof(*r));
	if ((rv = mp_doc_init(&d, buf, n)) != 0)
		return rv;
	rv = reply_unpack(d.root, r);
	mp_doc_close(&d);
	return rv;
}

void reply_free(struct reply *r)
{
	for (uint32_t i = 0; i < r->nops; i++)
		free(r->ops[i].kvs);
	free(r->ops);
	r->ops = NULL;
	r->nops = 0;
}
