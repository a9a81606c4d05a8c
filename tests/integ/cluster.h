/* tests/integ/cluster.h: real berth-store members as child processes on 127.0.0.1, for
 * the integration tests: start, wait for a leader, kill -9, restart, stop, clean up.
 *
 * Layout. cluster_start makes one folder (mkdtemp under $TMPDIR or /tmp) holding each
 * member's data directory nI/ and log nI.log (stdout and stderr, appended across
 * restarts). Members are indexed 0..n-1 here; member i has raft id i + 1. Ports are two
 * blocks of n below the kernel's ephemeral range (so no client socket can take one
 * between a kill and a restart), at a base derived from the pid and checked free by
 * binding before use. The berth-store binary is $BERTH_STORE_BIN (default
 * build/berth-store).
 *
 * Everything is bounded: every wait has a deadline in milliseconds, every loop a count.
 * Processes are signalled by PID only and always reaped with waitpid; a member also gets
 * SIGKILL from the kernel if the test process dies (PR_SET_PDEATHSIG). cluster_close
 * stops whatever still runs and removes the folder; call it from a cmocka teardown so
 * that it runs when a test fails, with dump_logs true to print the tail of every log. */
#ifndef BERTH_TESTS_INTEG_CLUSTER_H
#define BERTH_TESTS_INTEG_CLUSTER_H

#include "client/berth.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CLUSTER_MAX 5
#define CLUSTER_MAX_ARGS 24
#define CLUSTER_PATH_BYTES 512

struct cluster_member {
	uint64_t id;
	pid_t pid;       /* 0: not running */
	int last_status; /* waitpid status of the last exit, -1 if none */
	int peer_port;
	int client_port;
	char client[32]; /* "127.0.0.1:port" */
	char peer[32];
	char dir[CLUSTER_PATH_BYTES];
	char log[CLUSTER_PATH_BYTES];
	bool join; /* started with --join instead of --bootstrap (cluster_add) */
};

struct cluster {
	char root[CLUSTER_PATH_BYTES / 2]; /* "" until created */
	char bin[CLUSTER_PATH_BYTES];
	unsigned n;
	struct cluster_member m[CLUSTER_MAX];
	char bootstrap[1024];
	char extra[CLUSTER_MAX_ARGS][64]; /* extra berth-store options */
	unsigned nextra;
	const char *eps[CLUSTER_MAX]; /* client endpoints, borrowed from m[].client */
	char token[64];
};

/* The monotonic clock in milliseconds. */
uint64_t cluster_now_ms(void);

/* Creates the folder, picks ports, starts n members with --bootstrap naming them all plus
 * extra (NULL-terminated berth-store options, may be NULL) and waits until each accepts
 * connections on its client port (deadline 10 s each). A "--token" in extra is also
 * remembered for cluster_client. 0, or -1 with a message on stderr; on failure
 * cluster_close still cleans up what was made. */
int cluster_start(struct cluster *c, unsigned n, const char *const *extra);

/* Starts one more member (index c->n, id c->n + 1) with --join (and the cluster's extra
 * options) on the next ports of the cluster's blocks and waits for its client port; the
 * cluster must then add it (berthctl member add). Its endpoint joins c->eps. The index,
 * or -1 (no room, ports taken, it did not start) with a message on stderr. */
int cluster_add(struct cluster *c);

/* Waits until every running member answers status with the same term and the same leader,
 * and that leader says it leads. 0 with *leader (an index) and *term (may be NULL), or -1
 * after timeout_ms. */
int cluster_wait_leader(struct cluster *c, uint32_t timeout_ms, unsigned *leader, uint64_t *term);

/* One member's status (berth_status on its own connection); 0 or a BERTH_E* code. */
struct cluster_status {
	uint8_t state; /* enum wire_state */
	uint64_t id, term, leader, commit, applied, rev;
};
int cluster_status(struct cluster *c, unsigned i, struct cluster_status *out);

/* Kills member i (SIGKILL) and makes its state database's unsynced marker
 * (store/kvmark.h) name another boot: as if the machine had crashed and restarted. The
 * member's next start discards its database and rebuilds it from raft. 0 or -1. */
int cluster_crash_machine(struct cluster *c, unsigned i);

/* Runs berth-store once with the words in before (NULL-terminated) followed by member
 * i's own options (e.g. {"restore", FILE, NULL}), output appended to its log, and waits
 * for it to exit (SIGKILL after timeout_ms). 0 with the waitpid status, or -1. */
int cluster_run_tool(struct cluster *c, unsigned i, const char *const *before, uint32_t timeout_ms,
		     int *status);

/* SIGKILL to member i, then reaps it (deadline 5 s). */
void cluster_kill(struct cluster *c, unsigned i);
/* Starts member i again with the same options (--join for an added member) and data directory and waits for its client
 * port. 0 or -1. */
int cluster_restart(struct cluster *c, unsigned i);
/* Removes member i's data directory entirely (the member must be stopped). 0 or -1. */
int cluster_wipe(struct cluster *c, unsigned i);
/* SIGTERM to member i; waits up to timeout_ms for it to exit, then SIGKILL. 0 with the
 * waitpid status in *status when it exited by itself, -1 when it had to be killed. */
int cluster_term(struct cluster *c, unsigned i, uint32_t timeout_ms, int *status);
/* Waits up to timeout_ms for member i to exit by itself (after a signal sent elsewhere):
 * 0 with the waitpid status in *status, or -1 (it still runs). */
int cluster_wait_exit(struct cluster *c, unsigned i, uint32_t timeout_ms, int *status);
/* true while member i runs (waitpid WNOHANG: an exit is reaped and recorded). */
bool cluster_alive(struct cluster *c, unsigned i);
/* Stops every running member: SIGTERM to all, then SIGKILL after timeout_ms. Returns how
 * many had to be killed. */
unsigned cluster_stop_all(struct cluster *c, uint32_t timeout_ms);
/* How many raft snapshot files member i's raft directory holds. */
unsigned cluster_snapshot_files(const struct cluster *c, unsigned i);
/* Sanitizer reports in the members' logs ("ERROR: AddressSanitizer", "runtime error:",
 * "LeakSanitizer"): how many lines, each printed. */
unsigned cluster_sanitizer_reports(const struct cluster *c);
/* Prints the last lines of every member's log on stdout. */
void cluster_dump_logs(const struct cluster *c, unsigned lines);
/* Stops everything, prints the logs when dump_logs, removes the folder. Idempotent. */
void cluster_close(struct cluster *c, bool dump_logs);

/* A libberth handle on every member's endpoint, starting with member first (the rest in
 * order after it), with the cluster's token. NULL on failure (message on stderr). */
struct berth *cluster_client(struct cluster *c, unsigned first, uint32_t timeout_ms);
/* A handle on member i alone. */
struct berth *cluster_client_only(struct cluster *c, unsigned i, uint32_t timeout_ms);

/* Polls a serializable get of key on member i until it returns value (deadline
 * timeout_ms). 0 when it did; -1 otherwise, with what it saw last on stderr. */
int cluster_wait_value(struct cluster *c, unsigned i, const char *key, const char *value,
		       uint32_t timeout_ms);

#endif
