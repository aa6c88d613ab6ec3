//go:build !unix

package main

import "os"

// syncDisks: nothing to call here; the benchmark is measured on Linux.
func syncDisks() {}

// maxRSSOf: not reported here.
func maxRSSOf(ps *os.ProcessState) (int64, bool) { return 0, false }
