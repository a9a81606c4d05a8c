/* common/log.c: the logger: level filter, line formatting, one write(2) per line. */
#include "common/log.h"

#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Timestamp (24) + level (5) + prefix + ": " + "file:line: " + message + "..." + "\n".
 * The file part is capped by its own precision below. */
#define LOG_FILE_MAX 64
#define LOG_LINE_BYTES (32 + LOG_PREFIX_MAX + 2 + LOG_FILE_MAX + 16 + LOG_MESSAGE_MAX + 8)

static atomic_int log_level = LOG_INFO;
static char log_prefix[LOG_PREFIX_MAX + 1];

static const char *const log_level_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

void log_set_level(enum log_level level)
{
	int l = (int)level;

	if (l < LOG_ERROR)
		l = LOG_ERROR;
	if (l > LOG_DEBUG)
		l = LOG_DEBUG;
	atomic_store_explicit(&log_level, l, memory_order_relaxed);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_parse_level(const char *s, enum log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	if (s == NULL)
		return BERTH_EBADREQ;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return BERTH_EBADREQ;
}

void log_set_prefix(const char *prefix)
{
	if (prefix == NULL)
		prefix = "";
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix);
}

void log_init_from_env(void)
{
	const char *s = getenv("BERTH_LOG_LEVEL");
	enum log_level level;

	if (s == NULL || *s == '\0')
		return;
	if (log_parse_level(s, &level) != 0) {
		log_warn("ignoring BERTH_LOG_LEVEL=\"%.32s\": expected error, warn, info or debug",
			 s);
		return;
	}
	log_set_level(level);
}

/* "2026-11-25T07:40:01.123Z" into buf (at least 32 bytes); returns its length. */
static size_t log_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL)
		return (size_t)snprintf(buf, size, "0000-00-00T00:00:00.000Z");
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return n;
}

/* Back len up so the text does not end inside a UTF-8 sequence. */
static size_t log_utf8_cut(const char *s, size_t len)
{
	size_t cut = len;

	/* Drop trailing continuation bytes, then the lead byte they belong to, unless the
	 * sequence is complete. At most 3 continuation bytes follow a lead byte. */
	while (cut > 0 && len - cut < 4 && ((unsigned char)s[cut - 1] & 0xC0) == 0x80)
		cut--;
	if (cut > 0 && ((unsigned char)s[cut - 1] & 0xC0) == 0xC0) {
		unsigned char lead = (unsigned char)s[cut - 1];
		size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

		if (len - (cut - 1) < need)
			return cut - 1;
	}
	return len;
}

/* Writes all of buf; one write(2) unless the kernel takes less (it does not, for a line
 * this short, on a pipe or a regular file). */
static void log_write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[LOG_LINE_BYTES];
	int saved_errno = errno;
	size_t n, msg_start, msg_len, room;
	const char *name = "?";
	va_list ap;
	int rv;

	if ((int)level >= LOG_ERROR && (int)level <= LOG_DEBUG)
		name = log_level_names[level];
	n = log_timestamp(buf, sizeof(buf));
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s ", name);
	if (log_prefix[0] != '\0')
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s: ", log_prefix);
	if (level == LOG_DEBUG && file != NULL) {
		const char *base = strrchr(file, '/');

		base = base ? base + 1 : file;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%.*s:%d: ", LOG_FILE_MAX, base,
				      line);
	}

	/* The message gets LOG_MESSAGE_MAX bytes plus its terminator; "...\n" fits after. */
	msg_start = n;
	room = LOG_MESSAGE_MAX + 1;
	va_start(ap, fmt);
	rv = vsnprintf(buf + msg_start, room, fmt, ap);
	va_end(ap);
	if (rv < 0) {
		rv = snprintf(buf + msg_start, room, "(bad log format \"%.64s\")", fmt);
		if (rv < 0)
			rv = 0;
	}
	msg_len = (size_t)rv;
	if (msg_len > LOG_MESSAGE_MAX) {
		msg_len = log_utf8_cut(buf + msg_start, LOG_MESSAGE_MAX);
		memcpy(buf + msg_start + msg_len, "...", 3);
		msg_len += 3;
	}
	for (size_t i = msg_start; i < msg_start + msg_len; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	n = msg_start + msg_len;
	buf[n++] = '\n';
	log_write_all(buf, n);
	errno = saved_errno;
}
