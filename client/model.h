/* client/model.h: the cluster model (DESIGN.md section 4): task definitions, instances,
 * tasks and services as C records, their msgpack encoding in the store, their ECS-shaped
 * JSON for people, placement strategies and constraints, names, ids and the keyspace.
 * docs/model.md is the reference of every field, limit and key.
 *
 * Records own every pointer they hold (strings are NUL-terminated heap copies, lists are
 * heap arrays with their counts); model_*_free releases them and zeroes the record, and
 * is safe on a zeroed record and on one a failed decode left behind (decode frees it).
 *
 * Validation is one set of rules whatever the source: decoding msgpack, reading JSON and
 * encoding all check every field (types, counts, lengths, characters, ranges) and then the
 * record's own rules, and refuse with BERTH_EBADREQ and a message naming the field's path:
 *   "containerDefinitions[1].portMappings[0].hostPort: must be 1..65535".
 * Error buffers: `char *err, size_t errlen`; the message is always NUL-terminated and, on
 * BERTH_ENOMEM, is err_text(BERTH_ENOMEM). Nothing is allocated for the caller on failure.
 *
 * model_*_encode appends the record to `out` (nothing on failure; BERTH_ENOMEM when the
 * buffer could not grow); model_*_decode fills a record from p[0..n) (a zeroed record on
 * failure) and refuses bytes after the record (up to 7 zero bytes excepted, as mp_doc_init).
 *
 * Encoded records are msgpack maps with the JSON field names and a format version "v"
 * (MODEL_FORMAT_VERSION); a decoder refuses another version, unknown fields, duplicate
 * fields and wrong types. Input is validated with mp_validate before it is unpacked, so
 * hostile or truncated bytes are refused, never trusted. */
#ifndef BERTH_CLIENT_MODEL_H
#define BERTH_CLIENT_MODEL_H

#include "common/mp.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_FORMAT_VERSION 1

/* Limits (docs/model.md). Lengths are bytes, without the terminating NUL. */
#define MODEL_NAME_MAX 255 /* cluster, family, service, container: [A-Za-z0-9_-] */
#define MODEL_ID_MAX 128   /* instance, task, deployment ids: [A-Za-z0-9_.-] */
#define MODEL_GROUP_MAX (8 + MODEL_NAME_MAX) /* "service:NAME" or "family:FAMILY" */
#define MODEL_REVISION_MAX 999999999u        /* fits the 10 digits of a taskdef key */
#define MODEL_CPU_MAX 1048576u               /* cpu units: 1024 per vCPU */
#define MODEL_MEMORY_MAX 16777216u           /* MiB */
#define MODEL_CONTAINERS_MAX 10
#define MODEL_IMAGE_MAX 1024
#define MODEL_COMMAND_MAX 64 /* arguments per container */
#define MODEL_ARG_MAX 4096
#define MODEL_ENV_MAX 128 /* variables per container */
#define MODEL_ENV_NAME_MAX 255
#define MODEL_ENV_VALUE_MAX 4096
/* Host ports per task (all containers): each is a compare and a put in the placement
 * transaction, which the store bounds at 128 operations. */
#define MODEL_HOST_PORTS_MAX 32
#define MODEL_TASKDEF_BYTES_MAX 65536 /* encoded task definition, as ECS's 64 KiB */
#define MODEL_PORT_RANGES_MAX 64      /* host port ranges an instance offers */
#define MODEL_ATTRS_MAX 64
#define MODEL_ATTR_NAME_MAX 128
#define MODEL_ATTR_VALUE_MAX 128
#define MODEL_STRATEGIES_MAX 5
#define MODEL_CONSTRAINTS_MAX 10
#define MODEL_EXPRESSION_MAX 2048
#define MODEL_REASON_MAX 1024
#define MODEL_STARTED_BY_MAX 255
#define MODEL_COUNT_MAX 10000 /* desired count of a service; counts of a deployment */
#define MODEL_DEPLOYMENTS_MAX 16
#define MODEL_KEY_MAX 1024 /* every key built here is shorter: the store's key limit */
#define MODEL_TASK_ID_LEN 16

