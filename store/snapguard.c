/* store/snapguard.c: one InstallSnapshot in flight per follower (store/snapguard.h). */
#include "store/snapguard.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

/* The wrappers are called with the raft_io only: this table finds its guard. */
static struct snapguard *guards[SNAPGUARD_MAX];

static struct snapguard *guard_of(const struct raft_io *io)
{
	for (unsigned i = 0; i < SNAPGUARD_MAX; i++)
		if (guards[i] != NULL && guards[i]->io == io)
			return guards[i];
	return NULL;
}

static struct snapguard_slot *slot_of(struct snapguard *g, raft_id server)
{
	for (unsigned i = 0; i < SNAPGUARD_SLOTS; i++)
		if (g->slot[i].server == server)
			return &g->slot[i];
	return NULL;
}

static void slot_release(struct snapguard_slot *s, const char *why)
{
	if (s->refused > 0)
		log_info("snapshot %llu to member %llu: %s; %llu resent copies refused",
			 (unsigned long long)s->index, (unsigned long long)s->server, why,
			 (unsigned long long)s->refused);
	else
		log_info("snapshot %llu to member %llu: %s", (unsigned long long)s->index,
			 (unsigned long long)s->server, why);
	memset(s, 0, sizeof(*s));
}

/* The transport is done with a snapshot we let through. */
static void guard_send_cb(struct raft_io_send *req, int status)
{
	for (unsigned k = 0; k < SNAPGUARD_MAX; k++) {
		struct snapguard *g = guards[k];
		for (unsigned i = 0; g != NULL && i < SNAPGUARD_SLOTS; i++) {
			struct snapguard_slot *s = &g->slot[i];
			if (!s->sending || s->req != req)
				continue;
			raft_io_send_cb cb = s->cb;
			s->sending = false;
			s->req = NULL;
			if (status != 0)
				slot_release(s, "send failed, may be sent again");
			cb(req, status);
			return;
		}
	}
	/* Unreachable: only requests recorded in a slot get this callback. */
	log_error("snapguard: completion of an unknown send");
}

static int guard_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *m,
		      raft_io_send_cb cb)
{
	struct snapguard *g = guard_of(io);
	if (g == NULL) /* cannot happen: the method is only installed with its guard */
		return RAFT_IOERR;
	if (m->type != RAFT_INSTALL_SNAPSHOT)
		return g->send(io, req, m, cb);

	uint64_t now = io->time(io);
	struct snapguard_slot *s = slot_of(g, m->server_id);
	if (s != NULL && now - s->since_ms >= SNAPGUARD_HOLD_MS && !s->sending)
		slot_release(s, "not acknowledged in time, may be sent again");
	s = slot_of(g, m->server_id);
	if (s != NULL) {
		s->refused++;
		g->refused++;
		snprintf(io->errmsg, sizeof(io->errmsg),
			 "snapshot already sent to member %llu, not acknowledged yet",
			 (unsigned long long)m->server_id);
		return RAFT_NOCONNECTION;
	}
	s = slot_of(g, 0);
	if (s == NULL) /* more followers installing than slots: no guard for this one */
		return g->send(io, req, m, cb);
	*s = (struct snapguard_slot){.server = m->server_id,
				     .index = m->install_snapshot.last_index,
				     .since_ms = now,
				     .sending = true,
				     .req = req,
				     .cb = cb};
	int rv = g->send(io, req, m, guard_send_cb);
	if (rv != 0) {
		memset(s, 0, sizeof(*s));
		return rv;
	}
	g->sent++;
	log_info("snapshot %llu (%zu bytes) sent to member %llu", (unsigned long long)s->index,
		 m->install_snapshot.data.len, (unsigned long long)s->server);
	return 0;
}

static void guard_recv(struct raft_io *io, struct raft_message *m)
{
	struct snapguard *g = guard_of(io);
	if (g == NULL)
		return;
	if (m->type == RAFT_APPEND_ENTRIES_RESULT && m->append_entries_result.rejected == 0) {
		struct snapguard_slot *s = slot_of(g, m->server_id);
		if (s != NULL && !s->sending && m->append_entries_result.last_log_index >= s->index)
			slot_release(s, "installed");
	}
	g->recv(io, m);
}

static int guard_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		       raft_io_recv_cb recv)
{
	struct snapguard *g = guard_of(io);
	if (g == NULL)
		return RAFT_IOERR;
	g->recv = recv;
	return g->start(io, msecs, tick, guard_recv);
}

int snapguard_install(struct snapguard *g, struct raft_io *io)
{
	for (unsigned i = 0; i < SNAPGUARD_MAX; i++) {
		if (guards[i] != NULL)
			continue;
		memset(g, 0, sizeof(*g));
		g->io = io;
		g->send = io->send;
		g->start = io->start;
		guards[i] = g;
		io->send = guard_send;
		io->start = guard_start;
		return 0;
	}
	return BERTH_EBUSY;
}
