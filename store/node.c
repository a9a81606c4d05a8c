/* store/node.c: one member: state machine, raft on raft_uv, the server, one loop. */
#include "store/node.h"

#include "store/kvmark.h"

#include "common/err.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void node_fatal(struct node *n, const char *what, int rv)
{
	const char *why = rfsm_fatal(&n->rfsm) ? n->rfsm.errmsg : "";
	log_error("fatal: %s: %d (%s%s%s); exiting so that the supervisor restarts this member",
		  what, rv, err_known(rv) ? err_name(rv) : raft_strerror(rv), *why ? ": " : "",
		  why);
	/* The database holds exactly the committed batches and raft's log is durable:
	 * restarting replays what is missing (store/fsm.h). */
	exit(1);
}

bool node_is_leader(struct node *n)
{
	return !n->stopping && raft_state(&n->raft) == RAFT_LEADER;
}

const char *node_leader_client(struct node *n)
{
	raft_id id;
	const char *addr;
	raft_leader(&n->raft, &id, &addr);
	if (id == 0 || id == n->cfg.id)
		return NULL;
	return member_client_of(n, id);
}

void node_header(struct node *n, struct wire_header *h)
{
	raft_id id;
	const char *addr;
	raft_leader(&n->raft, &id, &addr);
	h->rev = fsm_revision(&n->fsm);
	h->term = raft_current_term(&n->raft);
	h->index = fsm_applied(&n->fsm);
	h->member = n->cfg.id;
	h->leader = id;
}

static void node_idle(uv_idle_t *idle)
{
	(void)idle; /* its only job is to keep the loop from blocking in poll */
}

void node_kick(struct node *n)
{
	if (!n->stopping && !uv_is_active((uv_handle_t *)&n->kick))
		uv_idle_start(&n->kick, node_idle);
}

/* The end of every loop iteration: commit the batch, release responses, drop replies
 * applied before the previous iteration ended (their callbacks have fired by now). */
static void node_check(uv_check_t *check)
{
	struct node *n = check->data;
	if (n->stopping)
		return;
	if (rfsm_flush(&n->rfsm) != 0)
		node_fatal(n, "state machine", rfsm_fatal(&n->rfsm));
	server_iteration(n);
	ttl_tick(n);
	compactor_tick(n);
	member_tick(n);
	if (n->fsm.kv.base && n->rfsm.snapshot_on_disk) {
		char err[256];
		if (kvmark_base_clear(n->state_dir, err, sizeof(err)) != 0)
			log_warn("%s", err);
		else
			log_info("a raft snapshot now holds the restored state: the next start "
				 "runs the state database without sync (docs/store.md)");
		n->fsm.kv.base = false;
	}
	rfsm_drop_upto(&n->rfsm, n->applied_seen);
	n->applied_seen = raft_last_applied(&n->raft);
	server_flush_output(n);
	/* Work that raft's own handles may have added after this hook ran keeps the loop
	 * turning; otherwise let it sleep until the next event. */
	if (n->fsm.batch != NULL || n->srv.commit_wait != NULL || n->srv.reads_next != NULL ||
	    n->rfsm.nreplies > 0)
		node_kick(n);
	else if (uv_is_active((uv_handle_t *)&n->kick))
		uv_idle_stop(&n->kick);
}

