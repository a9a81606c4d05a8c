/* store/restore.h: `berth-store restore FILE OPTIONS`: a fresh data directory for one
 * member of a new cluster, from a backup saved with `berthctl snapshot save`.
 *
 * OPTIONS are the member's own (store/config.h): --id, --data, --peer-addr,
 * --client-addr and --bootstrap naming every member of the new cluster (required), plus
 * any other; the same command line without `restore FILE` then starts the member.
 *
 * In order, each step only once the one before succeeded:
 *   1. the data directory must be empty or absent (its parent must exist);
 *   2. FILE is read whole and checked (fsm_snapshot_check: magic, version, framing,
 *      sizes, record count, CRC, meta values; no byte after the end): a bad file is
 *      refused before anything is created;
 *   3. DIR/state gets the database from FILE (fsm_restore), then fsm_reset_log: applied
 *      index 0 and no sessions, as store/fsm.h ("Restore from a backup") explains;
 *   4. DIR/raft gets a fresh raft log bootstrapped with --bootstrap's members as voters,
 *      as a new cluster's first start would do (entry 1: the configuration).
 * On any failure everything created is removed again (DIR itself when it was absent).
 * Every member of the new cluster is restored from the same file, so all start from the
 * same state and the same configuration; then they are started normally. */
#ifndef BERTH_STORE_RESTORE_H
#define BERTH_STORE_RESTORE_H

#include "store/config.h"

#include <stddef.h>
#include <stdint.h>

struct restore_info {
	uint64_t bytes;   /* the file's length */
	uint32_t crc;     /* CRC-32 of the whole file (what `snapshot save` printed) */
	uint64_t records; /* records in the stream */
	uint64_t rev;     /* the revision restored */
	uint64_t applied; /* the applied index in the cluster it was saved from */
};

/* Runs the steps above. 0 with *info; otherwise BERTH_EBADREQ (options, a data directory
 * that is not empty), BERTH_ECORRUPT (the file), BERTH_EIO, BERTH_ENOMEM..., with a
 * message in err naming what is wrong. */
int restore_run(const struct config *cfg, const char *file, struct restore_info *info, char *err,
		size_t errlen);

#endif
