/* tests/unit/client_fake.h: scripted fake berth-store nodes for the client tests: a thread
 * with a listening socket on 127.0.0.1 (port 0), speaking the protocol on up to 8
 * connections at once, recording every request it receives. */
#ifndef BERTH_TESTS_CLIENT_FAKE_H
#define BERTH_TESTS_CLIENT_FAKE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum fake_mode {
	FAKE_OK,             /* answers everything */
	FAKE_NOTLEADER,      /* answers every request but hello BERTH_ENOTLEADER (+ leader) */
	FAKE_CLOSE_ON_WRITE, /* closes the connection on a txn with a session or a member change */
	FAKE_SILENT,         /* answers hello and session open, nothing else */
	FAKE_MALFORMED,      /* answers txns with a frame that is not msgpack */
	FAKE_ESESSION_FIRST, /* the first sessioned txn gets reply err BERTH_ESESSION */
	FAKE_ESESSION,       /* every sessioned txn gets reply err BERTH_ESESSION */
	FAKE_ODD_FRAMES,     /* pushes a watch frame before each txn answer, and answers the
				first txn with a stream chunk (`more`) instead */
};

#define FAKE_LOG_MAX 4096
#define FAKE_HOLD_MAX 1024

struct fake_req {
	uint8_t type;
	uint64_t id;
	uint64_t session;
	uint64_t seq;
	uint8_t op_type; /* txn: the first success op's type */
};

struct fake {
	enum fake_mode mode;
	const char *token;   /* required token; NULL accepts any */
	char leader[64];     /* FAKE_NOTLEADER: the address to send ("" none) */
	uint64_t session_id; /* the next id SESSION_OPEN gives */
	unsigned hold;       /* > 0: txn answers are held back while the client keeps
				sending (at most this many, <= FAKE_HOLD_MAX), then go newest
				first: out of order */
	char addr[32];       /* "127.0.0.1:port" once started */
	int lfd;
	pthread_t thread;
	atomic_int stop;
	atomic_size_t received; /* requests received: may be read while it runs */
	/* Read only after fake_stop (the thread is joined then). */
	struct fake_req log[FAKE_LOG_MAX];
	size_t nlog;
	int conns; /* connections accepted */
	uint64_t rev;
	int esession_sent;
	int chunk_sent;
	struct fake_held { /* answers held back (hold) */
		int fd;
		uint64_t session;
		uint8_t *frame; /* owned */
		size_t len;
	} held[FAKE_HOLD_MAX];
	unsigned nheld;
	int overlaps; /* sessioned writes received while one of the same session was held */
};

/* Listens and starts the thread (asserts on failure). */
void fake_start(struct fake *f, enum fake_mode mode);
/* Stops and joins the thread, closes every socket. */
void fake_stop(struct fake *f);
/* How many requests of type were received. */
size_t fake_count(const struct fake *f, uint8_t type);
/* The index-th request of that type (asserts it exists). */
const struct fake_req *fake_nth(const struct fake *f, uint8_t type, size_t index);

/* A 127.0.0.1 port nothing listens on (bound, then closed). */
uint16_t fake_dead_port(void);

#endif
