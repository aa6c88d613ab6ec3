package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// PeakEnv names the file a child process writes its peak resident memory
// to (see [WritePeak]) when it exits.
const PeakEnv = "VALISE_TEST_PEAK"

// A child's rusage does not tell its peak on Linux: the child is forked
// (vfork) from the test process and keeps the high-water mark of the
// memory it shared with it, so ru_maxrss of a 10 MiB child of a 300 MiB
// test says 300 MiB. The child reads its own peak (VmHWM, which counts
// only the memory of its own program) and writes it where the test asks.

// WritePeak writes this process's peak resident memory in bytes to the
// file named by $VALISE_TEST_PEAK, when it is set. A program that tests
// run as a child calls it as it exits.
func WritePeak() error {
	name := os.Getenv(PeakEnv)
	if name == "" {
		return nil
	}
	n, err := selfPeak()
	if err != nil {
		return err
	}
	return os.WriteFile(name, []byte(strconv.FormatInt(n, 10)), 0o600)
}

var vmHWM = regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB$`)

// selfPeak returns the peak resident memory of this process.
func selfPeak() (int64, error) {
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		if m := vmHWM.FindSubmatch(status); m != nil {
			kb, err := strconv.ParseInt(string(m[1]), 10, 64)
			return kb << 10, err
		}
	}
	return rusagePeak()
}

// RunPeak runs cmd (not yet started) with $VALISE_TEST_PEAK set and
// returns cmd.Run's error and the peak resident memory the child
// reported. It fails t when the child reported none: a measure that
// cannot be taken must not pass as zero.
func RunPeak(t testing.TB, cmd *exec.Cmd) (peak int64, runErr error) {
	t.Helper()
	f, err := os.CreateTemp("", "valise-peak-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer os.Remove(f.Name())
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, PeakEnv+"="+f.Name())
	runErr = cmd.Run()
	data, err := os.ReadFile(f.Name())
	if err == nil {
		peak, err = strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	}
	if err != nil || peak <= 0 {
		t.Fatalf("%s reported no peak memory (%q, %v); run error: %v", filepath.Base(cmd.Path), data, err, runErr)
	}
	return peak, runErr
}

// childEnv names the test a test binary runs as a child of itself.
const childEnv = "VALISE_TEST_CHILD"

// InChild reports whether t runs in a child process started by
// [RunChild] for this very test; the child writes its peak memory when
// t ends.
func InChild(t *testing.T) bool {
	if os.Getenv(childEnv) != t.Name() {
		return false
	}
	t.Cleanup(func() {
		if err := WritePeak(); err != nil {
			t.Error(err)
		}
	})
	return true
}

// RunChild runs the test t again, alone, in a child process of the test
// binary, where [InChild] is true, and returns the child's peak resident
// memory. It fails t when the child fails, with the child's output.
func RunChild(t *testing.T) (peak int64) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	peak, err = RunPeak(t, cmd)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running the child: %v", err)
		}
		t.Fatalf("the child process failed (%v):\n%s", err, out.Bytes())
	}
	t.Logf("child process: peak %s\n%s", MiB(peak), out.Bytes())
	return peak
}

// MiB formats n bytes in MiB.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
