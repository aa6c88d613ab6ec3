//go:build unix

package testenv

import (
	"runtime"
	"syscall"
)

func rusagePeak() (int64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss), nil // bytes there, KiB elsewhere
	}
	return int64(ru.Maxrss) << 10, nil
}
