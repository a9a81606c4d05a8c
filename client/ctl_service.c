/* client/ctl_service.c: berthctl service create, update, delete, list and describe: the
 * service record changed by compare-and-swap (docs/commits.md, "Services"); a new task
 * definition starts a new PRIMARY deployment; delete waits for the tasks to stop. */
#include "client/ctl_sched.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const ctl_svc_status[] = {"ACTIVE", "DRAINING", "INACTIVE"};

struct ctl_svc_edit {
	enum { SVC_CREATE, SVC_UPDATE, SVC_DELETE } op;
	struct model_service want;   /* create: the new record */
	bool set_count, set_taskdef; /* update */
	uint32_t count;
	char family[MODEL_NAME_MAX + 1];
	uint32_t revision;
	uint64_t rng;
	struct model_service after; /* the record written (or found) */
	size_t unstopped;           /* delete: the service's tasks not STOPPED */
};

static int ctl_svc_name(struct ctl *c)
{
	const char *why = model_name_check(MODEL_NAME, c->pos[0]);
	if (why != NULL)
		return ctl_usage_error(c, "service \"%s\": %s", c->pos[0], why);
	return ctl_cluster_check(c);
}

/* The service's tasks that have not stopped: counted into e->unstopped. */
static int ctl_svc_task(struct ctl *c, void *arg, const struct reply_kv *kv)
{
	size_t *by = arg; /* [4] by last status */
	struct model_task t;
	char err[256], group[MODEL_GROUP_MAX + 1];
	if (model_task_decode(kv->value.p, kv->value.n, &t, err, sizeof(err)) != 0) {
		ctl_warn_record(c, kv, err);
		return 0;
	}
	snprintf(group, sizeof(group), "service:%s", c->pos[0]);
	if (strcmp(t.group, group) == 0)
		by[t.last_status]++;
	model_task_free(&t);
	return 0;
}

static int ctl_svc_tasks(struct ctl *c, struct berth *b, size_t by[4])
{
	char prefix[MODEL_KEY_MAX];
	memset(by, 0, 4 * sizeof(size_t));
	model_key_prefix(prefix, MODEL_KEY_TASK, c->cluster, NULL);
	return ctl_range_all(c, b, prefix, false, ctl_svc_task, by, NULL);
}

/* A new PRIMARY deployment of family:revision for desired tasks; the old PRIMARY becomes
 * ACTIVE, and when the list is full the oldest ACTIVE one without tasks makes room. */
static int ctl_svc_deploy(struct ctl *c, struct ctl_svc_edit *e, struct model_service *s)
{
	struct model_deployment *d;
	for (size_t i = 0; i < s->ndeployments; i++)
		s->deployments[i].status = MODEL_DEPLOYMENT_ACTIVE;
	if (s->ndeployments == MODEL_DEPLOYMENTS_MAX) {
		size_t i = 0;
		while (i < s->ndeployments &&
		       (s->deployments[i].running > 0 || s->deployments[i].pending > 0))
			i++;
		if (i == s->ndeployments)
			return ctl_fail(
				c, BERTH_EBUSY,
				"service %s: %d deployments still have tasks; wait for them",
				s->name, MODEL_DEPLOYMENTS_MAX);
		free(s->deployments[i].id);
		free(s->deployments[i].family);
		memmove(&s->deployments[i], &s->deployments[i + 1],
			(s->ndeployments - i - 1) * sizeof(*d));
		s->ndeployments--;
	}
	if ((d = realloc(s->deployments, (s->ndeployments + 1) * sizeof(*d))) == NULL)
		return ctl_fail(c, BERTH_ENOMEM, "out of memory");
	s->deployments = d;
	d = &d[s->ndeployments];
	memset(d, 0, sizeof(*d));
	char id[MODEL_TASK_ID_LEN + 1];
	model_id_new(&e->rng, id);
	char *fam = strdup(e->family), *nid = strdup(id), *sfam = strdup(e->family);
	if (fam == NULL || nid == NULL || sfam == NULL) {
		free(fam);
		free(nid);
		free(sfam);
		return ctl_fail(c, BERTH_ENOMEM, "out of memory");
	}
	*d = (struct model_deployment){.id = nid,
				       .family = fam,
				       .revision = e->revision,
				       .status = MODEL_DEPLOYMENT_PRIMARY,
				       .desired = s->desired_count,
				       .created_ms = ctl_now_ms()};
	s->ndeployments++;
	free(s->family);
	s->family = sfam;
	s->revision = e->revision;
	return 0;
}

