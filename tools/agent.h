/* tools/agent.h: berth-agent (DESIGN.md section 6, docs/agent.md): one process registers
 * one instance or many, holds one lease for all of them, watches the cluster's tasks and
 * moves those placed on its instances PENDING -> RUNNING -> STOPPED with the transactions
 * of docs/commits.md, releasing their resources in the transaction that stops them.
 *
 * Everything runs on one libuv loop through libberth's asynchronous API:
 *   tools/agent_config.c  the option table: command line, defaults, --help, validation
 *   tools/agent.c         the program: lease, registration, keepalive, counters, signals
 *   tools/agent_watch.c   the cluster's tasks: a paged listing, then one watch
 *   tools/agent_tasks.c   each task's state, the Start and Stopped transactions
 *   tools/agent_run.c     running a task: a timer (sim) or the containers' commands (exec)
 * Nothing here includes store/: the agent talks to the store over the wire only. */
#ifndef BERTH_TOOLS_AGENT_H
#define BERTH_TOOLS_AGENT_H

#include "client/berth_async.h"
#include "client/model.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#define AGENT_INSTANCES_MAX 1000 /* instances one process registers */
#define AGENT_ENDPOINTS_MAX 16
#define AGENT_ZONES_MAX 64
#define AGENT_RUN_MS_MAX 86400000u /* a simulated run: at most a day */
#define AGENT_TXN_ATTEMPTS 10      /* attempts of one transition before it waits for news */
#define AGENT_LIST_PAGE 500        /* tasks per page when listing */
#define AGENT_ATTR_ARG_MAX (MODEL_ATTR_NAME_MAX + MODEL_ATTR_VALUE_MAX + 1)

/* The options as given (agent_config.c has the table) and what validation derives. */
struct agent_config {
	char endpoints[4096];
	char token[256];
	char cluster[MODEL_NAME_MAX + 1];
	uint64_t instances;
	char id_prefix[64];
	char ids[16384];
	uint64_t cpu;
	uint64_t memory;
	char ports[1024];
	char attribute[MODEL_ATTRS_MAX][AGENT_ATTR_ARG_MAX + 1]; /* repeatable */
	unsigned nattribute;
	char zones[4096];
	uint64_t lease_ttl;
	char mode[8];
	char run_ms[64];
	char fail_rate[32];
	uint64_t stop_grace_ms;
	uint64_t stats_ms;
	uint64_t timeout_ms;
	uint64_t shutdown_ms;
	char log_level[16];
	/* Derived by agent_config_parse. */
	const char *eps[AGENT_ENDPOINTS_MAX]; /* point into epsbuf */
	size_t neps;
	char epsbuf[4096];
	char (*iids)[MODEL_ID_MAX + 1]; /* owned: the instance ids, `instances` of them */
	struct model_port_range port_ranges[MODEL_PORT_RANGES_MAX];
	size_t nport_ranges;
	struct model_pair attrs[MODEL_ATTRS_MAX]; /* point into attribute[] */
	size_t nattrs;
	char *zone_list[AGENT_ZONES_MAX]; /* point into zonebuf */
	size_t nzones;
	char zonebuf[4096];
	bool exec;
	uint64_t run_min_ms, run_max_ms; /* both 0: run until stopped */
	double fail_rate_v;
};

enum agent_config_result { AGENT_CONFIG_OK = 0, AGENT_CONFIG_HELP, AGENT_CONFIG_ERROR };

/* Parses argv (after the program name) over the defaults, with BERTH_ENDPOINTS,
 * BERTH_TOKEN and BERTH_LOG_LEVEL as defaults the command line overrides. AGENT_CONFIG_ERROR
 * leaves a message naming the option in err. Free with agent_config_free (also after an
 * error). */
enum agent_config_result agent_config_parse(struct agent_config *c, int argc, char **argv,
					    char *err, size_t errlen);
void agent_config_usage(FILE *to);
void agent_config_free(struct agent_config *c);
/* Instance i's record as the agent registers it (status ACTIVE; registeredAt and lease are
 * the caller's). It borrows from c and from one static attribute list, valid until the
 * next call (the loop's thread only): do not model_instance_free it. */
void agent_config_instance(const struct agent_config *c, size_t i, struct model_instance *out);

/* What the agent counts; printed every --stats-ms and at exit. */
struct agent_counters {
	uint64_t started; /* runs started */
	uint64_t stopped; /* Stopped transactions committed */
	uint64_t
		failed; /* runs that ended by themselves with a non-zero exit code, or never started */
	uint64_t conflicts; /* compare-and-swap failures (the task had changed) */
	uint64_t retries;   /* transactions sent again after an error */
	uint64_t regrants;  /* leases granted again after the last one was lost */
	uint64_t bad;       /* task records refused by the model's decoder */
};

enum agent_local { AGENT_LOCAL_NONE, AGENT_LOCAL_RUNNING, AGENT_LOCAL_KILLING, AGENT_LOCAL_ENDED };

