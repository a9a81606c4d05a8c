/* tests/integ/agent_fix.h: what the berth-agent integration tests share: a fixture with a
 * real three-member cluster and a berth-agent child process (its log in the cluster's
 * folder, printed when a test fails), the Run and Place transactions of docs/commits.md
 * written by hand (no worker here), and checked reads of tasks, counters and index keys. */
#ifndef BERTH_TESTS_INTEG_AGENT_FIX_H
#define BERTH_TESTS_INTEG_AGENT_FIX_H

#include "client/model.h"
#include "tests/integ/child.h"
#include "tests/integ/integ.h"

#define AGENT_FIX_WAIT_MS 10000

struct agent_fix {
	struct integ *in; /* owned: integ_setup's */
	struct child agent;
	struct berth *b; /* a handle on every member */
	char cluster[32];
	uint64_t rng;
};

/* cmocka setup and teardown: *state is a struct agent_fix, around integ_setup and
 * integ_teardown (a SIGTERM to the test still removes the folder). Teardown kills the agent
 * (by PID), prints its log when the test did not finish, stops the members, removes the
 * folder. */
int agent_fix_setup(void **state);
int agent_fix_teardown(void **state);

/* Starts the three members and the handle. */
void agent_fix_cluster(struct agent_fix *f);
/* Starts berth-agent ($BERTH_AGENT_BIN, default build/berth-agent) with --endpoints,
 * --cluster, --stats-ms 0 and extra (NULL-terminated). */
void agent_fix_start(struct agent_fix *f, const char *const *extra);
/* Signals the agent and asserts it exits by itself within timeout_ms with status 0. */
void agent_fix_stop(struct agent_fix *f, int sig, uint32_t timeout_ms);
/* Asserts the agent's log holds no sanitizer report, stops the members (exit status 0
 * each) and marks the test passed. */
void agent_fix_finish(struct agent_fix *f);

/* The key's value as a msgpack integer; 0 when missing. */
int64_t agent_fix_int(struct agent_fix *f, const char *key);
bool agent_fix_exists(struct agent_fix *f, const char *key);
/* Keys under prefix (linearizable). */
uint64_t agent_fix_count(struct agent_fix *f, const char *prefix);

/* Polls until the cluster has n alive keys; the milliseconds it took (fails after
 * timeout_ms). */
uint64_t agent_fix_wait_alive(struct agent_fix *f, uint64_t n, uint32_t timeout_ms);

/* Run then Place (fine-grained) of a new task of family:rev, group family:FAMILY, with
 * cpu, memory and host ports, on instance iid; asserts both commit. tid gets its id. */
void agent_fix_place(struct agent_fix *f, const char *iid, const char *family, uint32_t rev,
		     uint32_t cpu, uint32_t mem, const uint16_t *ports, size_t nports,
		     char tid[MODEL_TASK_ID_LEN + 1]);
/* The task's record (out) and its mod_rev; asserts it exists and decodes. */
uint64_t agent_fix_task(struct agent_fix *f, const char *tid, struct model_task *out);
/* Polls until the task's last status is st (out: the record then); fails after timeout_ms. */
void agent_fix_wait_status(struct agent_fix *f, const char *tid, enum model_task_status st,
			   uint32_t timeout_ms, struct model_task *out);
/* The Stop request: desired STOPPED with reason, compare on the task's mod_rev. */
void agent_fix_stop_request(struct agent_fix *f, const char *tid, const char *reason);
/* Asserts what the Stopped transaction releases is gone on iid: cpu and memory counters 0,
 * no port keys, no placed keys, the group counter 0. */
void agent_fix_released(struct agent_fix *f, const char *iid, const char *group);

#endif
