// Package testenv is what valise's tests share about the machine they run
// on: whether they run in CI, where the real third-party test data is,
// which random seed a randomized test uses, and how much memory a child
// process took at its peak.
//
// A test that cannot run here (a tool or the shared data is missing)
// calls [Unavailable], which skips with the reason on a developer's
// machine and fails in CI: .ci/run sets VALISE_CI=1 after installing
// everything the tests need, so a skip there would hide a test that CI is
// meant to run.
package testenv

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// CIEnv is the environment variable .ci/run sets to 1.
const CIEnv = "VALISE_CI"

// CI reports whether the tests run in CI, where every tool and the shared
// data must be present.
func CI() bool { return os.Getenv(CIEnv) == "1" }

// Unavailable ends t because something it needs is missing: a skip that
// says why on a developer's machine, a failure in CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (%s=1: CI installs what the tests need, so this is a failure, not a skip)", msg, CIEnv)
	}
	t.Skip(msg)
}

// Tool returns the path of the program name on PATH, or ends t with
// Unavailable.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s not installed (.ci/run installs it)", name)
	}
	return p
}

// SharedDataEnv names the directory of the shared data when it is not
// found by walking up from the package directory.
const SharedDataEnv = "VALISE_TESTDATA"

// SharedDataMissing says why tests that read the shared data skip.
const SharedDataMissing = "../shared/data not found: the real third-party test data is not in a user's clone (CI and the developers' machines have it; set " + SharedDataEnv + " to its directory)"

// FindSharedData returns the directory of the real third-party test data
// (shared/data, with its README.txt): $VALISE_TESTDATA, else the first
// shared/data found walking up from the working directory (a package
// directory under go test).
func FindSharedData() (string, error) {
	if d := os.Getenv(SharedDataEnv); d != "" {
		if _, err := os.Stat(filepath.Join(d, "README.txt")); err != nil {
			return "", fmt.Errorf("%s=%s: %v", SharedDataEnv, d, err)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "data")
		if _, err := os.Stat(filepath.Join(cand, "README.txt")); err == nil {
			return cand, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no shared/data/README.txt above %s", wd)
		}
	}
}

// SharedData returns the directory of the real third-party test data, or
// ends t with Unavailable.
func SharedData(t testing.TB) string {
	t.Helper()
	d, err := FindSharedData()
	if err != nil {
		Unavailable(t, "%s: %v", SharedDataMissing, err)
	}
	return d
}

var seedFlag = flag.String("seed", "", "seed of the randomized tests (default: from the clock; each test logs the seed it used, and also $VALISE_SEED)")

var (
	seedOnce sync.Once
	seed     int64
	seedErr  error
)

// Seed returns the seed for a randomized test: -seed (or $VALISE_SEED)
// when given, else one taken from the clock once per test binary. It
// logs the seed and how to replay it, so a failure can be reproduced.
func Seed(t testing.TB) int64 {
	t.Helper()
	seedOnce.Do(func() {
		s := *seedFlag
		if s == "" {
			s = os.Getenv("VALISE_SEED")
		}
		if s == "" {
			seed = time.Now().UnixNano()
			return
		}
		seed, seedErr = strconv.ParseInt(s, 10, 64)
	})
	if seedErr != nil {
		t.Fatalf("-seed: %v", seedErr)
	}
	t.Logf("seed %d (replay with -seed=%d)", seed, seed)
	return seed
}
