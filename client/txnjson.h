/* client/txnjson.h: berthctl's JSON forms: the transaction spec it reads (docs/berthctl.md)
 * and binary-safe keys and values in what it prints.
 *
 * A spec:
 *   {"compare": [{"key": "k", "target": "version", "op": "=", "value": 0}, ...],
 *    "success": [{"op": "put", "key": "k", "value": "v"}, ...],
 *    "failure": [{"op": "get", "key": "k"}, ...],
 *    "serializable": false}
 * Every byte string may be given as text ("key") or as base64 ("key_b64"). Unknown
 * fields, missing fields and wrong types are errors that name the place ("success[1]:
 * unknown field \"vaule\""). Limits (key size, number of operations) are the store's. */
#ifndef BERTH_CLIENT_TXNJSON_H
#define BERTH_CLIENT_TXNJSON_H

#include "common/msg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct txnjson {
	struct msg_txn txn; /* cmp, succ, fail: owned */
	bool serializable;
	json_t *root;   /* owned: the txn's byte strings borrow from it */
	uint8_t **bufs; /* owned: decoded base64 strings */
	size_t nbufs;
};

/* Parses text[0..len) into out. 0; BERTH_EBADREQ with a message in err; BERTH_ENOMEM.
 * Nothing to free on failure; txnjson_free after success. */
int txnjson_parse(const char *text, size_t len, struct txnjson *out, char *err, size_t errlen);
void txnjson_free(struct txnjson *t);

/* Sets obj[name] to the bytes as a string when they are valid UTF-8 without NUL, and
 * always obj[name + "_b64"] to their base64. 0 or BERTH_ENOMEM. */
int txnjson_set_bytes(json_t *obj, const char *name, const uint8_t *p, size_t n);

/* 1 when p[0..n) is valid UTF-8 (no overlong forms, no surrogates) without NUL bytes. */
int txnjson_utf8(const uint8_t *p, size_t n);

#endif
