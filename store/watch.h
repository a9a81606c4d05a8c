/* store/watch.h: watches: every change after a revision, pushed to a client connection.
 *
 * A watch names keys as a range does (one key, a prefix, or [key, end)) and a revision R;
 * it receives every change at a revision above R that touches those keys, in revision
 * order, each once (DESIGN.md section 3). Any member serves watches, from its own
 * committed LMDB state: every member applies the same log, so every member produces the
 * same sequence, and a client that loses its member resumes on another from the last
 * revision it was told about (the frame's `rev`, common/wire.h).
 *
 * Where events come from. The state machine keeps a table of changes in revision order
 * (`revs`, store/kv.h) until compaction. A watcher is a cursor into it: (rev, sub), the
 * next change to look at. Once per loop iteration, after the state machine's batch has
 * committed, each watcher that is behind the committed revision reads forward in one
 * LMDB read transaction and pushes the changes that match as one frame. Nothing is
 * buffered per watcher beyond the connection's send queue: a watcher far behind simply
 * reads more history. Budgets keep one iteration short (WATCH_PASS_ENTRIES changes read
 * per pass over all watchers, WATCH_FRAME_BYTES of events per frame); a watcher that
 * still has work makes the loop turn again, and the pass starts where the last one
 * stopped, so no watcher starves.
 *
 * Revisions are never split across frames, except one revision whose changes alone
 * exceed a frame: its frames carry `more` until the last (libberth joins them).
 *
 * Cancellation (a frame with `err`, after which nothing follows for that watch):
 *   BERTH_ECOMPACTED       the next change it needs was compacted (crev says to where);
 *   BERTH_EWATCHOVERFLOW   its connection has WATCH_WINDOW_BYTES unsent and the watcher is
 *                          --watch-max-lag revisions or more behind the committed one;
 *   BERTH_ENOQUORUM        this member has known no leader for 4 election timeouts: its
 *                          state may be stale, the client should resume elsewhere.
 * While a connection has WATCH_WINDOW_BYTES or more unsent, its watchers read nothing.
 *
 * Progress: every --watch-progress-ms, a watcher that is caught up and was sent nothing
 * for that long gets a frame without events whose rev is the member's committed revision.
 *
 * Limits: --max-watchers per member (BERTH_EBUSY beyond), WATCH_MAX_PER_CONN per
 * connection (BERTH_ETOOLARGE). */
#ifndef BERTH_STORE_WATCH_H
#define BERTH_STORE_WATCH_H

#include "common/msg.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define WATCH_MAX_PER_CONN 1024
#define WATCH_WINDOW_BYTES ((size_t)1 << 20)
#define WATCH_FRAME_BYTES ((size_t)1 << 20)
#define WATCH_PASS_ENTRIES 16384

struct node;
struct conn;

struct watcher {
	struct conn *conn;
	uint64_t id;  /* unique on its connection */
	uint8_t *key; /* owned: key, then end */
	size_t klen, elen;
	uint8_t flags; /* MSG_F_PREFIX, MSG_F_KEYS_ONLY */
	uint64_t rev;  /* next change to read: (rev, sub) in the revs table */
	uint32_t sub;
	uint64_t push_ms;     /* when the last frame went out */
	struct watcher *next; /* in the hub's ring */
	struct watcher *prev;
	struct watcher *cnext; /* in its connection's list */
};

struct watch_hub {
	struct watcher *ring; /* where the next pass starts; NULL: no watchers */
	unsigned count;
	uint64_t seen_rev; /* committed revision at the end of the last pass */
	bool work;         /* a watcher has something to do even if the revision is unchanged */
	bool progress_due;
	bool timer_on;
	uv_timer_t timer;
	uint64_t noleader_since_ms;
	uint64_t next_id;
	uint64_t frames, events; /* pushed so far */
};

/* Creates a watch for connection c (whose list is *list) from request r (a WATCH): its
 * id in *id and the revision after which it starts in *start (r->rev, or the committed
 * revision when r->rev is 0). 0; BERTH_EBADREQ (bad range or flags), BERTH_ETOOLARGE (a
 * key over the limit, or too many watches on c), BERTH_EBUSY (--max-watchers),
 * BERTH_ENOMEM. */
int watch_create(struct node *n, struct conn *c, struct watcher **list, const struct msg_req *r,
		 uint64_t *id, uint64_t *start);
/* Cancels watch id of a connection: 0 or BERTH_ENOTFOUND. Nothing is pushed for it after. */
int watch_cancel(struct node *n, struct watcher **list, uint64_t id);
/* The connection is closing: frees its watchers. */
void watch_conn_gone(struct node *n, struct watcher **list);
/* Once per loop iteration after the batch commit: pushes what is due. */
void watch_iteration(struct node *n);
/* A connection with watchers drained its send queue below the window. */
void watch_wake(struct node *n);
/* Stops the progress timer (at shutdown; watchers go with their connections). */
void watch_stop(struct node *n);

#endif
