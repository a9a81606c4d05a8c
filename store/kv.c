/* store/kv.c: LMDB environment, key encoding with buckets for long keys, records, scans. */
#include "store/kv.h"

#include "common/err.h"
#include "store/kvmark.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KV_REC_HDR (1 + 8 + 8 + 8 + 8 + 2)
#define KV_BUCKET_PREFIX (KV_INLINE + 1) /* P . 0x00 */
#define KV_SLOT_OFF (KV_INLINE + 1 + 8)  /* where the slot number sits */
#define KV_SLOTS 65536

void kv_be64_put(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t kv_be64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

int kv_err(struct kv *kv, int rc, const char *what)
{
	snprintf(kv->errmsg, sizeof(kv->errmsg), "kv %s: %s", what, mdb_strerror(rc));
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return BERTH_ENOTFOUND;
	case MDB_MAP_FULL:
		return BERTH_ENOSPACE;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return BERTH_ECORRUPT;
	case ENOMEM:
		return BERTH_ENOMEM;
	default:
		return BERTH_EIO;
	}
}

/* Orders hist keys: the encoded user key as bytes, then the trailing be64 revision. */
static int kv_hist_cmp(const MDB_val *a, const MDB_val *b)
{
	size_t an = a->mv_size >= 8 ? a->mv_size - 8 : a->mv_size;
	size_t bn = b->mv_size >= 8 ? b->mv_size - 8 : b->mv_size;
	size_t n = an < bn ? an : bn;
	int c = memcmp(a->mv_data, b->mv_data, n);
	if (c != 0)
		return c;
	if (an != bn)
		return an < bn ? -1 : 1;
	return memcmp((const char *)a->mv_data + an, (const char *)b->mv_data + bn,
		      a->mv_size - an < b->mv_size - bn ? a->mv_size - an : b->mv_size - bn);
}

int kv_open(struct kv *kv, const char *dir, size_t map_bytes, enum kv_sync sync,
	    const char *boot_id_path)
{
	MDB_txn *txn;
	char lock[4096];
	int rc, fd;
	unsigned flags = MDB_NOTLS;

	memset(kv, 0, sizeof(*kv));
	kv->hash_mask = UINT64_MAX;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(kv->errmsg, sizeof(kv->errmsg), "kv open: mkdir %.200s: %s", dir,
			 strerror(errno));
		return BERTH_EIO;
	}
	/* LMDB lets several processes share an environment; berth does not. */
	snprintf(lock, sizeof(lock), "%s/berth.lock", dir);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(kv->errmsg, sizeof(kv->errmsg), "kv open: %.200s: %s", lock,
			 strerror(errno));
		return BERTH_EIO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(kv->errmsg, sizeof(kv->errmsg),
			 "kv open: %.200s is in use by another process", dir);
		close(fd);
		return BERTH_EBUSY;
	}
	snprintf(kv->dir, sizeof(kv->dir), "%s", dir);
	/* A restored base the raft log lacks is kept with synced commits (kvmark.h). */
	if (sync == KV_SYNC_NONE && kvmark_base_present(dir)) {
		sync = KV_SYNC_NOMETA;
		kv->base = true;
	}
	kv->sync = sync;
	if (sync == KV_SYNC_NOMETA)
		flags |= MDB_NOMETASYNC;
	else if (sync == KV_SYNC_NONE)
		flags |= MDB_NOSYNC;
	if (sync == KV_SYNC_NONE &&
	    kvmark_open(dir, boot_id_path, &kv->discarded, kv->errmsg, sizeof(kv->errmsg)) != 0) {
		close(fd);
		return BERTH_EIO;
	}
	if ((rc = mdb_env_create(&kv->env)) != 0)
		goto err_before_env;
	if ((rc = mdb_env_set_maxdbs(kv->env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(kv->env, map_bytes)) != 0 ||
	    (rc = mdb_env_open(kv->env, dir, flags, 0600)) != 0)
		goto err_after_env_create;
	if ((rc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0)
		goto err_after_env_create;
	struct {
		const char *name;
		MDB_dbi *dbi;
	} tables[] = {{"meta", &kv->meta}, {"keys", &kv->keys},     {"hist", &kv->hist},
		      {"revs", &kv->revs}, {"leases", &kv->leases}, {"lkeys", &kv->lkeys},
		      {"sess", &kv->sess}, {"sessdl", &kv->sessdl}};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if ((rc = mdb_dbi_open(txn, tables[i].name, MDB_CREATE, tables[i].dbi)) != 0)
			goto err_after_txn;
	if ((rc = mdb_set_compare(txn, kv->hist, kv_hist_cmp)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0)
		goto err_after_env_create;
	/* The lock descriptor lives as long as the environment: keep it in the env. */
	mdb_env_set_userctx(kv->env, (void *)(intptr_t)(fd + 1));
	return 0;

err_after_txn:
	mdb_txn_abort(txn);
err_after_env_create:
	mdb_env_close(kv->env);
	kv->env = NULL;
err_before_env:
	close(fd);
	{
		char msg[200];
		snprintf(msg, sizeof(msg), "open %.180s", dir);
		return kv_err(kv, rc, msg);
	}
}

int kv_close(struct kv *kv)
{
	if (kv->env == NULL)
		return 0;
	int fd = (int)(intptr_t)mdb_env_get_userctx(kv->env) - 1;
	int rc = kv->sync == KV_SYNC_NONE ? mdb_env_sync(kv->env, 1) : 0;
	int rv = rc != 0 ? kv_err(kv, rc, "final sync") : 0;
	mdb_env_close(kv->env);
	kv->env = NULL;
	/* The marker goes only once the flushed database is closed, and before the lock. */
	if (rv == 0 && kv->sync == KV_SYNC_NONE)
		rv = kvmark_close(kv->dir, kv->errmsg, sizeof(kv->errmsg));
	if (fd >= 0)
		close(fd);
	return rv;
}

size_t kv_rec_size(const struct kv_rec *r)
{
	return KV_REC_HDR + r->key.n + r->value.n;
}

void kv_rec_write(const struct kv_rec *r, uint8_t *out)
{
	out[0] = r->kind;
	kv_be64_put(out + 1, (uint64_t)r->create_rev);
	kv_be64_put(out + 9, (uint64_t)r->mod_rev);
	kv_be64_put(out + 17, (uint64_t)r->version);
	kv_be64_put(out + 25, r->lease);
	out[33] = (uint8_t)(r->key.n >> 8);
	out[34] = (uint8_t)r->key.n;
	memcpy(out + KV_REC_HDR, r->key.p, r->key.n);
	if (r->value.n > 0)
		memcpy(out + KV_REC_HDR + r->key.n, r->value.p, r->value.n);
}

int kv_rec_read(const MDB_val *v, struct kv_rec *r)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < KV_REC_HDR || (p[0] != KV_PUT && p[0] != KV_DEL))
		return BERTH_ECORRUPT;
	size_t klen = ((size_t)p[33] << 8) | p[34];
	if (klen > v->mv_size - KV_REC_HDR)
		return BERTH_ECORRUPT;
	r->kind = p[0];
	r->create_rev = (int64_t)kv_be64_get(p + 1);
	r->mod_rev = (int64_t)kv_be64_get(p + 9);
	r->version = (int64_t)kv_be64_get(p + 17);
	r->lease = kv_be64_get(p + 25);
	r->key.p = p + KV_REC_HDR;
	r->key.n = klen;
	r->value.p = p + KV_REC_HDR + klen;
	r->value.n = v->mv_size - KV_REC_HDR - klen;
	return 0;
}

