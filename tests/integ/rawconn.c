/* tests/integ/rawconn.c: raw TCP connections to a member, frames built and read by hand. */
#include "tests/integ/rawconn.h"

#include "common/frame.h"
#include "tests/integ/cluster.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int rawconn_open(int port, uint32_t timeout_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	int one = 1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Loopback connects complete at once or are refused; retry a refusal to the deadline
	 * (the listen backlog may be momentarily full). */
	for (unsigned tries = 0; tries < 1000; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		close(fd);
		if (cluster_now_ms() >= deadline)
			break;
		poll(NULL, 0, 10);
	}
	return -1;
}

int rawconn_send(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (unsigned tries = 0; n > 0 && tries < 10000; tries++) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return n == 0 ? 0 : -1;
}

int rawconn_send_frame(int fd, const void *payload, size_t n)
{
	uint8_t hdr[FRAME_HEADER_BYTES] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16),
					   (uint8_t)(n >> 8), (uint8_t)n};
	if (rawconn_send(fd, hdr, sizeof(hdr)) != 0)
		return -1;
	return rawconn_send(fd, payload, n);
}

int rawconn_send_req(int fd, const struct msg_req *r)
{
	struct mp_buf b;
	mp_buf_init(&b);
	msg_req_encode(&b, r);
	int rv = mp_buf_error(&b) ? -1 : rawconn_send_frame(fd, b.data, b.len);
	mp_buf_close(&b);
	return rv;
}

size_t rawconn_hello_bytes(uint64_t id, const char *token, uint8_t *out, size_t cap)
{
	struct msg_req r = {.type = MSG_REQ_HELLO, .id = id, .proto = MSG_PROTOCOL_VERSION};
	struct mp_buf b;
	size_t n = 0;
	r.token = (struct bytes){(const uint8_t *)(token ? token : ""), token ? strlen(token) : 0};
	mp_buf_init(&b);
	msg_req_encode(&b, &r);
	if (!mp_buf_error(&b) && b.len + FRAME_HEADER_BYTES <= cap) {
		frame_encode_header(b.len, FRAME_MAX_DEFAULT, out);
		memcpy(out + FRAME_HEADER_BYTES, b.data, b.len);
		n = b.len + FRAME_HEADER_BYTES;
	}
	mp_buf_close(&b);
	return n;
}

/* Reads exactly n bytes by the deadline: RAWCONN_OK, RAWCONN_EOF (closed before any
 * byte), RAWCONN_TIMEOUT or RAWCONN_ERROR (closed after some bytes). */
static int rawconn_read_full(int fd, uint8_t *p, size_t n, uint64_t deadline)
{
	size_t got = 0;
	while (got < n) {
		uint64_t now = cluster_now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (now >= deadline)
			return RAWCONN_TIMEOUT;
		int pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return RAWCONN_ERROR;
		if (pr == 0)
			return RAWCONN_TIMEOUT;
		ssize_t r = recv(fd, p + got, n - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return got == 0 ? RAWCONN_EOF : RAWCONN_ERROR;
		if (r < 0)
			return RAWCONN_ERROR;
		got += (size_t)r;
	}
	return RAWCONN_OK;
}

int rawconn_recv(int fd, uint32_t timeout_ms, struct rawconn_resp *out)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	uint8_t hdr[FRAME_HEADER_BYTES];
	memset(out, 0, sizeof(*out));
	int rv = rawconn_read_full(fd, hdr, sizeof(hdr), deadline);
	if (rv != RAWCONN_OK)
		return rv;
	size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > FRAME_MAX_DEFAULT || (out->frame = malloc(len)) == NULL)
		return RAWCONN_ERROR;
	rv = rawconn_read_full(fd, out->frame, len, deadline);
	if (rv == RAWCONN_EOF)
		rv = RAWCONN_ERROR;
	if (rv == RAWCONN_OK && wire_resp_decode(out->frame, len, &out->resp) != 0)
		rv = RAWCONN_ERROR;
	if (rv != RAWCONN_OK) {
		free(out->frame);
		out->frame = NULL;
	}
	return rv;
}

void rawconn_resp_free(struct rawconn_resp *r)
{
	if (r->frame != NULL)
		wire_resp_free(&r->resp);
	free(r->frame);
	memset(r, 0, sizeof(*r));
}

int rawconn_hello(int fd, uint64_t id, const char *token, uint32_t timeout_ms)
{
	uint8_t buf[512];
	struct rawconn_resp r;
	size_t n = rawconn_hello_bytes(id, token, buf, sizeof(buf));
	if (n == 0 || rawconn_send(fd, buf, n) != 0 || rawconn_recv(fd, timeout_ms, &r) != 0)
		return -1;
	int err = r.resp.id == id ? r.resp.err : -1;
	rawconn_resp_free(&r);
	return err;
}

int rawconn_wait_close(int fd, uint32_t timeout_ms)
{
	uint64_t deadline = cluster_now_ms() + timeout_ms;
	uint8_t b[256];
	for (;;) {
		uint64_t now = cluster_now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (now >= deadline)
			return RAWCONN_TIMEOUT;
		int pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return RAWCONN_TIMEOUT;
		ssize_t r = recv(fd, b, sizeof(b), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE)))
			return RAWCONN_EOF;
		return r < 0 ? RAWCONN_TIMEOUT : RAWCONN_OK;
	}
}