static int ctl_svc_edit(struct ctl *c, struct berth *b, void *arg, const struct reply_kv *kv,
			struct mp_buf *out)
{
	struct ctl_svc_edit *e = arg;
	struct model_service *s = &e->after;
	char err[256];
	int code = 0;
	model_service_free(s);
	if (kv != NULL && model_service_decode(kv->value.p, kv->value.n, s, err, sizeof(err)))
		return ctl_fail(c, BERTH_ECORRUPT, "service %s: %s", c->pos[0], err);
	bool live = kv != NULL && s->status != MODEL_SERVICE_INACTIVE;
	if (e->op == SVC_CREATE) {
		if (live)
			return ctl_fail(c, BERTH_EEXISTS, "service %s already exists in cluster %s",
					c->pos[0], c->cluster);
		int rv = model_service_encode(&e->want, out, err, sizeof(err));
		return rv == 0 ? 0 : ctl_fail(c, rv, "service %s: %s", c->pos[0], err);
	}
	if (kv == NULL)
		return ctl_fail(c, BERTH_ENOTFOUND, "service %s not found in cluster %s", c->pos[0],
				c->cluster);
	if (e->op == SVC_DELETE) {
		size_t by[4];
		if (!live)
			return 0; /* INACTIVE already */
		if (s->desired_count > 0)
			return ctl_fail(c, BERTH_EBADREQ,
					"service %s wants %" PRIu32 " tasks: scale it to 0 first "
					"(service update %s --count 0)",
					c->pos[0], s->desired_count, c->pos[0]);
		if ((code = ctl_svc_tasks(c, b, by)) != 0)
			return code;
		e->unstopped = by[0] + by[1] + by[2];
		if (e->unstopped > 0)
			return ctl_fail(c, BERTH_EBUSY,
					"service %s: %zu of its tasks have not stopped yet; try "
					"again once they have",
					c->pos[0], e->unstopped);
		s->status = MODEL_SERVICE_INACTIVE;
	} else {
		if (!live)
			return ctl_fail(c, BERTH_EBADREQ, "service %s is INACTIVE", c->pos[0]);
		if (e->set_count) {
			s->desired_count = e->count;
			for (size_t i = 0; i < s->ndeployments; i++)
				if (s->deployments[i].status == MODEL_DEPLOYMENT_PRIMARY)
					s->deployments[i].desired = e->count;
		}
		if (e->set_taskdef &&
		    (strcmp(s->family, e->family) != 0 || s->revision != e->revision) &&
		    (code = ctl_svc_deploy(c, e, s)) != 0)
			return code;
	}
	int rv = model_service_encode(s, out, err, sizeof(err));
	return rv == 0 ? 0 : ctl_fail(c, rv, "service %s: %s", c->pos[0], err);
}

/* --taskdef resolved to a registered family:revision (loaded once: it exists). */
static int ctl_svc_taskdef(struct ctl *c, struct berth *b, struct ctl_svc_edit *e)
{
	struct model_taskdef td = {0};
	int code = ctl_taskdef_ref(c, c->taskdef, e->family, &e->revision);
	if (code == 0 && (code = ctl_taskdef_load(c, b, e->family, e->revision, &td)) == 0)
		e->revision = td.revision;
	model_taskdef_free(&td);
	return code;
}

