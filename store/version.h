/* store/version.h: versions of what berth-store is built with. */
#ifndef BERTH_STORE_VERSION_H
#define BERTH_STORE_VERSION_H

#define BERTH_VERSION "0.1.0"

/* RAFT_VERSION_NUMBER at compile time (2201 for 0.22.1). Debian's libraft.so 0.22.1 does
 * not export raft_version_number() although raft.h declares it, so the linked library's
 * own number cannot be asked. */
int version_raft_built(void);

#endif
