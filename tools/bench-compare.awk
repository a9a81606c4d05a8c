# tools/bench-compare.awk: the table tools/bench-compare prints, from its raw rows.
#
# Input lines: "SYSTEM ROUND" then the --row line of berth-bench kv or etcd-bench kv
# (case clients conns ok/s p50 p90 p99 max conflicts errors...), or "SYSTEM ROUND case
# clients conns FAILED". Variables: cases (the case:clients:conns list, in table order),
# fsync_p50 and fsync_p99 (us), fofile (lines "SYSTEM SECONDS" of the failover runs).
# Every figure is the median over the rounds, each column on its own. Plain awk (mawk).

function median(list,    n, v, i, j, t) {
	n = split(list, v, " ")
	if (n == 0)
		return -1
	for (i = 2; i <= n; i++) { # insertion sort, numerically
		t = v[i] + 0
		for (j = i - 1; j >= 1 && v[j] + 0 > t; j--)
			v[j + 1] = v[j]
		v[j + 1] = t
	}
	return n % 2 ? v[(n + 1) / 2] + 0 : (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(k, col, x) { vals[k, col] = vals[k, col] " " x }
function med(k, col) { return median(vals[k, col]) }
function fmt(x, prec) { return x < 0 ? "-" : sprintf("%." prec "f", x) }
function ratio(a, b) { return a < 0 || b <= 0 ? "-" : sprintf("%.2f", a / b) }

{
	k = $1 SUBSEP $3 ":" $4 ":" $5
	if ($6 == "FAILED") {
		failed[k]++
		next
	}
	add(k, "rate", $6); add(k, "p50", $7); add(k, "p90", $8); add(k, "p99", $9)
	if ($11 != "-")
		add(k, "conf", $11)
	for (i = 12; i <= NF; i++) # "none", or NAME=COUNT fields
		if (split($i, kv, "=") == 2)
			errs[k] += kv[2]
}

END {
	printf "%-13s %7s %5s %9s %9s %6s | %7s %7s %6s | %7s %7s | %7s %7s | %s\n",
	       "case", "clients", "conns", "berth/s", "etcd/s", "ratio", "p50 b", "p50 e",
	       "ratio", "p90 b", "p90 e", "p99 b", "p99 e", "errors b/e"
	n = split(cases, list, " ")
	for (i = 1; i <= n; i++) {
		c = list[i]
		split(c, p, ":")
		b = "berth" SUBSEP c
		e = "etcd" SUBSEP c
		note = (errs[b] + 0) "/" (errs[e] + 0)
		if (failed[b] + failed[e] > 0)
			note = note ", failed runs " (failed[b] + 0) "/" (failed[e] + 0)
		printf "%-13s %7s %5s %9s %9s %6s | %7s %7s %6s | %7s %7s | %7s %7s | %s\n",
		       p[1], p[2], p[3], fmt(med(b, "rate"), 0), fmt(med(e, "rate"), 0),
		       ratio(med(b, "rate"), med(e, "rate")), fmt(med(b, "p50"), 2),
		       fmt(med(e, "p50"), 2), ratio(med(b, "p50"), med(e, "p50")),
		       fmt(med(b, "p90"), 2), fmt(med(e, "p90"), 2), fmt(med(b, "p99"), 2),
		       fmt(med(e, "p99"), 2), note
		if (p[1] == "cas-hot")
			hot = sprintf("cas-hot (%s clients): conflicts per success, berth %s, etcd %s",
				      p[2], fmt(med(b, "conf"), 2), fmt(med(e, "conf"), 2))
		if (p[1] == "put" && p[2] == 1 && p[3] == 1) {
			put_b = med(b, "p50")
			put_e = med(e, "p50")
		}
	}
	print "ratio: berth/etcd (throughput: above 1 is berth faster; p50: below 1 is berth faster)"
	if (hot != "")
		print hot
	printf "fsync floor (4 KiB append + fdatasync): p50 %.0f us, p99 %.0f us\n", fsync_p50,
	       fsync_p99
	if (put_b != "" && fsync_p50 > 0)
		printf "put, 1 client, p50 / fsync p50: berth %s, etcd %s\n",
		       put_b < 0 ? "-" : sprintf("%.1fx", put_b * 1000 / fsync_p50),
		       put_e < 0 ? "-" : sprintf("%.1fx", put_e * 1000 / fsync_p50)
	while ((getline line < fofile) > 0) {
		split(line, f, " ")
		fo[f[1]] = fo[f[1]] " " f[2]
		fon[f[1]]++
	}
	if (fon["berth"] + fon["etcd"] > 0) {
		fb = median(fo["berth"])
		fe = median(fo["etcd"])
		printf "failover, leader SIGKILL to next acknowledged write (median of %d / %d runs): " \
		       "berth %s s, etcd %s s, ratio %s\n", fon["berth"], fon["etcd"], fmt(fb, 3),
		       fmt(fe, 3), ratio(fb, fe)
	}
}
