/* tests/unit/jhist.h: histories for the jepsen checkers' tests, written in a short text:
 * events separated by ';', each "PROC TYPE F[@KEY] [VALUE]":
 *   "0 invoke write 1; 0 ok write 1; 1 invoke read; 1 ok read 1; n info kill"
 * PROC is a process number or n (the nemesis); TYPE invoke, ok, fail or info; KEY "x"
 * when not given; VALUE any JSON text (absent: null). Event i gets index i and time
 * 1000 * i. */
#ifndef BERTH_TESTS_UNIT_JHIST_H
#define BERTH_TESTS_UNIT_JHIST_H

#include "jepsen/history.h"

/* Appends the events of spec to h (asserts the spec is well formed). */
void jhist_parse(struct history *h, const char *spec);
/* Appends one event with the next index (value stolen; NULL: null). */
void jhist_add(struct history *h, int process, enum hist_type type, const char *f, const char *key,
	       json_t *value);

#endif
