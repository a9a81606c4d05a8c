/* tests/unit/jhist.c: histories for the jepsen checkers' tests from a short text
 * (tests/unit/jhist.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/jhist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jhist_add(struct history *h, int process, enum hist_type type, const char *f, const char *key,
	       json_t *value)
{
	struct hist_event ev = {.index = h->n ? h->ev[h->n - 1].index + 1 : 0,
				.process = process,
				.type = type,
				.key = (char *)key,
				.value = value};
	char err[256];
	ev.time = (int64_t)ev.index * 1000;
	snprintf(ev.f, sizeof(ev.f), "%s", f);
	int rv = hist_add(h, &ev, err, sizeof(err));
	if (rv != 0)
		fail_msg("jhist_add: %s", err);
	json_decref(value);
}

static void parse_one(struct history *h, char *s)
{
	char proc[16], type[16], fk[64];
	int used = 0;
	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	if (*s == '\0')
		return;
	if (sscanf(s, "%15s %15s %63s%n", proc, type, fk, &used) != 3)
		fail_msg("jhist: bad event \"%s\"", s);
	enum hist_type t;
	assert_int_equal(hist_type_parse(type, &t), 0);
	const char *key = "x";
	char *at = strchr(fk, '@');
	if (at != NULL) {
		*at = '\0';
		key = at + 1;
	}
	json_t *value = NULL;
	const char *rest = s + used;
	while (*rest == ' ')
		rest++;
	if (*rest != '\0') {
		json_error_t je;
		value = json_loads(rest, JSON_DECODE_ANY, &je);
		if (value == NULL)
			fail_msg("jhist: bad value \"%s\": %s", rest, je.text);
	}
	jhist_add(h, strcmp(proc, "n") == 0 ? HIST_NEMESIS : atoi(proc), t, fk,
		  strcmp(proc, "n") == 0 ? NULL : key, value);
}

void jhist_parse(struct history *h, const char *spec)
{
	char *copy = strdup(spec), *save = NULL;
	assert_non_null(copy);
	for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
		parse_one(h, tok);
	free(copy);
}
