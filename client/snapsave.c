/* client/snapsave.c: berth_snapshot_save: a backup from one member, downloaded into
 * FILE.part, checked, synced and renamed (client/berth.h); the stream's checks. */
#include "client/snapsave.h"

#include "client/berth.h"
#include "client/call.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define SNAPSAVE_BUSY_PAUSE_MS 200
#define SNAPSAVE_READ_BYTES (256 * 1024)

uint32_t snapsave_crc_init(void)
{
	return (uint32_t)crc32(0, Z_NULL, 0);
}

int snapsave_frame(struct snapsave_rx *rx, const struct wire_resp *r, const uint8_t **data,
		   size_t *n)
{
	if (data != NULL)
		*data = NULL;
	if (n != NULL)
		*n = 0;
	if (rx->ended)
		return BERTH_ECORRUPT;
	if (r->more) {
		if (r->off != rx->off || r->chunk.n == 0)
			return BERTH_ECORRUPT;
		rx->crc = (uint32_t)crc32(rx->crc, r->chunk.p, (uInt)r->chunk.n);
		rx->off += r->chunk.n;
		if (data != NULL)
			*data = r->chunk.p;
		if (n != NULL)
			*n = r->chunk.n;
		return 0;
	}
	rx->ended = true;
	if (r->err != 0)
		return r->err;
	if (!r->has_snap)
		return BERTH_EBADREQ;
	if (r->snap.size != rx->off || r->snap.crc != rx->crc)
		return BERTH_ECORRUPT;
	return 0;
}

/* The download's file: path.part while it is written. */
struct snapsave_file {
	char part[4096];
	int fd;
};

static int snapsave_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One attempt on one member: request, every frame, the checks. 0 with out filled; the
 * node's BERTH_EBUSY (try again later); or the failure, with b->errmsg. */
static int snapsave_attempt(struct berth *b, const struct net_endpoint *ep, struct snapsave_file *f,
			    struct berth_snapshot *out)
{
	struct msg_req req = {.type = MSG_REQ_SNAPSHOT};
	struct snapsave_rx rx = {.crc = snapsave_crc_init()};
	struct call_conn c;
	uint8_t *buf = malloc(SNAPSAVE_READ_BYTES);
	size_t n;
	int rv;

	if (buf == NULL)
		return BERTH_ENOMEM;
	if ((rv = call_conn_init(&c, b->opt.max_frame_bytes)) != 0) {
		free(buf);
		return rv;
	}
	if ((rv = call_conn_open(b, &c, ep, net_now_ms() + b->opt.timeout_ms)) != 0) {
		rv = rv == BERTH_ETIMEOUT ? BERTH_ENOCONN : rv;
		goto out;
	}
	if (ftruncate(f->fd, 0) != 0 || lseek(f->fd, 0, SEEK_SET) != 0) {
		call_errmsg(b, "%s: %s", f->part, strerror(errno));
		rv = BERTH_EIO;
		goto out;
	}
	mp_buf_reset(&c.out);
	if ((rv = proto_encode(&c.proto, &req, &c.out, NULL)) != 0 ||
	    (rv = net_send_all(c.fd, c.out.data, c.out.len, net_now_ms() + b->opt.timeout_ms, &n,
			       b->errmsg, sizeof(b->errmsg))) != 0) {
		rv = rv == BERTH_ENOMEM ? rv : BERTH_ENOCONN;
		goto out;
	}
	/* The deadline is per frame: a transfer that makes progress goes on. */
	for (uint64_t deadline = net_now_ms() + b->opt.timeout_ms; !rx.ended;) {
		rv = net_recv(c.fd, buf, SNAPSAVE_READ_BYTES, deadline, &n, b->errmsg,
			      sizeof(b->errmsg));
		if (rv != 0) {
			call_errmsg(b, "%s: after %llu bytes: %s", c.peer,
				    (unsigned long long)rx.off, b->errmsg);
			rv = BERTH_ECLOSED; /* nothing was saved: a definite failure */
			goto out;
		}
		for (size_t off = 0; off < n && !rx.ended;) {
			struct proto_resp pr;
			const uint8_t *data;
			size_t used, dn;
			if ((rv = proto_feed(&c.proto, buf + off, n - off, &used)) != 0)
				break;
			off += used;
			while (!rx.ended && (rv = proto_next(&c.proto, &pr)) == 0) {
				deadline = net_now_ms() + b->opt.timeout_ms;
				rv = pr.resp.id == 0 ? (pr.resp.err ? pr.resp.err : BERTH_EBADREQ)
						     : snapsave_frame(&rx, &pr.resp, &data, &dn);
				if (rv == 0 && dn > 0 && snapsave_write_all(f->fd, data, dn) != 0) {
					call_errmsg(b, "write %s: %s", f->part, strerror(errno));
					rv = BERTH_EIO;
				}
				if (rv == 0 && rx.ended)
					*out = (struct berth_snapshot){
						pr.resp.hdr.member, pr.resp.snap.rev,
						pr.resp.snap.applied, rx.off, rx.crc};
				proto_resp_free(&pr);
				if (rv != 0)
					break;
			}
			if (rv == BERTH_ENOTFOUND)
				rv = 0;
			if (rv != 0)
				break;
		}
		if (rv == BERTH_EBUSY) {
			call_errmsg(b, "%s: %s", c.peer, err_text(rv));
			goto out;
		}
		if (rv == BERTH_ECORRUPT) {
			call_errmsg(b,
				    "%s: the stream does not add up after %llu bytes (offset, "
				    "size or checksum)",
				    c.peer, (unsigned long long)rx.off);
			goto out;
		}
		if (rv != 0) {
			if (rv != BERTH_EIO)
				call_errmsg(b, "%s: %s", c.peer, err_text(rv));
			goto out;
		}
	}
	b->errmsg[0] = '\0';
out:
	call_conn_close(&c);
	free(buf);
	return rv;
}

