/* jepsen/nemesis.h: the harness's faults: partitions, packet loss, kills, pauses, clock
 * skew, membership changes and a full disk, each started and healed on a run's members
 * (jepsen/nodes.h) and reported as events. docs/jepsen.md ("Faults") says what each does.
 *
 * Kinds and families. Each kind belongs to a family; one fault per family is active at a
 * time (nemesis_start of a kind whose family is active answers BERTH_EBUSY), and faults of
 * different families combine (a partition during a pause). Healing a family undoes its
 * fault completely:
 *   family     kinds                                      healed by
 *   partition  partition-one, partition-leader,            flushing every node's chain
 *              partition-halves, partition-ring,
 *              partition-oneway
 *   loss       loss                                       flushing every node's chain
 *   kill       kill-one, kill-leader, kill-all            restarting the killed nodes
 *              kill-leader-cycle (kills and restarts the leader `cycles` times inside
 *              nemesis_start: nothing is left to heal)
 *   pause      pause-one, pause-leader                    SIGCONT
 *   clock      clock-skew, clock-jump (needs faketime)    every offset back to 0
 *   member     member-readd (remove a node, wipe it)      starting it with --join, adding it
 *              member-grow (add spares up to grow_to)     removing them, wiping them
 *   disk       disk-full (needs tmpfs)                    deleting the balloon file, and
 *                                                         restarting the node if it died
 *   helper     kill-worker, kill-agent: SIGKILL to one    starting it again
 *              of the workload's berth-worker or
 *              berth-agent processes (needs the
 *              workload's hooks, struct nemesis_helpers)
 * Partition and loss share the nodes' chains, so they exclude each other (BERTH_EBUSY).
 * Faults pick among the current members (nodes_node.member); "leader" kinds ask the
 * members who leads (nodes_leader, leader_wait_ms).
 *
 * Events. Each fault put in place and each heal calls event(ctx, f, value) once it is
 * done, with f "start-FAMILY" or "stop-FAMILY" and value a JSON object saying exactly what:
 *   {"kind": "partition-halves", "groups": [["n1","n2","n3"],["n4","n5"]],
 *    "drops": [["n1","n4"], ...]}      (each pair: the first hears nothing from the second)
 *   {"kind": "loss", "p": 0.2, "nodes": [...]}
 *   {"kind": "kill-leader", "nodes": ["n2"]} / stop: {"nodes": ["n2"], "restarted": [...]}
 *   {"kind": "clock-skew", "offsets_ms": {"n1": -2300, "n3": 4100}}
 *   {"kind": "member-readd", "nodes": ["n3"]}
 *   {"kind": "disk-full", "nodes": ["n2"], "balloon_bytes": 61865984}
 *   {"kind": "kill-agent", "processes": ["agent2"], "pids": [4711]}
 * A stop event's value also carries "kind"; nemesis_heal_all adds "revive" (below).
 * value is borrowed for the call (json_incref to
 * keep it). A fault whose start fails is undone before nemesis_start returns, without
 * events. The schedule reports its own failures as f "nemesis-error" with
 * {"kind", "phase": "start"|"stop", "error"}.
 *
 * Threads: a struct nemesis, its nodes and its net belong to one thread (the runner's
 * nemesis thread, or its main loop); nothing here blocks longer than the bounded waits
 * below. Randomness comes from seed alone, so a run with the same seed and the same
 * leaders makes the same choices. */
#ifndef BERTH_JEPSEN_NEMESIS_H
#define BERTH_JEPSEN_NEMESIS_H

#include "jepsen/nodes.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum nemesis_kind {
	NEMESIS_PARTITION_ONE = 0,
	NEMESIS_PARTITION_LEADER,
	NEMESIS_PARTITION_HALVES,
	NEMESIS_PARTITION_RING,
	NEMESIS_PARTITION_ONEWAY,
	NEMESIS_LOSS,
	NEMESIS_KILL_ONE,
	NEMESIS_KILL_LEADER,
	NEMESIS_KILL_ALL,
	NEMESIS_KILL_LEADER_CYCLE,
	NEMESIS_PAUSE_ONE,
	NEMESIS_PAUSE_LEADER,
	NEMESIS_CLOCK_SKEW,
	NEMESIS_CLOCK_JUMP,
	NEMESIS_MEMBER_READD,
	NEMESIS_MEMBER_GROW,
	NEMESIS_DISK_FULL,
	NEMESIS_KILL_WORKER,
	NEMESIS_KILL_AGENT,
	NEMESIS_KIND_COUNT
};

enum nemesis_family {
	NEMESIS_F_PARTITION = 0,
	NEMESIS_F_LOSS,
	NEMESIS_F_KILL,
	NEMESIS_F_PAUSE,
	NEMESIS_F_CLOCK,
	NEMESIS_F_MEMBER,
	NEMESIS_F_DISK,
	NEMESIS_F_HELPER,
	NEMESIS_FAMILY_COUNT
};

/* value is borrowed for the call. */
typedef void (*nemesis_event_fn)(void *ctx, const char *f, json_t *value);

/* The processes a workload runs beside the members (berth-worker, berth-agent), for the
 * helper family. kill SIGKILLs one running process of the role (pick: a random number
 * to choose with) and fills value ("processes", "pids"); restart starts every process
 * kill killed and adds "restarted" to value. Both return 0 or a BERTH_E* code with a
 * message in err; they run on the nemesis's thread. A workload without such processes
 * leaves kill NULL: the helper kinds then answer BERTH_EBADREQ. */