bool kv_ek_is_bucket(const uint8_t *ek, size_t n)
{
	(void)ek;
	return n > KV_INLINE;
}

static uint64_t kv_hash(struct bytes key)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < key.n; i++) {
		h ^= key.p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int kv_bytes_cmp(struct bytes a, struct bytes b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c != 0)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

int kv_ek(struct kv *kv, MDB_txn *txn, struct bytes key, uint8_t *out, size_t *out_len)
{
	if (key.n <= KV_INLINE) {
		memcpy(out, key.p, key.n);
		*out_len = key.n;
		return 0;
	}
	memcpy(out, key.p, KV_INLINE);
	out[KV_INLINE] = 0;
	kv_be64_put(out + KV_INLINE + 1, kv_hash(key) & kv->hash_mask);
	*out_len = KV_EK_MAX;

	/* Walk the slots of this hash that have history (every live key has some): reuse
	 * the one holding this key, else take the lowest free one. */
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, kv->hist, &cur);
	if (rc != 0)
		return kv_err(kv, rc, "ek cursor");
	uint32_t slot = 0, free_slot = KV_SLOTS;
	uint8_t seek[KV_HK_MAX];
	for (;;) {
		out[KV_SLOT_OFF] = (uint8_t)(slot >> 8);
		out[KV_SLOT_OFF + 1] = (uint8_t)slot;
		MDB_val k = {kv_hk(out, KV_EK_MAX, 0, seek), seek}, v;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != KV_HK_MAX ||
						       memcmp(k.mv_data, out, KV_SLOT_OFF) != 0)))
			break; /* no further slot of this hash */
		if (rc != 0) {
			mdb_cursor_close(cur);
			return kv_err(kv, rc, "ek scan");
		}
		const uint8_t *kp = k.mv_data;
		uint32_t found = ((uint32_t)kp[KV_SLOT_OFF] << 8) | kp[KV_SLOT_OFF + 1];
		if (free_slot == KV_SLOTS && found > slot)
			free_slot = slot;
		struct kv_rec r;
		if (kv_rec_read(&v, &r) != 0) {
			mdb_cursor_close(cur);
			return BERTH_ECORRUPT;
		}
		if (kv_bytes_cmp(r.key, key) == 0) {
			out[KV_SLOT_OFF] = (uint8_t)(found >> 8);
			out[KV_SLOT_OFF + 1] = (uint8_t)found;
			mdb_cursor_close(cur);
			return 0;
		}
		slot = found + 1;
		if (slot >= KV_SLOTS)
			break;
	}
	mdb_cursor_close(cur);
	if (free_slot == KV_SLOTS)
		free_slot = slot;
	if (free_slot >= KV_SLOTS) {
		snprintf(kv->errmsg, sizeof(kv->errmsg), "kv: every slot of a key hash is taken");
		return BERTH_ETOOLARGE;
	}
	out[KV_SLOT_OFF] = (uint8_t)(free_slot >> 8);
	out[KV_SLOT_OFF + 1] = (uint8_t)free_slot;
	return 0;
}

