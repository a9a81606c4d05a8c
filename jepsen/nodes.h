/* jepsen/nodes.h: the berth-store members of a harness run, each inside its node's
 * network namespace (jepsen/netns.h): start, kill, stop, pause, resume, restart, wipe, the
 * faked clock, the client endpoints, the leader.
 *
 * Node i (0-based; raft id i + 1) runs
 *   ip netns exec bj-ID-n<i+1> BIN --id <i+1> --data DIR/n<i+1> \
 *      --peer-addr IP:7001 --client-addr IP:7101 (--bootstrap LIST | --join) EXTRA...
 * `ip netns exec` execs in place, so the pid is the member's own. LIST names the initial
 * members (nodes 0..members-1); the other nodes are spares, started with --join for a
 * membership change (as is a node whose data was wiped). Its stdout and stderr are
 * appended to DIR/n<i+1>.log (across restarts). The token reaches it as BERTH_TOKEN (not
 * on the command line). Members run in a process group of their own (a Ctrl-C to the
 * harness is the harness's to handle) and get SIGKILL from the kernel when the thread that
 * started them dies (PR_SET_PDEATHSIG): start members from the thread that lives for the
 * whole run. Every signal goes to a pid this struct started; every exit is reaped with
 * waitpid(pid), never waitpid(-1), so the caller's other children are left alone.
 *
 * The clock (faketime true). Each member runs with libfaketime preloaded (LD_PRELOAD)
 * reading its offset from DIR/n<i+1>.clock on every call (FAKETIME_TIMESTAMP_FILE,
 * FAKETIME_NO_CACHE=1), so nodes_set_clock takes effect while it runs. Only the wall clock
 * (CLOCK_REALTIME, time(), gettimeofday) is faked: FAKETIME_DONT_FAKE_MONOTONIC=1. libuv's
 * loop time, and so every raft, lease, session-keepalive and watch timer of berth-store,
 * runs on CLOCK_MONOTONIC, which no real clock fault moves (NTP steps and slews the wall
 * clock only); faking it would test libuv, not berth. What the wall clock reaches in
 * berth-store: the leader's timestamp on each command (the state machine's clock, which
 * expires idle client sessions: store/fsm.h) and the log's timestamps. A faked call costs
 * about 7 us (it reads the file); monotonic calls are not slowed. Under AddressSanitizer
 * the preload needs ASAN_OPTIONS verify_asan_link_order=0, which is added.
 *
 * The disk (tmpfs_mib > 0). Each node's data directory is a tmpfs of that size mounted at
 * DIR/n<i+1> with the node's namespace name as its source (so netns_cleanup_all finds it),
 * for the disk-full fault (jepsen/nemesis.h fills it).
 *
 * Not thread-safe: one thread at a time (the nemesis and the runner's setup). */
#ifndef BERTH_JEPSEN_NODES_H
#define BERTH_JEPSEN_NODES_H

#include "client/berth.h"
#include "jepsen/netns.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define NODES_PEER_PORT 7001
#define NODES_CLIENT_PORT 7101
#define NODES_FAKETIME_LIB "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
#define NODES_PATH_BYTES 512
#define NODES_MAX_EXTRA 32
#define NODES_START_WAIT_MS 10000
#define NODES_TMPFS_MAX_MIB 4096

struct nodes_options {
	const char *bin;          /* the berth-store program */
	const char *dir;          /* the run's folder (exists): logs, data, clock files */
	struct netns *net;        /* borrowed: must outlive the nodes */
	unsigned members;         /* initial members, nodes 0..members-1 (1..net->n) */
	const char *const *extra; /* more berth-store options, NULL-terminated (may be NULL) */
	const char *token;        /* the cluster token (NULL: none) */
	bool faketime;            /* preload libfaketime (above) */
	const char *faketime_lib; /* NULL: NODES_FAKETIME_LIB */
	unsigned tmpfs_mib;       /* 0: data on the folder's filesystem; else a tmpfs each */
	uint32_t start_wait_ms;   /* nodes_start waits this long for the client port (0: 10 s) */
	bool keep_data;           /* nodes_close leaves the data directories (tmpfs: never) */
};

