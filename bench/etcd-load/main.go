// etcd-load: bench:kv's load generator for etcd, on etcd's own Go client
// (clientv3), as etcd's tools/benchmark drives it. The same closed loop as
// bench/kv-load.ts drives this project's kv3 with: C clients share M
// connections (client c uses connection c mod M, connection i goes to
// endpoint i mod len(endpoints)), each client does one op at a time on a
// random key of K, a put of a V-byte value or, with probability R, a
// linearizable get.
//
// Built offline by bench/kv-compare.ts from Debian's golang-go and
// golang-etcd-server-dev, in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o dist/bench/etcd-load bench/etcd-load/main.go
//
// Modes:
//
//	-mode load:   run the loop for S seconds, print one JSON line:
//	              {"ops","secs","p50","p99","cpu"} (ms; cpu is this process's own user+system seconds)
//	-mode ready:  put "warm" until it succeeds (or 20 s), then print {"leaders":[bool per endpoint]}
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.uber.org/zap"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func dial(ep string) *clientv3.Client {
	// Errors only: the client's retry warnings while etcd starts are expected (ready mode retries them itself).
	logs := zap.NewProductionConfig()
	logs.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, LogConfig: &logs})
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd-load: cannot connect to %s: %v\n", ep, err)
		os.Exit(1)
	}
	return c
}

func emit(v interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func ready(eps []string) {
	deadline := time.Now().Add(20 * time.Second)
	leaders := make([]bool, len(eps))
	for i, ep := range eps {
		c := dial(ep)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := c.Put(ctx, "warm", "up")
			var st *clientv3.StatusResponse
			if err == nil {
				st, err = c.Status(ctx, ep)
			}
			cancel()
			if err == nil {
				leaders[i] = st.Header.MemberId == st.Leader
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "etcd-load: %s not ready within 20 s: %v\n", ep, err)
				os.Exit(1)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
	}
	emit(map[string]interface{}{"leaders": leaders})
}

func load(eps []string, clients, conns int, seconds, readShare float64, keys, valueSize int, seed int64) {
	cs := make([]*clientv3.Client, conns)
	for i := range cs {
		cs[i] = dial(eps[i%len(eps)])
	}
	value := strings.Repeat("v", valueSize)
	lat := make([][]float64, clients)
	var wg sync.WaitGroup
	cpu0 := cpuSeconds()
	t0 := time.Now()
	end := t0.Add(time.Duration(seconds * float64(time.Second)))
	var failed error
	var once sync.Once
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(c)))
			kv := cs[c%conns]
			for time.Now().Before(end) {
				k := fmt.Sprintf("key%d", rng.Intn(keys))
				t := time.Now()
				var err error
				if rng.Float64() < readShare {
					_, err = kv.Get(context.Background(), k)
				} else {
					_, err = kv.Put(context.Background(), k, value)
				}
				if err != nil {
					once.Do(func() { failed = err })
					return
				}
				lat[c] = append(lat[c], float64(time.Since(t).Microseconds())/1000)
			}
		}(c)
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	cpu := cpuSeconds() - cpu0
	for _, c := range cs {
		c.Close()
	}
	if failed != nil {
		fmt.Fprintf(os.Stderr, "etcd-load: an op failed: %v\n", failed)
		os.Exit(1)
	}
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Float64s(all)
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "etcd-load: no op completed")
		os.Exit(1)
	}
	emit(map[string]interface{}{
		"ops": len(all), "secs": secs, "p50": all[len(all)/2], "p99": all[len(all)*99/100], "cpu": cpu,
	})
}

func main() {
	mode := flag.String("mode", "load", "load or ready")
	endpoints := flag.String("endpoints", "", "comma-separated client URLs, followers first")
	clients := flag.Int("clients", 1, "closed-loop clients")
	conns := flag.Int("conns", 1, "connections the clients share")
	seconds := flag.Float64("seconds", 8, "seconds to run")
	readShare := flag.Float64("read", 0, "share of ops that are gets, 0..1")
	keys := flag.Int("keys", 1000, "number of keys")
	valueSize := flag.Int("value-size", 256, "bytes per value")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	eps := strings.Split(*endpoints, ",")
	if *endpoints == "" || *clients < 1 || *conns < 1 || *seconds <= 0 {
		fmt.Fprintln(os.Stderr, "etcd-load: need -endpoints, -clients >= 1, -conns >= 1, -seconds > 0")
		os.Exit(2)
	}
	switch *mode {
	case "ready":
		ready(eps)
	case "load":
		load(eps, *clients, *conns, *seconds, *readShare, *keys, *valueSize, *seed)
	default:
		fmt.Fprintf(os.Stderr, "etcd-load: unknown -mode %q (load or ready)\n", *mode)
		os.Exit(2)
	}
}
