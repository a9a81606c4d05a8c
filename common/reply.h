/* common/reply.h: the results of commands and reads, and their msgpack codec.
 *
 * The state machine encodes a result while it applies a command (store/fsm.c) and keeps
 * the bytes for exactly-once retries; servers forward them untouched; clients and tests
 * decode them here. Shape:
 *   result  {err: code (absent = ok), rev, ok: bool (txn: compares held), r: [op result],
 *            id (lease or session id), ttl}
 *   op      {t: type, kvs: [kv], n: count, more: bool, d: deleted, v: integer after add}
 *   kv      {k, v, c: create_rev, m: mod_rev, ver: version, l: lease}
 * A decoded reply borrows keys and values from the input buffer. */
#ifndef BERTH_COMMON_REPLY_H
#define BERTH_COMMON_REPLY_H

#include "common/msg.h"

struct reply_kv {
	struct bytes key;
	struct bytes value;
	int64_t create_rev;
	int64_t mod_rev;
	int64_t version;
	uint64_t lease;
};

struct reply_op {
	uint8_t type; /* enum msg_op_type */
	uint32_t nkvs;
	struct reply_kv *kvs; /* range */
	uint64_t count;       /* range: keys matched (before the limit) */
	bool more;            /* range: the limit cut the result */
	uint64_t deleted;     /* delete */
	int64_t value;        /* add: the value after adding */
};

struct reply {
	int err;      /* 0 or a BERTH_E* code: the whole command was rejected */
	uint64_t rev; /* the store's revision after this command */
	bool succeeded;
	uint32_t nops;
	struct reply_op *ops; /* owned when decoded */
	uint64_t id;          /* lease grant: lease id; session open: session id */
	int64_t ttl;
};

/* 0, BERTH_EBADREQ or BERTH_ENOMEM; nothing to free on failure. */
int reply_decode(const uint8_t *buf, size_t n, struct reply *r);
/* The same from an already unpacked object (a reply embedded in a response): the reply
 * borrows from the buffer that object was unpacked from. */
int reply_unpack(const msgpack_object *o, struct reply *r);
void reply_free(struct reply *r);
/* One kv map (as reply_pack_kv writes it); borrows from the unpacked buffer. */
int reply_kv_unpack(const msgpack_object *o, struct reply_kv *kv);

/* Encoding, for the state machine: a whole error result, and one kv. */
void reply_pack_error(msgpack_packer *pk, int err, uint64_t rev);
void reply_pack_kv(msgpack_packer *pk, const struct reply_kv *kv, bool keys_only);

#endif
