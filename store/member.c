/* store/member.c: membership changes and the members' client addresses (store/member.h). */
#include "store/member.h"

#include "common/err.h"
#include "common/log.h"
#include "store/node.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MEMBER_BACKFILL_EVERY_MS 200
/* A transfer that does not happen within an election timeout is tried again (a busy
 * follower may need longer to catch up and win): at most this many attempts. */
#define MEMBER_TRANSFER_TRIES 3

void member_init(struct node *n)
{
	memset(&n->member, 0, sizeof(n->member));
	n->member.book_applied = UINT64_MAX;
}

static void member_book_refresh(struct node *n)
{
	struct member *m = &n->member;
	uint64_t applied = fsm_applied(&n->fsm);
	if (m->book_applied == applied)
		return;
	int rv = addrbook_load(&n->fsm, m->book, &m->nbook);
	if (rv != 0) {
		log_error("address book: %s (%s): using --bootstrap addresses only", n->fsm.errmsg,
			  err_name(rv));
		m->nbook = 0;
	}
	m->book_applied = applied;
}

static const struct addrbook_entry *member_book_get(struct node *n, uint64_t id)
{
	member_book_refresh(n);
	for (unsigned i = 0; i < n->member.nbook; i++)
		if (n->member.book[i].id == id)
			return &n->member.book[i];
	return NULL;
}

const char *member_client_of(struct node *n, uint64_t id)
{
	if (id == n->cfg.id)
		return n->cfg.client_addr;
	const struct addrbook_entry *e = member_book_get(n, id);
	return e != NULL ? e->client : config_client_of(&n->cfg, id);
}

static struct bytes member_bytes(const char *s)
{
	return (struct bytes){(const uint8_t *)(s ? s : ""), s ? strlen(s) : 0};
}

void member_status(struct node *n, struct wire_status *st)
{
	static const uint8_t states[] = {[RAFT_FOLLOWER] = WIRE_FOLLOWER,
					 [RAFT_CANDIDATE] = WIRE_CANDIDATE,
					 [RAFT_LEADER] = WIRE_LEADER};
	raft_id leader;
	const char *laddr;
	int state = raft_state(&n->raft);
	memset(st, 0, sizeof(*st));
	st->id = n->cfg.id;
	st->peer = member_bytes(n->cfg.peer_addr);
	st->client = member_bytes(n->cfg.client_addr);
	st->state =
		state >= RAFT_FOLLOWER && state <= RAFT_LEADER ? states[state] : WIRE_UNAVAILABLE;
	st->term = raft_current_term(&n->raft);
	st->commit = raft_commit_index(&n->raft);
	st->applied = fsm_applied(&n->fsm);
	st->rev = fsm_revision(&n->fsm);
	st->compacted = fsm_compacted(&n->fsm);
	raft_leader(&n->raft, &leader, &laddr);
	st->leader = leader;
	const struct raft_configuration *conf = &n->raft.configuration;
	for (unsigned i = 0; i < conf->n && st->nmembers < WIRE_MAX_MEMBERS; i++) {
		const struct raft_server *s = &conf->servers[i];
		struct wire_member *w = &st->members[st->nmembers++];
		w->id = s->id;
		w->peer = member_bytes(s->address);
		w->client = member_bytes(member_client_of(n, s->id));
		w->role = s->role == RAFT_VOTER     ? WIRE_VOTER
			  : s->role == RAFT_STANDBY ? WIRE_STANDBY
						    : WIRE_SPARE;
	}
}

/* libraft's answers to configuration changes, as the protocol's codes. */
static int member_raft_err(int rv)
{
	switch (rv) {
	case RAFT_CANTCHANGE:
		return BERTH_EBUSY;
	case RAFT_NOTLEADER:
		return BERTH_ENOTLEADER;
	case RAFT_NOTFOUND:
	case RAFT_BADID:
		return BERTH_ENOTFOUND;
	case RAFT_DUPLICATEID:
	case RAFT_DUPLICATEADDRESS:
	case RAFT_BADROLE:
		return BERTH_EEXISTS;
	case RAFT_NOMEM:
		return BERTH_ENOMEM;
	case RAFT_NOCONNECTION:
		return BERTH_ETIMEOUT;
	case RAFT_LEADERSHIPLOST:
		return BERTH_EUNAVAILABLE;
	default:
		return BERTH_EINTERNAL;
	}
}

