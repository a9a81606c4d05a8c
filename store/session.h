/* store/session.h: client sessions for exactly-once writes.
 *
 * A session is opened through the log (its id is the opening entry's index, so every
 * member assigns the same one). Each write carries (session, seq) with seq increasing by
 * the client. The state machine keeps, per session, the latest sequence number and the
 * reply it produced: a retry of that sequence gets the stored reply and changes nothing;
 * an older sequence is refused with BERTH_ESTALESEQ. A session expires when the state
 * machine's clock (the largest leader timestamp applied so far) passes its deadline,
 * which every write through it pushes back by the session's TTL. Expiry happens while
 * applying, so every member expires the same sessions at the same entry. */
#ifndef BERTH_STORE_SESSION_H
#define BERTH_STORE_SESSION_H

#include "store/fsm.h"

int session_open(struct fsm *f, uint64_t sid, int64_t ttl_ms, struct mp_buf *out);

/* Before a write with (sid, seq): 0 when it must be applied; BERTH_EEXISTS when it is a
 * retry (its stored reply has been appended to out); BERTH_ESESSION or BERTH_ESTALESEQ
 * as business results (nothing appended); or a fatal error. */
int session_check(struct fsm *f, uint64_t sid, uint64_t seq, struct mp_buf *out);
/* After applying it: remember seq and the reply bytes, push the deadline back. */
int session_record(struct fsm *f, uint64_t sid, uint64_t seq, const uint8_t *reply, size_t n);
/* Removes every session whose deadline is before the clock. */
int session_expire(struct fsm *f);

#endif