static void ctl_svc_print(const struct model_service *s, const size_t *by)
{
	printf("service %s (cluster %s): %s\n  taskdef %s:%" PRIu32 "  desired %" PRIu32
	       "\n  deployment configuration: minimum healthy %" PRIu32 "%%, maximum %" PRIu32
	       "%%\n",
	       s->name, s->cluster, ctl_svc_status[s->status], s->family, s->revision,
	       s->desired_count, s->config.min_healthy_percent, s->config.max_percent);
	ctl_print_placement(s->strategies, s->nstrategies, s->constraints, s->nconstraints);
	for (size_t i = 0; i < s->ndeployments; i++) {
		const struct model_deployment *d = &s->deployments[i];
		printf("  deployment %s %-7s %s:%" PRIu32 "  desired %" PRIu32 " running %" PRIu32
		       " pending %" PRIu32 "\n",
		       d->id, d->status == MODEL_DEPLOYMENT_PRIMARY ? "PRIMARY" : "ACTIVE",
		       d->family, d->revision, d->desired, d->running, d->pending);
	}
	if (by != NULL)
		printf("  tasks: %zu provisioning, %zu pending, %zu running, %zu stopped\n", by[0],
		       by[1], by[2], by[3]);
}

static int ctl_svc_run(struct ctl *c, struct berth *b, struct ctl_svc_edit *e)
{
	char key[MODEL_KEY_MAX];
	bool written;
	model_key_service(key, c->cluster, c->pos[0]);
	int code = ctl_cas_edit(c, b, key, ctl_svc_edit, e, &written);
	if (code == 0 && c->json)
		ctl_json_print(model_service_to_json(e->op == SVC_CREATE ? &e->want : &e->after));
	else if (code == 0 && e->op == SVC_CREATE)
		ctl_svc_print(&e->want, NULL);
	else if (code == 0 && !written)
		printf("service %s was already INACTIVE\n", c->pos[0]);
	else if (code == 0)
		ctl_svc_print(&e->after, NULL);
	model_service_free(&e->want);
	model_service_free(&e->after);
	return code;
}

int ctl_service_create(struct ctl *c, struct berth *b)
{
	struct ctl_svc_edit e = {.op = SVC_CREATE, .rng = ctl_seed()};
	struct model_service *s = &e.want;
	uint32_t minh = 100, maxp = 200;
	int code = ctl_svc_name(c);
	if (code == 0 && (c->taskdef == NULL || c->count == NULL))
		code = ctl_usage_error(c, "service create: --%s is required",
				       c->taskdef == NULL ? "taskdef" : "count");
	if (code == 0)
		code = ctl_uint_arg(c, "--count", c->count, 0, MODEL_COUNT_MAX, &e.count);
	if (code == 0 && c->min_healthy)
		code = ctl_uint_arg(c, "--min-healthy", c->min_healthy, 0, 100, &minh);
	if (code == 0 && c->max_percent)
		code = ctl_uint_arg(c, "--max-percent", c->max_percent, 100, 1000, &maxp);
	if (code == 0 && minh == 100 && maxp == 100)
		code = ctl_usage_error(c, "--max-percent: must be above 100 when --min-healthy is "
					  "100 (no task could ever be replaced)");
	s->strategies = calloc(MODEL_STRATEGIES_MAX, sizeof(*s->strategies));
	s->constraints = calloc(MODEL_CONSTRAINTS_MAX, sizeof(*s->constraints));
	s->name = strdup(c->pos[0]);
	s->cluster = strdup(c->cluster);
	if (code == 0 && (!s->strategies || !s->constraints || !s->name || !s->cluster))
		code = ctl_usage_error(c, "out of memory");
	if (code == 0)
		code = ctl_placement(c, s->strategies, &s->nstrategies, s->constraints,
				     &s->nconstraints);
	if (code == 0)
		code = ctl_svc_taskdef(c, b, &e);
	if (code != 0) {
		model_service_free(s);
		return code;
	}
	s->desired_count = e.count;
	s->config = (struct model_deployment_config){minh, maxp};
	s->status = MODEL_SERVICE_ACTIVE;
	s->created_ms = ctl_now_ms();
	if ((code = ctl_svc_deploy(c, &e, s)) != 0) {
		model_service_free(s);
		return code;
	}
	return ctl_svc_run(c, b, &e);
}

