// tools/etcd-bench/failover.go: etcd-bench failover and wait, berth-bench failover's peer.
//
// failover: find the leader (each member's Status: the one whose member id is the leader
// it reports), start one writer per member (a client bound to that member alone, puts in a
// loop, each within --put-timeout s, default 0.1: a put sent to a member that still waits
// for the dead leader hangs until then; a pause of 5 ms after a failure), write for
// --settle s, SIGKILL
// the leader's PID (--pids lists them in --endpoints' order), and time from just before
// the kill to the first put sent after it and acknowledged by another member. One writer
// per member makes the figure the cluster's, not one client's balancer: the first member
// that takes a write ends it (etcd's best case). It does not restart the member: whoever
// started it does, then runs wait.
//
// wait: until every endpoint answers Status, all name the same leader, and each has
// applied the leader's commit index as read when they first all answered (--timeout).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func parseEndpoints(cmd, s string) ([]string, int) {
	eps := splitList(s)
	if len(eps) == 0 || len(eps) > 16 {
		return nil, usageErr(cmd, "--endpoints: 1 to 16 endpoints")
	}
	return eps, 0
}

// leaderIndex asks every member and returns the index in eps of the one that is leader,
// with its member id; -1 when none answers as leader.
func leaderIndex(c *clientv3.Client, eps []string) (int, uint64) {
	for i, ep := range eps {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Status(ctx, ep)
		cancel()
		if err == nil && st.Leader != 0 && st.Header.MemberId == st.Leader {
			return i, st.Leader
		}
	}
	return -1, 0
}

type writer struct {
	c        *clientv3.Client
	stop     int32
	puts     uint64
	errs     map[string]uint64
	ackNs    int64  // first ack from another member of a put sent after killNs
	ackBy    uint64 // the member that gave it
	killNs   *int64
	oldID    uint64
	ackMutex *sync.Mutex
	val      string
	timeout  time.Duration
}

func (w *writer) run(id int) {
	for i := 0; atomic.LoadInt32(&w.stop) == 0; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		sent := time.Now().UnixNano()
		resp, err := w.c.Put(ctx, fmt.Sprintf("f%d%06x", id, i&0xffffff), w.val)
		cancel()
		now := time.Now().UnixNano()
		if err != nil {
			w.errs[errName(err)]++
			time.Sleep(5 * time.Millisecond)
			continue
		}
		w.puts++
		kill := atomic.LoadInt64(w.killNs)
		if kill != 0 && sent >= kill && resp.Header.MemberId != w.oldID {
			w.ackMutex.Lock()
			if w.ackNs == 0 || now < w.ackNs {
				w.ackNs, w.ackBy = now, resp.Header.MemberId
			}
			w.ackMutex.Unlock()
		}
	}
}

