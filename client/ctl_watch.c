/* client/ctl_watch.c: berthctl watch: stream changes as text lines or JSON lines. */
#include "client/ctl.h"

#include "client/txnjson.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

/* How long one wait lasts before the next (a timeout just waits again). */
#define CTL_WATCH_WAIT_MS 1000

static void ctl_watch_text(const struct berth_event *e)
{
	const struct reply_kv *kv = &e->kv;
	printf("%" PRId64 " %s ", kv->mod_rev, e->type == MSG_OP_PUT ? "put" : "del");
	ctl_escape(stdout, kv->key.p, kv->key.n);
	if (e->type == MSG_OP_PUT) {
		putchar(' ');
		ctl_escape(stdout, kv->value.p, kv->value.n);
	}
	putchar('\n');
}

static int ctl_watch_json(const struct berth_watch_batch *bt, bool keys_only)
{
	json_t *evs = json_array();
	json_t *o = json_pack("{sIso}", "revision", (json_int_t)bt->rev, "events", evs);
	if (o == NULL)
		return -1;
	for (size_t i = 0; i < bt->nevents; i++) {
		const struct berth_event *e = &bt->events[i];
		json_t *j =
			json_pack("{sssIsIsIsI}", "type", e->type == MSG_OP_PUT ? "put" : "delete",
				  "create_revision", (json_int_t)e->kv.create_rev, "mod_revision",
				  (json_int_t)e->kv.mod_rev, "version", (json_int_t)e->kv.version,
				  "lease", (json_int_t)e->kv.lease);
		if (j == NULL || txnjson_set_bytes(j, "key", e->kv.key.p, e->kv.key.n) != 0 ||
		    (e->type == MSG_OP_PUT && !keys_only &&
		     txnjson_set_bytes(j, "value", e->kv.value.p, e->kv.value.n) != 0) ||
		    json_array_append_new(evs, j) != 0) {
			json_decref(o);
			return -1;
		}
	}
	int rv = json_dumpf(o, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(o);
	return rv;
}

int ctl_watch(struct ctl *c, struct berth *b, const char *key, const char *end)
{
	struct berth_watch_options o = {.key = key,
					.klen = strlen(key),
					.prefix = c->prefix,
					.keys_only = c->keys_only,
					.rev = c->rev};
	struct berth_watch *w;
	uint64_t seen = 0;
	bool warned = false;
	int rv;

	if (end != NULL) {
		o.end = end[0] ? end : "";
		o.elen = end[0] ? strlen(end) : 1; /* "" means to the last key */
	}
	if ((rv = berth_watch_open(b, &o, &w)) != 0) {
		fprintf(stderr, "berthctl: watch: %s\n", berth_errmsg(b));
		return err_indeterminate(rv) ? 2 : 1;
	}
	if (!c->json)
		fprintf(stderr, "watching from revision %" PRIu64 "\n", berth_watch_rev(w));
	fflush(stderr);
	while (c->limit == 0 || seen < c->limit) {
		struct berth_watch_batch bt;
		rv = berth_watch_next(w, CTL_WATCH_WAIT_MS, &bt);
		if (rv == BERTH_ETIMEOUT)
			continue;
		if (rv == BERTH_ENOCONN) {
			if (!warned)
				fprintf(stderr, "berthctl: watch: %s (retrying)\n",
					berth_errmsg(b));
			warned = true;
			continue;
		}
		if (rv != 0)
			break;
		warned = false;
		if (c->json && bt.nevents > 0 && ctl_watch_json(&bt, c->keys_only) != 0)
			rv = BERTH_ENOMEM;
		for (size_t i = 0; !c->json && i < bt.nevents; i++)
			ctl_watch_text(&bt.events[i]);
		seen += bt.nevents;
		berth_watch_batch_free(&bt);
		fflush(stdout);
		if (rv != 0)
			break;
	}
	if (rv == BERTH_ECOMPACTED)
		fprintf(stderr,
			"berthctl: watch: %s: compacted up to %" PRIu64
			"; re-read and watch from there\n",
			berth_errmsg(b), berth_watch_compacted(w));
	else if (rv != 0)
		fprintf(stderr, "berthctl: watch: %s (last revision delivered: %" PRIu64 ")\n",
			berth_errmsg(b), berth_watch_rev(w));
	berth_watch_close(w);
	return rv == 0 ? 0 : 1;
}
