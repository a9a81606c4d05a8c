/* tests/integ/rawconn.h: raw TCP connections to a berth-store member for the robustness
 * tests: send any bytes, build frames by hand, read response frames and the close, each
 * bounded by a deadline. Blocking sockets with poll; every call returns, never asserts. */
#ifndef BERTH_TESTS_INTEG_RAWCONN_H
#define BERTH_TESTS_INTEG_RAWCONN_H

#include "common/msg.h"
#include "common/wire.h"

#include <stddef.h>
#include <stdint.h>

/* A connected socket to 127.0.0.1:port (deadline timeout_ms), or -1. */
int rawconn_open(int port, uint32_t timeout_ms);
/* Sends all n bytes: 0 or -1. */
int rawconn_send(int fd, const void *p, size_t n);
/* Sends one frame holding payload: 0 or -1. */
int rawconn_send_frame(int fd, const void *payload, size_t n);
/* Encodes r (common/msg.h) into one frame and sends it: 0 or -1. */
int rawconn_send_req(int fd, const struct msg_req *r);
/* A hello frame's bytes (header included) in out (at most cap bytes): the length, or 0. */
size_t rawconn_hello_bytes(uint64_t id, const char *token, uint8_t *out, size_t cap);

/* One response: the frame and its decoded envelope (borrowing from frame). */
struct rawconn_resp {
	uint8_t *frame; /* owned */
	struct wire_resp resp;
};
enum { RAWCONN_OK = 0, RAWCONN_EOF = 1, RAWCONN_TIMEOUT = 2, RAWCONN_ERROR = 3 };
/* Reads one frame and decodes it. RAWCONN_OK with *out (free with rawconn_resp_free);
 * RAWCONN_EOF when the peer closed (or reset) before the first byte of a frame;
 * RAWCONN_TIMEOUT; RAWCONN_ERROR (a closed connection mid-frame, an undecodable frame). */
int rawconn_recv(int fd, uint32_t timeout_ms, struct rawconn_resp *out);
void rawconn_resp_free(struct rawconn_resp *r);
/* Sends hello and reads its answer: the response's err (0: accepted), or -1 when no
 * decodable answer came. */
int rawconn_hello(int fd, uint64_t id, const char *token, uint32_t timeout_ms);
/* Waits for the peer to close: RAWCONN_EOF, RAWCONN_TIMEOUT, or RAWCONN_OK when data
 * arrived instead (it is read and dropped). */
int rawconn_wait_close(int fd, uint32_t timeout_ms);

#endif
