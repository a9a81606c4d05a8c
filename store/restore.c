/* store/restore.c: a new member's data directory from a backup file (store/restore.h). */
#include "store/restore.h"

#include "common/err.h"
#include "store/kvmark.h"
#include "store/rfsm.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>
#include <zlib.h>

#define RESTORE_FILE_BUFFER (1 << 20)

/* The backup file as an fsm_read_fn, with the CRC of every byte read. */
struct restore_file {
	FILE *f;
	uLong crc;
	int err; /* errno of a read failure */
};

static int restore_read(void *ctx, void *buf, size_t n)
{
	struct restore_file *rf = ctx;
	if (fread(buf, 1, n, rf->f) != n) {
		rf->err = ferror(rf->f) ? errno : 0;
		return ferror(rf->f) ? BERTH_EIO : BERTH_ECORRUPT; /* short: truncated */
	}
	rf->crc = crc32(rf->crc, buf, (uInt)n);
	return 0;
}

/* 1 when dir holds nothing, 0 when it holds something, -1 when it cannot be read. */
static int restore_dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

static int restore_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Removes what this run created under dir (everything: dir was empty), and dir itself
 * when the run created it. */
static void restore_undo(const char *dir, bool created)
{
	char path[2048];
	static const char *const subs[] = {"state", "raft"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		nftw(path, restore_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (created)
		rmdir(dir);
}

static void restore_raft_closed(struct raft *r)
{
	(void)r;
}

/* A fresh raft log in raft_dir holding the bootstrap configuration, as node_start would
 * write it on a new cluster's first start. */
static int restore_bootstrap(const struct config *cfg, const char *raft_dir, char *err,
			     size_t errlen)
{
	struct raft_uv_transport transport = {.version = 1};
	struct raft_configuration conf;
	struct raft_io io;
	struct raft r;
	struct rfsm unused; /* raft_init wants a state machine; bootstrap calls none of it */
	uv_loop_t loop;
	int rv;

	if (uv_loop_init(&loop) != 0) {
		snprintf(err, errlen, "raft bootstrap: no event loop");
		return BERTH_ENOMEM;
	}
	rfsm_init(&unused, NULL, 1);
	if ((rv = raft_uv_tcp_init(&transport, &loop)) != 0) {
		snprintf(err, errlen, "raft bootstrap: transport: %s", raft_strerror(rv));
		goto err_after_loop;
	}
	if ((rv = raft_uv_init(&io, &loop, raft_dir, &transport)) != 0) {
		snprintf(err, errlen, "raft bootstrap: %s: %s", raft_dir, io.errmsg);
		goto err_after_transport;
	}
	if ((rv = raft_init(&r, &io, &unused.raft, cfg->id, cfg->peer_addr)) != 0) {
		snprintf(err, errlen, "raft bootstrap: init: %s", raft_strerror(rv));
		raft_uv_close(&io);
		goto err_after_transport;
	}
	raft_configuration_init(&conf);
	for (unsigned i = 0; i < cfg->nmembers && rv == 0; i++)
		rv = raft_configuration_add(&conf, cfg->members[i].id, cfg->members[i].peer,
					    RAFT_VOTER);
	if (rv == 0 && (rv = raft_bootstrap(&r, &conf)) != 0)
		snprintf(err, errlen, "raft bootstrap: %s", raft_errmsg(&r));
	else if (rv != 0)
		snprintf(err, errlen, "raft bootstrap: configuration: %s", raft_strerror(rv));
	raft_configuration_close(&conf);
	raft_close(&r, restore_raft_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	raft_uv_close(&io);
err_after_transport:
	raft_uv_tcp_close(&transport);
err_after_loop:
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	rfsm_close(&unused);
	return rv == 0 ? 0 : BERTH_EIO;
}

/* Steps 3 and 4 of restore.h into the directories that now exist. */
static int restore_write(const struct config *cfg, struct restore_file *rf, const char *dir,
			 char *err, size_t errlen)
{
	char state[2048], raft_dir[2048];
	struct fsm_config fc;
	struct fsm f;
	int rv;

	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(raft_dir, sizeof(raft_dir), "%s/raft", dir);
	if (mkdir(raft_dir, 0700) != 0 || mkdir(state, 0700) != 0) {
		snprintf(err, errlen, "mkdir in %s: %s", dir, strerror(errno));
		return BERTH_EIO;
	}
	config_fsm(cfg, &fc);
	if ((rv = fsm_open(&f, state, &fc)) != 0) {
		snprintf(err, errlen, "%s", f.errmsg);
		return rv;
	}
	rewind(rf->f);
	if ((rv = fsm_restore(&f, restore_read, rf)) != 0 || (rv = fsm_reset_log(&f)) != 0)
		snprintf(err, errlen, "restore into %s: %s: %s", state, err_name(rv),
			 f.errmsg[0] ? f.errmsg : f.kv.errmsg);
	if (fsm_close(&f) != 0 && rv == 0) {
		snprintf(err, errlen, "%s", f.errmsg);
		rv = BERTH_EIO;
	}
	/* The raft log will not hold this state: keep it synced until a snapshot does. */
	if (rv == 0)
		rv = kvmark_base_set(state, err, errlen);
	if (rv != 0)
		return rv;
	return restore_bootstrap(cfg, raft_dir, err, errlen);
}

int restore_run(const struct config *cfg, const char *file, struct restore_info *info, char *err,
		size_t errlen)
{
	struct restore_file rf = {NULL, crc32(0, Z_NULL, 0), 0};
	struct fsm_snapshot_info si;
	struct stat st;
	bool created = false;
	int rv;

	memset(info, 0, sizeof(*info));
	if (cfg->nmembers == 0) {
		snprintf(err, errlen, "--bootstrap is required: the members of the new cluster");
		return BERTH_EBADREQ;
	}
	if (stat(cfg->data, &st) == 0) {
		int empty = S_ISDIR(st.st_mode) ? restore_dir_empty(cfg->data) : -1;
		if (empty != 1) {
			snprintf(err, errlen, "--data %s: %s", cfg->data,
				 empty == 0 ? "not empty: a restore needs a new data directory"
					    : "not a readable directory");
			return BERTH_EBADREQ;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "--data %s: %s", cfg->data, strerror(errno));
		return BERTH_EIO;
	}
	if ((rf.f = fopen(file, "rb")) == NULL || fstat(fileno(rf.f), &st) != 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		if (rf.f != NULL)
			fclose(rf.f);
		return BERTH_EIO;
	}
	setvbuf(rf.f, NULL, _IOFBF, RESTORE_FILE_BUFFER);
	rv = fsm_snapshot_check(restore_read, &rf, &si);
	if (rv == 0 && (uint64_t)st.st_size != si.bytes)
		rv = BERTH_ECORRUPT; /* bytes after the end: not a file `snapshot save` wrote */
	if (rv != 0) {
		snprintf(err, errlen, "%s: %s", file,
			 rv == BERTH_EIO ? strerror(rf.err)
			 : (uint64_t)st.st_size < 12
				 ? "not a berth snapshot (too short)"
				 : "not a complete, intact berth snapshot (magic, "
				   "version, truncation or checksum)");
		fclose(rf.f);
		return rv;
	}
	*info = (struct restore_info){si.bytes, (uint32_t)rf.crc, si.records, si.rev, si.applied};
	if (mkdir(cfg->data, 0700) == 0) {
		created = true;
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", cfg->data, strerror(errno));
		fclose(rf.f);
		return BERTH_EIO;
	}
	rv = restore_write(cfg, &rf, cfg->data, err, errlen);
	fclose(rf.f);
	if (rv != 0)
		restore_undo(cfg->data, created);
	return rv;
}