func runFailover(args []string) int {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	epsFlag := fs.String("endpoints", "", "")
	pidsFlag := fs.String("pids", "", "")
	settle := fs.Float64("settle", 1, "")
	putTimeout := fs.Float64("put-timeout", 0.1, "")
	row := fs.Bool("row", false, "")
	if err := fs.Parse(args); err != nil {
		return usageErr("failover", "%v (usage: etcd-bench failover --endpoints A,B,C "+
			"--pids P1,P2,P3 [--settle 1] [--put-timeout 0.1] [--row])", err)
	}
	eps, rv := parseEndpoints("failover", *epsFlag)
	if rv != 0 {
		return rv
	}
	var pids []int
	for _, p := range splitList(*pidsFlag) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 2 {
			return usageErr("failover", "--pids: \"%s\" is not a process id", p)
		}
		pids = append(pids, n)
	}
	if len(pids) != len(eps) {
		return usageErr("failover", "--pids: one per endpoint (%d)", len(eps))
	}
	if !(*settle >= 0 && *settle <= 60) {
		return usageErr("failover", "--settle: seconds, 0..60")
	}
	if !(*putTimeout >= 0.001 && *putTimeout <= 60) {
		return usageErr("failover", "--put-timeout: seconds, 0.001..60")
	}
	mc, err := newClient(eps)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-bench failover: %v\n", err)
		return exitFail
	}
	defer mc.Close()
	li, lid := -1, uint64(0)
	for deadline := time.Now().Add(15 * time.Second); li < 0 && time.Now().Before(deadline); {
		if li, lid = leaderIndex(mc, eps); li < 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if li < 0 {
		fmt.Fprintln(os.Stderr, "etcd-bench failover: no leader after 15 s")
		return exitFail
	}
	var killNs int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	ws := make([]*writer, len(eps))
	for i, ep := range eps {
		c, err := newClient([]string{ep})
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench failover: connecting to %s: %v\n", ep, err)
			return exitFail
		}
		defer c.Close()
		ws[i] = &writer{c: c, errs: map[string]uint64{}, killNs: &killNs, oldID: lid,
			ackMutex: &mu, val: strings.Repeat("v", 256),
			timeout: time.Duration(*putTimeout * float64(time.Second))}
		wg.Add(1)
		go func(w *writer, id int) { defer wg.Done(); w.run(id) }(ws[i], i)
	}
	time.Sleep(time.Duration(*settle * float64(time.Second)))
	tKill := time.Now()
	atomic.StoreInt64(&killNs, tKill.UnixNano())
	kerr := syscall.Kill(pids[li], syscall.SIGKILL)
	for kerr == nil && time.Since(tKill) < 30*time.Second {
		mu.Lock()
		done := anyAck(ws)
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, w := range ws {
		atomic.StoreInt32(&w.stop, 1)
	}
	wg.Wait()
	var ack int64
	var by, puts uint64
	errs := map[string]uint64{}
	for _, w := range ws {
		if w.ackNs != 0 && (ack == 0 || w.ackNs < ack) {
			ack, by = w.ackNs, w.ackBy
		}
		puts += w.puts
		for k, n := range w.errs {
			errs[k] += n
		}
	}
	if kerr != nil {
		fmt.Fprintf(os.Stderr, "etcd-bench failover: kill %d: %v\n", pids[li], kerr)
		return exitFail
	}
	if ack == 0 {
		fmt.Fprintln(os.Stderr, "etcd-bench failover: no write acknowledged in 30 s")
		return exitFail
	}
	took := float64(ack-tKill.UnixNano()) / 1e9
	if *row {
		fmt.Printf("failover %d %.3f\n", li+1, took)
		return 0
	}
	fmt.Printf("killed leader %d (pid %d); next write acknowledged by member %x after %.3f s; "+
		"%d puts, errors: %s\n", li+1, pids[li], by, took, puts, formatErrs(errs))
	return 0
}

func anyAck(ws []*writer) bool {
	for _, w := range ws {
		if w.ackNs != 0 {
			return true
		}
	}
	return false
}

func formatErrs(errs map[string]uint64) string {
	if len(errs) == 0 {
		return "none"
	}
	names := make([]string, 0, len(errs))
	for k := range errs {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		names[i] = fmt.Sprintf("%s=%d", k, errs[k])
	}
	return strings.Join(names, " ")
}

func runWait(args []string) int {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	epsFlag := fs.String("endpoints", "", "")
	timeout := fs.Float64("timeout", 60, "")
	if err := fs.Parse(args); err != nil {
		return usageErr("wait", "%v (usage: etcd-bench wait --endpoints A,B,C "+
			"[--timeout 60])", err)
	}
	eps, rv := parseEndpoints("wait", *epsFlag)
	if rv != 0 {
		return rv
	}
	if !(*timeout > 0 && *timeout <= 3600) {
		return usageErr("wait", "--timeout: seconds, more than 0 and at most 3600")
	}
	t0 := time.Now()
	deadline := t0.Add(time.Duration(*timeout * float64(time.Second)))
	c, err := newClient(eps)
	for err != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		c, err = newClient(eps)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-bench wait: %v\n", err)
		return exitFail
	}
	defer c.Close()
	var target uint64
	for time.Now().Before(deadline) {
		var leader, applied uint64
		all, caught := true, true
		for _, ep := range eps {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.Status(ctx, ep)
			cancel()
			if err != nil || st.Leader == 0 || (leader != 0 && st.Leader != leader) {
				all = false
				break
			}
			leader = st.Leader
			if st.Header.MemberId == st.Leader && target == 0 {
				target = st.RaftIndex
			}
			applied = st.RaftAppliedIndex
			if target == 0 || applied < target {
				caught = false
			}
		}
		if all && caught && target != 0 {
			fmt.Printf("etcd-bench wait: %d members agree on leader %x and applied index "+
				"%d after %.2f s\n", len(eps), leader, target, time.Since(t0).Seconds())
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "etcd-bench wait: members not caught up after %.0f s\n", *timeout)
	return exitFail
}
