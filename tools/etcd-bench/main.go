// tools/etcd-bench/main.go: etcd-bench, berth-bench kv's peer for etcd: the same cases,
// clients, connections, key and value sizes and duration against an etcd cluster through
// etcd's official Go client (clientv3, Debian's golang-etcd-server-dev, GOPATH mode), and
// the same --row and --json output, so that tools/bench-compare lines the two up.
//
//	etcd-bench kv [--endpoints A,B,C] [--clients 1] [--conns 1] [--duration 5 | --requests N]
//	              [--value-bytes 256] [--key-bytes 8]
//	              [--case put|get-lin|get-ser|cas-distinct|cas-hot] [--json | --row]
//	etcd-bench failover --endpoints A,B,C --pids P1,P2,P3 [--settle 1]   (failover.go)
//	etcd-bench wait --endpoints A,B,C [--timeout 60]                     (failover.go)
//
// kv: --conns clientv3 clients (one gRPC connection each; connection h dials endpoint
// h mod len(endpoints) only, as etcd's own benchmark tool does) shared by --clients
// goroutines (client i uses connection i mod conns), each with one request in flight.
// Keys, setup writes and cases are those of tools/bench_kv.c: key i of client t is
// "%03x%05x" left-padded with 'k'; put cycles over 1,000 keys per client; reads read 16
// keys per client written in setup; cas-distinct is a txn comparing the version of one
// of the client's 16 keys, then putting it, else reading it; cas-hot has every client CAS
// one key, each CAS case first reading the versions its compares start from. Every client
// starts measuring when all have finished setup. Latency is per
// request on the monotonic clock; percentiles are nearest-rank, as berth-bench's.
//
// Exit status: 0 done, 1 the benchmark failed, 2 a bad command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.uber.org/zap"
	"google.golang.org/grpc/status"
)

const (
	maxClients   = 4000 // berth-bench kv's KV_MAX_CLIENTS
	keysPerPut   = 1000 // KV_KEYS_PER_THREAD
	readKeys     = 16   // KV_READ_KEYS
	casKeys      = 16   // KV_CAS_KEYS
	slotCAS      = 0x10000
	slotSetup    = 0xffffe
	hotClient    = 0xfff
	hotSlot      = 0xfffff
	requestLimit = 10 * time.Second // each request's deadline, libberth's default is 5 s
	exitFail     = 1
	exitUsage    = 2
)

var caseNames = []string{"put", "get-lin", "get-ser", "cas-distinct", "cas-hot"}

type config struct {
	endpoints            []string
	clients, conns       int
	requests             uint64
	duration             time.Duration
	keyBytes, valueBytes int
	kcase                string
	json, row            bool
	value                string
}

// What one client measured.
type stats struct {
	setupErr      error
	tStart, tEnd  time.Time
	ok, conflicts uint64
	errs          map[string]uint64
	lat           []time.Duration
}

func usageErr(cmd, format string, a ...interface{}) int {
	fmt.Fprintf(os.Stderr, "etcd-bench %s: %s\n", cmd, fmt.Sprintf(format, a...))
	return exitUsage
}

func key(cfg *config, t, i int) string {
	tail := fmt.Sprintf("%03x%05x", t&0xfff, i&0xfffff)
	return strings.Repeat("k", cfg.keyBytes-8) + tail
}

// errName is what a failure counts as: the gRPC code, or the error's text.
func errName(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "DeadlineExceeded"
	}
	if s, ok := status.FromError(err); ok {
		return s.Code().String()
	}
	return strings.ReplaceAll(err.Error(), " ", "_")
}

// newClient connects to eps. The client library logs errors only: its warnings about
// retries are what the benchmark counts (and failover provokes).
func newClient(eps []string) (*clientv3.Client, error) {
	lc := zap.NewProductionConfig()
	lc.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	return clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second,
		LogConfig: &lc})
}