struct nodes_node {
	uint64_t id;      /* raft id: index + 1 */
	pid_t pid;        /* 0: not running */
	int last_status;  /* waitpid status of the last exit; -1: none yet */
	bool paused;      /* SIGSTOPped */
	bool join;        /* the next start says --join (a spare, or wiped) */
	bool member;      /* in the configuration, as far as this harness knows */
	bool mounted;     /* its tmpfs is mounted */
	int64_t clock_ms; /* the wall clock's faked offset */
	char peer[32];    /* "10.77.S.K:7001" */
	char client[32];  /* "10.77.S.K:7101" */
	char data[NODES_PATH_BYTES];
	char log[NODES_PATH_BYTES];
	char clock[NODES_PATH_BYTES];
};

struct nodes {
	struct netns *net;
	unsigned n; /* net->n: members and spares */
	unsigned members;
	char bin[NODES_PATH_BYTES];
	char ip[NODES_PATH_BYTES];  /* the ip program's path */
	char lib[NODES_PATH_BYTES]; /* "" without faketime */
	char token[128];
	char extra[NODES_MAX_EXTRA][128];
	unsigned nextra;
	unsigned tmpfs_mib;
	uint32_t start_wait_ms;
	bool keep_data;
	char bootstrap[1024];
	struct nodes_node node[NETNS_MAX_NODES];
	const char *eps[NETNS_MAX_NODES]; /* every node's client address, by index */
	char errmsg[512];
};

/* Prepares the nodes (starts none): paths, data directories (tmpfs mounted), clock files
 * at +0. 0; BERTH_EBADREQ (options: s->errmsg names which); BERTH_EIO (a directory, a
 * mount, a file); on failure nothing is left (what was made is undone). */
int nodes_init(struct nodes *s, const struct nodes_options *o);

/* Starts node i (not running) and waits until its client port accepts connections.
 * 0; BERTH_EBUSY (already running); BERTH_EIO (fork or exec failed, or it exited at once:
 * its status in last_status, see its log); BERTH_ETIMEOUT (its port did not open in
 * start_wait_ms: it is killed). */
int nodes_start(struct nodes *s, unsigned i);
/* Starts every initial member that is not running; the first failure's code. */
int nodes_start_members(struct nodes *s);

/* SIGKILL and reap (deadline 5 s; a paused node too). Not running: 0. */
int nodes_kill(struct nodes *s, unsigned i);
/* SIGTERM (and SIGCONT when paused), waits up to timeout_ms, then SIGKILL. 0 when it
 * exited by itself (waitpid status in *status, may be NULL); BERTH_ETIMEOUT when it had to
 * be killed. Not running: 0 with last_status. */
int nodes_stop(struct nodes *s, unsigned i, uint32_t timeout_ms, int *status);
/* SIGSTOP / SIGCONT. BERTH_ECLOSED: not running. */
int nodes_pause(struct nodes *s, unsigned i);
int nodes_resume(struct nodes *s, unsigned i);
/* Kills node i when it runs, then starts it again (same data, same options). */
int nodes_restart(struct nodes *s, unsigned i);
/* Whether node i runs; an exit is reaped and recorded in last_status. */
bool nodes_alive(struct nodes *s, unsigned i);
/* Reaps every node that exited: how many nodes run now. */
unsigned nodes_reap(struct nodes *s);
/* Empties node i's data directory (it must be stopped: BERTH_EBUSY) and marks its next
 * start --join. */
int nodes_wipe(struct nodes *s, unsigned i);
/* Node i's wall clock offset (faketime only: else BERTH_EBADREQ), running or not; the
 * file is replaced atomically. |offset| at most 10 years. */
int nodes_set_clock(struct nodes *s, unsigned i, int64_t offset_ms);

/* The client addresses of the members (members_only) or of every node, in index order,
 * into out (at most max): how many. Borrowed from s. */
size_t nodes_endpoints(const struct nodes *s, bool members_only, const char **out, size_t max);
/* A libberth handle on every node's client address (spares too, so it survives membership
 * changes), with the token. NULL on failure (s->errmsg). */
struct berth *nodes_client(struct nodes *s, uint32_t timeout_ms);

/* The leader: asks every running, unpaused node for its status (each within 1 s), until
 * one says it leads, or timeout_ms. Several claims (an old leader cut off): the highest
 * term. 0 with *leader (an index) and *term (may be NULL); BERTH_ETIMEOUT. */
int nodes_leader(struct nodes *s, uint32_t timeout_ms, unsigned *leader, uint64_t *term);

/* Stops every node (SIGCONT to paused ones, SIGTERM, up to timeout_ms, then SIGKILL),
 * unmounts the tmpfs, removes the data directories (unless keep_data) and clock files;
 * the logs stay. Idempotent. How many nodes had to be killed. */
unsigned nodes_close(struct nodes *s, uint32_t timeout_ms);

#endif
