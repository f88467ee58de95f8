// observe_go.go - the Go twin of tests/gdb/green_fixture.c, for timing
// Delve and GDB with Go's runtime-gdb.py against gt's readers.
//
// Usage: observe-go N [crash]
//
// It starts the same threads as the gt fixture, in the same order, each
// blocked the way Go blocks where gt parks, so both programs hold 6N+2
// threads in 8 distinct stacks of about the same depth:
//
//	N "sleeper"   sleepDeep: recursion depth 3, then time.Sleep(1 hour)
//	              (gt: sleep_deep, gt_sleep_ns); local marker 4711000+depth
//	N "locker"    lockWait: mu.Lock() while main holds mu
//	              (gt: lock_wait, gt_mutex_lock)
//	N "reader"    readWait: Read on an empty os.Pipe, parked in the
//	              netpoller (gt: read_wait, read() parked on epoll)
//	N "receiver"  recvWait: receive on an empty channel of capacity 1
//	              (gt: recv_wait, gt_chan_recv)
//	N "sender"    sendWait: send on a full channel of capacity 1
//	              (gt: send_wait, gt_chan_send)
//	N "condwait"  condWaitHere: sync.Cond.Wait (gt: cond_wait_here)
//	1 "joiner"    joinWait: waits for the first sleeper to end; Go has no
//	              join, a sync.WaitGroup is its usual stand-in (gt: join_wait)
//	main          holdMain: reads stdin until it closes (gt: hold_main)
//
// Goroutines have no names; the ids follow the spawn order as gt's do, so
// main is goroutine 1 in both and the same N picks the same kind.  Go adds
// its own few runtime goroutines (GC workers, sweeper, finalizers), which
// its tools list too.
//
// It prints "ready PID" once every goroutine is blocked.  With "crash" it
// then dereferences nil with GOTRACEBACK=crash in force, so the runtime
// aborts and the kernel writes a core (its goroutine dump goes to stderr,
// which the caller discards).  When stdin closes it prints "done" and exits.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

var (
	mu           sync.Mutex
	cmu          sync.Mutex
	cond         = sync.NewCond(&cmu)
	chanR        = make(chan *int, 1)
	chanS        = make(chan *int, 1)
	pipeR        *os.File
	pipeW        *os.File // kept open: a collected write end would close the pipe
	firstSleeper sync.WaitGroup
	hour         = time.Hour // a variable, as gt's is: the loop is not endless to the compiler
	sink         int64
)

//go:noinline
func sleepDeep(depth int) {
	marker := int64(4711000 + depth)
	if depth < 3 {
		sleepDeep(depth + 1)
	} else {
		for hour > 0 {
			time.Sleep(hour)
		}
	}
	sink += marker
}

//go:noinline
func lockWait() {
	mu.Lock()
	mu.Unlock()
}

//go:noinline
func readWait() {
	var b [1]byte
	if n, err := pipeR.Read(b[:]); n != 1 || err != nil {
		panic("observe-go: the pipe should never be written")
	}
}

//go:noinline
func recvWait() {
	if m := <-chanR; m != nil {
		panic("observe-go: nothing should arrive on chanR")
	}
}

//go:noinline
func sendWait() {
	chanS <- nil
}

//go:noinline
func condWaitHere() {
	cmu.Lock()
	for {
		cond.Wait()
	}
}

//go:noinline
func joinWait() {
	firstSleeper.Wait()
}

//go:noinline
func holdMain() {
	var buf [64]byte
	for {
		if n, err := os.Stdin.Read(buf[:]); n <= 0 || err != nil {
			return
		}
	}
}

// allBlocked waits until every goroutine but main is blocked: the runtime's
// count stops changing and a last sleep lets the final ones reach their
// blocking call, as the gt fixture's 2 ms sleep does.
func allBlocked(want int) {
	for runtime.NumGoroutine() < want {
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		runtime.Gosched()
	}
	time.Sleep(50 * time.Millisecond)
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintf(os.Stderr, "usage: observe-go N [crash]\n")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "observe-go: N=%q: expected a positive integer\n", os.Args[1])
		os.Exit(2)
	}
	crash := len(os.Args) == 3 && os.Args[2] == "crash"
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "observe-go: pipe: %v\n", err)
		os.Exit(1)
	}
	pipeR, pipeW = r, w
	chanS <- nil // full: every sender blocks
	mu.Lock()
	firstSleeper.Add(1)
	kinds := []func(){
		func() { sleepDeep(1); firstSleeper.Done() },
		lockWait, readWait, recvWait, sendWait, condWaitHere,
	}
	for _, k := range kinds {
		for j := 0; j < n; j++ {
			go k()
		}
	}
	go joinWait()
	allBlocked(6*n + 2)
	fmt.Printf("ready %d\n", os.Getpid())
	if crash {
		debug.SetTraceback("crash")
		var p *int
		sink += int64(*p)
	}
	holdMain()
	fmt.Printf("done\n")
}
