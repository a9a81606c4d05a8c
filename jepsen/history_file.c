/* jepsen/history_file.c: history.jsonl: the writer the client threads share and the loader
 * that refuses bad input line by line (jepsen/history.h). */
#include "jepsen/history.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct hist_writer {
	pthread_mutex_t mu;
	int fd;
	int64_t start_ns;
	uint64_t next; /* the next event's index */
	int err;       /* the first error, 0 while none */
	char errmsg[256];
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct hist_writer *hist_open(const char *path, char *err, size_t errlen)
{
	struct hist_writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	w->start_ns = mono_ns();
	return w;
}

int64_t hist_now(struct hist_writer *w)
{
	return mono_ns() - w->start_ns;
}

/* Keeps the first error; called with the lock held. */
static uint64_t writer_fail(struct hist_writer *w, int code, const char *msg)
{
	if (w->err == 0) {
		w->err = code;
		snprintf(w->errmsg, sizeof(w->errmsg), "%s", msg);
	}
	return HIST_NOINDEX;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

uint64_t hist_append(struct hist_writer *w, int process, enum hist_type type, const char *f,
		     const char *key, json_t *value)
{
	struct hist_event ev = {.process = process,
				.type = type,
				.key = (char *)key,
				.value = value ? value : json_null()};
	size_t flen = f ? strlen(f) : 0;
	uint64_t index = HIST_NOINDEX;
	pthread_mutex_lock(&w->mu);
	if (flen == 0 || flen >= HIST_F_MAX || (unsigned)type > HIST_INFO ||
	    process < HIST_NEMESIS || process > HIST_MAX_PROCESS) {
		writer_fail(w, BERTH_EBADREQ, "hist_append: bad process, type or f");
		goto out;
	}
	memcpy(ev.f, f, flen + 1);
	ev.index = w->next;
	ev.time = hist_now(w);
	json_t *o = hist_event_json(&ev);
	char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (line == NULL) {
		writer_fail(w, BERTH_ENOMEM,
			    "hist_append: out of memory (or a value jansson "
			    "cannot print)");
		goto out;
	}
	size_t len = strlen(line);
	line[len] = '\n'; /* the NUL goes: written as one line with its newline */
	if (write_all(w->fd, line, len + 1) != 0) {
		char msg[200];
		snprintf(msg, sizeof(msg), "hist_append: write: %s", strerror(errno));
		writer_fail(w, BERTH_EIO, msg);
	} else {
		index = w->next++;
	}
	free(line);
out:
	pthread_mutex_unlock(&w->mu);
	return index;
}

int hist_close(struct hist_writer *w, char *err, size_t errlen)
{
	int rv = w->err;
	if (rv != 0)
		snprintf(err, errlen, "%s", w->errmsg);
	if (close(w->fd) != 0 && rv == 0) {
		snprintf(err, errlen, "close: %s", strerror(errno));
		rv = BERTH_EIO;
	}
	pthread_mutex_destroy(&w->mu);
	free(w);
	return rv;
}

/* --- the loader -------------------------------------------------------------------- */

/* A non-negative integer field; 0, or -1 with the reason in why. */
static int field_uint(json_t *o, const char *name, int64_t *out, const char **why)
{
	json_t *v = json_object_get(o, name);
	if (v == NULL) {
		*why = "missing";
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*why = "must be a non-negative integer";
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* The fields of one line's object into ev (key and value borrowed from o). */
static int parse_event(json_t *o, struct hist_event *ev, char *err, size_t errlen)
{
	const char *why = NULL, *name = "index";
	int64_t index;
	if (field_uint(o, "index", &index, &why) != 0 ||
	    field_uint(o, name = "time", &ev->time, &why) != 0)
		goto bad;
	ev->index = (uint64_t)index;
	json_t *v = json_object_get(o, name = "process");
	if (v == NULL)
		goto missing;
	if (json_is_string(v) && strcmp(json_string_value(v), "nemesis") == 0) {
		ev->process = HIST_NEMESIS;
	} else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		   json_integer_value(v) <= HIST_MAX_PROCESS) {
		ev->process = (int)json_integer_value(v);
	} else {
		why = "must be an integer from 0 to 1048576 or \"nemesis\"";
		goto bad;
	}
	v = json_object_get(o, name = "type");
	if (v == NULL)
		goto missing;
	if (!json_is_string(v) || hist_type_parse(json_string_value(v), &ev->type) != 0) {
		why = "must be \"invoke\", \"ok\", \"fail\" or \"info\"";
		goto bad;
	}
	v = json_object_get(o, name = "f");
	if (v == NULL)
		goto missing;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= HIST_F_MAX) {
		why = "must be a string of 1 to 23 bytes";
		goto bad;
	}
	memcpy(ev->f, json_string_value(v), json_string_length(v) + 1);
	v = json_object_get(o, name = "key");
	ev->key = NULL;
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v)) {
			why = "must be a string";
			goto bad;
		}
		ev->key = (char *)json_string_value(v);
	}
	ev->value = json_object_get(o, "value");
	return 0;
