/* jepsen/plot.c: gnuplot's input from a history, and gnuplot run on it (jepsen/plot.h). */
#include "jepsen/plot.h"

#include "jepsen/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_MAX_SECONDS 86400
#define PLOT_TIMEOUT_MS 60000

static FILE *plot_open(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return f;
}

/* latency.dat and rate.dat. */
static int plot_ops(const struct history *h, const char *dir, char *err, size_t errlen)
{
	struct hist_op *ops = NULL;
	size_t nops = 0;
	if (hist_pair(h, &ops, &nops, err, errlen) != 0)
		return -1;
	FILE *lat = plot_open(dir, "latency.dat", err, errlen);
	FILE *rate = lat ? plot_open(dir, "rate.dat", err, errlen) : NULL;
	size_t nsec = 1;
	unsigned(*per)[3] = NULL;
	int rc = -1;
	if (lat == NULL || rate == NULL)
		goto out;
	for (size_t i = 0; i < nops; i++)
		if (ops[i].complete != NULL) {
			size_t s = (size_t)(ops[i].complete->time / 1000000000);
			if (s + 1 > nsec && s < PLOT_MAX_SECONDS)
				nsec = s + 1;
		}
	per = calloc(nsec, sizeof(*per));
	if (per == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	fprintf(lat, "# seconds latency_ms type(0 ok, 1 fail, 2 info) f\n");
	for (size_t i = 0; i < nops; i++) {
		const struct hist_op *o = &ops[i];
		if (o->complete == NULL)
			continue;
		int t = o->type == HIST_OK ? 0 : o->type == HIST_FAIL ? 1 : 2;
		fprintf(lat, "%.3f %.3f %d %s\n", (double)o->invoke->time / 1e9,
			(double)(o->complete->time - o->invoke->time) / 1e6, t, o->invoke->f);
		size_t s = (size_t)(o->complete->time / 1000000000);
		if (s < nsec)
			per[s][t]++;
	}
	fprintf(rate, "# second ok fail info\n");
	for (size_t s = 0; s < nsec; s++)
		fprintf(rate, "%zu %u %u %u\n", s, per[s][0], per[s][1], per[s][2]);
	rc = 0;
out:
	if (lat != NULL && fclose(lat) != 0 && rc == 0) {
		snprintf(err, errlen, "latency.dat: %s", strerror(errno));
		rc = -1;
	}
	if (rate != NULL && fclose(rate) != 0 && rc == 0) {
		snprintf(err, errlen, "rate.dat: %s", strerror(errno));
		rc = -1;
	}
	free(per);
	free(ops);
	return rc;
}

/* faults.dat: a window per start-X ... stop-X pair of the nemesis (open ones end at the
 * history's end). */
static int plot_faults(const struct history *h, const char *dir, double *end_s, char *err,
		       size_t errlen)
{
	FILE *f = plot_open(dir, "faults.dat", err, errlen);
	if (f == NULL)
		return -1;
	double open_at[32];
	char fam[32][24];
	unsigned nopen = 0;
	double end = h->n ? (double)h->ev[h->n - 1].time / 1e9 : 0;
	fprintf(f, "# start_s end_s family\n");
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_event *e = &h->ev[i];
		if (e->process != HIST_NEMESIS)
			continue;
		double t = (double)e->time / 1e9;
		if (strncmp(e->f, "start-", 6) == 0 && nopen < 32) {
			open_at[nopen] = t;
			snprintf(fam[nopen++], sizeof(fam[0]), "%s", e->f + 6);
		} else if (strncmp(e->f, "stop-", 5) == 0) {
			for (unsigned k = 0; k < nopen; k++) {
				if (strcmp(fam[k], e->f + 5) != 0)
					continue;
				fprintf(f, "%.3f %.3f %s\n", open_at[k], t, fam[k]);
				open_at[k] = open_at[nopen - 1];
				memcpy(fam[k], fam[nopen - 1], sizeof(fam[k]));
				nopen--;
				break;
			}
		}
	}
	for (unsigned k = 0; k < nopen; k++)
		fprintf(f, "%.3f %.3f %s\n", open_at[k], end, fam[k]);
	*end_s = end;
	if (fclose(f) != 0) {
		snprintf(err, errlen, "faults.dat: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static const char plot_script[] =
	"cd '%s'\n"
	"set terminal pngcairo size 1000,420 background rgb 'white'\n"
	"set grid\n"
	"set xlabel 'seconds'\n"
	"set xrange [0:%.1f]\n"
	"# fault windows: shaded rectangles from faults.dat\n"
	"n = 0\n"
	"stats 'faults.dat' using 1:2 nooutput\n"
	"n = STATS_records\n"
	"do for [i=0:n-1] {\n"
	"  stats 'faults.dat' every ::i::i using 1:2 nooutput\n"
	"  set object (i+1) rect from STATS_min_x, graph 0 to STATS_max_y, graph 1 "
	"fc rgb '#ffd9d9' fs solid 0.6 noborder behind\n"
	"}\n"
	"set output 'latency.png'\n"
	"set title 'latency of each operation (shaded: faults)'\n"
	"set ylabel 'ms'\n"
	"set logscale y\n"
	"plot 'latency.dat' using 1:($3==0?$2:1/0) with points pt 7 ps 0.3 lc rgb '#1f77b4' "
	"title 'ok', \\\n"
	"     'latency.dat' using 1:($3==1?$2:1/0) with points pt 7 ps 0.4 lc rgb '#d62728' "
	"title 'fail', \\\n"
	"     'latency.dat' using 1:($3==2?$2:1/0) with points pt 7 ps 0.5 lc rgb '#ff7f0e' "
	"title 'info'\n"
	"unset logscale y\n"
	"set output 'throughput.png'\n"
	"set title 'completions per second (shaded: faults)'\n"
	"set ylabel 'operations/s'\n"
	"plot 'rate.dat' using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'ok', \\\n"
	"     'rate.dat' using 1:3 with steps lw 2 lc rgb '#d62728' title 'fail', \\\n"
	"     'rate.dat' using 1:4 with steps lw 2 lc rgb '#ff7f0e' title 'info'\n";

int plot_history(const struct history *h, const char *dir, char *err, size_t errlen)
{
	double end = 0;
	if (plot_ops(h, dir, err, errlen) != 0 || plot_faults(h, dir, &end, err, errlen) != 0)
		return -1;
	FILE *gp = plot_open(dir, "plot.gp", err, errlen);
	if (gp == NULL)
		return -1;
	if (strchr(dir, '\'') != NULL) {
		fclose(gp);
		snprintf(err, errlen, "%s: a folder name with a quote cannot be plotted", dir);
		return -1;
	}
	fprintf(gp, plot_script, dir, end > 1 ? end : 1.0);
	if (fclose(gp) != 0) {
		snprintf(err, errlen, "plot.gp: %s", strerror(errno));
		return -1;
	}
	char script[1024];
	snprintf(script, sizeof(script), "%s/plot.gp", dir);
	const char *argv[] = {"gnuplot", script, NULL};
	return cmd_run(argv, PLOT_TIMEOUT_MS, NULL, 0, err, errlen) == 0 ? 0 : -1;
}