static void node_raft_closed(struct raft *r)
{
	struct node *n = r->data;
	raft_uv_close(&n->io);
	raft_uv_tcp_close(&n->transport);
	server_drain(n);
	member_drain(n);
	if (rfsm_flush(&n->rfsm) != 0)
		log_error("final commit: %s", n->rfsm.errmsg);
	rfsm_close(&n->rfsm);
	if (fsm_close(&n->fsm) != 0)
		log_error("%s: the next start after a machine restart rebuilds the state",
			  n->fsm.errmsg);
	ttl_close(&n->ttl);
	uv_close((uv_handle_t *)&n->check, NULL);
	uv_close((uv_handle_t *)&n->kick, NULL);
	/* A second SIGTERM while the loop winds down must not kill the process by signal. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	uv_close((uv_handle_t *)&n->sigterm, NULL);
	uv_close((uv_handle_t *)&n->sigint, NULL);
	if (n->srv.batches > 0)
		log_info("as leader: %llu writes proposed in %llu batch entries (%.1f per entry)",
			 (unsigned long long)n->srv.batched, (unsigned long long)n->srv.batches,
			 (double)n->srv.batched / (double)n->srv.batches);
	log_info("stopped");
}

void node_stop(struct node *n)
{
	if (n->stopping)
		return;
	n->stopping = true;
	log_info("stopping");
	server_stop(n);
	raft_close(&n->raft, node_raft_closed);
}

static void node_signal(uv_signal_t *s, int signum)
{
	struct node *n = s->data;
	log_info("signal %d", signum);
	node_stop(n);
}

static int node_mkdir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		log_error("mkdir %s: %s", path, strerror(errno));
		return BERTH_EIO;
	}
	return 0;
}

static int node_bootstrap(struct node *n)
{
	struct raft_configuration conf;
	int rv;
	if (n->cfg.nmembers == 0)
		return 0;
	raft_configuration_init(&conf);
	for (unsigned i = 0; i < n->cfg.nmembers; i++) {
		rv = raft_configuration_add(&conf, n->cfg.members[i].id, n->cfg.members[i].peer,
					    RAFT_VOTER);
		if (rv != 0) {
			raft_configuration_close(&conf);
			log_error("bootstrap configuration: %s", raft_strerror(rv));
			return BERTH_EINTERNAL;
		}
	}
	rv = raft_bootstrap(&n->raft, &conf);
	raft_configuration_close(&conf);
	if (rv == RAFT_CANTBOOTSTRAP) {
		log_info("existing raft state: not bootstrapping");
		return 0;
	}
	if (rv != 0) {
		log_error("bootstrap: %s", raft_strerror(rv));
		return BERTH_EIO;
	}
	log_info("bootstrapped a cluster of %u members", n->cfg.nmembers);
	return 0;
}

/* true when dir is missing or holds nothing. */
static bool node_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;
	if (d == NULL)
		return true;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	closedir(d);
	return empty;
}