int ctl_service_update(struct ctl *c, struct berth *b)
{
	struct ctl_svc_edit e = {.op = SVC_UPDATE, .rng = ctl_seed()};
	int code = ctl_svc_name(c);
	if (code == 0 && c->taskdef == NULL && c->count == NULL)
		code = ctl_usage_error(c, "service update: --count, --taskdef or both");
	if (code == 0 && (e.set_count = c->count != NULL))
		code = ctl_uint_arg(c, "--count", c->count, 0, MODEL_COUNT_MAX, &e.count);
	if (code == 0 && (e.set_taskdef = c->taskdef != NULL))
		code = ctl_svc_taskdef(c, b, &e);
	return code != 0 ? code : ctl_svc_run(c, b, &e);
}

int ctl_service_delete(struct ctl *c, struct berth *b)
{
	struct ctl_svc_edit e = {.op = SVC_DELETE};
	int code = ctl_svc_name(c);
	return code != 0 ? code : ctl_svc_run(c, b, &e);
}

static int ctl_svc_row(struct ctl *c, void *arg, const struct reply_kv *kv)
{
	json_t *list = arg;
	struct model_service s;
	char err[256], td[MODEL_NAME_MAX + 16];
	uint32_t running = 0, pending = 0;
	if (model_service_decode(kv->value.p, kv->value.n, &s, err, sizeof(err)) != 0) {
		ctl_warn_record(c, kv, err);
		return 0;
	}
	for (size_t i = 0; i < s.ndeployments; i++) {
		running += s.deployments[i].running;
		pending += s.deployments[i].pending;
	}
	snprintf(td, sizeof(td), "%s:%" PRIu32, s.family, s.revision);
	if (c->json)
		json_array_append_new(list, model_service_to_json(&s));
	else
		printf("%-24s %-9s %-20s %-8" PRIu32 " %-8" PRIu32 " %-8" PRIu32 " %zu\n", s.name,
		       ctl_svc_status[s.status], td, s.desired_count, running, pending,
		       s.ndeployments);
	model_service_free(&s);
	return 0;
}

int ctl_service_list(struct ctl *c, struct berth *b)
{
	char prefix[MODEL_KEY_MAX];
	uint64_t rev;
	int code = ctl_cluster_check(c);
	if (code != 0)
		return code;
	json_t *list = json_array();
	if (!c->json)
		printf("%-24s %-9s %-20s %-8s %-8s %-8s %s\n", "NAME", "STATUS", "TASKDEF",
		       "DESIRED", "RUNNING", "PENDING", "DEPLOYMENTS");
	model_key_prefix(prefix, MODEL_KEY_SERVICE, c->cluster, NULL);
	code = ctl_range_all(c, b, prefix, false, ctl_svc_row, list, &rev);
	if (code == 0 && c->json)
		ctl_json_print(json_pack("{sO sI}", "services", list, "revision", (json_int_t)rev));
	json_decref(list);
	return code;
}

int ctl_service_describe(struct ctl *c, struct berth *b)
{
	struct ctl_svc_edit e = {.op = SVC_UPDATE};
	char key[MODEL_KEY_MAX], err[256];
	struct berth_result r;
	const struct reply_kv *kv;
	size_t by[4];
	int code = ctl_svc_name(c);
	if (code != 0)
		return code;
	model_key_service(key, c->cluster, c->pos[0]);
	if ((code = ctl_read(c, b, key, &r, &kv)) != 0)
		return code;
	if (kv == NULL)
		code = ctl_fail(c, BERTH_ENOTFOUND, "service %s not found in cluster %s", c->pos[0],
				c->cluster);
	else if (model_service_decode(kv->value.p, kv->value.n, &e.after, err, sizeof(err)))
		code = ctl_fail(c, BERTH_ECORRUPT, "service %s: %s", c->pos[0], err);
	berth_result_free(&r);
	if (code == 0)
		code = ctl_svc_tasks(c, b, by);
	if (code == 0 && c->json) {
		json_t *o = model_service_to_json(&e.after);
		if (o != NULL)
			json_object_set_new(
				o, "tasks",
				json_pack("{sIsIsIsI}", "PROVISIONING", (json_int_t)by[0],
					  "PENDING", (json_int_t)by[1], "RUNNING",
					  (json_int_t)by[2], "STOPPED", (json_int_t)by[3]));
		ctl_json_print(o);
	} else if (code == 0) {
		ctl_svc_print(&e.after, by);
	}
	model_service_free(&e.after);
	return code;
}
