/* common/opttab.c: the option table parser (getopt_long) and its --help. */
#include "common/opttab.h"

#include "common/err.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define OPTTAB_MAX 128

static void opttab_dash(const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s", name);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = '-';
}

void opttab_usage(FILE *to, const struct opttab_opt *opts, size_t n, int width)
{
	char name[64];
	for (size_t i = 0; i < n; i++) {
		const struct opttab_opt *o = &opts[i];
		opttab_dash(o->name, name, sizeof(name));
		fprintf(to, "  --%-*s %s", width, name, o->help);
		if (o->def != NULL && o->def[0] != 0)
			fprintf(to, " [%s]", o->def);
		fputc('\n', to);
	}
}

static int opttab_set(const struct opttab_opt *o, void *dst, const char *v, char *err,
		      size_t errlen)
{
	char name[64];
	char *field = (char *)dst + o->off;
	opttab_dash(o->name, name, sizeof(name));
	if (o->type == OPTTAB_FLAG) {
		*(uint64_t *)(void *)field = 1;
		return 0;
	}
	if (o->type == OPTTAB_STR || o->type == OPTTAB_MULTI) {
		if (o->type == OPTTAB_MULTI) {
			unsigned *count = (unsigned *)(void *)((char *)dst + o->count_off);
			if (*count >= o->max) {
				snprintf(err, errlen, "--%s: more than %llu", name,
					 (unsigned long long)o->max);
				return BERTH_EBADREQ;
			}
			field += o->size * *count;
		}
		if (strlen(v) >= o->size) {
			snprintf(err, errlen, "--%s: longer than %zu bytes", name, o->size - 1);
			return BERTH_EBADREQ;
		}
		memcpy(field, v, strlen(v) + 1);
		if (o->type == OPTTAB_MULTI)
			(*(unsigned *)(void *)((char *)dst + o->count_off))++;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long num = strtoull(v, &end, 10);
	if (errno != 0 || *end != 0 || end == v || v[0] == '-' || num < o->min || num > o->max) {
		snprintf(err, errlen, "--%s: '%s' is not a number in %llu..%llu", name, v,
			 (unsigned long long)o->min, (unsigned long long)o->max);
		return BERTH_EBADREQ;
	}
	*(uint64_t *)(void *)field = num;
	return 0;
}

enum opttab_result opttab_parse(const struct opttab_opt *opts, size_t n,
				const struct opttab_env *envs, size_t nenvs, void *dst,
				size_t dst_size, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[OPTTAB_MAX + 2];
	char names[OPTTAB_MAX][64];
	if (n > OPTTAB_MAX) {
		snprintf(err, errlen, "option table too large");
		return OPTTAB_ERROR;
	}
	memset(dst, 0, dst_size);
	for (size_t i = 0; i < n; i++) {
		opttab_dash(opts[i].name, names[i], sizeof(names[i]));
		longopts[i] = (struct option){
			names[i], opts[i].type == OPTTAB_FLAG ? no_argument : required_argument,
			NULL, (int)i + 256};
		if (opts[i].def != NULL && opts[i].type != OPTTAB_MULTI &&
		    opttab_set(&opts[i], dst, opts[i].def, err, errlen) != 0)
			return OPTTAB_ERROR;
	}
	longopts[n] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[n + 1] = (struct option){NULL, 0, NULL, 0};
	/* The environment gives defaults that the command line overrides. */
	for (size_t e = 0; e < nenvs; e++) {
		const char *v = getenv(envs[e].var);
		for (size_t i = 0; v != NULL && *v != 0 && i < n; i++)
			if (strcmp(opts[i].name, envs[e].field) == 0 &&
			    opttab_set(&opts[i], dst, v, err, errlen) != 0) {
				size_t l = strlen(err);
				snprintf(err + l, errlen - l, " (from $%s)", envs[e].var);
				return OPTTAB_ERROR;
			}
	}
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (ch == 'h')
			return OPTTAB_HELP;
		if (ch >= 256 && ch < 256 + (int)n) {
			if (opttab_set(&opts[ch - 256], dst, optarg, err, errlen) != 0)
				return OPTTAB_ERROR;
			continue;
		}
		snprintf(err, errlen, "%s: '%s'",
			 ch == ':' ? "missing value for option" : "unknown option",
			 argv[optind - 1]);
		return OPTTAB_ERROR;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return OPTTAB_ERROR;
	}
	return OPTTAB_OK;
}