/* Enumerations are stored as their names ("ACTIVE", "binpack", "tcp") in both forms. */
enum model_protocol { MODEL_TCP, MODEL_UDP };
enum model_instance_status { MODEL_INSTANCE_ACTIVE, MODEL_INSTANCE_DRAINING };
/* A task's last status moves PROVISIONING (created, unplaced) -> PENDING (placed) ->
 * RUNNING (its agent started it) -> STOPPED; desired status is RUNNING or STOPPED. */
enum model_task_status {
	MODEL_TASK_PROVISIONING,
	MODEL_TASK_PENDING,
	MODEL_TASK_RUNNING,
	MODEL_TASK_STOPPED
};
enum model_service_status { MODEL_SERVICE_ACTIVE, MODEL_SERVICE_DRAINING, MODEL_SERVICE_INACTIVE };
enum model_deployment_status { MODEL_DEPLOYMENT_PRIMARY, MODEL_DEPLOYMENT_ACTIVE };
enum model_strategy_type { MODEL_BINPACK, MODEL_SPREAD, MODEL_RANDOM };
enum model_constraint_type { MODEL_DISTINCT_INSTANCE, MODEL_MEMBER_OF };

/* A name/value pair: environment variables and instance attributes. */
struct model_pair {
	char *name;  /* owned */
	char *value; /* owned */
};

/* ---- Placement: strategies and constraints (ECS placementStrategy / Constraints) ---- */

/* binpack: field "cpu" or "memory" (required); spread: "instanceId" or "attribute:NAME"
 * (required); random: no field. */
struct model_strategy {
	enum model_strategy_type type;
	char *field; /* owned; NULL for random */
};

/* distinctInstance: no expression; memberOf: an expression in the ECS cluster query
 * language, kept as text (client/query.h compiles and checks it; here only its length
 * and UTF-8 are checked). */
struct model_constraint {
	enum model_constraint_type type;
	char *expression; /* owned; NULL for distinctInstance */
};

/* What a strategy ranks on, for the placement engine. */
enum model_field { MODEL_FIELD_CPU, MODEL_FIELD_MEMORY, MODEL_FIELD_INSTANCE_ID, MODEL_FIELD_ATTR };
/* The field of a valid binpack or spread strategy; for MODEL_FIELD_ATTR, *attr (if not
 * NULL) points at the attribute's name inside s->field. -1 for random. */
int model_strategy_field(const struct model_strategy *s, const char **attr);

/* The compact command line forms: "binpack:cpu", "binpack:memory", "spread:instanceId",
 * "spread:attribute:NAME", "random"; "distinctInstance", "memberOf:EXPRESSION". 0,
 * BERTH_EBADREQ with a message, or BERTH_ENOMEM; free the result with the free below. */
int model_strategy_parse(const char *s, struct model_strategy *out, char *err, size_t errlen);
int model_constraint_parse(const char *s, struct model_constraint *out, char *err, size_t errlen);
/* ECS JSON objects: {"type": "spread", "field": "attribute:zone"}, {"type": "memberOf",
 * "expression": "attribute:zone == a"}; unknown fields refused. */
int model_strategy_from_json(const json_t *obj, struct model_strategy *out, char *err,
			     size_t errlen);
int model_constraint_from_json(const json_t *obj, struct model_constraint *out, char *err,
			       size_t errlen);
/* The compact form of a valid strategy or constraint (as parsed above) into out; returns
 * the length it needs, as snprintf does. */
size_t model_strategy_format(const struct model_strategy *s, char *out, size_t n);
size_t model_constraint_format(const struct model_constraint *c, char *out, size_t n);
void model_strategy_free(struct model_strategy *s);
void model_constraint_free(struct model_constraint *c);

/* ---- Task definitions ---- */

struct model_port_mapping {
	uint16_t container_port; /* containerPort: 1..65535, required */
	/* hostPort: 1..65535, reserved on the instance (alloc/<iid>/port/<n>) while the task
	 * holds it; absent (0 here) means the port is not published on the host and reserves
	 * nothing. berth assigns no dynamic host ports. A host port appears once per task. */
	uint16_t host_port;
	enum model_protocol protocol; /* default tcp */
};