size_t kv_hk(const uint8_t *ek, size_t ek_len, uint64_t rev, uint8_t *out)
{
	memmove(out, ek, ek_len);
	kv_be64_put(out + ek_len, rev);
	return ek_len + 8;
}

int kv_get(struct kv *kv, MDB_txn *txn, struct bytes key, struct kv_rec *r)
{
	uint8_t ek[KV_EK_MAX];
	size_t n;
	int rv = kv_ek(kv, txn, key, ek, &n);
	if (rv != 0)
		return rv;
	MDB_val k = {n, ek}, v;
	int rc = mdb_get(txn, kv->keys, &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? BERTH_ENOTFOUND : kv_err(kv, rc, "get");
	return kv_rec_read(&v, r);
}

int kv_get_at(struct kv *kv, MDB_txn *txn, struct bytes key, uint64_t rev, struct kv_rec *r)
{
	uint8_t ek[KV_EK_MAX], hk[KV_HK_MAX];
	size_t n;
	MDB_cursor *cur;
	int rv = kv_ek(kv, txn, key, ek, &n), rc;
	if (rv != 0)
		return rv;
	if ((rc = mdb_cursor_open(txn, kv->hist, &cur)) != 0)
		return kv_err(kv, rc, "get_at cursor");
	MDB_val k = {kv_hk(ek, n, rev, hk), hk}, v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && !(k.mv_size == n + 8 && memcmp(k.mv_data, hk, n + 8) == 0))
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && (k.mv_size != n + 8 || memcmp(k.mv_data, ek, n) != 0))
		rc = MDB_NOTFOUND;
	if (rc == 0)
		rv = kv_rec_read(&v, r);
	else
		rv = rc == MDB_NOTFOUND ? BERTH_ENOTFOUND : kv_err(kv, rc, "get_at");
	mdb_cursor_close(cur);
	if (rv == 0 && r->kind == KV_DEL)
		rv = BERTH_ENOTFOUND;
	return rv;
}

/* The shared part of both scans: range filtering, and bucket sorting. */
struct kv_scan {
	struct bytes start, end;
	kv_scan_cb cb;
	void *ctx;
	struct kv_rec *bucket;
	size_t nbucket, cap;
	uint8_t prefix[KV_BUCKET_PREFIX];
};

/* 0: go on; 1: stop (past the end or the callback said so); else an error. */
static int kv_scan_emit(struct kv_scan *s, const struct kv_rec *r)
{
	if (kv_bytes_cmp(r->key, s->start) < 0)
		return 0;
	if (s->end.n > 0 && kv_bytes_cmp(r->key, s->end) >= 0)
		return 1;
	return s->cb(s->ctx, r);
}

static int kv_rec_key_cmp(const void *a, const void *b)
{
	return kv_bytes_cmp(((const struct kv_rec *)a)->key, ((const struct kv_rec *)b)->key);
}

static int kv_scan_flush(struct kv_scan *s)
{
	int rv = 0;
	qsort(s->bucket, s->nbucket, sizeof(*s->bucket), kv_rec_key_cmp);
	for (size_t i = 0; i < s->nbucket && rv == 0; i++)
		rv = kv_scan_emit(s, &s->bucket[i]);
	s->nbucket = 0;
	return rv;
}

