/* client/net.c: endpoint parsing and deadline-bounded TCP on non-blocking sockets. */
#include "client/net.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t net_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void net_sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int net_bad(char *err, size_t errlen, const char *s, const char *why)
{
	snprintf(err, errlen, "endpoint \"%.*s\": %s", 100, s, why);
	return BERTH_EBADREQ;
}

static int net_host_char(char c, int bracketed)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	if (bracketed)
		return c == ':' || c == '.' || c == '%' || c == '-' || c == '_';
	return c == '.' || c == '-' || c == '_';
}

int net_endpoint_parse(const char *s, struct net_endpoint *ep, char *err, size_t errlen)
{
	const char *host, *hend, *port;
	int bracketed = 0;

	memset(ep, 0, sizeof(*ep));
	if (s == NULL || *s == '\0')
		return net_bad(err, errlen, "", "empty (want host:port)");
	if (s[0] == '[') {
		bracketed = 1;
		host = s + 1;
		if ((hend = strchr(host, ']')) == NULL)
			return net_bad(err, errlen, s, "missing ']' after the IPv6 address");
		if (hend[1] != ':')
			return net_bad(err, errlen, s, "missing \":port\" after ']'");
		port = hend + 2;
		if (memchr(host, ':', (size_t)(hend - host)) == NULL)
			return net_bad(err, errlen, s, "brackets are for IPv6 addresses");
	} else {
		host = s;
		if ((hend = strchr(s, ':')) == NULL)
			return net_bad(err, errlen, s, "missing \":port\"");
		if (strchr(hend + 1, ':') != NULL)
			return net_bad(err, errlen, s,
				       "too many ':' (write IPv6 addresses as [addr]:port)");
		port = hend + 1;
	}
	size_t hlen = (size_t)(hend - host);
	if (hlen == 0)
		return net_bad(err, errlen, s, "empty host");
	if (hlen > NET_HOST_MAX)
		return net_bad(err, errlen, s, "host name too long");
	for (size_t i = 0; i < hlen; i++)
		if (!net_host_char(host[i], bracketed))
			return net_bad(err, errlen, s, "invalid character in the host");
	size_t plen = strlen(port);
	unsigned long pv = 0;
	if (plen == 0)
		return net_bad(err, errlen, s, "empty port");
	if (plen > 5)
		return net_bad(err, errlen, s, "port out of range (1..65535)");
	for (size_t i = 0; i < plen; i++) {
		if (port[i] < '0' || port[i] > '9')
			return net_bad(err, errlen, s, "port is not a number");
		pv = pv * 10 + (unsigned long)(port[i] - '0');
	}
	if (pv == 0 || pv > 65535)
		return net_bad(err, errlen, s, "port out of range (1..65535)");
	memcpy(ep->host, host, hlen);
	ep->host[hlen] = '\0';
	snprintf(ep->port, sizeof(ep->port), "%lu", pv);
	return 0;
}

/* Milliseconds left before the deadline, as a poll timeout (at least 0). */
static int net_left(uint64_t deadline_ms)
{
	uint64_t now = net_now_ms();
	if (now >= deadline_ms)
		return 0;
	uint64_t left = deadline_ms - now;
	return left > 1000000 ? 1000000 : (int)left;
}

/* Waits for events on fd: 1 when ready, 0 at the deadline, -1 on a poll error. */
static int net_wait(int fd, short events, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int rv = poll(&pfd, 1, net_left(deadline_ms));
		if (rv > 0)
			return 1;
		if (rv == 0 && net_left(deadline_ms) == 0)
			return 0;
		if (rv < 0 && errno != EINTR)
			return -1;
	}
}

static int net_connect_one(const struct addrinfo *ai, uint64_t deadline_ms, int *fdp, int *errnum)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	int one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0) {
		*errnum = errno;
		return BERTH_ENOCONN;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			*errnum = errno;
			goto err;
		}
		int w = net_wait(fd, POLLOUT, deadline_ms);
		if (w <= 0) {
			*errnum = w == 0 ? ETIMEDOUT : errno;
			goto err;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			*errnum = soerr ? soerr : errno;
			goto err;
		}
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* latency only */
	*fdp = fd;
	return 0;
err:
	close(fd);
	return BERTH_ENOCONN;
}

int net_connect(const struct net_endpoint *ep, uint32_t attempt_ms, uint64_t deadline_ms, int *fd,
		char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rv, errnum = ETIMEDOUT;

	if ((rv = getaddrinfo(ep->host, ep->port, &hints, &res)) != 0) {
		snprintf(err, errlen, "resolve %s: %s", ep->host, gai_strerror(rv));
		return BERTH_ENOCONN;
	}
	rv = BERTH_ENOCONN;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		uint64_t now = net_now_ms();
		if (now >= deadline_ms) {
			errnum = ETIMEDOUT;
			break;
		}
		uint64_t until = now + attempt_ms < deadline_ms ? now + attempt_ms : deadline_ms;
		if ((rv = net_connect_one(ai, until, fd, &errnum)) == 0)
			break;
	}
	freeaddrinfo(res);
	if (rv != 0) {
		if (strchr(ep->host, ':') != NULL)
			snprintf(err, errlen, "connect [%s]:%s: %s", ep->host, ep->port,
				 strerror(errnum));
		else
			snprintf(err, errlen, "connect %s:%s: %s", ep->host, ep->port,
				 strerror(errnum));
	}
	return rv;
}

int net_send_all(int fd, const void *p, size_t n, uint64_t deadline_ms, size_t *sent, char *err,
		 size_t errlen)
{
	const uint8_t *b = p;
	*sent = 0;
	while (*sent < n) {
		ssize_t w = send(fd, b + *sent, n - *sent, MSG_NOSIGNAL);
		if (w > 0) {
			*sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = net_wait(fd, POLLOUT, deadline_ms);
			if (r > 0)
				continue;
			if (r == 0) {
				snprintf(err, errlen, "send: timed out");
				return BERTH_ETIMEOUT;
			}
		}
		snprintf(err, errlen, "send: %s", strerror(errno));
		return BERTH_ECLOSED;
	}
	return 0;
}

int net_recv(int fd, void *buf, size_t cap, uint64_t deadline_ms, size_t *got, char *err,
	     size_t errlen)
{
	*got = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, cap, 0);
		if (r > 0) {
			*got = (size_t)r;
			return 0;
		}
		if (r == 0) {
			snprintf(err, errlen, "connection closed by the server");
			return BERTH_ECLOSED;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			break;
		int w = net_wait(fd, POLLIN, deadline_ms);
		if (w == 0) {
			snprintf(err, errlen, "no answer before the deadline");
			return BERTH_ETIMEOUT;
		}
		if (w < 0)
			break;
	}
	snprintf(err, errlen, "recv: %s", strerror(errno));
	return BERTH_ECLOSED;
}