missing:
	why = "missing";
bad:
	snprintf(err, errlen, "\"%s\" %s", name, why);
	return -1;
}

/* One line (without its newline) into h; 0 or an error code with the message in err. */
static int load_line(struct history *h, const char *line, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	struct hist_event ev = {0};
	if (len == 0) {
		snprintf(err, errlen, "empty line");
		return BERTH_EBADREQ;
	}
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		snprintf(err, errlen, "not JSON: %s", jerr.text);
		return BERTH_EBADREQ;
	}
	int rv = BERTH_EBADREQ;
	if (!json_is_object(o))
		snprintf(err, errlen, "not a JSON object");
	else if (parse_event(o, &ev, err, errlen) == 0)
		rv = hist_add(h, &ev, err, errlen);
	json_decref(o);
	return rv;
}

/* Reads path block by block, handing each line to load_line. */
static int load_file(FILE *f, struct history *h, char *err, size_t errlen)
{
	enum { BLOCK = 1 << 20 };
	char *blk = malloc(BLOCK), *line = NULL;
	size_t len = 0, cap = 0, lineno = 1, total = 0;
	char msg[256];
	int rv = 0;
	if (blk == NULL)
		goto nomem;
	for (;;) {
		size_t got = fread(blk, 1, BLOCK, f);
		if (got == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "read: %s", strerror(errno));
				rv = BERTH_EIO;
			} else if (len > 0 && (rv = load_line(h, line, len, msg, sizeof(msg)))) {
				snprintf(err, errlen, "line %zu: %s", lineno, msg);
			}
			break;
		}
		if ((total += got) > HIST_MAX_FILE_BYTES) {
			snprintf(err, errlen, "file larger than %llu bytes",
				 (unsigned long long)HIST_MAX_FILE_BYTES);
			rv = BERTH_ETOOLARGE;
			break;
		}
		for (size_t at = 0; at < got && rv == 0;) {
			char *nl = memchr(blk + at, '\n', got - at);
			size_t seg = (nl ? (size_t)(nl - blk) : got) - at;
			if (len + seg > HIST_MAX_LINE_BYTES) {
				snprintf(err, errlen, "line %zu: longer than %u bytes", lineno,
					 HIST_MAX_LINE_BYTES);
				rv = BERTH_ETOOLARGE;
				break;
			}
			if (len + seg > cap) {
				size_t ncap = cap ? cap : 4096;
				while (ncap < len + seg)
					ncap *= 2;
				char *p = realloc(line, ncap);
				if (p == NULL)
					goto nomem;
				line = p;
				cap = ncap;
			}
			memcpy(line + len, blk + at, seg);
			len += seg;
			at += seg;
			if (nl == NULL)
				break;
			at++;
			if ((rv = load_line(h, line, len, msg, sizeof(msg))) != 0)
				snprintf(err, errlen, "line %zu: %s", lineno, msg);
			lineno++;
			len = 0;
		}
		if (rv != 0)
			break;
	}
	free(blk);
	free(line);
	return rv;
nomem:
	free(blk);
	free(line);
	snprintf(err, errlen, "out of memory");
	return BERTH_ENOMEM;
}

int hist_load(const char *path, struct history *out, char *err, size_t errlen)
{
	struct stat st;
	*out = (struct history){0};
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return BERTH_EIO;
	}
	int rv = 0;
	if (fstat(fileno(f), &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rv = BERTH_EIO;
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		rv = BERTH_EBADREQ;
	} else if ((unsigned long long)st.st_size > HIST_MAX_FILE_BYTES) {
		snprintf(err, errlen, "%s: file larger than %llu bytes", path,
			 (unsigned long long)HIST_MAX_FILE_BYTES);
		rv = BERTH_ETOOLARGE;
	} else {
		rv = load_file(f, out, err, errlen);
	}
	fclose(f);
	if (rv != 0)
		hist_free(out);
	return rv;
}
