/* store/addrbook.h: the members' addresses, kept by the state machine through the log.
 *
 * Raft's configuration knows each member's id, raft address and role, but not where its
 * clients connect. The address book closes that gap on every member, for members that
 * no --bootstrap names too (added later): a MSG_CMD_MEMBER entry records (or forgets) a
 * member's raft and client addresses. Records live in the meta table under
 * "member/" . be64(id) with the value u8 len . peer . u8 len . client, so they are part
 * of snapshots and of the database's restart argument like everything else (store/fsm.h).
 *
 * The book is an address list, not the membership: raft's configuration says who is a
 * member; a record whose id is not in it is ignored (store/member.h). */
#ifndef BERTH_STORE_ADDRBOOK_H
#define BERTH_STORE_ADDRBOOK_H

#include "store/fsm.h"

/* At most this many records; recording one more answers BERTH_ETOOLARGE (a result). */
#define ADDRBOOK_MAX 64

struct addrbook_entry {
	uint64_t id;
	char peer[MSG_MEMBER_ADDR_MAX + 1];
	char client[MSG_MEMBER_ADDR_MAX + 1];
};

/* Applies a MSG_CMD_MEMBER command inside the open batch (f->txn) and appends its reply
 * {rev} (or {err, rev}) to out. Forgetting an unknown member is not an error. Returns 0 or
 * a fatal error (store/fsm.h). */
int addrbook_apply(struct fsm *f, const struct msg_cmd *c, struct mp_buf *out);

/* Reads every record of the last commit, in id order, into out (room for ADDRBOOK_MAX).
 * 0 with *n, BERTH_ECORRUPT for a malformed record, or an LMDB failure. */
int addrbook_load(struct fsm *f, struct addrbook_entry *out, unsigned *n);

/* Deletes every record in txn (a restore into a new cluster: the old members' addresses
 * must not shadow the new --bootstrap). 0 or an LMDB failure. */
int addrbook_forget_all(struct fsm *f, MDB_txn *txn);

#endif
