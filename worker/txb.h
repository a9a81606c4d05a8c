/* worker/txb.h: a transaction builder: compares and operations appended one by one, with
 * copies of their keys and values that the builder owns, then handed to libberth as a
 * struct msg_txn (borrowed by the call, which copies it).
 *
 * Allocation failure is sticky, as struct mp_buf's: appending goes on as a no-op and
 * txb_txn reports BERTH_ENOMEM once at the end. */
#ifndef BERTH_WORKER_TXB_H
#define BERTH_WORKER_TXB_H

#include "common/msg.h"

#include <stddef.h>
#include <stdint.h>

struct txb_list {
	void *items; /* owned */
	size_t n, cap;
};

struct txb {
	struct txb_list cmp, succ, fail, owned; /* owned: the copies (void *) */
	int err;
};

enum txb_branch { TXB_SUCC, TXB_FAIL };

void txb_init(struct txb *b);
/* Frees everything; the struct msg_txn given out by txb_txn is invalid afterwards. */
void txb_close(struct txb *b);

/* A compare of the key (a C string) with target and op against num (every target but
 * MSG_CMP_VALUE). */
void txb_cmp(struct txb *b, uint8_t target, uint8_t op, const char *key, int64_t num);
/* put key = value[0..n). */
void txb_put(struct txb *b, enum txb_branch br, const char *key, const void *value, size_t n);
void txb_del(struct txb *b, enum txb_branch br, const char *key);
void txb_add(struct txb *b, enum txb_branch br, const char *key, int64_t delta);
/* A get of the key (a range of one key). */
void txb_get(struct txb *b, enum txb_branch br, const char *key);

/* Compares and operations so far. */
size_t txb_ncmp(const struct txb *b);
size_t txb_nops(const struct txb *b, enum txb_branch br);

/* The transaction (borrowing from b): 0, or BERTH_ENOMEM when an append failed. */
int txb_txn(struct txb *b, struct msg_txn *out);

#endif
