/* tools/bench_kv.h: `berth-bench kv`'s parts: the configuration, what each client
 * records, the requests every driver makes the same way (tools/bench_kv.c), and the two
 * drivers: client threads with blocking handles (tools/bench_kv_threads.c, the default)
 * and clients on one libuv loop sharing --conns asynchronous handles
 * (tools/bench_kv_async.c). */
#ifndef BERTH_TOOLS_BENCH_KV_H
#define BERTH_TOOLS_BENCH_KV_H

#include "client/berth.h"
#include "tools/bench.h"

#include <uv.h>

#define KV_MAX_THREADS 256      /* the threads driver: one thread and connection per client */
#define KV_MAX_CLIENTS 4000     /* with --conns: clients on one loop (ids fit the key's 3 hex) */
#define KV_KEYS_PER_THREAD 1000 /* put cycles over these */
#define KV_READ_KEYS 16         /* get: written in setup, per client */
#define KV_CAS_KEYS 16          /* cas-distinct: per client */
/* Key slots (see kv_key): cas-distinct's keys, the setup write of put and CAS, the hot key. */
#define KV_SLOT_CAS 0x10000
#define KV_SLOT_SETUP 0xffffe
#define KV_HOT_CLIENT 0xfff
#define KV_HOT_SLOT 0xfffff

enum kv_case { KV_PUT, KV_GET_LIN, KV_GET_SER, KV_CAS_DISTINCT, KV_CAS_HOT, KV_CASE_COUNT };

struct kv_config {
	const char *endpoints[BENCH_MAX_ENDPOINTS];
	size_t nendpoints;
	uint64_t clients, requests, value_bytes, key_bytes;
	uint64_t conns; /* 0: threads; otherwise the async driver's shared handles */
	double duration_s;
	enum kv_case kcase;
	bool json, row;
};

/* What one client measured. */
struct kv_stats {
	int setup_err; /* 0, or why setup failed (then errmsg says more) */
	char errmsg[BERTH_ERRMSG_BYTES];
	uint64_t t_start, t_end;
	uint64_t ok, conflicts;
	uint64_t errs[BENCH_ERR_SLOTS];
	struct bench_lat lat;
};

/* Key i of client t: "%03x%05x" (8 bytes), left-padded with 'k' to key_bytes. cas-hot's
 * one key is client KV_HOT_CLIENT's slot KV_HOT_SLOT, which no other case writes (there
 * are fewer clients). tools/etcd-bench/main.go makes the same keys. */
void kv_key(const struct kv_config *cfg, unsigned t, unsigned i, char *out);
/* Setup writes before the measured part: how many, and the key slot of the n-th. put and
 * the CAS cases write one (to connect and open the session first), reads their keys. */
unsigned kv_setup_count(const struct kv_config *cfg);
unsigned kv_setup_slot(const struct kv_config *cfg, unsigned n);
/* Setup reads after those writes: the CAS cases read the version each of their keys has
 * (an earlier run on the same cluster leaves them behind), so that no first compare fails
 * for a stale 0. How many, and the key of the n-th, which is also the key of cas-distinct's
 * n-th (cas-hot: the one hot key). */
unsigned kv_setup_reads(const struct kv_config *cfg);
void kv_cas_key(const struct kv_config *cfg, unsigned t, unsigned n, char *out);
/* Client id's request quota and deadline, from when it starts. */
void kv_limits(const struct kv_config *cfg, unsigned id, uint64_t t_start_ns, uint64_t *quota,
	       uint64_t *deadline_ns);

/* A CAS: compare version(key) == version, then put val; otherwise read the key back. */
struct kv_cas {
	struct msg_compare cmp;
	struct msg_op put, get;
	struct msg_txn txn;
};
void kv_cas_build(struct kv_cas *c, const struct kv_config *cfg, const char *key, const char *val,
		  int64_t version);
/* Its answer: true when it won (version + 1), else the current version into *version. */
bool kv_cas_answer(const struct berth_result *res, int64_t *version);

/* The drivers: run setup then the case for every client, filling st[0..clients). 0, or
 * BENCH_EXIT_FAIL (a message printed, or a setup_err in st). */
int kv_threads_run(const struct kv_config *cfg, struct kv_stats *st);
int kv_async_run(const struct kv_config *cfg, struct kv_stats *st);

#endif