func parseKV(args []string, cfg *config) int {
	fs := flag.NewFlagSet("kv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	eps := fs.String("endpoints", "127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379", "")
	clients := fs.Int("clients", 1, "")
	conns := fs.Int("conns", 0, "")
	dur := fs.Float64("duration", 5, "")
	reqs := fs.Uint64("requests", 0, "")
	vb := fs.Int("value-bytes", 256, "")
	kb := fs.Int("key-bytes", 8, "")
	kcase := fs.String("case", "put", "")
	js := fs.Bool("json", false, "")
	row := fs.Bool("row", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Println("usage: etcd-bench kv [--endpoints A,B,C] [--clients 1] [--conns N] " +
				"[--duration 5 | --requests N]\n         [--value-bytes 256] [--key-bytes 8] " +
				"[--case put|get-lin|get-ser|cas-distinct|cas-hot] [--json | --row]")
			os.Exit(0)
		}
		return usageErr("kv", "%v", err)
	}
	if fs.NArg() != 0 {
		return usageErr("kv", "unexpected argument \"%s\"", fs.Arg(0))
	}
	cfg.endpoints = splitList(*eps)
	if len(cfg.endpoints) == 0 || len(cfg.endpoints) > 16 {
		return usageErr("kv", "--endpoints: 1 to 16 endpoints")
	}
	if *clients < 1 || *clients > maxClients {
		return usageErr("kv", "--clients: must be 1..%d", maxClients)
	}
	cfg.clients = *clients
	cfg.conns = *conns
	if cfg.conns == 0 {
		cfg.conns = cfg.clients
	}
	if cfg.conns < 1 || cfg.conns > cfg.clients {
		return usageErr("kv", "--conns: must be 1..--clients (%d)", cfg.clients)
	}
	if !(*dur > 0 && *dur <= 86400) {
		return usageErr("kv", "--duration: seconds, more than 0 and at most 86400")
	}
	cfg.duration = time.Duration(*dur * float64(time.Second))
	if *reqs > 1<<32-1 {
		return usageErr("kv", "--requests: at most %d", uint64(1<<32-1))
	}
	cfg.requests = *reqs
	if *vb < 0 || *vb > 1<<20 {
		return usageErr("kv", "--value-bytes: must be 0..%d", 1<<20)
	}
	if *kb < 8 || *kb > 1000 {
		return usageErr("kv", "--key-bytes: must be 8..1000")
	}
	cfg.valueBytes, cfg.keyBytes = *vb, *kb
	cfg.kcase = ""
	for _, c := range caseNames {
		if c == *kcase {
			cfg.kcase = c
		}
	}
	if cfg.kcase == "" {
		return usageErr("kv", "--case: unknown case \"%s\" (%s)", *kcase,
			strings.Join(caseNames, ", "))
	}
	if *js && *row {
		return usageErr("kv", "--json and --row exclude each other")
	}
	cfg.json, cfg.row = *js, *row
	cfg.value = strings.Repeat("v", cfg.valueBytes)
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

type kvClient struct {
	cfg        *config
	id         int
	c          *clientv3.Client
	st         *stats
	versions   [casKeys]int64
	hotVersion int64
}

// cas compares the key's version with *version, puts on a match, else reads it back.
func (k *kvClient) cas(ctx context.Context, key string, version *int64) (bool, error) {
	resp, err := k.c.Txn(ctx).
		If(clientv3.Compare(clientv3.Version(key), "=", *version)).
		Then(clientv3.OpPut(key, k.cfg.value)).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return false, err
	}
	if resp.Succeeded {
		*version++
		return true, nil
	}
	*version = 0
	if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
		*version = rr.Kvs[0].Version
	}
	return false, nil
}

// request makes request i of the case; false for a CAS that lost.
func (k *kvClient) request(i uint64) (bool, error) {
	cfg := k.cfg
	ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
	defer cancel()
	switch cfg.kcase {
	case "put":
		_, err := k.c.Put(ctx, key(cfg, k.id, int(i%keysPerPut)), cfg.value)
		return true, err
	case "get-lin", "get-ser":
		var opts []clientv3.OpOption
		if cfg.kcase == "get-ser" {
			opts = append(opts, clientv3.WithSerializable())
		}
		resp, err := k.c.Get(ctx, key(cfg, k.id, int(i%readKeys)), opts...)
		if err == nil && len(resp.Kvs) == 0 {
			err = errors.New("ENOTFOUND") // setup wrote it: a lost write
		}
		return true, err
	case "cas-distinct":
		n := int(i % casKeys)
		return k.cas(ctx, key(cfg, k.id, slotCAS+n), &k.versions[n])
	default: // cas-hot
		return k.cas(ctx, key(cfg, hotClient, hotSlot), &k.hotVersion)
	}
}

