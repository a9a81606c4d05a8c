/* tests/integ/jrun_fix.h: `berth-jepsen run` as the integration tests run it: the program
 * (BERTH_JEPSEN_BIN, else build/berth-jepsen) in a folder of the test's, its exit status,
 * nothing of the run left on the host afterwards, and its results.json. */
#ifndef BERTH_TESTS_INTEG_JRUN_FIX_H
#define BERTH_TESTS_INTEG_JRUN_FIX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The test's folder: $TMPDIR (or /tmp)/berth-TAG-XXXXXX made into dir (bytes n); 0 or -1. */
int jrun_mkdir(char *dir, size_t n, const char *tag);
/* Removes dir and everything in it (rm -rf, by its path). */
void jrun_rmdir(const char *dir);

/* Runs berth-jepsen run --store-bin store --out dir/name args... (args NULL-terminated,
 * at most 40), its output in dir/name.log; fails the test when it does not end within
 * wait_ms or leaves anything of its run (namespaces, links, rules, mounts) behind.
 * Returns its exit status. */
int jrun_run(const char *dir, const char *name, const char *store, const char *const *args,
	     uint32_t wait_ms);
/* dir/name/results.json (fails the test when it cannot be read); json_decref it. */
json_t *jrun_results(const char *dir, const char *name);

#endif
