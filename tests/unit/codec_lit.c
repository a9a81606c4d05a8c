/* tests/unit/codec_lit.c: hex strings and msgpack literals for the codec tests, in heap
 * buffers of exactly their size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/unit/codec_lit.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- byte helpers ---------------------------------------------------------------------- */

/* A heap copy of exactly n bytes. */
uint8_t *codec_lit_dup(const void *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);
	assert_non_null(d);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

static int hex_digit(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

/* "cc ff 00" -> 3 bytes, in an exact heap buffer. */
uint8_t *codec_lit_hex(const char *s, size_t *n)
{
	uint8_t buf[256];
	size_t len = 0;
	for (; *s; s++) {
		if (*s == ' ')
			continue;
		assert_true(isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]));
		assert_true(len < sizeof(buf));
		buf[len++] = (uint8_t)(hex_digit(s[0]) * 16 + hex_digit(s[1]));
		s++;
	}
	*n = len;
	return codec_lit_dup(buf, len);
}

/* The bytes in b, as an exact heap copy; b is closed. */
uint8_t *codec_lit_finish(struct mp_buf *b, size_t *n)
{
	assert_int_equal(mp_buf_error(b), 0);
	uint8_t *d = codec_lit_dup(b->data, b->len);
	*n = b->len;
	mp_buf_close(b);
	return d;
}

/* ---- msgpack literals ------------------------------------------------------------------ */
/* A compact notation for hand-made (often malformed) inputs:
 *   {k: v, ...} map   [v, ...] array   nil true false   words are str (T, ts, x, ...)
 *   12 -5 integers (uint64 / int64)    1.5 float64      'text' str   b'text' bin (\xHH)
 *   #c1 00#  raw bytes copied as they are
 * Several top-level values are concatenated, which makes trailing bytes. */
static void lit_value(const char **s, struct mp_buf *out);

static void lit_skip(const char **s)
{
	while (**s == ' ')
		(*s)++;
}

static size_t lit_quoted(const char **s, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	for ((*s)++; **s != '\''; n++) {
		assert_true(**s != 0 && n < cap);
		if ((*s)[0] == '\\' && (*s)[1] == 'x') {
			buf[n] = (uint8_t)(hex_digit((*s)[2]) * 16 + hex_digit((*s)[3]));
			*s += 4;
		} else {
			buf[n] = (uint8_t) * *s;
			(*s)++;
		}
	}
	(*s)++;
	return n;
}

static void lit_seq(const char **s, struct mp_buf *out, char close, bool map)
{
	struct mp_buf sub;
	uint32_t count = 0;
	mp_buf_init(&sub);
	(*s)++;
	lit_skip(s);
	while (**s != close) {
		lit_value(s, &sub);
		if (map) {
			lit_skip(s);
			assert_int_equal(**s, ':');
			(*s)++;
			lit_value(s, &sub);
		}
		count++;
		lit_skip(s);
		if (**s == ',') {
			(*s)++;
			lit_skip(s);
		} else {
			assert_int_equal(**s, close);
		}
	}
	(*s)++;
	if (map)
		msgpack_pack_map(&out->pk, count);
	else
		msgpack_pack_array(&out->pk, count);
	mp_buf_append(out, sub.data, sub.len);
	mp_buf_close(&sub);
}

static void lit_value(const char **s, struct mp_buf *out)
{
	uint8_t buf[256];
	char *end;
	size_t n;
	lit_skip(s);
	const char *p = *s;
	if (*p == '{' || *p == '[') {
		lit_seq(s, out, *p == '{' ? '}' : ']', *p == '{');
	} else if (*p == '\'') {
		n = lit_quoted(s, buf, sizeof(buf));
		msgpack_pack_str(&out->pk, n);
		msgpack_pack_str_body(&out->pk, buf, n);
	} else if (p[0] == 'b' && p[1] == '\'') {
		(*s)++;
		n = lit_quoted(s, buf, sizeof(buf));
		mp_pack_bin(&out->pk, buf, n);
	} else if (*p == '#') {
		for ((*s)++, lit_skip(s); **s != '#'; lit_skip(s)) {
			uint8_t b = (uint8_t)(hex_digit((*s)[0]) * 16 + hex_digit((*s)[1]));
			mp_buf_append(out, &b, 1);
			*s += 2;
		}
		(*s)++;
	} else if (*p == '-' || isdigit((unsigned char)*p)) {
		n = strspn(p, "-0123456789.");
		if (memchr(p, '.', n) != NULL)
			msgpack_pack_double(&out->pk, strtod(p, &end));
		else if (*p == '-')
			msgpack_pack_int64(&out->pk, strtoll(p, &end, 10));
		else
			msgpack_pack_uint64(&out->pk, strtoull(p, &end, 10));
		assert_true(end == p + n);
		*s = end;
	} else {
		n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		assert_true(n > 0);
		*s += n;
		if (n == 3 && memcmp(p, "nil", 3) == 0)
			msgpack_pack_nil(&out->pk);
		else if (n == 4 && memcmp(p, "true", 4) == 0)
			msgpack_pack_true(&out->pk);
		else if (n == 5 && memcmp(p, "false", 5) == 0)
			msgpack_pack_false(&out->pk);
		else {
			msgpack_pack_str(&out->pk, n);
			msgpack_pack_str_body(&out->pk, p, n);
		}
	}
}

uint8_t *codec_lit_pack(const char *s, size_t *n)
{
	struct mp_buf b;
	mp_buf_init(&b);
	for (lit_skip(&s); *s != 0; lit_skip(&s))
		lit_value(&s, &b);
	return codec_lit_finish(&b, n);
}
