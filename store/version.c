/* store/version.c: the raft library berth is built against, checked at compile time.
 *
 * Debian 12's own libraft 0.15 drops committed entries on restart and lacks the
 * "Figure 8" fix (DESIGN.md section 2); berth needs 0.22 from bookworm-backports. */
#include "store/version.h"

#include <raft.h>

#if !defined(RAFT_VERSION_NUMBER) || RAFT_VERSION_NUMBER < 2200
#error "berth needs libraft >= 0.22 (bookworm-backports): 0.15 loses committed entries"
#endif

int version_raft_built(void)
{
	return RAFT_VERSION_NUMBER;
}
