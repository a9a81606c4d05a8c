/* jepsen/history.h: the harness's history: events in memory, their JSON-lines file (a
 * writer shared by client threads, a loader that refuses bad input), and the pairing of
 * each invocation with its completion (DESIGN.md section 7, docs/jepsen.md).
 *
 * One line of history.jsonl is one event:
 *   {"index":N,"time":NS,"process":P,"type":"invoke|ok|fail|info","f":"write",
 *    "key":"k","value":V}
 * index: 0, 1, 2, ... strictly increasing; time: nanoseconds since the writer opened, from
 * CLOCK_MONOTONIC (never decreasing with index); process: an integer >= 0 for a client, the
 * string "nemesis" for the nemesis (HIST_NEMESIS in C); f: 1 to 23 bytes; key: optional;
 * value: any JSON, absent meaning null. Other fields are ignored by the loader.
 *
 * A client process runs one operation at a time: an "invoke" event, then one completion
 * by the same process: "ok" (it happened), "fail" (it did not happen) or "info" (unknown:
 * it may have happened, at any point after its invocation). The completion repeats the
 * invocation's f (and its key, or none). The nemesis's events are not operations: pairing
 * passes over them. */
#ifndef BERTH_JEPSEN_HISTORY_H
#define BERTH_JEPSEN_HISTORY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_NEMESIS (-1) /* process of the nemesis's events */
#define HIST_F_MAX 24     /* f is at most HIST_F_MAX - 1 bytes */
#define HIST_NOINDEX UINT64_MAX
#define HIST_MAX_PROCESS (1 << 20) /* client processes are 0 to HIST_MAX_PROCESS */

/* Limits of hist_load: a longer line or a larger file is refused. */
#define HIST_MAX_LINE_BYTES (16u << 20)
#define HIST_MAX_FILE_BYTES (512ull << 20)

enum hist_type { HIST_INVOKE, HIST_OK, HIST_FAIL, HIST_INFO };

struct hist_event {
	uint64_t index;
	int64_t time; /* ns */
	int process;  /* >= 0, or HIST_NEMESIS */
	enum hist_type type;
	char f[HIST_F_MAX];
	char *key;     /* owned; NULL when the event has none */
	json_t *value; /* owned reference; never NULL (json null when absent) */
};

struct history {
	struct hist_event *ev; /* owned */
	size_t n, cap;
};

/* "invoke", "ok", "fail", "info"; hist_type_parse: 0 and *t, or -1 for another string. */
const char *hist_type_name(enum hist_type t);
int hist_type_parse(const char *s, enum hist_type *t);

/* Appends a copy of ev to h (key duplicated, a new reference to value; a NULL value is
 * stored as json null). 0; BERTH_EBADREQ with a message in err when ev->index is not
 * greater than the last event's, the process is below HIST_NEMESIS or above
 * HIST_MAX_PROCESS, or f is empty or too long; BERTH_ENOMEM. h is unchanged on failure. A zeroed struct history is empty. */
int hist_add(struct history *h, const struct hist_event *ev, char *err, size_t errlen);
void hist_free(struct history *h); /* leaves h empty */

/* The event as one JSON object (the line without its newline); NULL when out of memory. */
json_t *hist_event_json(const struct hist_event *ev);

/* --- the file --------------------------------------------------------------------- */

struct hist_writer;

/* Creates (or truncates) path for writing; the clock starts now. NULL with a message in
 * err when the file cannot be created or memory runs out. */
struct hist_writer *hist_open(const char *path, char *err, size_t errlen);
/* Nanoseconds since hist_open (CLOCK_MONOTONIC). */
int64_t hist_now(struct hist_writer *w);
/* Writes one event with the next index and the current time, in one write(2) (a killed
 * run keeps every line written). Thread-safe: events are numbered and timed under one
 * lock, so index and time increase together. process is >= 0 or HIST_NEMESIS; f 1 to
 * HIST_F_MAX - 1 bytes; key may be NULL; value is borrowed (NULL: json null). Returns the
 * event's index, or HIST_NOINDEX on bad arguments, out of memory or a failed write; the
 * first error is kept and reported by hist_close. */
uint64_t hist_append(struct hist_writer *w, int process, enum hist_type type, const char *f,
		     const char *key, json_t *value);
/* Closes the file and frees w. 0, or the first error of the writer's life (BERTH_EIO,
 * BERTH_EBADREQ, BERTH_ENOMEM) with its message in err. */
int hist_close(struct hist_writer *w, char *err, size_t errlen);

/* Reads a whole history file into out (overwritten). 0; or BERTH_EBADREQ (bad content),
 * BERTH_ETOOLARGE (a limit above), BERTH_EIO, BERTH_ENOMEM with a message in err,
 * "line N: ..." for content, and out left empty. Refused: a line that is not one JSON
 * object, a missing or ill-typed field, an unknown type, an index not greater than the
 * line before, an empty line. */
int hist_load(const char *path, struct history *out, char *err, size_t errlen);

/* --- operations -------------------------------------------------------------------- */

/* One client operation: its invocation and completion. */
struct hist_op {
	const struct hist_event *invoke;   /* borrowed from the history */
	const struct hist_event *complete; /* NULL when never completed */
	enum hist_type type;               /* HIST_OK, HIST_FAIL or HIST_INFO (also when
					      never completed) */
};

/* Pairs every client invocation in h with the next event of its process, which must be its
 * completion. *ops (owned by the caller, free()) gets the operations in the order of their
 * invocations; they borrow h's events. 0; BERTH_EBADREQ with "index N: ..." in err for a
 * completion without an invocation, an invocation while the process has one pending, a
 * completion whose f or key differs; BERTH_ENOMEM. Nothing to free on failure. */
int hist_pair(const struct history *h, struct hist_op **ops, size_t *nops, char *err,
	      size_t errlen);

#endif
