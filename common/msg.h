/* common/msg.h: the replicated commands and the client requests, and their msgpack codec.
 *
 * One transaction shape serves every key operation: get, range, put, delete and add are
 * all a `struct msg_txn` with no compares and one operation. A command (what goes into the
 * raft log) wraps a transaction or a lease, compaction or session action with the
 * leader's timestamp and the client's (session, sequence) pair.
 *
 * Decoding treats every byte as hostile (common/mp.h). A decoded message borrows its
 * keys and values from the input buffer, which must outlive it; msg_*_free releases only
 * what the decoder allocated. Encoders write into a struct mp_buf and report allocation
 * failure through it. */
#ifndef BERTH_COMMON_MSG_H
#define BERTH_COMMON_MSG_H

#include "common/mp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_PROTOCOL_VERSION 1

/* A borrowed byte string. */
struct bytes {
	const uint8_t *p;
	size_t n;
};

enum msg_cmp_target {
	MSG_CMP_VALUE = 0, /* the value's bytes, compared lexicographically */
	MSG_CMP_VERSION,   /* writes since creation; 0 for a missing key */
	MSG_CMP_CREATE,    /* create_rev; 0 for a missing key */
	MSG_CMP_MOD,       /* mod_rev; 0 for a missing key */
	MSG_CMP_INT,       /* the value read as a msgpack integer; a missing key reads 0 */
	MSG_CMP_TARGET_COUNT
};

enum msg_cmp_op { MSG_EQ = 0, MSG_NE, MSG_LT, MSG_LE, MSG_GT, MSG_GE, MSG_CMP_OP_COUNT };

struct msg_compare {
	uint8_t target; /* enum msg_cmp_target */
	uint8_t op;     /* enum msg_cmp_op */
	struct bytes key;
	struct bytes value; /* MSG_CMP_VALUE */
	int64_t num;        /* every other target */
};

enum msg_op_type { MSG_OP_RANGE = 0, MSG_OP_PUT, MSG_OP_DEL, MSG_OP_ADD, MSG_OP_TYPE_COUNT };

/* Range and delete address keys this way: `end` empty and no MSG_F_PREFIX is the one key;
 * MSG_F_PREFIX is every key starting with `key`; otherwise [key, end), where an end of
 * one zero byte means "to the last key" (as etcd). */
enum msg_op_flags {
	MSG_F_PREFIX = 1,
	MSG_F_KEYS_ONLY = 2,  /* range: no values */
	MSG_F_COUNT_ONLY = 4, /* range: only the count */
	MSG_F_ALL = 7
};

struct msg_op {
	uint8_t type;  /* enum msg_op_type */
	uint8_t flags; /* enum msg_op_flags */
	struct bytes key;
	struct bytes end;
	struct bytes value; /* put */
	int64_t delta;      /* add */
	uint64_t lease;     /* put, add: attach the key to this lease (0: none) */
	uint64_t limit;     /* range: at most this many keys (0: no limit) */
	uint64_t rev;       /* range: read at this past revision (0: current) */
};

struct msg_txn {
	uint32_t ncmp;
	uint32_t nsucc;
	uint32_t nfail;
	struct msg_compare *cmp; /* owned by the decoder when decoded */
	struct msg_op *succ;     /* run when every compare holds */
	struct msg_op *fail;     /* run otherwise */
};

enum msg_cmd_type {
	MSG_CMD_TXN = 1,
	MSG_CMD_COMPACT,
	MSG_CMD_LEASE_GRANT,
	MSG_CMD_LEASE_REVOKE,
	MSG_CMD_LEASE_EXPIRE,
	MSG_CMD_SESSION_OPEN,
	MSG_CMD_TICK,       /* no-op that only advances the state machine's clock */
	MSG_CMD_MEMBER = 8, /* records (or forgets) a member's addresses: store/addrbook.h */
	MSG_CMD_TYPE_END
};

/* Decoder bound for lease lists, independent of the configurable limits. */
#define MSG_MAX_EXPIRE 4096
/* Membership: member ids are 1..MSG_MEMBER_ID_MAX; addresses ("host:port") at most
 * MSG_MEMBER_ADDR_MAX bytes, never empty when present. */
