/* jepsen/logscan.h: what in a log of the run (a member's, a worker's, an agent's) fails
 * a run: a sanitizer report, an assertion, a crash report. (A member that exits with
 * berth's own "fatal:" line, e.g. on a full disk, stopped as designed; one that died of a
 * signal the harness did not send is a crash: the runner learns that from the nemesis's
 * "revive" events and the exit statuses.) */
#ifndef BERTH_JEPSEN_LOGSCAN_H
#define BERTH_JEPSEN_LOGSCAN_H

#include <jansson.h>

/* Appends to findings (an array) one {"log": path, "line": N, "text": "..."} per matching
 * line of the file at path (at most 20 per file). A missing file adds nothing. How many
 * lines matched. */
unsigned logscan_file(const char *path, json_t *findings);

/* Whether a waitpid status is a crash: a signal the harness does not send (it sends
 * SIGKILL, SIGTERM, SIGSTOP and SIGCONT). */
int logscan_crash_status(int status);

#endif
