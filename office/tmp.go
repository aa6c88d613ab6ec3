package office

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TempDirName is the directory of the office home that holds the
// temporary files of running commands: sorted runs of records being
// packed, the list of what a bundle carries, the ends of links an import
// checks. They hold plaintext records, so they never go beside a bundle
// on a courier's stick.
const TempDirName = "tmp"

// TempDir makes a new directory for one command's temporary files in the
// office home, named after the process, mode 0700. The caller removes it
// (os.RemoveAll) when done; what a killed command leaves is removed by
// the next command that opens the office (CleanTemp).
func (o *Office) TempDir() (string, error) {
	base := filepath.Join(o.Home, TempDirName)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("temporary directory in the office home: %w", err)
	}
	d, err := os.MkdirTemp(base, fmt.Sprintf("run-%d-*", os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("temporary directory in the office home: %w", err)
	}
	return d, nil
}

// CleanTemp removes the temporary directories of commands that are no
// longer running, and returns how many it removed.
func (o *Office) CleanTemp() (int, error) {
	base := filepath.Join(o.Home, TempDirName)
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, e := range entries {
		pid, ok := runPID(e.Name())
		if !ok || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(base, e.Name())); err != nil && first == nil {
			first = err
			continue
		}
		n++
	}
	return n, first
}

// runPID reads the process id out of a name TempDir made.
func runPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "run-")
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}
