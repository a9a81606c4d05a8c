/* tests/integ/jnet_fix.h: the fixture of the harness's integration tests: a test network
 * (jepsen/netns.h) with berth-store members in it (jepsen/nodes.h, faketime on) and a
 * nemesis whose events are collected; checked puts and waits; a cmocka teardown (and a
 * SIGTERM) that removes the members, the network and the folder. Needs root. */
#ifndef BERTH_TESTS_INTEG_JNET_FIX_H
#define BERTH_TESTS_INTEG_JNET_FIX_H

#include "jepsen/nemesis.h"

#define JNET_WAIT_MS 10000
#define JNET_TOKEN "jnet-token"

struct jfix {
	char dir[256];
	char id[NETNS_ID_MAX + 1];
	struct netns net;
	struct nodes nodes;
	bool nodes_up;
	struct nemesis nm;
	json_t *events; /* [{"f", "value"}] */
	pid_t pids[32]; /* every member pid seen */
	unsigned npids;
	bool passed; /* set at the test's end: otherwise the teardown prints the logs */
};

/* cmocka setup and teardown: *state is a struct jfix. */
int jfix_setup(void **state);
int jfix_teardown(void **state);
/* Stops the members, removes the network and the folder. Idempotent. */
void jfix_close(struct jfix *f);
/* The run id: tag and the pid in base 36 (unique among live processes). */
void jfix_id(char *id, char tag);
/* Makes a folder and the net (n nodes), starts members of them (election 300 ms,
 * faketime, tmpfs of tmpfs_mib if not 0), and a nemesis (seed 42) reporting into
 * f->events. Fails the test with the reason (e.g. not root). */
void jfix_start(struct jfix *f, unsigned n, unsigned members, unsigned tmpfs_mib);
/* Records the members' current pids (for the check that none survives). */
void jfix_note_pids(struct jfix *f);
/* The leader's index (fails the test after JNET_WAIT_MS). */
unsigned jfix_leader(struct jfix *f);
/* A put through a handle on eps (NULL: every node): its code. */
int jfix_put(struct jfix *f, const char **eps, size_t n, uint32_t timeout_ms, const char *key,
	     const char *value);
/* Polls a serializable get on node i until key holds value (fails after JNET_WAIT_MS). */
void jfix_wait_value(struct jfix *f, unsigned i, const char *key, const char *value);
/* The last event: asserts its f and returns its value. */
json_t *jfix_last_event(struct jfix *f, const char *want_f);
/* How many rules node i's chain holds. */
unsigned jfix_rules(struct jfix *f, unsigned i);
/* Node index of a name "n2" in a JSON string. */
unsigned jfix_node(json_t *name);

#endif
