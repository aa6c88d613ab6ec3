package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"valise/internal/testenv"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// valise run by a test as a subprocess (the test binary under that
		// name); it reports its peak memory when a test asks (runBinary).
		"valise": func() {
			code := run(os.Args[1:], os.Stdout, os.Stderr)
			if err := testenv.WritePeak(); err != nil {
				fmt.Fprintf(os.Stderr, "valise (test binary): writing the peak memory: %v\n", err)
				code = max(code, 1)
			}
			os.Exit(code)
		},
	})
}

// sharedData is the directory of the real third-party test data, and
// sharedErr why it is not there.
var sharedData, sharedErr = testenv.FindSharedData()

// TestScripts runs the CLI scripts in testdata/script: each file is one
// feature, its commands, their expected output and exit codes.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("VALISE_HOME", env.WorkDir+"/home")
			env.Setenv("SHARED", sharedData)
			return nil
		},
		// [shared]: the real public test data in ../shared/data is here
		// (it is in CI and on a developer's machine, not in a user's
		// clone). In CI (VALISE_CI=1) its absence fails the script
		// instead of letting [!shared] skip it.
		Condition: func(cond string) (bool, error) {
			if cond == "shared" {
				if sharedErr != nil && testenv.CI() {
					return false, fmt.Errorf("%s: %v (%s=1: a failure, not a skip)", testenv.SharedDataMissing, sharedErr, testenv.CIEnv)
				}
				return sharedErr == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: scriptCmds,
	})
}