/* Routes a record found under LMDB key ek: straight out, or into the pending bucket. */
static int kv_scan_add(struct kv_scan *s, const uint8_t *ek, size_t n, const struct kv_rec *r)
{
	int rv;
	if (s->nbucket > 0 && (n <= KV_INLINE || memcmp(ek, s->prefix, KV_BUCKET_PREFIX) != 0))
		if ((rv = kv_scan_flush(s)) != 0)
			return rv;
	if (n <= KV_INLINE)
		return kv_scan_emit(s, r);
	if (s->nbucket == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct kv_rec *b = realloc(s->bucket, cap * sizeof(*b));
		if (b == NULL)
			return BERTH_ENOMEM;
		s->bucket = b;
		s->cap = cap;
	}
	memcpy(s->prefix, ek, KV_BUCKET_PREFIX);
	s->bucket[s->nbucket++] = *r;
	return 0;
}

static size_t kv_scan_lower(struct bytes start, uint8_t *out)
{
	if (start.n <= KV_INLINE) {
		if (start.n > 0) /* an empty key may be {NULL, 0}: memcpy from NULL is undefined */
			memcpy(out, start.p, start.n);
		return start.n;
	}
	memcpy(out, start.p, KV_INLINE);
	out[KV_INLINE] = 0;
	return KV_BUCKET_PREFIX;
}

static int kv_scan_finish(struct kv *kv, struct kv_scan *s, MDB_cursor *cur, int rc, int rv)
{
	if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
		rv = kv_err(kv, rc, "scan");
	if (rv == 0 && s->nbucket > 0)
		rv = kv_scan_flush(s);
	mdb_cursor_close(cur);
	free(s->bucket);
	return rv == 1 ? 0 : rv;
}

int kv_scan(struct kv *kv, MDB_txn *txn, struct bytes start, struct bytes end, kv_scan_cb cb,
	    void *ctx)
{
	struct kv_scan s = {.start = start, .end = end, .cb = cb, .ctx = ctx};
	uint8_t lower[KV_EK_MAX];
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, kv->keys, &cur), rv = 0;
	if (rc != 0)
		return kv_err(kv, rc, "scan cursor");
	MDB_val k = {kv_scan_lower(start, lower), lower}, v;
	/* LMDB refuses a zero-length key even to seek: an empty start is the first key. */
	MDB_cursor_op first = k.mv_size == 0 ? MDB_FIRST : MDB_SET_RANGE;
	for (rc = mdb_cursor_get(cur, &k, &v, first); rc == 0 && rv == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct kv_rec r;
		if ((rv = kv_rec_read(&v, &r)) == 0)
			rv = kv_scan_add(&s, k.mv_data, k.mv_size, &r);
	}
	return kv_scan_finish(kv, &s, cur, rc, rv);
}

int kv_scan_at(struct kv *kv, MDB_txn *txn, struct bytes start, struct bytes end, uint64_t rev,
	       kv_scan_cb cb, void *ctx)
{
	struct kv_scan s = {.start = start, .end = end, .cb = cb, .ctx = ctx};
	uint8_t lower[KV_HK_MAX], group[KV_EK_MAX];
	size_t ng = 0;
	bool have = false;
	struct kv_rec best = {0};
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, kv->hist, &cur), rv = 0;
	if (rc != 0)
		return kv_err(kv, rc, "scan_at cursor");
	size_t ln = kv_scan_lower(start, lower);
	MDB_val k = {kv_hk(lower, ln, 0, lower), lower}, v;
	/* Entries come grouped by key, oldest first: keep the newest at or before rev. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && rv == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 8 || k.mv_size - 8 > KV_EK_MAX) {
			rv = BERTH_ECORRUPT;
			break;
		}
		size_t n = k.mv_size - 8;
		if (ng != n || memcmp(group, k.mv_data, n) != 0) {
			if (have && best.kind == KV_PUT)
				rv = kv_scan_add(&s, group, ng, &best);
			if (rv != 0)
				break;
			memcpy(group, k.mv_data, n);
			ng = n;
			have = false;
		}
		if (kv_be64_get((const uint8_t *)k.mv_data + n) <= rev) {
			if ((rv = kv_rec_read(&v, &best)) != 0)
				break;
			have = true;
		}
	}
	if (rv == 0 && have && best.kind == KV_PUT)
		rv = kv_scan_add(&s, group, ng, &best);
	return kv_scan_finish(kv, &s, cur, rc, rv);
}

int kv_meta_get(struct kv *kv, MDB_txn *txn, const char *name, uint64_t *out)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, kv->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*out = 0;
		return 0;
	}
	if (rc != 0)
		return kv_err(kv, rc, "meta get");
	if (v.mv_size != 8)
		return BERTH_ECORRUPT;
	*out = kv_be64_get(v.mv_data);
	return 0;
}

int kv_meta_put(struct kv *kv, MDB_txn *txn, const char *name, uint64_t val)
{
	uint8_t b[8];
	kv_be64_put(b, val);
	MDB_val k = {strlen(name), (void *)name}, v = {8, b};
	int rc = mdb_put(txn, kv->meta, &k, &v, 0);
	return rc ? kv_err(kv, rc, "meta put") : 0;
}
