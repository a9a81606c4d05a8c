/* tests/integ/integ.h: what every integration test shares on top of cluster.h: a cmocka
 * fixture whose teardown always stops the members and removes the folder (printing the
 * logs when the test did not reach its end), and checked puts and gets. */
#ifndef BERTH_TESTS_INTEG_INTEG_H
#define BERTH_TESTS_INTEG_INTEG_H

#include "tests/integ/cluster.h"

/* Fast elections: the timeouts every test starts members with. */
#define INTEG_ELECTION_ARGS "--election-ms", "300", "--heartbeat-ms", "50"
#define INTEG_LEADER_WAIT_MS 10000

struct integ {
	struct cluster c;
	bool passed; /* set by integ_finish: the test reached its end */
};

/* cmocka setup and teardown: *state is a struct integ. */
int integ_setup(void **state);
int integ_teardown(void **state);

/* Starts n members with INTEG_ELECTION_ARGS plus extra (NULL-terminated, may be NULL) and
 * waits for a leader; its index in *leader (may be NULL). Asserts. */
void integ_start(struct integ *f, unsigned n, const char *const *extra, unsigned *leader);
/* Stops every member with SIGTERM, asserts each exited with status 0 and that no member log
 * holds a sanitizer report, and marks the test passed. */
void integ_finish(struct integ *f);

/* put key = value through b; asserts success and returns the revision. */
uint64_t integ_put(struct berth *b, const char *key, const char *value);
/* get key through b (linearizable, or serializable) and asserts its value; value NULL:
 * asserts the key is missing. Returns the member that answered. */
uint64_t integ_expect(struct berth *b, const char *key, const char *value, bool serializable);

/* get key through b and returns its value read as a msgpack integer; asserts the key
 * exists and holds one. */
int64_t integ_int(struct berth *b, const char *key, bool serializable);
/* The decimal number after prefix in key ("fo/w/00042": 42); asserts the key has that
 * form and the number is below limit. */
unsigned integ_key_number(struct bytes key, const char *prefix, unsigned limit);

#endif
