package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"valise": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

var sharedData, _ = filepath.Abs("../../../shared/data")

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
		// (it is in CI and on a developer's machine, not in a user's clone).
		Condition: func(cond string) (bool, error) {
			if cond == "shared" {
				_, err := os.Stat(sharedData)
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: scriptCmds,
	})
}
