/* jepsen/plot.h: latency and throughput over time, with the fault windows shaded, as PNG
 * drawn by gnuplot (Debian's gnuplot-nox; tools/install-deps installs it).
 *
 * From a history: DIR/latency.dat (one line per completed client operation: seconds
 * since the start, latency in ms, ok/fail/info), DIR/rate.dat (per second: ok, fail and
 * info completions), DIR/faults.dat (each fault window: start and end in seconds, its
 * family), DIR/plot.gp (the gnuplot script), then DIR/latency.png and
 * DIR/throughput.png. The data files and the script stay, so a plot can be redrawn. */
#ifndef BERTH_JEPSEN_PLOT_H
#define BERTH_JEPSEN_PLOT_H

#include "jepsen/history.h"

#include <stddef.h>

/* 0 with both PNGs written; -1 with a message in err (no gnuplot, a file that cannot be
 * written, gnuplot failed: its exit status). The data files are written either way. */
int plot_history(const struct history *h, const char *dir, char *err, size_t errlen);

#endif
