/* jepsen/lin.h: the linearizability checker for one register (one key): a Wing & Gong
 * search with Lowe's memoisation (docs/jepsen.md, "Checkers").
 *
 * The model: a register that is absent at first; read returns its value (or absent),
 * write v sets it, cas [e, n] sets n when the value is e (e may be absent) and does
 * nothing otherwise. An operation occupies [invoke, complete] in the history's order of
 * events (event indexes); a precedes b in real time when a completed before b was invoked.
 * The history is linearizable when every definite (ok) operation can be given one point
 * inside its interval, in an order the register accepts; an indeterminate (info)
 * operation may also take effect at one point after its invocation, or never. Callers
 * leave out failed operations (they never happened) and reads that did not complete ok
 * (they tell nothing); lin_check ignores info reads.
 *
 * The search tries operations in order of their invocation and backtracks when an
 * operation's completion is reached before it was placed. Each configuration reached (the
 * set of operations placed, as a bitset, and the register's value) is remembered, and a
 * configuration seen before is not explored again: this is what makes thousands of
 * operations with ten in flight take seconds. The number of configurations is bounded
 * (max_states) and so is their memory (LIN_MAX_CACHE_BYTES): past a bound the verdict is
 * unknown, which is not valid. */
#ifndef BERTH_JEPSEN_LIN_H
#define BERTH_JEPSEN_LIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIN_DEFAULT_MAX_STATES 4000000u
#define LIN_MAX_CACHE_BYTES (1ull << 30)

enum lin_f { LIN_READ, LIN_WRITE, LIN_CAS };

struct lin_op {
	enum lin_f f;
	bool info;   /* indeterminate: may take effect after its invocation, or never */
	bool a_null; /* read: the register was absent; cas: expected absent */
	int64_t a;   /* read: the value read; write: the value written; cas: expected */
	int64_t b;   /* cas: the new value */
	uint64_t invoke, complete;          /* event indexes, distinct; complete unused when info */
	int64_t invoke_time, complete_time; /* reported only */
	int process;                        /* reported only */
};

enum lin_verdict { LIN_VALID, LIN_INVALID, LIN_UNKNOWN };

struct lin_result {
	enum lin_verdict verdict;
	uint64_t states; /* configurations explored */
	/* LIN_INVALID: the operation that could not be placed at the deepest point of the
	 * search, how many operations were placed before it, and the register's value then. */
	size_t bad; /* position in ops */
	size_t placed;
	bool state_null;
	int64_t state;
	const char *why; /* LIN_INVALID and LIN_UNKNOWN: a short static reason */
};

/* Checks ops[0..n) (any order). 0 with the verdict in out; BERTH_ENOMEM (nothing explored
 * past that point: the verdict is LIN_UNKNOWN, why "out of memory"). max_states 0 means
 * LIN_DEFAULT_MAX_STATES. */
int lin_check(const struct lin_op *ops, size_t n, uint64_t max_states, struct lin_result *out);

/* The failure of an invalid result as JSON: {"op": OP, "placed": N, "state": V|null,
 * "why": "...", "concurrent": [OP...], "concurrent_total": N}, where concurrent holds the
 * operations whose intervals overlap op's (at most 100 of them, in order of invocation)
 * and OP is {"process","f","type","value","invoke_index","invoke_time","complete_index",
 * "complete_time"} (no completion for info). NULL when out of memory. */
json_t *lin_failure_json(const struct lin_op *ops, size_t n, const struct lin_result *r);

/* One operation as the OP above; NULL when out of memory. */
json_t *lin_op_json(const struct lin_op *op);

#endif
