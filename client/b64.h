/* client/b64.h: standard base64 (RFC 4648, with padding), for binary keys and values in
 * berthctl's JSON. */
#ifndef BERTH_CLIENT_B64_H
#define BERTH_CLIENT_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters b64_encode writes for n bytes, without the terminating NUL. */
size_t b64_encoded_len(size_t n);
/* Writes b64_encoded_len(n) characters and a NUL into out. */
void b64_encode(const uint8_t *p, size_t n, char *out);
/* Decodes s[0..len) into out (room for len / 4 * 3 bytes) and sets *n. Padding is
 * required; whitespace and other characters are refused. 0 or BERTH_EBADREQ. */
int b64_decode(const char *s, size_t len, uint8_t *out, size_t *n);

#endif
