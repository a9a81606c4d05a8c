/* store/member.h: cluster membership on a member: the members' client addresses, and the
 * MEMBER_LIST, MEMBER_ADD, MEMBER_REMOVE and MEMBER_TRANSFER requests (docs/protocol.md).
 *
 * Addresses. A member's client address comes from the address book (store/addrbook.h,
 * replicated through the log), falling back to --bootstrap; this member's own is its
 * --client-addr. The leader keeps the book complete: once it has confirmed its term it
 * records every configuration member the book lacks (from --bootstrap) and its own
 * addresses when they differ from the book's, one entry at a time.
 *
 * Changes. libraft accepts one configuration change at a time, and so does this module:
 * a request while another runs (or while raft still commits one) answers BERTH_EBUSY.
 *   add       records the new member's addresses through the log, raft_add (a spare),
 *             then raft_assign to voter: libraft replicates to it in catch-up rounds and
 *             promotes it once a round completes within an election timeout. The answer
 *             comes once the promotion commits, or (nowait) once it has started. A member
 *             that does not catch up (not started, unreachable: libraft gives up after
 *             5 s without progress) stays a spare and the answer is BERTH_ETIMEOUT; the
 *             same add again resumes the promotion.
 *   remove    raft_remove; the answer comes once the new configuration commits, then the
 *             record is forgotten. Removing the leader itself first transfers leadership
 *             and answers BERTH_ENOTLEADER naming the new leader, where the client sends
 *             the request again.
 *   transfer  raft_transfer to a voter (0: raft picks the most up-to-date); the answer
 *             comes once another member leads, or BERTH_ETIMEOUT when three attempts of
 *             an election timeout each ended without one.
 * Successful answers carry this member's status (common/wire.h) with the configuration.
 * Errors: BERTH_ENOTLEADER (a follower), BERTH_EBUSY, BERTH_EEXISTS (an id or address
 * already in use), BERTH_ENOTFOUND (no such member), BERTH_EBADREQ (a malformed address,
 * the last voter, a transfer to a non-voter), BERTH_EUNAVAILABLE (leadership lost
 * meanwhile: the outcome is unknown). */
#ifndef BERTH_STORE_MEMBER_H
#define BERTH_STORE_MEMBER_H

#include "common/wire.h"
#include "store/addrbook.h"

#include <raft.h>
#include <stdbool.h>

struct node;
struct pending;

enum member_step {
	MEMBER_IDLE = 0,
	MEMBER_RECORD,   /* add: the address record is being committed */
	MEMBER_ADD,      /* add: raft_add (spare) in flight */
	MEMBER_PROMOTE,  /* add: raft_assign (voter) in flight */
	MEMBER_REMOVE,   /* raft_remove in flight */
	MEMBER_FORGET,   /* remove: the record is being forgotten */
	MEMBER_TRANSFER, /* raft_transfer in flight (transfer, or remove of the leader) */
	MEMBER_BACKFILL  /* the leader records an address the book lacks */
};

struct member {
	/* The address book as of the last commit, reloaded when the applied index moves. */
	struct addrbook_entry book[ADDRBOOK_MAX];
	unsigned nbook;
	uint64_t book_applied; /* fsm_applied at the last load; UINT64_MAX: not loaded */
	/* The change in progress. */
	enum member_step step;
	struct pending *p; /* owned: the request to answer, NULL once answered */
	uint64_t id;
	char peer[MSG_MEMBER_ADDR_MAX + 1];
	char client[MSG_MEMBER_ADDR_MAX + 1];
	bool nowait;
	bool remove_after_transfer;
	uint64_t target;         /* transfer: the member to lead (0: raft picks) */
	unsigned transfer_tries; /* attempts so far (at most 3) */
	struct raft_change change;
	struct raft_transfer transfer;
	uint64_t backfill_failed_term; /* a backfill failed in this term: no more this term */
	uint64_t backfill_at;          /* uv_now of the last backfill check */
	bool in_config;                /* this member was in the last configuration seen */
};

void member_init(struct node *n);
/* The client address of member id (this member's own, the book's, then --bootstrap's),
 * or NULL when none is known. Valid until the next loop iteration. */
const char *member_client_of(struct node *n, uint64_t id);
/* This member's status with the configuration and every member's client address. */
void member_status(struct node *n, struct wire_status *st);
/* Handles a MEMBER_* request; takes ownership of p (answered now or later). */
void member_request(struct node *n, struct pending *p);
/* Once per loop iteration: the leader's address backfill; notices leaving the
 * configuration (logged once: a removed member stays idle, see docs/operations.md). */
void member_tick(struct node *n);
/* After raft has closed: frees the request still held (nobody is left to answer). */
void member_drain(struct node *n);

#endif