/* Answers the request held (if any) and ends the change. */
static void member_finish(struct node *n, int err)
{
	struct member *m = &n->member;
	struct pending *p = m->p;
	m->p = NULL;
	m->step = MEMBER_IDLE;
	if (p != NULL) {
		struct wire_status st;
		if (err == 0)
			member_status(n, &st);
		server_answer(p, err, err == 0 ? &st : NULL);
	}
}

static const struct raft_server *member_conf_get(struct node *n, uint64_t id)
{
	const struct raft_configuration *conf = &n->raft.configuration;
	for (unsigned i = 0; i < conf->n; i++)
		if (conf->servers[i].id == id)
			return &conf->servers[i];
	return NULL;
}

static void member_recorded(struct node *n);
static bool member_backfill(struct node *n, bool propose);

/* Records (peer non-NULL) or forgets member id through the log; member_recorded follows,
 * perhaps at once. */
static void member_propose_record(struct node *n, enum member_step step, uint64_t id,
				  const char *peer, const char *client)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct msg_cmd cmd = {.type = MSG_CMD_MEMBER,
			      .time_ms =
				      (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
			      .member = id,
			      .peer = member_bytes(peer),
			      .client = member_bytes(client)};
	n->member.step = step;
	if (server_propose_internal(n, &cmd, member_recorded) != 0)
		member_finish(n, BERTH_ENOMEM);
}

static void member_promoted(struct raft_change *req, int status)
{
	struct node *n = req->data;
	struct member *m = &n->member;
	if (status == 0)
		log_info("member %llu is a voter", (unsigned long long)m->id);
	else
		log_warn(
			"member %llu not promoted: %s%s", (unsigned long long)m->id,
			raft_strerror(status),
			status == RAFT_NOCONNECTION
				? " (it did not catch up: it stays a spare; start it and add it again)"
				: "");
	member_finish(n, status == 0 ? 0 : member_raft_err(status));
}

static void member_promote(struct node *n)
{
	struct member *m = &n->member;
	m->change.data = n;
	m->step = MEMBER_PROMOTE;
	int rv = raft_assign(&n->raft, &m->change, m->id, RAFT_VOTER, member_promoted);
	if (rv != 0) {
		log_warn("member %llu: promote: %s", (unsigned long long)m->id, raft_strerror(rv));
		member_finish(n, member_raft_err(rv));
		return;
	}
	log_info("member %llu: catching up before promotion", (unsigned long long)m->id);
	if (m->nowait && m->p != NULL) {
		struct wire_status st;
		struct pending *p = m->p;
		m->p = NULL;
		member_status(n, &st);
		server_answer(p, 0, &st);
	}
}

static void member_added(struct raft_change *req, int status)
{
	struct node *n = req->data;
	if (status != 0) {
		log_warn("member %llu: add: %s", (unsigned long long)n->member.id,
			 raft_strerror(status));
		member_finish(n, member_raft_err(status));
		return;
	}
	log_info("member %llu added as a spare", (unsigned long long)n->member.id);
	member_promote(n);
}

/* The record is committed (or its proposal failed): go on with the change. */
static void member_recorded(struct node *n)
{
	struct member *m = &n->member;
	const struct addrbook_entry *e = member_book_get(n, m->id);
	bool recorded =
		e != NULL && strcmp(e->peer, m->peer) == 0 && strcmp(e->client, m->client) == 0;
	switch (m->step) {
	case MEMBER_RECORD:
		if (!recorded || !node_is_leader(n)) {
			/* A full book refuses the record (a result); otherwise the proposal
			 * failed with leadership. */
			member_finish(n, node_is_leader(n) && m->nbook >= ADDRBOOK_MAX
						 ? BERTH_ETOOLARGE
						 : BERTH_EUNAVAILABLE);
			return;
		}
		if (member_conf_get(n, m->id) != NULL) {
			member_promote(n); /* a spare from an earlier add: resume */
			return;
		}
		m->change.data = n;
		m->step = MEMBER_ADD;
		int rv = raft_add(&n->raft, &m->change, m->id, m->peer, member_added);
		if (rv != 0) {
			log_warn("member %llu: add: %s", (unsigned long long)m->id,
				 raft_strerror(rv));
			member_finish(n, member_raft_err(rv));
		}
		return;
	case MEMBER_BACKFILL:
		if (!recorded) {
			log_warn("address of member %llu not recorded: no more tries this term",
				 (unsigned long long)m->id);
			m->backfill_failed_term = raft_current_term(&n->raft);
		}
		m->step = MEMBER_IDLE;
		return;
	default: /* MEMBER_FORGET */
		m->step = MEMBER_IDLE;
		return;
	}
}

