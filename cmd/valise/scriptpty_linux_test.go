package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

func init() {
	// ptyerr PROG ARGS...: run PROG (normally valise) with its standard
	// error on a pseudo-terminal and its standard output on a pipe, as an
	// officer at a terminal who redirects the output would; what the
	// terminal showed becomes stderr, the output stdout. The command must
	// succeed.
	scriptCmds["ptyerr"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 1 {
			ts.Fatalf("usage: ptyerr PROG ARGS...")
		}
		prog, err := lookPath(ts, args[0])
		ts.Check(err)
		master, slave, err := openPty()
		ts.Check(err)
		defer master.Close()
		cmd := exec.Command(prog, args[1:]...)
		cmd.Dir = ts.MkAbs(".")
		cmd.Env = []string{"PWD=" + cmd.Dir}
		for _, k := range exitcodeEnv {
			if v := ts.Getenv(k); v != "" {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, slave
		var tty bytes.Buffer
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			io.Copy(&tty, master) // ends with EIO once the child and we have closed the terminal
		}()
		err = cmd.Run()
		slave.Close()
		wg.Wait()
		ts.Stdout().Write(stdout.Bytes())
		ts.Stderr().Write(tty.Bytes())
		if (err != nil) != neg {
			ts.Fatalf("%s: %v", args[0], err)
		}
	}
}

// openPty opens a new pseudo-terminal pair, 100 columns wide.
func openPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the pseudo-terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("naming the pseudo-terminal: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, errors.Join(errors.New("sizing the pseudo-terminal"), err)
	}
	return master, slave, nil
}