#define MSG_MEMBER_ID_MAX UINT32_MAX
#define MSG_MEMBER_ADDR_MAX 255

struct msg_cmd {
	uint8_t type;     /* enum msg_cmd_type */
	uint64_t time_ms; /* leader's wall clock at proposal */
	uint64_t session; /* exactly-once: 0 = none */
	uint64_t seq;
	struct msg_txn txn;  /* MSG_CMD_TXN */
	uint64_t rev;        /* MSG_CMD_COMPACT */
	uint64_t lease;      /* grant (0: the state machine picks), revoke */
	int64_t ttl;         /* grant: seconds; session open: milliseconds */
	uint32_t nleases;    /* expire */
	uint64_t *leases;    /* owned when decoded */
	uint64_t member;     /* MSG_CMD_MEMBER: the member's raft id */
	struct bytes peer;   /* ... its raft address; both empty: forget the member */
	struct bytes client; /* ... its client address */
};

/* Client requests: a txn, or one of the actions that are not key operations. */
enum msg_req_type {
	MSG_REQ_HELLO = 1,
	MSG_REQ_TXN,
	MSG_REQ_COMPACT,
	MSG_REQ_LEASE_GRANT,
	MSG_REQ_LEASE_REVOKE,
	MSG_REQ_LEASE_KEEPALIVE,
	MSG_REQ_SESSION_OPEN,
	MSG_REQ_WATCH,
	MSG_REQ_WATCH_CANCEL,
	MSG_REQ_STATUS,
	MSG_REQ_MEMBER_LIST = 11, /* 11: the configuration, with client addresses */
	MSG_REQ_MEMBER_ADD,       /* 12: add a member, let it catch up, promote it */
	MSG_REQ_MEMBER_REMOVE,    /* 13 */
	MSG_REQ_MEMBER_TRANSFER,  /* 14: leadership to `member` (0: raft picks) */
	MSG_REQ_SNAPSHOT = 15,    /* a backup: the committed state as a stream (common/wire.h) */
	MSG_REQ_TYPE_END
};

struct msg_req {
	uint8_t type; /* enum msg_req_type */
	uint64_t id;  /* echoed in the response */
	uint64_t session;
	uint64_t seq;
	bool serializable;   /* txn without writes: answer from local state */
	struct msg_txn txn;  /* MSG_REQ_TXN */
	uint64_t rev;        /* compact; watch: start after this revision */
	uint64_t lease;      /* grant/revoke/keepalive */
	int64_t ttl;         /* grant (s), session open (ms) */
	uint64_t watch_id;   /* watch cancel */
	struct msg_op watch; /* watch: key/end/flags as a range */
	uint32_t proto;      /* hello */
	struct bytes token;  /* hello: cluster token, may be empty */
	uint64_t member;     /* member add, remove, transfer */
	struct bytes peer;   /* member add: raft address */
	struct bytes client; /* member add: client address */
	bool nowait;         /* member add: answer once the promotion has started */
};

/* Encoders append one msgpack map to b. */
void msg_cmd_encode(struct mp_buf *b, const struct msg_cmd *c);
void msg_req_encode(struct mp_buf *b, const struct msg_req *r);

/* Decoders: 0, BERTH_EBADREQ (malformed, wrong type, unknown command or operator) or
 * BERTH_ENOMEM. On failure there is nothing to free. Limits (key size, ops per txn) are
 * the state machine's and the server's business; the decoder only guarantees that
 * every count is backed by input bytes. */
int msg_cmd_decode(const uint8_t *buf, size_t n, struct msg_cmd *c);
void msg_cmd_free(struct msg_cmd *c);
int msg_req_decode(const uint8_t *buf, size_t n, struct msg_req *r);
void msg_req_free(struct msg_req *r);

/* The same for a bare transaction object (used by both of the above). */
void msg_txn_pack(msgpack_packer *pk, const struct msg_txn *t);
int msg_txn_unpack(const msgpack_object *o, struct msg_txn *t);
void msg_txn_free(struct msg_txn *t);

/* 1 when the transaction contains a put, delete or add in either branch. */
bool msg_txn_writes(const struct msg_txn *t);

#endif