static void member_removed(struct raft_change *req, int status)
{
	struct node *n = req->data;
	struct member *m = &n->member;
	if (status != 0) {
		log_warn("member %llu: remove: %s", (unsigned long long)m->id,
			 raft_strerror(status));
		member_finish(n, member_raft_err(status));
		return;
	}
	log_info("member %llu removed", (unsigned long long)m->id);
	uint64_t id = m->id;
	member_finish(n, 0);
	member_propose_record(n, MEMBER_FORGET, id, NULL, NULL);
}

static void member_start_transfer(struct node *n, uint64_t target);

static void member_transferred(struct raft_transfer *req)
{
	struct node *n = req->data;
	struct member *m = &n->member;
	raft_id leader;
	const char *addr;
	raft_leader(&n->raft, &leader, &addr);
	bool moved = leader != 0 && leader != n->cfg.id && (m->target == 0 || leader == m->target);
	log_info("leadership transfer %s (leader %llu, attempt %u)", moved ? "done" : "failed",
		 (unsigned long long)leader, m->transfer_tries);
	if (!moved && node_is_leader(n) && m->transfer_tries < MEMBER_TRANSFER_TRIES) {
		member_start_transfer(n, m->target);
		return;
	}
	if (m->remove_after_transfer) /* the client asks the new leader again */
		member_finish(n, moved ? BERTH_ENOTLEADER : BERTH_ETIMEOUT);
	else
		member_finish(n, moved ? 0 : BERTH_ETIMEOUT);
}

static void member_start_transfer(struct node *n, uint64_t target)
{
	struct member *m = &n->member;
	m->transfer.data = n;
	m->target = target;
	m->transfer_tries++;
	m->step = MEMBER_TRANSFER;
	int rv = raft_transfer(&n->raft, &m->transfer, target, member_transferred);
	if (rv != 0) {
		log_warn("leadership transfer to %llu: %s", (unsigned long long)target,
			 raft_strerror(rv));
		/* RAFT_NOTFOUND: there is no other voter. */
		member_finish(n, rv == RAFT_NOTFOUND || rv == RAFT_BADID ? BERTH_EBADREQ
									 : member_raft_err(rv));
	}
}

/* An address in use by another member: peer in the configuration, client in the book. */
static int member_check_add(struct node *n, const struct msg_req *r)
{
	char host[CONFIG_ADDR_MAX];
	int port;
	const struct raft_configuration *conf = &n->raft.configuration;
	if (config_split_addr(n->member.peer, host, sizeof(host), &port) != 0 ||
	    config_split_addr(n->member.client, host, sizeof(host), &port) != 0)
		return BERTH_EBADREQ;
	if (conf->n >= WIRE_MAX_MEMBERS)
		return BERTH_ETOOLARGE;
	for (unsigned i = 0; i < conf->n; i++) {
		const struct raft_server *s = &conf->servers[i];
		const char *client = member_client_of(n, s->id);
		if (s->id == r->member) {
			if (s->role == RAFT_VOTER || strcmp(s->address, n->member.peer) != 0)
				return BERTH_EEXISTS; /* a spare with the same address: resume */
		} else if (strcmp(s->address, n->member.peer) == 0 ||
			   (client != NULL && strcmp(client, n->member.client) == 0)) {
			return BERTH_EEXISTS;
		}
	}
	return 0;
}

