/* client/net.h: blocking TCP with deadlines for libberth: endpoint strings, connect,
 * send and receive, the monotonic clock.
 *
 * Every function that waits takes an absolute deadline on the net_now_ms() clock and
 * never waits past it. Errors come back as BERTH_E* codes with the context written into
 * the caller's err buffer ("connect 127.0.0.1:7101: Connection refused"); errno values
 * never leave this file. Sockets are non-blocking, close-on-exec, TCP_NODELAY, and
 * writes never raise SIGPIPE. */
#ifndef BERTH_CLIENT_NET_H
#define BERTH_CLIENT_NET_H

#include <stddef.h>
#include <stdint.h>

#define NET_HOST_MAX 253 /* a DNS name's longest text form */
#define NET_ERR_BYTES 256

/* "host:port", "[v6addr]:port" (a zone as in "[fe80::1%eth0]:7101" is allowed) or
 * "name:port"; port 1..65535 in decimal. */
struct net_endpoint {
	char host[NET_HOST_MAX + 1]; /* without the brackets */
	char port[6];
};

/* 0, or BERTH_EBADREQ with a message naming the string and what is wrong with it. */
int net_endpoint_parse(const char *s, struct net_endpoint *ep, char *err, size_t errlen);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t net_now_ms(void);
/* Sleeps ms milliseconds (restarting on EINTR). */
void net_sleep_ms(uint32_t ms);

/* Resolves ep (getaddrinfo, which has no timeout of its own: numeric addresses do not
 * wait) and tries each address until one connects, each for at most attempt_ms and all
 * before deadline_ms. 0 with *fd set; BERTH_ENOCONN when none connects in time. */
int net_connect(const struct net_endpoint *ep, uint32_t attempt_ms, uint64_t deadline_ms, int *fd,
		char *err, size_t errlen);

/* Writes all n bytes. 0; BERTH_ETIMEOUT at the deadline; BERTH_ECLOSED when the
 * connection fails. *sent counts the bytes the kernel accepted (also on error). */
int net_send_all(int fd, const void *p, size_t n, uint64_t deadline_ms, size_t *sent, char *err,
		 size_t errlen);

/* Reads what is available, waiting for at least one byte. 0 with *got >= 1;
 * BERTH_ETIMEOUT at the deadline; BERTH_ECLOSED on end of stream or a connection error. */
int net_recv(int fd, void *buf, size_t cap, uint64_t deadline_ms, size_t *got, char *err,
	     size_t errlen);

#endif