func (k *kvClient) setup() error {
	cfg := k.cfg
	n, slot := 1, func(int) int { return slotSetup }
	if cfg.kcase == "get-lin" || cfg.kcase == "get-ser" {
		n, slot = readKeys, func(j int) int { return j }
	}
	for j := 0; j < n; j++ {
		ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
		_, err := k.c.Put(ctx, key(cfg, k.id, slot(j)), cfg.value)
		cancel()
		if err != nil {
			return err
		}
	}
	// The CAS cases read the versions their compares start from: an earlier run on the
	// same cluster leaves the keys behind (berth-bench kv's setup reads).
	reads, casKey, version := 0, func(int) string { return key(cfg, hotClient, hotSlot) },
		func(int) *int64 { return &k.hotVersion }
	switch cfg.kcase {
	case "cas-distinct":
		reads = casKeys
		casKey = func(j int) string { return key(cfg, k.id, slotCAS+j) }
		version = func(j int) *int64 { return &k.versions[j] }
	case "cas-hot":
		reads = 1
	}
	for j := 0; j < reads; j++ {
		ctx, cancel := context.WithTimeout(context.Background(), requestLimit)
		resp, err := k.c.Get(ctx, casKey(j))
		cancel()
		if err != nil {
			return err
		}
		*version(j) = 0
		if len(resp.Kvs) > 0 {
			*version(j) = resp.Kvs[0].Version
		}
	}
	return nil
}

func (k *kvClient) run(setupDone *sync.WaitGroup, start <-chan struct{}) {
	cfg, st := k.cfg, k.st
	st.setupErr = k.setup()
	setupDone.Done()
	<-start
	if st.setupErr != nil {
		return
	}
	st.tStart = time.Now()
	quota, deadline := uint64(1<<63), st.tStart.Add(cfg.duration)
	if cfg.requests > 0 {
		quota = cfg.requests / uint64(cfg.clients)
		if uint64(k.id) < cfg.requests%uint64(cfg.clients) {
			quota++
		}
		deadline = st.tStart.Add(100 * 365 * 24 * time.Hour)
	}
	for i := uint64(0); i < quota; i++ {
		t0 := time.Now()
		if !t0.Before(deadline) {
			break
		}
		won, err := k.request(i)
		st.lat = append(st.lat, time.Since(t0))
		switch {
		case err != nil:
			st.errs[errName(err)]++
		case !won:
			st.conflicts++
		default:
			st.ok++
		}
	}
	st.tEnd = time.Now()
}

func runKV(args []string) int {
	cfg := &config{}
	if rv := parseKV(args, cfg); rv != 0 {
		return rv
	}
	conns := make([]*clientv3.Client, cfg.conns)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for h := range conns {
		c, err := newClient([]string{cfg.endpoints[h%len(cfg.endpoints)]})
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench kv: connecting to %s: %v\n",
				cfg.endpoints[h%len(cfg.endpoints)], err)
			return exitFail
		}
		conns[h] = c
	}
	st := make([]stats, cfg.clients)
	var setupDone, finished sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < cfg.clients; i++ {
		st[i].errs = map[string]uint64{}
		k := &kvClient{cfg: cfg, id: i, c: conns[i%cfg.conns], st: &st[i]}
		setupDone.Add(1)
		finished.Add(1)
		go func() { defer finished.Done(); k.run(&setupDone, start) }()
	}
	setupDone.Wait()
	close(start)
	finished.Wait()
	for i := range st {
		if st[i].setupErr != nil {
			fmt.Fprintf(os.Stderr, "etcd-bench kv: client %d: setup failed: %v\n", i,
				st[i].setupErr)
			return exitFail
		}
	}
	report(cfg, st)
	return 0
}