struct agent_proc;
struct agent;

/* One task placed on one of this agent's instances, as the agent knows it. */
struct agent_task {
	struct agent *ag;
	char id[MODEL_ID_MAX + 1];
	struct model_task rec; /* owned: the record as last read or written */
	uint64_t rev;          /* its mod_rev: what the next transaction compares */
	bool have_rec;         /* false once the record was deleted */
	uint64_t list_gen;     /* the listing that last saw it */
	enum agent_local local;
	bool in_flight; /* a call for it is pending */
	bool forget;    /* free it once its run has ended and nothing is in flight */
	unsigned attempts;
	/* How the run ended (AGENT_LOCAL_ENDED), or why it is being stopped. */
	char reason[MODEL_REASON_MAX + 1];
	bool has_exit;
	int exit_code;
	bool killed;             /* agent_run_kill ended it: not counted as failed */
	struct model_taskdef td; /* exec: the task definition, once read */
	bool have_td;
	struct agent_proc *procs; /* owned, exec: one per container with a command */
	size_t nprocs, nrunning;
	bool essential_exited;
	uv_timer_t run_timer; /* sim: the run's end; exec: the grace before SIGKILL */
	uv_timer_t retry_timer;
	unsigned open_handles; /* freed when the last one is closed */
};

struct agent {
	struct agent_config *cfg;
	uv_loop_t *loop;
	struct berth_async *a;
	uint64_t rng; /* splitmix64 for ids and jitter */
	uint64_t lease;
	bool granting;
	unsigned reg_pending; /* registrations in flight */
	bool *reg_needed;     /* owned: per instance, still to (re)register */
	bool registered;      /* every instance registered with the current lease */
	bool listing, watching;
	uint64_t list_gen, list_rev;
	char list_next[MODEL_KEY_MAX + 1];
	struct berth_async_watch *watch;
	struct agent_task **tasks; /* owned */
	size_t ntasks, cap;
	struct agent_counters n;
	bool stopping; /* SIGTERM/SIGINT: stop every run, report it, revoke, exit */
	bool revoking;
	bool closed;
	uv_timer_t keepalive_timer, stats_timer, retry_timer, list_timer, shutdown_timer;
	uv_signal_t sigterm, sigint;
};

/* agent.c */
uint64_t agent_rand(struct agent *ag);
uint64_t agent_now_ms(void);
/* A jittered backoff for the n-th attempt (1..): 20 ms doubling to 2 s, times 0.5..1.5. */
uint64_t agent_backoff_ms(struct agent *ag, unsigned n);
/* The index of iid among this agent's instances, or -1. */
long agent_instance_index(const struct agent *ag, const char *iid);
/* Called when shutdown may be able to finish (a task was forgotten or stopped). */
void agent_shutdown_check(struct agent *ag);
void agent_print_counters(const struct agent *ag, const char *when);

/* agent_watch.c */
/* Lists the cluster's tasks (paged, at one revision) and then watches from there; on
 * BERTH_ECOMPACTED lists again. */
void agent_tasks_start(struct agent *ag);

/* agent_tasks.c */
/* A task key and its value (NULL: deleted) at rev, from the listing, the watch or a
 * transaction's failure branch: followed when it is placed on one of these instances. */
void agent_task_seen(struct agent *ag, struct bytes key, const struct bytes *value, uint64_t rev);
/* The record at rev replaces what t knew (an older one is ignored; rev 0 always wins).
 * rec NULL or empty: deleted. Takes ownership of *rec. */
void agent_task_update(struct agent_task *t, struct model_task *rec, uint64_t rev);
/* Moves the task on according to its record and its run (docs/agent.md has the table). */
void agent_task_step(struct agent_task *t);
/* Tasks still running locally or with a call in flight. */
size_t agent_tasks_busy(const struct agent *ag);
/* Stops every run (reason "agent stopped"); each is then reported STOPPED. */
void agent_tasks_stop_all(struct agent *ag);
/* Frees every task (the loop must then run to close their handles). */
void agent_tasks_close(struct agent *ag);

/* agent_run.c */
/* Starts the run: sim, a timer of the run time; exec, the containers' commands (t->td).
 * A command that cannot start ends the run at once (exit code 127). Sets AGENT_LOCAL_RUNNING
 * or AGENT_LOCAL_ENDED. */
void agent_run_start(struct agent_task *t);
/* Ends a running run: sim at once; exec with SIGTERM, then SIGKILL after --stop-grace-ms.
 * reason is kept when the run has none yet. */
void agent_run_kill(struct agent_task *t, const char *reason);
/* Closes the task's handles and frees it once they are closed. */
void agent_run_free(struct agent_task *t);
/* The run has ended (agent_run.c calls it): reason, has_exit and exit_code are set. */
void agent_task_ended(struct agent_task *t);

#endif