int node_start(struct node *n, uv_loop_t *loop, const struct config *cfg)
{
	struct fsm_config fc;
	int rv;

	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->cfg = *cfg;
	snprintf(n->raft_dir, sizeof(n->raft_dir), "%s/raft", cfg->data);
	snprintf(n->state_dir, sizeof(n->state_dir), "%s/state", cfg->data);
	/* Refused before anything is created (the same check after raft_start covers a raft
	 * directory with files but no configuration). */
	if (cfg->nmembers == 0 && !cfg->join && node_dir_empty(n->raft_dir)) {
		log_error("%s holds no raft log: pass --bootstrap to create a cluster, or --join "
			  "to be added to a running one (berthctl member add)",
			  n->raft_dir);
		return BERTH_EBADREQ;
	}
	if (node_mkdir(cfg->data) || node_mkdir(n->raft_dir))
		return BERTH_EIO;
	config_fsm(cfg, &fc);
	if ((rv = fsm_open(&n->fsm, n->state_dir, &fc)) != 0) {
		log_error("%s", n->fsm.errmsg);
		return rv;
	}
	if (n->fsm.kv.discarded)
		log_warn("%s: the machine restarted while the state database was open without "
			 "sync: discarded; rebuilding it from the raft snapshot and log",
			 n->state_dir);
	else if (n->fsm.kv.base)
		log_info("%s holds a restored backup the raft log lacks: synced commits until "
			 "a raft snapshot holds it",
			 n->state_dir);
	rfsm_init(&n->rfsm, &n->fsm, (unsigned)cfg->max_batch);
	member_init(n);

	/* raft_uv over TCP, with the settings RAFT-NOTES.md measured. */
	n->transport.version = 1;
	n->transport.data = NULL;
	if ((rv = raft_uv_tcp_init(&n->transport, loop)) != 0) {
		log_error("raft_uv_tcp_init: %s", raft_strerror(rv));
		goto err_after_fsm;
	}
	if ((rv = raft_uv_init(&n->io, loop, n->raft_dir, &n->transport)) != 0) {
		log_error("raft_uv_init %s: %s", n->raft_dir, n->io.errmsg);
		goto err_after_transport;
	}
	/* Auto-recovery silently drops committed entries from a corrupt segment: refuse. */
	raft_uv_set_auto_recovery(&n->io, false);
	/* libraft resends a snapshot on every heartbeat while a follower installs it. */
	if (snapguard_install(&n->snapguard, &n->io) != 0)
		log_warn("snapshot guard: too many nodes in one process; copies not limited");
	if ((rv = raft_init(&n->raft, &n->io, &n->rfsm.raft, cfg->id, cfg->peer_addr)) != 0) {
		log_error("raft_init: %s", raft_errmsg(&n->raft));
		goto err_after_io;
	}
	n->raft.data = n;
	rfsm_attach(&n->rfsm, &n->raft);
	raft_set_election_timeout(&n->raft, (unsigned)cfg->election_ms);
	raft_set_heartbeat_timeout(&n->raft, (unsigned)cfg->heartbeat_ms);
	raft_set_pre_vote(&n->raft, true);
	raft_set_max_inflight_entries(&n->raft, (unsigned)cfg->max_inflight);
	raft_set_snapshot_threshold(&n->raft, (unsigned)cfg->snapshot_threshold);
	raft_set_snapshot_trailing(&n->raft, (unsigned)cfg->snapshot_trailing);
	if (node_bootstrap(n) != 0)
		goto err_after_raft;
	if ((rv = raft_start(&n->raft)) != 0) {
		log_error("raft_start: %s: %s", raft_strerror(rv), raft_errmsg(&n->raft));
		goto err_after_raft;
	}
	/* An empty log without --join would wait forever for a leader nobody told about it. */
	if (n->raft.configuration.n == 0 && !cfg->join) {
		log_error("%s holds no raft log: pass --bootstrap to create a cluster, or --join "
			  "to be added to a running one (berthctl member add)",
			  n->raft_dir);
		goto err_after_raft;
	}
	if (n->raft.configuration.n == 0)
		log_info("joining: waiting for the leader to add this member (berthctl member add "
			 "%llu %s %s)",
			 (unsigned long long)cfg->id, cfg->peer_addr, cfg->client_addr);
	uv_check_init(loop, &n->check);
	n->check.data = n;
	uv_check_start(&n->check, node_check);
	uv_idle_init(loop, &n->kick);
	n->kick.data = n;
	uv_signal_init(loop, &n->sigterm);
	uv_signal_init(loop, &n->sigint);
	n->sigterm.data = n->sigint.data = n;
	uv_signal_start(&n->sigterm, node_signal, SIGTERM);
	uv_signal_start(&n->sigint, node_signal, SIGINT);
	if (server_start(n) != 0) {
		node_stop(n);
		return BERTH_EIO;
	}
	log_info("member %llu: raft %s, clients %s, data %s", (unsigned long long)cfg->id,
		 cfg->peer_addr, cfg->client_addr, cfg->data);
	return 0;

err_after_raft:
	n->stopping = true;
	uv_check_init(loop, &n->check);
	uv_idle_init(loop, &n->kick);
	uv_signal_init(loop, &n->sigterm);
	uv_signal_init(loop, &n->sigint);
	raft_close(&n->raft, node_raft_closed);
	return BERTH_EIO;
err_after_io:
	raft_uv_close(&n->io);
err_after_transport:
	raft_uv_tcp_close(&n->transport);
err_after_fsm:
	rfsm_close(&n->rfsm);
	fsm_close(&n->fsm);
	return BERTH_EIO;
}