// rank is the nearest rank: the smallest value with at least p of the records at or below.
func rank(v []time.Duration, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	k := int(p*float64(len(v)) + 0.999999)
	if k < 1 {
		k = 1
	}
	if k > len(v) {
		k = len(v)
	}
	return float64(v[k-1].Nanoseconds()) / 1000
}

func report(cfg *config, st []stats) {
	var ok, conflicts uint64
	var t0, t1 time.Time
	var all []time.Duration
	errs := map[string]uint64{}
	for i := range st {
		ok += st[i].ok
		conflicts += st[i].conflicts
		for k, n := range st[i].errs {
			errs[k] += n
		}
		if t0.IsZero() || st[i].tStart.Before(t0) {
			t0 = st[i].tStart
		}
		if st[i].tEnd.After(t1) {
			t1 = st[i].tEnd
		}
		all = append(all, st[i].lat...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	secs := t1.Sub(t0).Seconds()
	rate, cfrac := 0.0, 0.0
	if secs > 0 {
		rate = float64(ok) / secs
	}
	if ok > 0 {
		cfrac = float64(conflicts) / float64(ok)
	}
	p50, p90, p99, max := rank(all, .5), rank(all, .9), rank(all, .99), rank(all, 1)
	names := make([]string, 0, len(errs))
	for k := range errs {
		names = append(names, k)
	}
	sort.Strings(names)
	if cfg.json {
		parts := make([]string, 0, len(names))
		for _, k := range names {
			parts = append(parts, fmt.Sprintf("%q: %d", k, errs[k]))
		}
		fmt.Printf("{\"case\": %q, \"clients\": %d, \"conns\": %d, \"requests\": %d, "+
			"\"ok\": %d, \"seconds\": %.3f, \"ok_per_s\": %.1f, \"p50_us\": %.1f, "+
			"\"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"conflicts\": %d, "+
			"\"conflicts_per_success\": %.3f, \"errors\": {%s}}\n",
			cfg.kcase, cfg.clients, cfg.conns, len(all), ok, secs, rate, p50, p90, p99,
			max, conflicts, cfrac, strings.Join(parts, ", "))
		return
	}
	ebuf := "none"
	if len(names) > 0 {
		parts := make([]string, 0, len(names))
		for _, k := range names {
			parts = append(parts, fmt.Sprintf("%s=%d", k, errs[k]))
		}
		ebuf = strings.Join(parts, " ")
	}
	conf := "-"
	if cfg.kcase == "cas-hot" {
		conf = fmt.Sprintf("%.2f", cfrac)
	}
	if cfg.row {
		fmt.Printf("%-13s %7d %5d %9.0f %9.2f %9.2f %9.2f %9.2f %10s  %s\n", cfg.kcase,
			cfg.clients, cfg.conns, rate, p50/1000, p90/1000, p99/1000, max/1000, conf, ebuf)
		return
	}
	fmt.Printf("etcd kv %s, %d clients on %d connections: %d requests in %.2f s, %d "+
		"succeeded: %.0f/s\n", cfg.kcase, cfg.clients, cfg.conns, len(all), secs, ok, rate)
	fmt.Printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", p50/1000, p90/1000,
		p99/1000, max/1000)
	if cfg.kcase == "cas-hot" {
		fmt.Printf("  conflicts: %d (%.2f per success)\n", conflicts, cfrac)
	}
	fmt.Printf("  errors: %s\n", ebuf)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: etcd-bench kv|failover|wait [options] (--help)")
		os.Exit(exitUsage)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "kv":
		os.Exit(runKV(args))
	case "failover":
		os.Exit(runFailover(args))
	case "wait":
		os.Exit(runWait(args))
	default:
		fmt.Fprintf(os.Stderr, "etcd-bench: unknown subcommand \"%s\" (kv, failover, wait)\n",
			os.Args[1])
		os.Exit(exitUsage)
	}
}
