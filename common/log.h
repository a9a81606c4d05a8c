/* common/log.h: berth's one logger: one line per event on stderr, level checked first.
 *
 * A line reads "2026-11-25T07:40:01.123Z INFO store 1: message" (UTC wall clock, ms).
 * At LOG_DEBUG the source position follows the prefix: "... DEBUG store 1: kv.c:42: msg".
 * Each line leaves in a single write(2), so lines from different threads never interleave.
 * Messages longer than LOG_MESSAGE_MAX bytes are cut (on a UTF-8 boundary) and end in
 * "..."; newlines and carriage returns inside a message become spaces.
 *
 * The level may change at any time from any thread. The prefix is set once at start-up,
 * before other threads log. errno is preserved across every log call.
 *
 * The macros check the level before their arguments are evaluated:
 *   log_debug("applied %s", expensive());   expensive() runs only at LOG_DEBUG. */
#ifndef BERTH_COMMON_LOG_H
#define BERTH_COMMON_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Longest message kept, in bytes, before the "..." marker. */
#define LOG_MESSAGE_MAX 1000
/* Longest prefix kept, in bytes; longer prefixes are cut. */
#define LOG_PREFIX_MAX 63

/* Default LOG_INFO. Values outside the enum are clamped to LOG_ERROR..LOG_DEBUG. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* "error", "warn", "info" or "debug" (any case) into *out: 0, or BERTH_EBADREQ with *out
 * untouched for anything else, NULL included. */
int log_parse_level(const char *s, enum log_level *out);

/* "store 1": copied, so the caller's string need not outlive the call. NULL or "" removes
 * the prefix ("... INFO message"). */
void log_set_prefix(const char *prefix);

/* Sets the level from BERTH_LOG_LEVEL when it is set; a bad value is reported with a
 * warning line and leaves the level as it was. */
void log_init_from_env(void);

/* Writes one line whatever the level; use the macros, which filter first. */
void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_at_(level, ...)                                                                        \
	do {                                                                                       \
		if ((level) <= log_get_level())                                                    \
			log_write((level), __FILE__, __LINE__, __VA_ARGS__);                       \
	} while (0)

#define log_error(...) log_at_(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at_(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at_(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at_(LOG_DEBUG, __VA_ARGS__)

#endif