void member_request(struct node *n, struct pending *p)
{
	struct member *m = &n->member;
	const struct msg_req *r = &p->req;
	int rv;
	if (r->type == MSG_REQ_MEMBER_LIST) {
		struct wire_status st;
		if (!r->serializable && !node_is_leader(n)) {
			server_answer(p, BERTH_ENOTLEADER, NULL);
			return;
		}
		member_status(n, &st);
		server_answer(p, 0, &st);
		return;
	}
	/* A change waits for the book to hold every address this leader knows, so that a
	 * new leader without --bootstrap (a joined member) still knows them all. */
	bool busy =
		m->step != MEMBER_IDLE || (m->backfill_failed_term != raft_current_term(&n->raft) &&
					   member_backfill(n, false));
	if (!node_is_leader(n) || busy) {
		server_answer(p, node_is_leader(n) ? BERTH_EBUSY : BERTH_ENOTLEADER, NULL);
		return;
	}
	m->p = p;
	m->id = r->member;
	m->nowait = r->nowait;
	m->remove_after_transfer = false;
	m->transfer_tries = 0;
	/* Bounded and NUL-free (common/msg.h); empty (NULL) for remove and transfer. */
	snprintf(m->peer, sizeof(m->peer), "%.*s", (int)r->peer.n,
		 r->peer.n ? (const char *)r->peer.p : "");
	snprintf(m->client, sizeof(m->client), "%.*s", (int)r->client.n,
		 r->client.n ? (const char *)r->client.p : "");
	switch (r->type) {
	case MSG_REQ_MEMBER_ADD:
		if ((rv = member_check_add(n, r)) != 0) {
			log_warn("member add %llu %s %s: %s", (unsigned long long)m->id, m->peer,
				 m->client, err_text(rv));
			member_finish(n, rv);
			return;
		}
		log_info("member add %llu %s %s", (unsigned long long)m->id, m->peer, m->client);
		member_propose_record(n, MEMBER_RECORD, m->id, m->peer, m->client);
		return;
	case MSG_REQ_MEMBER_REMOVE:
		if (member_conf_get(n, m->id) == NULL) {
			member_finish(n, BERTH_ENOTFOUND);
			return;
		}
		if (m->id == n->cfg.id) {
			log_info("member remove %llu: this is the leader: transferring first",
				 (unsigned long long)m->id);
			m->remove_after_transfer = true;
			member_start_transfer(n, 0);
			return;
		}
		log_info("member remove %llu", (unsigned long long)m->id);
		m->change.data = n;
		m->step = MEMBER_REMOVE;
		if ((rv = raft_remove(&n->raft, &m->change, m->id, member_removed)) != 0) {
			log_warn("member remove %llu: %s", (unsigned long long)m->id,
				 raft_strerror(rv));
			member_finish(n, member_raft_err(rv));
		}
		return;
	default: { /* MSG_REQ_MEMBER_TRANSFER */
		const struct raft_server *s = m->id ? member_conf_get(n, m->id) : NULL;
		if (m->id == n->cfg.id) {
			member_finish(n, 0); /* it leads already */
		} else if (m->id != 0 && s == NULL) {
			member_finish(n, BERTH_ENOTFOUND);
		} else if (s != NULL && s->role != RAFT_VOTER) {
			member_finish(n, BERTH_EBADREQ);
		} else {
			member_start_transfer(n, m->id);
		}
		return;
	}
	}
}

/* An address the book lacks or has wrong, that this member knows: true, and with propose
 * the leader records it. */
static bool member_backfill(struct node *n, bool propose)
{
	const struct raft_configuration *conf = &n->raft.configuration;
	for (unsigned i = 0; i < conf->n; i++) {
		const struct raft_server *s = &conf->servers[i];
		const struct addrbook_entry *e = member_book_get(n, s->id);
		const char *client = s->id == n->cfg.id ? n->cfg.client_addr
				     : e != NULL        ? e->client
							: config_client_of(&n->cfg, s->id);
		if (client == NULL || (e != NULL && strcmp(e->peer, s->address) == 0 &&
				       strcmp(e->client, client) == 0))
			continue;
		if (!propose)
			return true;
		struct member *m = &n->member;
		m->id = s->id;
		snprintf(m->peer, sizeof(m->peer), "%s", s->address);
		snprintf(m->client, sizeof(m->client), "%s", client);
		log_info("recording the addresses of member %llu: %s %s", (unsigned long long)m->id,
			 m->peer, m->client);
		member_propose_record(n, MEMBER_BACKFILL, m->id, m->peer, m->client);
		return true;
	}
	return false;
}

void member_tick(struct node *n)
{
	struct member *m = &n->member;
	const struct raft_configuration *conf = &n->raft.configuration;
	bool in = member_conf_get(n, n->cfg.id) != NULL;
	if (m->in_config && !in && conf->n > 0)
		log_warn("this member is no longer in the configuration: it stays idle "
			 "(no raft traffic reaches it); stop it (docs/operations.md)");
	m->in_config = in;
	uint64_t term = raft_current_term(&n->raft);
	if (m->step != MEMBER_IDLE || !node_is_leader(n) || n->srv.ready_term != term ||
	    m->backfill_failed_term == term)
		return;
	uint64_t now = uv_now(n->loop);
	if (now - m->backfill_at < MEMBER_BACKFILL_EVERY_MS)
		return;
	m->backfill_at = now;
	if (member_backfill(n, true))
		m->backfill_at = 0; /* the next one as soon as this one is done */
}

void member_drain(struct node *n)
{
	struct member *m = &n->member;
	if (m->p != NULL) {
		server_answer(m->p, BERTH_ECLOSED, NULL);
		m->p = NULL;
	}
	m->step = MEMBER_IDLE;
}
