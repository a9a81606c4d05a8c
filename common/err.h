/* common/err.h: berth's closed list of error codes, one table of (code, name, text).
 *
 * Every function that can fail returns 0 or one of these. They live in their own numeric
 * range (7001..) so they never clash with errno, LMDB or raft codes. The numbers are part
 * of the wire protocol: never renumber, only append. */
#ifndef BERTH_COMMON_ERR_H
#define BERTH_COMMON_ERR_H

#define BERTH_ERR_BASE 7000

/* X(name, number, text).  Definite failures unless the text says otherwise. */
#define BERTH_ERRORS(X)                                                                            \
	X(BERTH_ENOMEM, 7001, "out of memory")                                                     \
	X(BERTH_EBADREQ, 7002, "bad request")                                                      \
	X(BERTH_ETOOLARGE, 7003, "request exceeds a limit")                                        \
	X(BERTH_ENOTLEADER, 7004, "not the leader")                                                \
	X(BERTH_ETIMEOUT, 7005, "timed out: the outcome is unknown")                               \
	X(BERTH_ENOQUORUM, 7006, "no quorum")                                                      \
	X(BERTH_ECOMPACTED, 7007, "revision has been compacted")                                   \
	X(BERTH_EFUTUREREV, 7008, "revision is in the future")                                     \
	X(BERTH_EUNAUTHORIZED, 7009, "unauthorized")                                               \
	X(BERTH_EWATCHOVERFLOW, 7010, "watcher fell too far behind")                               \
	X(BERTH_ENOTFOUND, 7011, "not found")                                                      \
	X(BERTH_EEXISTS, 7012, "already exists")                                                   \
	X(BERTH_ETYPE, 7013, "value is not an integer")                                            \
	X(BERTH_EOVERFLOW, 7014, "integer overflow")                                               \
	X(BERTH_EDUPKEY, 7015, "key modified more than once in one transaction")                   \
	X(BERTH_ESESSION, 7016, "session unknown or expired")                                      \
	X(BERTH_ESTALESEQ, 7017, "sequence number older than the session's latest")                \
	X(BERTH_EIO, 7018, "I/O error")                                                            \
	X(BERTH_ENOSPACE, 7019, "database is full")                                                \
	X(BERTH_ECORRUPT, 7020, "corrupt data")                                                    \
	X(BERTH_EUNAVAILABLE, 7021, "unavailable: the outcome is unknown")                         \
	X(BERTH_ECLOSED, 7022, "closed")                                                           \
	X(BERTH_ECANCELED, 7023, "canceled")                                                       \
	X(BERTH_EINTERNAL, 7024, "internal error")                                                 \
	X(BERTH_EPROTO, 7025, "protocol version not supported")                                    \
	X(BERTH_EBUSY, 7026, "busy: too many requests in flight")                                  \
	X(BERTH_ENOCONN, 7027, "no member reachable: the request was not sent")

enum berth_err {
	BERTH_OK = 0,
#define BERTH_ERR_ENUM_(name, num, text) name = num,
	BERTH_ERRORS(BERTH_ERR_ENUM_)
#undef BERTH_ERR_ENUM_
};

/* "BERTH_ENOTFOUND" for a known code, "BERTH_E?" otherwise.  Never NULL. */
const char *err_name(int code);
/* Human text: "not found".  Never NULL; unknown codes give "unknown error". */
const char *err_text(int code);
/* 1 when the code is in the table (or 0 = OK). Used to validate codes off the wire. */
int err_known(int code);
/* 1 when a failure leaves the outcome unknown (the request may still take effect). */
int err_indeterminate(int code);

#endif
