/* store/ttl.h: lease time-to-live on the leader.
 *
 * The state machine records leases and their keys (store/lease.h); when each expires is
 * the leader's business. The leader keeps a deadline per lease on its monotonic clock,
 * pushes it back on every keepalive (keepalives are not logged), and proposes one
 * MSG_CMD_LEASE_EXPIRE for the leases whose deadline passed, so that every member deletes
 * their keys at the same entry. A new leader does not know when its predecessor last saw
 * a keepalive: it gives every lease its full TTL plus one election timeout before
 * expiring anything (DESIGN.md section 3). Leases granted since the last look are picked
 * up within TTL_SYNC_MS, with a full TTL. */
#ifndef BERTH_STORE_TTL_H
#define BERTH_STORE_TTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTL_SYNC_MS 500

struct node;

struct ttl_entry {
	uint64_t id;
	int64_t ttl_s;
	uint64_t deadline_ms;
};

struct ttl {
	struct ttl_entry *e; /* owned, sorted by id */
	size_t n, cap;
	uint64_t term; /* leader term the table belongs to; 0: none */
	uint64_t synced_ms;
	bool expiring; /* an expire proposal is in flight */
	uint64_t expired_total;
};

void ttl_close(struct ttl *t);
/* Once per loop iteration on every member: builds, refreshes or drops the table, and
 * proposes the expiry of overdue leases on the leader. */
void ttl_tick(struct node *n);
/* A keepalive on the leader: 0 with the lease's TTL, BERTH_ENOTFOUND, or
 * BERTH_EUNAVAILABLE while this leader has not yet confirmed its term. */
int ttl_keepalive(struct node *n, uint64_t id, int64_t *ttl_s);
/* Called when an expire proposal finishes, whatever its outcome. */
void ttl_expire_done(struct node *n);

#endif
