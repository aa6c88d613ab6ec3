package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profiled runs fn under the CPU profiler when $VALISE_CPUPROFILE names a
// file to write the profile to (for make bench and performance work:
// go tool pprof bin/valise FILE), and writes a heap profile at the end
// when $VALISE_MEMPROFILE names one.
func profiled(fn func() int) int {
	if path := os.Getenv("VALISE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "valise: VALISE_CPUPROFILE:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "valise: VALISE_CPUPROFILE:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	code := fn()
	if path := os.Getenv("VALISE_MEMPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	return code
}