/* fsync of the directory that holds path, so that the rename is durable. */
static int snapsave_sync_dir(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rv = fsync(fd);
	close(fd);
	return rv;
}

int berth_snapshot_save(struct berth *b, const char *path, struct berth_snapshot *out)
{
	struct snapsave_file f;
	uint64_t deadline = net_now_ms() + b->opt.timeout_ms;
	int rv = BERTH_ENOCONN;

	memset(out, 0, sizeof(*out));
	b->errmsg[0] = '\0';
	if (path == NULL || path[0] == '\0' ||
	    (size_t)snprintf(f.part, sizeof(f.part), "%s.part", path) >= sizeof(f.part)) {
		call_errmsg(b, "snapshot save: bad file name");
		return BERTH_EBADREQ;
	}
	f.fd = open(f.part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f.fd < 0) {
		call_errmsg(b, "open %s: %s", f.part, strerror(errno));
		return BERTH_EIO;
	}
	/* Every member in turn from the handle's next one; a busy round waits and goes again
	 * until the deadline. Once a transfer has started, its failure is the answer. */
	for (unsigned tries = 0;; tries++) {
		const struct net_endpoint *ep = &b->opt.eps[b->next_ep];
		rv = snapsave_attempt(b, ep, &f, out);
		if (rv != BERTH_ENOCONN && rv != BERTH_EBUSY)
			break;
		b->next_ep = (b->next_ep + 1) % b->opt.neps;
		uint64_t now = net_now_ms();
		if (now >= deadline)
			break;
		if ((tries + 1) % b->opt.neps == 0)
			net_sleep_ms((uint32_t)(deadline - now < SNAPSAVE_BUSY_PAUSE_MS
							? deadline - now
							: SNAPSAVE_BUSY_PAUSE_MS));
	}
	if (rv == 0 && fsync(f.fd) != 0) {
		call_errmsg(b, "fsync %s: %s", f.part, strerror(errno));
		rv = BERTH_EIO;
	}
	if (close(f.fd) != 0 && rv == 0) {
		call_errmsg(b, "close %s: %s", f.part, strerror(errno));
		rv = BERTH_EIO;
	}
	if (rv == 0 && rename(f.part, path) != 0) {
		call_errmsg(b, "rename %s to %s: %s", f.part, path, strerror(errno));
		rv = BERTH_EIO;
	}
	if (rv != 0) {
		unlink(f.part);
		memset(out, 0, sizeof(*out));
		return rv;
	}
	if (snapsave_sync_dir(path) != 0) {
		call_errmsg(b, "fsync the directory of %s: %s", path, strerror(errno));
		unlink(path);
		memset(out, 0, sizeof(*out));
		return BERTH_EIO;
	}
	return 0;
}