struct model_container {
	char *name;     /* owned; [A-Za-z0-9_-], unique in the taskdef */
	char *image;    /* owned; printable ASCII, no spaces */
	char **command; /* owned, ncommand strings; may be empty */
	size_t ncommand;
	struct model_pair *environment; /* owned; names [A-Za-z_][A-Za-z0-9_]*, unique */
	size_t nenvironment;
	uint32_t cpu;                     /* units; default 0 */
	uint32_t memory;                  /* MiB; default 0 */
	struct model_port_mapping *ports; /* owned: portMappings */
	size_t nports;
	bool essential; /* default true; at least one per taskdef */
};

/* cpu and memory of the task: given, or the containers' sums; given values must cover
 * the sums, and memory must end up above 0. revision is 0 until register assigns it. */
struct model_taskdef {
	char *family; /* owned */
	uint32_t revision;
	struct model_container *containers; /* owned: containerDefinitions, 1..10 */
	size_t ncontainers;
	uint32_t cpu;
	uint32_t memory;
};

/* Encoding and decoding, as for every record (the top of this file); a task definition
 * over MODEL_TASKDEF_BYTES_MAX encoded is refused with BERTH_ETOOLARGE by all three. */
int model_taskdef_encode(const struct model_taskdef *td, struct mp_buf *out, char *err,
			 size_t errlen);
int model_taskdef_decode(const uint8_t *p, size_t n, struct model_taskdef *out, char *err,
			 size_t errlen);
/* `berthctl taskdef register FILE`: ECS RegisterTaskDefinition JSON text ({"family",
 * "containerDefinitions", "cpu", "memory"}; task-level cpu and memory may be numbers or
 * strings of digits, as ECS writes them). "revision" is refused: register assigns it. */
int model_taskdef_parse_json(const char *text, size_t len, struct model_taskdef *out, char *err,
			     size_t errlen);
/* The host ports the task reserves (every hostPort), in the order of the containers and
 * their mappings, into out[MODEL_HOST_PORTS_MAX]; returns how many. */
size_t model_taskdef_host_ports(const struct model_taskdef *td, uint16_t *out);
void model_taskdef_free(struct model_taskdef *td);

/* ---- Instances ---- */

struct model_port_range {
	uint16_t from, to; /* 1 <= from <= to <= 65535 */
};

struct model_instance {
	char *id;                       /* owned */
	char *cluster;                  /* owned */
	uint32_t cpu;                   /* total units offered */
	uint32_t memory;                /* total MiB offered */
	struct model_port_range *ports; /* owned: host ports offered; sorted, disjoint */
	size_t nports;
	/* owned: names [A-Za-z0-9_./-], unique; values [A-Za-z0-9_.@/:-] and inner spaces */
	struct model_pair *attributes;
	size_t nattributes;
	enum model_instance_status status;
	uint64_t registered_ms; /* registeredAt: unix time, ms */
	uint64_t lease;         /* the agent's lease (alive/<iid> is attached to it) */
};

int model_instance_encode(const struct model_instance *in, struct mp_buf *out, char *err,
			  size_t errlen);
int model_instance_decode(const uint8_t *p, size_t n, struct model_instance *out, char *err,
			  size_t errlen);
void model_instance_free(struct model_instance *in);
/* The attribute's value, or NULL. */
const char *model_instance_attr(const struct model_instance *in, const char *name);
/* 1 when the instance offers host port `port`. */
int model_instance_offers(const struct model_instance *in, uint16_t port);

/* ---- Tasks ---- */

struct model_task {
	char *id;      /* owned; model_id_new makes them */
	char *cluster; /* owned */
	char *family;  /* owned: the taskdef, family and revision (>= 1) */
	uint32_t revision;
	uint32_t cpu; /* what it needs: the taskdef's cpu, memory and host ports */
	uint32_t memory;
	uint16_t *host_ports; /* owned: unique */
	size_t nhost_ports;
	char *group;                       /* owned: "service:NAME" or "family:FAMILY" */
	struct model_strategy *strategies; /* owned: placementStrategy, a chain of <= 5 */
	size_t nstrategies;
	struct model_constraint *constraints; /* owned: placementConstraints */
	size_t nconstraints;
	enum model_task_status desired_status; /* RUNNING or STOPPED */
	enum model_task_status last_status;
	char *instance;    /* owned: instanceId once placed (PENDING and later), else NULL */
	char *stop_reason; /* owned: stoppedReason or NULL */
	bool has_exit_code;
	int64_t exit_code; /* exitCode, int32 range, when has_exit_code */
	char *started_by;  /* owned: startedBy or NULL */
	uint64_t created_ms, updated_ms;
};

