// bench_go.go - Go's goroutines, the M:N runtime most people compare green
// threads with.  GOMAXPROCS=1 makes it one scheduler on one core, as gt
// is; Go still runs its own helper threads (sysmon, GC workers) beside it.
//
// Scenarios (the same command line and RESULT lines as the C programs):
//
//	yield     two goroutines calling runtime.Gosched; ns per hand-off
//	parkwake  two goroutines ping-pong over two unbuffered channels; every
//	          receive parks and every send wakes; ns per hand-off
//	spawn     go f(); f sends on a channel the spawner receives from, n
//	          times; ns per goroutine
//	rss       n goroutines blocked on a channel receive; RSS bytes per
//	          goroutine, one fresh process per repetition (the program runs
//	          itself again, since a Go process cannot fork)
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type args struct {
	scenario string
	n        int
	reps     int
	child    bool // rss: this process is one repetition
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "bench-go: error: "+format+"\n", a...)
	os.Exit(1)
}

func parseArgs() args {
	const scenarios = "yield parkwake spawn rss"
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintf(os.Stderr, "usage: bench-go SCENARIO [n=COUNT] [reps=COUNT]\nscenarios: %s\n", scenarios)
		os.Exit(2)
	}
	a := args{scenario: os.Args[1]}
	for _, kv := range os.Args[2:] {
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "bench-go: '%s': expected key=value (n=, reps=)\n", kv)
			os.Exit(2)
		}
		v, err := strconv.Atoi(val)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "bench-go: %s=%s: expected a positive integer\n", key, val)
			os.Exit(2)
		}
		switch key {
		case "n":
			a.n = v
		case "reps":
			a.reps = v
		case "child":
			a.child = true
		default:
			fmt.Fprintf(os.Stderr, "bench-go: unknown option '%s' (n=, reps=)\n", kv)
			os.Exit(2)
		}
	}
	return a
}

func orDefault(v, dflt int) int {
	if v == 0 {
		return dflt
	}
	return v
}

func report(bench, impl, unit string, samples []float64, n int) {
	sort.Float64s(samples)
	c := len(samples)
	med := samples[c/2]
	if c%2 == 0 {
		med = (samples[c/2-1] + samples[c/2]) / 2
	}
	fmt.Printf("RESULT bench=%s impl=%s unit=%s median=%.6g min=%.6g max=%.6g reps=%d n=%d\n",
		bench, impl, unit, med, samples[0], samples[c-1], c, n)
}

// timed runs body reps times after one unrecorded warm-up and returns the
// nanoseconds per operation of each recorded run.
func timed(reps, ops int, body func()) []float64 {
	var out []float64
	for r := -1; r < reps; r++ {
		t0 := time.Now()
		body()
		el := time.Since(t0)
		if r >= 0 {
			out = append(out, float64(el.Nanoseconds())/float64(ops))
		}
	}
	return out
}

func benchYield(a args) {
	rounds := orDefault(a.n, 2000000) / 2
	ns := timed(orDefault(a.reps, 11), rounds*2, func() {
		var wg sync.WaitGroup
		wg.Add(2)
		for k := 0; k < 2; k++ {
			go func() {
				for i := 0; i < rounds; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
	})
	report("yield", "go", "ns", ns, rounds*2)
}

func benchParkWake(a args) {
	rounds := orDefault(a.n, 2000000) / 2
	ns := timed(orDefault(a.reps, 11), rounds*2, func() {
		ping, pong := make(chan int), make(chan int)
		done := make(chan struct{})
		go func() {
			for i := 0; i < rounds; i++ {
				pong <- <-ping
			}
			close(done)
		}()
		for i := 0; i < rounds; i++ {
			ping <- i
			<-pong
		}
		<-done
	})
	report("parkwake", "go-chan", "ns", ns, rounds*2)
}

func benchSpawn(a args) {
	threads := orDefault(a.n, 100000)
	ns := timed(orDefault(a.reps, 11), threads, func() {
		done := make(chan struct{})
		for i := 0; i < threads; i++ {
			go func() { done <- struct{}{} }()
			<-done
		}
	})
	report("spawn", "go", "ns", ns, threads)
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		die("%v", err)
	}
	f := strings.Fields(string(data))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		die("/proc/self/statm: %v", err)
	}
	return pages * int64(os.Getpagesize())
}

// rssOnce is one repetition, in its own process: it prints the bytes per
// parked goroutine.
func rssOnce(n int) {
	// No collection may return memory between the two readings.
	debug.SetGCPercent(-1)
	release := make(chan struct{})
	var parked sync.WaitGroup
	parked.Add(n)
	before := rssBytes()
	for i := 0; i < n; i++ {
		go func() {
			parked.Done()
			<-release
		}()
	}
	parked.Wait()
	// Done runs just before the receive: let every goroutine reach it.
	runtime.Gosched()
	after := rssBytes()
	close(release)
	fmt.Printf("%g\n", float64(after-before)/float64(n))
}

func benchRSS(a args) {
	n := orDefault(a.n, 100000)
	if a.child {
		rssOnce(n)
		return
	}
	self, err := os.Executable()
	if err != nil {
		die("cannot find my own executable: %v", err)
	}
	var bytes []float64
	for r := 0; r < orDefault(a.reps, 5); r++ {
		out, err := exec.Command(self, "rss", "n="+strconv.Itoa(n), "child=1").Output()
		if err != nil {
			die("repetition %d of rss: %v", r+1, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			die("repetition %d of rss: unexpected output %q", r+1, out)
		}
		bytes = append(bytes, v)
	}
	report("rss", "go", "bytes", bytes, n)
}

func main() {
	a := parseArgs()
	runtime.GOMAXPROCS(1)
	switch a.scenario {
	case "yield":
		benchYield(a)
	case "parkwake":
		benchParkWake(a)
	case "spawn":
		benchSpawn(a)
	case "rss":
		benchRSS(a)
	default:
		die("unknown scenario '%s' (yield parkwake spawn rss)", a.scenario)
	}
}
