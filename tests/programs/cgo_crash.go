// Go with cgo, dynamically linked (tests/runtimes.rs): its runtime reads
// and installs signal handlers through the C library's sigaction.
//
//	cgo_crash cgo    a NULL write in C code called through cgo: Go's own
//	                 report ("fatal error: unexpected signal during runtime
//	                 execution", goroutine stacks), exit status 2
//	cgo_crash nil    a nil pointer dereference in Go: a panic, exit 2
//	cgo_crash busy   goroutines in tight loops that only asynchronous
//	                 preemption (SIGURG) can interrupt, then a GC: exit 0
package main

/*
static void crash(void) { *(volatile int *)0 = 1; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

//go:noinline
func spin(stop *int32) int {
	n := 0
	for *stop == 0 {
		n++
	}
	return n
}

func main() {
	switch os.Args[1] {
	case "cgo":
		C.crash()
	case "nil":
		var p *int
		fmt.Println(*p)
	case "busy":
		runtime.GOMAXPROCS(2)
		var stop int32
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); spin(&stop) }()
		}
		// Only preemption lets this goroutine and the GC run.
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		stop = 1
		wg.Wait()
		fmt.Println("preempted")
	}
}