/* Sets what a task runs and needs from a registered task definition: family, revision,
 * cpu, memory and host ports (replacing what t held there). 0; BERTH_EBADREQ when td has
 * no revision yet; BERTH_ENOMEM, t unchanged. */
int model_task_resources(struct model_task *t, const struct model_taskdef *td);
int model_task_encode(const struct model_task *t, struct mp_buf *out, char *err, size_t errlen);
int model_task_decode(const uint8_t *p, size_t n, struct model_task *out, char *err, size_t errlen);
void model_task_free(struct model_task *t);

/* ---- Services ---- */

struct model_deployment {
	char *id;     /* owned */
	char *family; /* owned: the deployment's taskdef */
	uint32_t revision;
	enum model_deployment_status status; /* exactly one PRIMARY in a service */
	uint32_t desired, running, pending;  /* desiredCount, runningCount, pendingCount */
	uint64_t created_ms;
};

/* minimumHealthyPercent 0..100 (default 100), maximumPercent 100..1000 (default 200),
 * not both 100 (a rolling deployment could then never replace a task). */
struct model_deployment_config {
	uint32_t min_healthy_percent;
	uint32_t max_percent;
};

struct model_service {
	char *name;    /* owned */
	char *cluster; /* owned */
	char *family;  /* owned: the taskdef new tasks run, family and revision (>= 1) */
	uint32_t revision;
	uint32_t desired_count;
	struct model_strategy *strategies; /* owned */
	size_t nstrategies;
	struct model_constraint *constraints; /* owned */
	size_t nconstraints;
	struct model_deployment_config config; /* deploymentConfiguration */
	struct model_deployment *deployments;  /* owned; ids unique */
	size_t ndeployments;
	enum model_service_status status;
	uint64_t created_ms;
};

int model_service_encode(const struct model_service *s, struct mp_buf *out, char *err,
			 size_t errlen);
int model_service_decode(const uint8_t *p, size_t n, struct model_service *out, char *err,
			 size_t errlen);
void model_service_free(struct model_service *s);

/* ---- JSON of every record (describe, list, --json) ----
 * _to_json: a new object (the caller json_decref's it) with every field under its ECS
 * name, enumerations as names, times as unix ms; NULL when out of memory.
 * _from_json: the whole record back, as _to_json wrote it (and as an agent or a test may
 * write it), with the same validation as decoding. */
json_t *model_taskdef_to_json(const struct model_taskdef *td);
json_t *model_instance_to_json(const struct model_instance *in);
json_t *model_task_to_json(const struct model_task *t);
json_t *model_service_to_json(const struct model_service *s);
int model_taskdef_from_json(const json_t *obj, struct model_taskdef *out, char *err, size_t errlen);
int model_instance_from_json(const json_t *obj, struct model_instance *out, char *err,
			     size_t errlen);
int model_task_from_json(const json_t *obj, struct model_task *out, char *err, size_t errlen);
int model_service_from_json(const json_t *obj, struct model_service *out, char *err, size_t errlen);

/* ---- Names and ids (client/model_name.c) ---- */

enum model_name_kind {
	MODEL_NAME,      /* cluster, family, service, container: [A-Za-z0-9_-], 1..255 */
	MODEL_NAME_ID,   /* instance, task, deployment: [A-Za-z0-9_.-], 1..128, no leading '.' */
	MODEL_NAME_GROUP /* "service:NAME" or "family:NAME" */
};
/* NULL when s is a valid name of that kind, else what is wrong ("must be 1..255
 * characters", "must contain only letters, digits, '-' and '_'"). No name accepted here
 * contains '/', so no key built from names can be forged. */
const char *model_name_check(enum model_name_kind kind, const char *s);

/* A new id: MODEL_TASK_ID_LEN lowercase hex characters and a NUL, from the caller's
 * generator state (splitmix64, advanced here). Seed it from a random source (getrandom)
 * in programs and from a fixed seed in tests. */
void model_id_new(uint64_t *rng, char out[MODEL_TASK_ID_LEN + 1]);

