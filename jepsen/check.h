/* jepsen/check.h: the checkers: each one reads a whole history and gives its verdict as a
 * JSON object for results.json (docs/jepsen.md, "Checkers").
 *
 * Every checker returns {"valid": true | false | "unknown", "summary": "one line of
 * counts", ...details}, a new reference owned by the caller; or NULL with a message in
 * err when the history is not one the checker can read (an operation of the wrong shape:
 * the message names the event's index) or memory runs out. "unknown" is not valid: the
 * checker could not decide. Client operations are paired with hist_pair (a pairing error
 * is such a NULL); the nemesis's events are passed over. */
#ifndef BERTH_JEPSEN_CHECK_H
#define BERTH_JEPSEN_CHECK_H

#include "jepsen/history.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The valid field of a verdict: true, false or "unknown". */
enum check_verdict { CHECK_VALID, CHECK_INVALID, CHECK_UNKNOWN };
/* Reads the verdict back from a checker's result (CHECK_UNKNOWN when malformed). */
enum check_verdict check_verdict_of(const json_t *result);

/* Linearizable registers, one per key (jepsen/lin.h). Operations (f, with a key):
 *   read:  invoke value null, ok value the integer read or null (absent);
 *   write: invoke value the integer written (unique);
 *   cas:   invoke value [expected or null, new] (new unique); ok: it swapped.
 * fail operations never happened; read info are dropped; write and cas info may have
 * taken effect. max_states bounds each key's search (0: LIN_DEFAULT_MAX_STATES).
 * Result: {"valid", "summary", "keys", "ops", "states", "invalid_keys": [...],
 *          "unknown_keys": [...], "failures": [{"key", ...lin_failure_json}] (10 at most)}. */
json_t *check_register(const struct history *h, uint64_t max_states, char *err, size_t errlen);

/* A set of unique adds and a final read. Operations: add (invoke value a unique integer),
 * read (ok value the array of integers read). The last ok read is the final read; with
 * none the verdict is unknown. Invalid when an ok add is missing from it (lost), it holds
 * a value never added (unexpected), a value whose add failed (failed_present) or a value
 * twice (duplicated). An info add may be there (recovered) or not.
 * Result: {"valid", "summary", "attempted", "acknowledged", "read", "lost",
 *          "unexpected", "failed_present", "duplicated", "recovered", "lost_examples",
 *          "unexpected_examples", ...} (examples: 10 values at most each). */
json_t *check_set(const struct history *h, char *err, size_t errlen);

/* Bank transfers and reads. Operations: transfer (invoke value {"from": k, "to": k,
 * "amount": n}; only counted), read (ok value {"account": balance, ...} of integers).
 * Invalid when an ok read's balances do not sum to total, or one is negative and
 * negative_ok is false; with no ok read, unknown. Result: {"valid", "summary", "reads", "bad_reads",
 * "transfers": {"ok", "fail", "info"}, "errors": [{"index", "sum", "negative": [...]}]}
 * (10 errors at most). */
json_t *check_bank(const struct history *h, int64_t total, bool negative_ok, char *err,
		   size_t errlen);

/* Watch streams. A watcher is a process whose operations have f "watch": the values of
 * its ok and info completions, arrays of [revision, key, value or null] (null: deleted),
 * concatenated in history order, are its stream. Writes are the operations with f "write"
 * (a key and an integer value, unique). The history is valid when:
 *   1. order: in each stream, revisions never decrease and no (revision, key) repeats;
 *   2. agreement: for any two streams, the events whose revisions lie in both streams'
 *      ranges ([first, last] revision) are the same events in the same order;
 *   3. provenance: every event with a value is a write's (key, value), and that write did
 *      not fail;
 *   4. no gaps: an ok write w is in stream S when S holds an event of an ok write that
 *      completed before w was invoked and an event of a write invoked after w completed
 *      (a linearizable store gave w a revision between theirs, and S covers it).
 * No watcher: unknown. Result: {"valid", "summary", "watchers", "events", "writes",
 * "errors": [{"kind": "order|agreement|provenance|gap", ...}] (10 at most),
 * "error_counts": {"order", "agreement", "provenance", "gap"}}. */
json_t *check_watch(const struct history *h, char *err, size_t errlen);

/* Counters under exactly-once writes (jepsen/check_counter.c). Operations (f, with a
 * key): add (invoke value the amount, > 0), read (ok value the counter, an integer; absent
 * reads 0). Each ok read r of key K must lie in [lo, hi]: lo the sum of K's adds that
 * completed ok before r was invoked, hi the sum of K's adds invoked before r completed
 * that did not fail (ok or info: an info add may have happened, once). Above hi means
 * an add was applied twice or one that failed was applied; below lo, an acknowledged add
 * was lost. No ok read: unknown. Result: {"valid", "summary", "keys", "adds": {"ok",
 * "fail", "info"}, "reads", "bad_reads", "errors": [{"index", "key", "read", "lo", "hi"}]
 * (10 at most)}. */
json_t *check_counter(const struct history *h, char *err, size_t errlen);

/* The scheduling invariants (jepsen/check_sched.c) on the sched workload's history
 * (jepsen/sched.h: the recorder's "state" operations, each an array of [revision, key,
 * value] of the cluster's tasks, instances, allocation counters, port keys and services;
 * and the client operations run, stop, scale, converge). After each revision:
 *   capacity:     no instance's tasks (PENDING or RUNNING on it) hold more cpu or memory
 *                 than it offers, and its alloc counters stay in 0..capacity;
 *   accounting:   the alloc counters equal what its tasks hold, and every host port a
 *                 task holds has its port key naming the task;
 *   port:         no host port of an instance held by two tasks, no port key naming a
 *                 task that does not hold it;
 * and along the stream:
 *   placed-twice: a task placed (PROVISIONING -> PENDING/RUNNING) once, never moved to
 *                 another instance, never out of STOPPED again;
 *   lost:         a task PENDING or RUNNING on an instance never deleted or put back to
 *                 PROVISIONING without going STOPPED;
 * at the converge operation's revision (its ok value {"service", "revision", ...}):
 *   convergence:  the service has its desired count of tasks RUNNING (desired RUNNING);
 *                 a converge that failed (not within the bound) is this error too;
 * at the end of the stream:
 *   run:          every task of an ok run (invoke value {"tasks": [ids]}) placed or
 *                 STOPPED with a reason; no task of a failed run, and no task of a group
 *                 "family:..." that no run operation created;
 *   stop:         every task of an ok stop ({"task": id}) is STOPPED;
 *   scale:        every ok scale's count ({"desired": n}) was the service's at some
 *                 revision, and the last one is one somebody asked for.
 *   stream:       revisions in order; a record that did not decode.
 * A "gap" operation (the recorder's watch was compacted), no state operation or no
 * converge operation, without errors: unknown. Result: {"valid", "summary", "revisions",
 * "events", "tasks", "placements", "gaps", "converge", "errors": [{"kind", "revision",
 * "error"}] (10 at most), "error_counts": {kind: n}}. */
json_t *check_sched(const struct history *h, char *err, size_t errlen);

/* Shared by the checkers (jepsen/check_util.c). */
/* A verdict as the valid field's value. */
json_t *check_valid_json(enum check_verdict v);
/* Sets res's "valid", "summary" and the integer fields names[i] = vals[i], i < n. 0, or -1
 * out of memory. */
int check_finish(json_t *res, enum check_verdict v, const char *summary, const char *const *names,
		 const int64_t *vals, size_t n);
/* Appends item to arr when arr holds fewer than max; always consumes item. 0 or -1. */
int check_example(json_t *arr, json_t *item, size_t max);

#endif