enum nemesis_role { NEMESIS_ROLE_WORKER, NEMESIS_ROLE_AGENT };
struct nemesis_helpers {
	int (*kill)(void *ctx, enum nemesis_role role, uint64_t pick, json_t *value, char *err,
		    size_t errlen);
	int (*restart)(void *ctx, json_t *value, char *err, size_t errlen);
	void *ctx;
};

struct nemesis_options {
	struct nodes *nodes; /* borrowed: must outlive the nemesis (and its net) */
	uint64_t seed;
	nemesis_event_fn event; /* may be NULL */
	void *ctx;
	double loss_p;           /* loss: drop probability, 0 < p <= 1 (0: 0.2) */
	int64_t clock_skew_ms;   /* clock-skew: offsets up to +- this (0: 5000) */
	int64_t clock_jump_ms;   /* clock-jump: one node jumps +- this (0: 3600000) */
	unsigned grow_to;        /* member-grow: members afterwards (0: 5; at most the nodes) */
	unsigned cycles;         /* kill-leader-cycle: kills (0: 3; at most 100) */
	uint32_t leader_wait_ms; /* finding the leader (0: 10000) */
	uint32_t member_wait_ms; /* one membership change, retries included (0: 30000) */
	uint32_t stop_wait_ms;   /* SIGTERM to SIGKILL when a member is stopped (0: 5000) */
	/* borrowed (may be NULL): read when a helper fault starts, so the workload may fill
	 * it after nemesis_init */
	const struct nemesis_helpers *helpers;
};

struct nemesis {
	struct nodes *nodes;
	struct netns *net;
	uint64_t rng;
	nemesis_event_fn event;
	void *ctx;
	double loss_p;
	int64_t clock_skew_ms, clock_jump_ms;
	unsigned grow_to, cycles;
	uint32_t leader_wait_ms, member_wait_ms, stop_wait_ms;
	const struct nemesis_helpers *helpers;
	/* The active fault of each family, and the nodes it touched. */
	bool active[NEMESIS_FAMILY_COUNT];
	enum nemesis_kind kind[NEMESIS_FAMILY_COUNT];
	bool touched[NEMESIS_FAMILY_COUNT][NETNS_MAX_NODES];
	char errmsg[512];
};

/* "partition-one"... ("?" out of range). */
const char *nemesis_kind_name(enum nemesis_kind k);
enum nemesis_family nemesis_kind_family(enum nemesis_kind k);
const char *nemesis_family_name(enum nemesis_family f);
/* Parses a kind's name. 0, or BERTH_EBADREQ. */
int nemesis_kind_parse(const char *name, enum nemesis_kind *out);

/* Checks the options and copies them. 0, or BERTH_EBADREQ with nm->errmsg. */
int nemesis_init(struct nemesis *nm, const struct nemesis_options *o);

/* Puts fault k in place and reports it. 0; BERTH_EBUSY (its family is active);
 * BERTH_EBADREQ (impossible here: no faketime, no tmpfs, no spare, too few members);
 * BERTH_ETIMEOUT (no leader found, a membership change did not finish); BERTH_EIO (a
 * tool or a process failed). nm->errmsg says why. */
int nemesis_start(struct nemesis *nm, enum nemesis_kind k);
/* Heals family f's fault if active (0 otherwise). Its first failure's code; the family
 * is marked healed anyway once everything possible was done. */
int nemesis_heal(struct nemesis *nm, enum nemesis_family f);
/* Heals every active family, then restarts every member that is down though no fault
 * holds it down (it crashed, or a full disk stopped it after the disk's heal), reporting
 * those with one event "revive" {"nodes": [...], "exit_status": {"n2": waitpid status}}.
 * The cluster is then whole again. The first failure's code. */
int nemesis_heal_all(struct nemesis *nm);
/* Whether family f has a fault in place. */
bool nemesis_active(const struct nemesis *nm, enum nemesis_family f);

/* A schedule over a list of kinds, driven by the caller's loop (or a thread of its own):
 * calm for calm_ms, then one kind picked at random from the list is started and left for
 * fault_ms, then everything is healed, and so on. A kind whose start fails is reported
 * ("nemesis-error") and the schedule goes on calm. */
struct nemesis_schedule {
	enum nemesis_kind kinds[NEMESIS_KIND_COUNT * 4];
	unsigned nkinds;
	uint32_t fault_ms, calm_ms;
	bool faulting;
	uint64_t next_ms; /* when the next step is due */
	unsigned started, failed;
};

/* 0, or BERTH_EBADREQ (no kinds, more than the array holds, a bad kind, fault_ms 0). */
int nemesis_schedule_init(struct nemesis_schedule *sc, const enum nemesis_kind *kinds,
			  unsigned nkinds, uint32_t fault_ms, uint32_t calm_ms, uint64_t now_ms);
/* Does what is due at now_ms (a start or a heal) and returns how many ms until the next
 * step is due: sleep at most that long (or less) and call again. */
uint32_t nemesis_schedule_step(struct nemesis *nm, struct nemesis_schedule *sc, uint64_t now_ms);

#endif