/* ---- The keyspace (client/model_key.c, DESIGN.md section 4) ----
 * Every builder writes a NUL-terminated key into out[MODEL_KEY_MAX] and returns 0, or
 * BERTH_EBADREQ when a name is not valid for its kind (model_name_check), a revision is
 * outside 1..MODEL_REVISION_MAX or a port is 0. Values, by key:
 *   /berth/taskdefs/<family>                  msgpack int: the latest revision
 *   /berth/taskdefs/<family>/<rev, 10 digits> a task definition (immutable)
 *   /berth/c/<cluster>/instances/<iid>        an instance
 *   /berth/c/<cluster>/alive/<iid>            empty, attached to the agent's lease
 *   /berth/c/<cluster>/alloc/<iid>/cpu|mem    msgpack int: units / MiB in use
 *   /berth/c/<cluster>/alloc/<iid>/port/<n>   the owning task's id (text)
 *   /berth/c/<cluster>/tasks/<tid>            a task
 *   /berth/c/<cluster>/placed/<iid>/<tid>     empty: the index of tasks on an instance
 *   /berth/c/<cluster>/services/<name>        a service
 *   /berth/c/<cluster>/group/<group>/<iid>    msgpack int: the group's tasks holding the
 *                                             instance; distinctInstance places only where
 *                                             it is absent or 0 */
enum model_key_kind {
	MODEL_KEY_FAMILY,
	MODEL_KEY_TASKDEF,
	MODEL_KEY_INSTANCE,
	MODEL_KEY_ALIVE,
	MODEL_KEY_ALLOC_CPU,
	MODEL_KEY_ALLOC_MEM,
	MODEL_KEY_ALLOC_PORT,
	MODEL_KEY_TASK,
	MODEL_KEY_PLACED,
	MODEL_KEY_SERVICE,
	MODEL_KEY_GROUP
};

int model_key_family(char *out, const char *family);
int model_key_taskdef(char *out, const char *family, uint32_t revision);
int model_key_instance(char *out, const char *cluster, const char *iid);
int model_key_alive(char *out, const char *cluster, const char *iid);
int model_key_alloc_cpu(char *out, const char *cluster, const char *iid);
int model_key_alloc_mem(char *out, const char *cluster, const char *iid);
int model_key_alloc_port(char *out, const char *cluster, const char *iid, uint16_t port);
int model_key_task(char *out, const char *cluster, const char *tid);
int model_key_placed(char *out, const char *cluster, const char *iid, const char *tid);
int model_key_service(char *out, const char *cluster, const char *name);
int model_key_group(char *out, const char *cluster, const char *group, const char *iid);

/* Prefixes to list or watch, ending in '/':
 *   MODEL_KEY_TASKDEF    /berth/taskdefs/<family>/        (cluster NULL, name = family)
 *   MODEL_KEY_FAMILY     /berth/taskdefs/                 (both NULL: every family)
 *   MODEL_KEY_INSTANCE, _ALIVE, _TASK, _SERVICE            /berth/c/<cluster>/<kind>/
 *   MODEL_KEY_PLACED     /berth/c/<cluster>/placed/<iid>/   (name = iid)
 *   MODEL_KEY_ALLOC_PORT /berth/c/<cluster>/alloc/<iid>/port/ (name = iid)
 *   MODEL_KEY_GROUP      /berth/c/<cluster>/group/<group>/  (name = group)
 * and the whole cluster, /berth/c/<cluster>/, with kind -1. Other kinds: BERTH_EBADREQ. */
int model_key_prefix(char *out, int kind, const char *cluster, const char *name);

/* A key taken apart: which kind, and the names in it (the others are empty). */
struct model_key {
	enum model_key_kind kind;
	char cluster[MODEL_NAME_MAX + 1];
	char family[MODEL_NAME_MAX + 1];
	uint32_t revision;
	char instance[MODEL_ID_MAX + 1];
	char task[MODEL_ID_MAX + 1];
	char service[MODEL_NAME_MAX + 1];
	char group[MODEL_GROUP_MAX + 1];
	uint16_t port;
};
/* Parses key[0..n): 0, or BERTH_EBADREQ for anything that one of the builders above
 * would not have produced exactly. */
int model_key_parse(const char *key, size_t n, struct model_key *out);

#endif
