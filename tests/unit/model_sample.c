/* tests/unit/model_sample.c: records of the cluster model with every field set. */
#include "tests/unit/model_sample.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

char *model_sample_str(const char *s)
{
	char *c = strdup(s);
	assert(c != NULL);
	return c;
}

static void *model_sample_calloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	assert(p != NULL);
	return p;
}

#define S model_sample_str

void model_sample_taskdef(struct model_taskdef *td)
{
	struct model_container *c;
	td->family = S("web-app_2");
	td->revision = 7;
	td->ncontainers = 2;
	td->containers = c = model_sample_calloc(2, sizeof(*c));
	c[0].name = S("nginx");
	c[0].image = S("docker.io/library/nginx:1.25");
	c[0].ncommand = 3;
	c[0].command = model_sample_calloc(3, sizeof(char *));
	c[0].command[0] = S("nginx");
	c[0].command[1] = S("-g");
	c[0].command[2] = S("daemon off; \xc3\xa9t\xc3\xa9");
	c[0].nenvironment = 2;
	c[0].environment = model_sample_calloc(2, sizeof(struct model_pair));
	c[0].environment[0].name = S("MODE");
	c[0].environment[0].value = S("production");
	c[0].environment[1].name = S("_EMPTY");
	c[0].environment[1].value = S("");
	c[0].cpu = 256;
	c[0].memory = 512;
	c[0].nports = 2;
	c[0].ports = model_sample_calloc(2, sizeof(struct model_port_mapping));
	c[0].ports[0] = (struct model_port_mapping){80, 8080, MODEL_TCP};
	c[0].ports[1] = (struct model_port_mapping){53, 0, MODEL_UDP};
	c[0].essential = true;
	c[1].name = S("sidecar");
	c[1].image = S("busybox");
	c[1].cpu = 0;
	c[1].memory = 64;
	c[1].nports = 1;
	c[1].ports = model_sample_calloc(1, sizeof(struct model_port_mapping));
	c[1].ports[0] = (struct model_port_mapping){9000, 65535, MODEL_UDP};
	c[1].essential = false;
	td->cpu = 1024;
	td->memory = 2048;
}

void model_sample_instance(struct model_instance *in)
{
	in->id = S("i-0a1b2c.zone-a");
	in->cluster = S("prod");
	in->cpu = 4096;
	in->memory = 16384;
	in->nports = 2;
	in->ports = model_sample_calloc(2, sizeof(*in->ports));
	in->ports[0] = (struct model_port_range){22, 22};
	in->ports[1] = (struct model_port_range){8000, 65535};
	in->nattributes = 3;
	in->attributes = model_sample_calloc(3, sizeof(*in->attributes));
	in->attributes[0].name = S("zone");
	in->attributes[0].value = S("eu-west-1a");
	in->attributes[1].name = S("ecs.instance-type");
	in->attributes[1].value = S("t3.large");
	in->attributes[2].name = S("team/owner");
	in->attributes[2].value = S("ops@example.com: night shift");
	in->status = MODEL_INSTANCE_DRAINING;
	in->registered_ms = 1764000000123;
	in->lease = 0x7fffffffffffffffull;
}

static void model_sample_placement(struct model_strategy **s, size_t *ns,
				   struct model_constraint **c, size_t *nc)
{
	*ns = 3;
	*s = model_sample_calloc(3, sizeof(**s));
	(*s)[0] = (struct model_strategy){MODEL_SPREAD, S("attribute:zone")};
	(*s)[1] = (struct model_strategy){MODEL_BINPACK, S("memory")};
	(*s)[2] = (struct model_strategy){MODEL_RANDOM, NULL};
	*nc = 2;
	*c = model_sample_calloc(2, sizeof(**c));
	(*c)[0] = (struct model_constraint){MODEL_DISTINCT_INSTANCE, NULL};
	(*c)[1] = (struct model_constraint){MODEL_MEMBER_OF,
					    S("attribute:ecs.instance-type =~ t3.*")};
}

void model_sample_task(struct model_task *t)
{
	t->id = S("0123456789abcdef");
	t->cluster = S("prod");
	t->family = S("web-app_2");
	t->revision = 7;
	t->cpu = 1024;
	t->memory = 2048;
	t->nhost_ports = 2;
	t->host_ports = model_sample_calloc(2, sizeof(uint16_t));
	t->host_ports[0] = 8080;
	t->host_ports[1] = 65535;
	t->group = S("service:web");
	model_sample_placement(&t->strategies, &t->nstrategies, &t->constraints, &t->nconstraints);
	t->desired_status = MODEL_TASK_STOPPED;
	t->last_status = MODEL_TASK_STOPPED;
	t->instance = S("i-0a1b2c.zone-a");
	t->stop_reason = S("Essential container in task exited");
	t->has_exit_code = true;
	t->exit_code = -2147483647 - 1;
	t->started_by = S("service:web deployment 1");
	t->created_ms = 1764000000000;
	t->updated_ms = 1764000005000;
}

void model_sample_service(struct model_service *s)
{
	s->name = S("web");
	s->cluster = S("prod");
	s->family = S("web-app_2");
	s->revision = 8;
	s->desired_count = 6;
	model_sample_placement(&s->strategies, &s->nstrategies, &s->constraints, &s->nconstraints);
	s->config.min_healthy_percent = 50;
	s->config.max_percent = 150;
	s->ndeployments = 2;
	s->deployments = model_sample_calloc(2, sizeof(*s->deployments));
	s->deployments[0] = (struct model_deployment){
		S("d-2"), S("web-app_2"), 8, MODEL_DEPLOYMENT_PRIMARY, 6, 2, 1, 1764000009000};
	s->deployments[1] = (struct model_deployment){
		S("d-1"), S("web-app_2"), 7, MODEL_DEPLOYMENT_ACTIVE, 0, 4, 0, 1764000000000};
	s->status = MODEL_SERVICE_DRAINING;
	s->created_ms = 1763000000000;
}
