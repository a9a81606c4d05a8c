/* common/opttab.h: one option table gives a program its command line, its defaults, its
 * environment fallbacks and its --help (berth-store, berth-agent, berth-worker).
 *
 * A table row names a field of the caller's configuration struct by offset. Option names
 * are the field names with '_' written '-'. Types: a number in [min, max]; a string that
 * must fit its buffer; a flag (no value; the field, a uint64_t, becomes 1); a repeatable
 * string (max buffers of size bytes each at off, the count an unsigned at count_off).
 * Every refusal leaves a message naming the option and what is wrong with the value. */
#ifndef BERTH_COMMON_OPTTAB_H
#define BERTH_COMMON_OPTTAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opttab_type { OPTTAB_U64, OPTTAB_STR, OPTTAB_FLAG, OPTTAB_MULTI };

struct opttab_opt {
	const char *name;
	enum opttab_type type;
	size_t off;
	size_t size; /* STR, MULTI: one buffer's bytes */
	const char *def;
	uint64_t min, max; /* U64: the range; MULTI: max is how many buffers */
	const char *help;
	size_t count_off; /* MULTI: offset of the unsigned count */
};

/* Rows for a configuration struct T. */
#define OPTTAB_U64(T, field, def, min, max, help)                                                  \
	{                                                                                          \
#field, OPTTAB_U64, offsetof(T, field), 0, def, min, max, help, 0                  \
	}
#define OPTTAB_STR(T, field, def, help)                                                            \
	{                                                                                          \
#field, OPTTAB_STR, offsetof(T, field), sizeof(((T *)0)->field), def, 0, 0, help,  \
			0                                                                          \
	}
#define OPTTAB_FLAG(T, field, help)                                                                \
	{                                                                                          \
#field, OPTTAB_FLAG, offsetof(T, field), 0, NULL, 0, 1, help, 0                    \
	}
#define OPTTAB_MULTI(T, field, count, help)                                                        \
	{                                                                                          \
#field, OPTTAB_MULTI, offsetof(T, field), sizeof(((T *)0)->field[0]), NULL, 0,     \
			sizeof(((T *)0)->field) / sizeof(((T *)0)->field[0]), help,                \
			offsetof(T, count)                                                         \
	}

/* An environment variable that gives a field's default (the command line overrides). */
struct opttab_env {
	const char *var;
	const char *field;
};

enum opttab_result { OPTTAB_OK = 0, OPTTAB_HELP, OPTTAB_ERROR };

/* Zeroes dst, sets every default, then the environment's, then parses argv (after the
 * program name) with getopt_long. No positional argument is accepted. OPTTAB_ERROR
 * leaves a message in err. */
enum opttab_result opttab_parse(const struct opttab_opt *opts, size_t n,
				const struct opttab_env *envs, size_t nenvs, void *dst,
				size_t dst_size, int argc, char **argv, char *err, size_t errlen);

/* One line per option: "  --name  help [default]", names padded to width. */
void opttab_usage(FILE *to, const struct opttab_opt *opts, size_t n, int width);

#endif
