/* client/policy.c: what a call does after each attempt, and how it ends; no I/O. */
#include "client/policy.h"

#include "common/err.h"

#include <string.h>

void policy_start(struct policy_call *p, enum policy_kind kind, bool session)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->session = session && kind == POLICY_WRITE;
}

/* Whether the request changes something: then an attempt lost may have taken effect. */
static bool policy_changes(const struct policy_call *p)
{
	return p->kind == POLICY_WRITE || p->kind == POLICY_ONCE;
}

/* The leader's address from a BERTH_ENOTLEADER answer, if usable. */
static bool policy_hint(struct policy_call *p, const struct wire_resp *r, uint32_t max_redirects)
{
	char addr[NET_HOST_MAX + 10], err[NET_ERR_BYTES];
	if (r->leader.n == 0 || r->leader.n >= sizeof(addr) || p->redirects >= max_redirects)
		return false;
	memcpy(addr, r->leader.p, r->leader.n);
	addr[r->leader.n] = '\0';
	if (net_endpoint_parse(addr, &p->hint, err, sizeof(err)) != 0)
		return false;
	if (p->have_refused && strcmp(p->hint.host, p->refused.host) == 0 &&
	    strcmp(p->hint.port, p->refused.port) == 0)
		return false; /* the dead leader, named by a follower that has not noticed yet */
	p->redirects++;
	return true;
}

enum policy_verdict policy_response(struct policy_call *p, const struct wire_resp *r,
				    uint32_t max_redirects, int *err)
{
	int e = r->err;
	*err = 0;
	p->have_hint = false;
	if (e == 0) {
		int re = r->has_reply ? r->reply.err : 0;
		/* A retry refused by its session: the first attempt may have been applied,
		 * and nothing can tell any more. */
		if (p->session && p->maybe && (re == BERTH_ESESSION || re == BERTH_ESTALESEQ))
			return POLICY_FAIL;
		if (p->session && re == BERTH_ESESSION)
			return POLICY_RESESSION;
		*err = re;
		return POLICY_DONE;
	}
	if (e == BERTH_EBUSY || e == BERTH_ENOQUORUM) {
		p->last = e;
		return POLICY_WAIT;
	}
	if (e == BERTH_ENOTLEADER) {
		p->last = e;
		p->have_hint = policy_hint(p, r, max_redirects);
		if (p->have_hint)
			return POLICY_REDIRECT;
		p->pace.alive = true;
		return POLICY_NEXT;
	}
	if (err_indeterminate(e)) {
		p->maybe |= policy_changes(p);
		return POLICY_NEXT;
	}
	p->last = e;
	return POLICY_FAIL;
}

void policy_lost(struct policy_call *p, bool sent)
{
	p->sent |= sent;
	p->maybe |= sent && policy_changes(p);
}

bool policy_may_send(const struct policy_call *p)
{
	return !(p->maybe && !p->session);
}

void policy_hint_refused(struct policy_call *p, const struct net_endpoint *ep)
{
	p->refused = *ep;
	p->have_refused = true;
}

bool policy_pace_failed(struct policy_pace *pace, size_t nendpoints)
{
	if (++pace->fails < nendpoints)
		return false;
	pace->fails = 0;
	pace->rounds++;
	return true;
}

uint32_t policy_rand(uint64_t *rng)
{
	uint64_t x = *rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*rng = x;
	return (uint32_t)(x >> 32);
}

uint32_t policy_backoff_ms(unsigned round, uint64_t *rng)
{
	uint32_t ms = POLICY_BACKOFF_MIN_MS;
	for (unsigned i = 1; i < round && ms < POLICY_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > POLICY_BACKOFF_MAX_MS)
		ms = POLICY_BACKOFF_MAX_MS;
	return ms / 2 + policy_rand(rng) % (ms / 2 + 1);
}

uint32_t policy_pace_backoff_ms(struct policy_pace *pace, uint64_t *rng)
{
	uint32_t ms = policy_backoff_ms(pace->rounds, rng);
	if (pace->alive && ms > POLICY_NOLEADER_BACKOFF_MAX_MS)
		ms = POLICY_NOLEADER_BACKOFF_MAX_MS / 2 +
		     policy_rand(rng) % (POLICY_NOLEADER_BACKOFF_MAX_MS / 2 + 1);
	pace->alive = false;
	return ms;
}

int policy_give_up(const struct policy_call *p, bool refused, const char **what)
{
	*what = NULL;
	if (p->maybe) {
		*what = "the write may have been applied";
		return refused ? BERTH_EUNAVAILABLE : BERTH_ETIMEOUT;
	}
	if (p->last != 0)
		return p->last;
	if (p->sent) {
		*what = "sent, no answer before the deadline";
		return BERTH_ETIMEOUT;
	}
	*what = "no member reachable";
	return BERTH_ENOCONN;
}

int policy_hello_refused(int err)
{
	return err == BERTH_EUNAUTHORIZED || err == BERTH_EPROTO ? err : BERTH_ENOCONN;
}

int policy_session_failed(int err)
{
	return err_indeterminate(err) ? BERTH_ENOCONN : err;
}
