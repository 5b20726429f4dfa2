// etcd-load: bench:kv's load generator for etcd, on etcd's own Go client
// (clientv3), as etcd's tools/benchmark drives it. The same closed loop as
// bench/kv-load.ts drives this project's kv3 with: C clients share M
// connections (client c uses connection c mod M, connection i goes to
// endpoint i mod len(endpoints)), each client does one op at a time on a
// random key of K, a put of a V-byte value or, with probability R, a
// linearizable get. With -stamp, each value starts with the wall-clock time
// of its put, "<unix ms> ", padded with 'v' to V bytes: the watch mode reads it
// back to measure each event's delivery lag.
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
//	-mode watch:  W watchers of the prefix P (clientv3 Watch, WithPrefix), watcher w on connection w mod M,
//	              connection i to endpoint i mod len(endpoints), each on a goroutine of its own. Prints
//	              {"ready":true} once every watch is created, counts the events each receives, and on a
//	              line "stop N" on stdin (N: the puts done meanwhile, so N events due to each watcher)
//	              waits until each has N (or none gets one for 5 s, or 60 s pass), then prints
//	              {"events","min","max","back","secs","p50","p99","lagged","cut","cpu"}: events over
//	              all watchers, the fewest and most one watcher got, events whose mod revision was not
//	              above the one before at that watcher (a repeat), secs from the first event received
//	              to the last, the delivery lag (ms, from a stamped value's put to its event), how many
//	              lag samples there are, watchers canceled or failed, and this process's CPU seconds
//	              from ready to the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// stamped is a V-byte value that starts with the time now: "<unix ms> ", then 'v's.
func stamped(valueSize int, pad string) string {
	s := strconv.FormatFloat(float64(time.Now().UnixNano())/1e6, 'f', 3, 64) + " "
	if len(s) >= valueSize {
		return s
	}
	return s + pad[:valueSize-len(s)]
}

