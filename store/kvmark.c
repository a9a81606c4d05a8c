/* store/kvmark.c: the state database's unsynced marker and discard rule (store/kvmark.h). */
#include "store/kvmark.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KVMARK_ID_MAX 64

/* Reads a boot id (a file of one line of printable characters) into id; "" when there
 * is none. */
static void kvmark_read_id(const char *path, char *id)
{
	id[0] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[KVMARK_ID_MAX + 1];
	ssize_t n = read(fd, buf, KVMARK_ID_MAX);
	close(fd);
	if (n <= 0)
		return;
	size_t len = 0;
	while (len < (size_t)n && buf[len] > ' ' && buf[len] < 0x7f)
		len++;
	/* The whole file is the id and one newline; anything else makes it unreadable. */
	if (len == 0 || len + 1 != (size_t)n || buf[len] != '\n')
		return;
	memcpy(id, buf, len);
	id[len] = 0;
}

static int kvmark_sync_dir(const char *dir, char *errmsg, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		snprintf(errmsg, errlen, "kvmark: fsync %.200s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return BERTH_EIO;
	}
	close(fd);
	return 0;
}

static int kvmark_unlink(const char *dir, const char *name, char *errmsg, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(errmsg, errlen, "kvmark: remove %.200s: %s", path, strerror(errno));
		return BERTH_EIO;
	}
	return 0;
}

/* DIR/name holds data, durably: written to name.new, fsynced, renamed, the directory
 * fsynced (a torn marker must not pass for a clean close). */
static int kvmark_put(const char *dir, const char *name, const char *data, size_t len, char *errmsg,
		      size_t errlen)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0 ||
	    rename(tmp, path) != 0) {
		snprintf(errmsg, errlen, "kvmark: write %.200s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return BERTH_EIO;
	}
	close(fd);
	return kvmark_sync_dir(dir, errmsg, errlen);
}

/* Removes DIR/name (if there), durably. */
static int kvmark_remove(const char *dir, const char *name, char *errmsg, size_t errlen)
{
	int rv = kvmark_unlink(dir, name, errmsg, errlen);
	return rv != 0 ? rv : kvmark_sync_dir(dir, errmsg, errlen);
}

int kvmark_open(const char *dir, const char *boot_id_path, bool *discarded, char *errmsg,
		size_t errlen)
{
	char path[4096], now[KVMARK_ID_MAX + 1], then[KVMARK_ID_MAX + 1];
	int rv;

	*discarded = false;
	kvmark_read_id(boot_id_path ? boot_id_path : KVMARK_BOOT_ID, now);
	snprintf(path, sizeof(path), "%s/%s", dir, KVMARK_FILE);
	if (access(path, F_OK) == 0) {
		kvmark_read_id(path, then);
		if (now[0] == 0 || then[0] == 0 || strcmp(now, then) != 0) {
			if ((rv = kvmark_unlink(dir, "data.mdb", errmsg, errlen)) != 0 ||
			    (rv = kvmark_unlink(dir, "lock.mdb", errmsg, errlen)) != 0 ||
			    (rv = kvmark_sync_dir(dir, errmsg, errlen)) != 0)
				return rv;
			*discarded = true;
		}
	} else if (errno != ENOENT) {
		snprintf(errmsg, errlen, "kvmark: %.200s: %s", path, strerror(errno));
		return BERTH_EIO;
	}
	size_t len = strlen(now);
	now[len] = '\n';
	return kvmark_put(dir, KVMARK_FILE, now, len + 1, errmsg, errlen);
}

int kvmark_close(const char *dir, char *errmsg, size_t errlen)
{
	return kvmark_remove(dir, KVMARK_FILE, errmsg, errlen);
}

int kvmark_base_set(const char *dir, char *errmsg, size_t errlen)
{
	return kvmark_put(dir, KVMARK_BASE, "", 0, errmsg, errlen);
}

bool kvmark_base_present(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, KVMARK_BASE);
	return access(path, F_OK) == 0;
}

int kvmark_base_clear(const char *dir, char *errmsg, size_t errlen)
{
	return kvmark_remove(dir, KVMARK_BASE, errmsg, errlen);
}
