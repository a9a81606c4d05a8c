/* store/compactor.c: the leader's automatic compaction. */
#include "store/compactor.h"

#include "common/log.h"
#include "store/node.h"

static void compactor_done(struct node *n)
{
	n->compactor.inflight = false;
}

void compactor_tick(struct node *n)
{
	struct compactor *c = &n->compactor;
	uint64_t keep = n->cfg.compact_keep, now = uv_now(n->loop);
	if (keep == 0 || c->inflight || now - c->checked_ms < COMPACTOR_CHECK_MS)
		return;
	c->checked_ms = now;
	if (!node_is_leader(n) || n->srv.ready_term != raft_current_term(&n->raft))
		return;
	uint64_t rev = fsm_revision(&n->fsm), done = fsm_compacted(&n->fsm);
	uint64_t slack = keep / 10 ? keep / 10 : 1;
	if (rev <= keep || rev - keep < done + slack)
		return;
	struct msg_cmd cmd = {.type = MSG_CMD_COMPACT, .rev = rev - keep};
	c->inflight = true; /* a proposal refused at once calls compactor_done */
	if (server_propose_internal(n, &cmd, compactor_done) != 0) {
		c->inflight = false;
		return;
	}
	c->proposed++;
	log_info("compacting history before revision %llu (keeping %llu revisions)",
		 (unsigned long long)(rev - keep), (unsigned long long)keep);
}