func load(eps []string, clients, conns int, seconds, readShare float64, keys, valueSize int, seed int64, stamp bool) {
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
					v := value
					if stamp {
						v = stamped(valueSize, value)
					}
					_, err = kv.Put(context.Background(), k, v)
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

// A watcher's tally: written by its goroutine only, read once all have stopped.
type tally struct {
	events      int64 // read by the waiting loop while it runs
	rev, back   int64 // the last mod revision received, and the events not above the one before
	first, last time.Time
	lag         []float64
	cut         error
}

func watch(eps []string, watchers, conns int, prefix string) {
	cs := make([]*clientv3.Client, conns)
	for i := range cs {
		cs[i] = dial(eps[i%len(eps)])
	}
	ctx, cancel := context.WithCancel(context.Background())
	tallies := make([]*tally, watchers)
	var created, done sync.WaitGroup
	for w := 0; w < watchers; w++ {
		t := &tally{}
		tallies[w] = t
		created.Add(1)
		done.Add(1)
		// One context for all: the watches on one client share its gRPC watch stream, as 8 watches share
		// one connection on the other side.
		ch := cs[w%conns].Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		go func(t *tally) {
			defer done.Done()
			announced := false
			for resp := range ch {
				if resp.Created && !announced {
					announced = true
					created.Done()
				}
				if err := resp.Err(); err != nil {
					if ctx.Err() == nil {
						t.cut = err
					}
					break
				}
				if len(resp.Events) == 0 {
					continue
				}
				now := time.Now()
				if t.first.IsZero() {
					t.first = now
				}
				t.last = now
				ms := float64(now.UnixNano()) / 1e6
				for _, ev := range resp.Events {
					if ev.Kv.ModRevision <= t.rev {
						t.back++
					}
					t.rev = ev.Kv.ModRevision
					v := ev.Kv.Value
					if sp := bytes.IndexByte(v, ' '); sp > 0 {
						if at, err := strconv.ParseFloat(string(v[:sp]), 64); err == nil {
							t.lag = append(t.lag, ms-at)
						}
					}
				}
				atomic.AddInt64(&t.events, int64(len(resp.Events)))
			}
			if !announced {
				created.Done()
			}
			if t.cut == nil && ctx.Err() == nil {
				t.cut = fmt.Errorf("its channel closed")
			}
		}(t)
	}
	created.Wait()
	cpu0 := cpuSeconds()
	emit(map[string]interface{}{"ready": true})

	// Wait for "stop N", then for N events at each watcher.
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	var due int64
	if _, perr := fmt.Sscanf(strings.TrimSpace(line), "stop %d", &due); perr != nil {
		fmt.Fprintf(os.Stderr, "etcd-load: expected \"stop N\" on stdin, got %q (%v)\n", line, err)
		os.Exit(2)
	}
	deadline := time.Now().Add(60 * time.Second)
	var seen int64 = -1
	quietSince := time.Now()
	for time.Now().Before(deadline) && time.Since(quietSince) < 5*time.Second {
		var sum, least int64 = 0, -1
		for _, t := range tallies {
			n := atomic.LoadInt64(&t.events)
			sum += n
			if least < 0 || n < least {
				least = n
			}
		}
		if least >= due {
			break
		}
		if sum != seen {
			seen = sum
			quietSince = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	done.Wait()
	cpu := cpuSeconds() - cpu0
	for _, c := range cs {
		c.Close()
	}
	var events, least, most, back int64 = 0, -1, 0, 0
	var first, last time.Time
	var lag []float64
	cut := 0
	for _, t := range tallies {
		events += t.events
		back += t.back
		if least < 0 || t.events < least {
			least = t.events
		}
		if t.events > most {
			most = t.events
		}
		if !t.first.IsZero() && (first.IsZero() || t.first.Before(first)) {
			first = t.first
		}
		if t.last.After(last) {
			last = t.last
		}
		lag = append(lag, t.lag...)
		if t.cut != nil {
			cut++
			fmt.Fprintf(os.Stderr, "etcd-load: a watcher ended early: %v\n", t.cut)
		}
	}
	sort.Float64s(lag)
	p50, p99 := 0.0, 0.0
	if len(lag) > 0 {
		p50, p99 = lag[len(lag)/2], lag[len(lag)*99/100]
	}
	secs := 0.0
	if !first.IsZero() {
		secs = last.Sub(first).Seconds()
	}
	emit(map[string]interface{}{
		"events": events, "min": least, "max": most, "back": back, "secs": secs, "p50": p50, "p99": p99,
		"lagged": len(lag), "cut": cut, "cpu": cpu,
	})
}

func main() {
	mode := flag.String("mode", "load", "load, ready or watch")
	endpoints := flag.String("endpoints", "", "comma-separated client URLs, followers first")
	clients := flag.Int("clients", 1, "closed-loop clients")
	conns := flag.Int("conns", 1, "connections the clients share")
	seconds := flag.Float64("seconds", 8, "seconds to run")
	readShare := flag.Float64("read", 0, "share of ops that are gets, 0..1")
	keys := flag.Int("keys", 1000, "number of keys")
	valueSize := flag.Int("value-size", 256, "bytes per value")
	seed := flag.Int64("seed", 1, "random seed")
	stamp := flag.Bool("stamp", false, "start each value with the put's wall-clock time (for the watch mode's lag)")
	watchers := flag.Int("watchers", 64, "watch mode: watchers of the prefix")
	prefix := flag.String("prefix", "key", "watch mode: the prefix watched")
	flag.Parse()
	eps := strings.Split(*endpoints, ",")
	if *endpoints == "" || *clients < 1 || *conns < 1 || *seconds <= 0 || *watchers < 1 {
		fmt.Fprintln(os.Stderr, "etcd-load: need -endpoints, -clients >= 1, -conns >= 1, -seconds > 0, -watchers >= 1")
		os.Exit(2)
	}
	switch *mode {
	case "ready":
		ready(eps)
	case "load":
		load(eps, *clients, *conns, *seconds, *readShare, *keys, *valueSize, *seed, *stamp)
	case "watch":
		watch(eps, *watchers, *conns, *prefix)
	default:
		fmt.Fprintf(os.Stderr, "etcd-load: unknown -mode %q (load, ready or watch)\n", *mode)
		os.Exit(2)
	}
}
