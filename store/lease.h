/* store/lease.h: leases in the state machine: grant, revoke, expire.
 *
 * The state machine only records leases and their keys. Time-to-live is the leader's
 * business (keepalives are not logged): when a lease runs out the leader proposes a
 * MSG_CMD_LEASE_EXPIRE, and every member deletes the attached keys at one revision. */
#ifndef BERTH_STORE_LEASE_H
#define BERTH_STORE_LEASE_H

#include "store/fsm.h"

/* Each appends the command's reply; 0 or a fatal error. */
int lease_grant(struct fsm *f, uint64_t id, int64_t ttl_s, struct mp_buf *out);
int lease_revoke(struct fsm *f, uint64_t id, struct mp_buf *out);
int lease_expire(struct fsm *f, const uint64_t *ids, uint32_t n, struct mp_buf *out);

#endif
