/* tests/unit/sim_cluster.h: a deterministic raft cluster for tests: libraft's raft_fixture
 * (in-memory I/O on virtual time) driving the real state machine (store/fsm.c on LMDB, one
 * temporary directory per server) through the adapter (store/rfsm.c).
 *
 * The harness plays the server's part: it submits writes to leaders, takes each reply in
 * the apply callback, and acknowledges a write only once the batch holding its reply has
 * been committed (rfsm_committed() > batch), exactly as the server must. Every
 * acknowledged write is read back at once from that server's committed state. At the end,
 * sim_converge heals the cluster and waits until every server has applied everything, and
 * sim_check compares the replicas with each other and with what was acknowledged.
 *
 * Failures never assert: the first one is recorded in `fail` (with the seed) and every
 * later call is a no-op, so that the caller can still close everything and remove the
 * directories before failing the test. */
#ifndef BERTH_TESTS_SIM_CLUSTER_H
#define BERTH_TESTS_SIM_CLUSTER_H

#include "store/fsm.h"
#include "store/rfsm.h"
#include "tests/unit/rng.h"

#include <raft.h>
#include <raft/fixture.h>
#include <stdbool.h>
#include <stdint.h>

#define SIM_MAX_SERVERS 5

enum sim_wstate {
	SIM_W_REFUSED = 1, /* raft_apply refused it (not leader): never in the log */
	SIM_W_INFLIGHT,    /* submitted, no callback yet */
	SIM_W_APPLIED,     /* callback status 0: reply taken, its batch not yet committed */
	SIM_W_ACKED,       /* released to the client */
	SIM_W_UNKNOWN      /* callback with an error: may or may not be applied */
};

struct sim_write {
	uint8_t state;  /* enum sim_wstate */
	uint8_t server; /* where it was submitted */
	uint16_t vlen;  /* value length */
	int64_t add;    /* delta added to the counter in the same txn (0: no add op) */
	uint64_t index, batch;
	uint8_t *reply; /* owned, while SIM_W_APPLIED */
	size_t reply_len;
};

struct sim_stats {
	uint64_t runs, submitted, refused, acked, unknown, snapshots, installs, restores,
		restores_skipped, kills, partitions, heals, elections, steps, truncates_dropped,
		installs_dropped_taking, installs_dropped_installing;
};

struct sim_node {
	struct rfsm rfsm; /* first: rfsm.raft.data points at the node too */
	struct sim *sim;
	struct fsm fsm;
	char *dir;
	bool open;
	uint64_t snapshots;
	int (*snapshot)(struct raft_fsm *, struct raft_buffer **, unsigned *);
	int (*truncate)(struct raft_io *, raft_index); /* the fixture's */
	bool log_moved; /* the fixture's persisted log no longer starts at index 1 */
	int (*start)(struct raft_io *, unsigned, raft_io_tick_cb, raft_io_recv_cb);
	raft_io_recv_cb recv; /* raft's */
	unsigned disk_ms;     /* the fixture's disk latency for this server */
};

struct sim {
	uint64_t seed;
	unsigned n;
	struct raft_fixture f;
	bool started; /* f needs raft_fixture_close */
	struct sim_node node[SIM_MAX_SERVERS];
	struct sim_write *w;
	uint32_t nw, capw;
	uint32_t *pend; /* writes in SIM_W_APPLIED */
	uint32_t npend, cappend;
	struct raft_barrier barrier;
	bool barrier_done;
	int barrier_status;
	int64_t max_acked_counter; /* largest counter value an acknowledged reply showed */
	struct sim_stats st;
	char fail[512];
};

/* Opens n servers (fresh directories), bootstraps them as voters and starts them; with
 * start false, stops before the bootstrap (the caller seeds persisted state, then calls
 * sim_start). Returns false on failure (recorded in fail). */
bool sim_open(struct sim *s, uint64_t seed, unsigned n, unsigned max_batch, bool bootstrap);
bool sim_start(struct sim *s);
void sim_set_snapshot(struct sim *s, unsigned threshold, unsigned trailing);
/* Closes raft, the adapters and the state machines, and removes the directories. */
void sim_close(struct sim *s);

/* The index of an alive server in leader state (random among several), or n. */
unsigned sim_leader(struct sim *s, struct rng *r);
/* Records a new write (state 0) and returns its number. */
uint32_t sim_new_write(struct sim *s, unsigned server, uint16_t vlen, int64_t add);
/* Its command, encoded and zero-padded to a multiple of 8 bytes, appended to b. */
void sim_encode(struct sim *s, uint32_t w, struct mp_buf *b);
/* Submits a new write (a put of a unique key, plus an add of `add` to the shared
 * counter when add != 0) to server i. */
void sim_write(struct sim *s, unsigned i, uint16_t vlen, int64_t add);
/* One fixture step, then the eager release of every acknowledgeable reply. */
void sim_step(struct sim *s);
/* The end of a loop iteration on every server: flush, release, drop. */
void sim_iteration_end(struct sim *s);
/* Heals every fault, waits for a leader that has committed an entry of its term and for
 * every server to apply the leader's last index, then flushes and releases. */
bool sim_converge(struct sim *s);
/* Replicas byte-identical, acknowledged writes present, nothing never submitted, the
 * counter consistent with the writes present. */
bool sim_check(struct sim *s);
/* Server i's snapshot stream (fsm_snapshot_write) in a malloc'd buffer. */
bool sim_snapshot_mem(struct sim *s, unsigned i, uint8_t **p, size_t *len);
/* FNV-1a of server 0's snapshot stream (for determinism checks), after sim_check. */
uint64_t sim_digest(struct sim *s);

/* Reads one key (or every key when key is NULL) from server i's committed state into r
 * (reply_free it; it borrows from out). False on failure (recorded). */
struct reply;
bool sim_read(struct sim *s, unsigned i, const char *key, struct mp_buf *out, struct reply *r);

void sim_failf(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool sim_ok(const struct sim *s);

/* Key and value of write number w (NUL-terminated, into buf). */
void sim_key(const struct sim *s, uint32_t w, char *buf, size_t n);
void sim_value(const struct sim *s, uint32_t w, char *buf, size_t n);

#endif
