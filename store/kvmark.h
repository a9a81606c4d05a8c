/* store/kvmark.h: the state database's "open without sync" marker, and the rule that
 * discards a database an operating-system crash may have torn.
 *
 * A member's LMDB database is written with MDB_NOSYNC (docs/store.md, "Durability"): the
 * raft log (fsynced by libraft before an entry counts) is the durable record, and the
 * database is derived from it. A process crash loses nothing the process wrote (the page
 * cache survives it); an operating-system crash or power loss can lose or tear any write
 * not yet flushed, so a database open at that moment cannot be trusted.
 *
 * While the database is open, DIR/unsynced holds the boot id of the running kernel
 * (/proc/sys/kernel/random/boot_id), written and fsynced before the first write. A clean
 * close flushes the database (mdb_env_sync) and then removes the marker. At the next open:
 *   - no marker: the last close was clean; the database is whole.
 *   - a marker with this boot's id: the process died, the machine did not; the page cache
 *     holds every write; the database is whole.
 *   - a marker with another boot's id, or an unreadable one, or no boot id to compare
 *     with: the database is removed, and the member rebuilds it from its raft snapshot
 *     and log (libraft restores the snapshot and replays the entries after it).
 *
 * That rebuild needs the raft directory to hold everything the database does. A member
 * made from a backup (berth-store restore) does not: its log starts empty above the
 * restored state. DIR/base marks such a database; while it is there the database is
 * opened with synced commits (MDB_NOMETASYNC) instead, and the member removes it once a
 * raft snapshot holding the state is on disk.
 */
#ifndef BERTH_STORE_KVMARK_H
#define BERTH_STORE_KVMARK_H

#include <stdbool.h>
#include <stddef.h>

#define KVMARK_FILE "unsynced"
#define KVMARK_BOOT_ID "/proc/sys/kernel/random/boot_id"

/* Applies the rule above to directory `dir` (which exists and which this process has
 * locked), then writes the marker with this boot's id, durably. boot_id_path NULL means
 * KVMARK_BOOT_ID. *discarded tells whether the database files were removed. Returns 0 or
 * BERTH_EIO with errmsg set. */
int kvmark_open(const char *dir, const char *boot_id_path, bool *discarded, char *errmsg,
		size_t errlen);

/* Removes the marker, durably; call after the database is flushed and closed. Returns 0
 * or BERTH_EIO with errmsg set (the next open then discards the database only if the
 * machine restarted in between). */
int kvmark_close(const char *dir, char *errmsg, size_t errlen);

#define KVMARK_BASE "base"

/* DIR/base, durably: set by a restore, present?, removed once a snapshot holds the state.
 * set and clear return 0 or BERTH_EIO with errmsg set. */
int kvmark_base_set(const char *dir, char *errmsg, size_t errlen);
bool kvmark_base_present(const char *dir);
int kvmark_base_clear(const char *dir, char *errmsg, size_t errlen);

#endif
