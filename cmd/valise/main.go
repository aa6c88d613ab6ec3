// Command valise exchanges signed, encrypted record bundles between
// offices that have no network link. Run "valise help" for the commands.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"valise/office"
	"valise/schema"
)

// env is what every command gets: global options and the output streams.
type env struct {
	home         string
	homeExplicit bool // --home or $VALISE_HOME was given
	json         bool
	stdout       io.Writer
	stderr       io.Writer
	office       *office.Office
}

// command is one subcommand. Only cmd/valise prints and exits.
type command struct {
	name    string
	args    string // synopsis of the positional arguments
	short   string
	example string
	opts    interface{ AddFlags(*pflag.FlagSet) }
	run     func(e *env, args []string) error
	noHome  bool // does not need an initialised office
	minArgs int
	maxArgs int // -1 for any
}

var commands []*command

func register(c *command) { commands = append(commands, c) }

type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	// SPEC §8: pack, verify and import stay under 200 MiB whatever the
	// bundle's size. A soft limit makes the collector work harder before
	// the heap (plus SQLite's page caches) gets there. $GOMEMLIMIT
	// overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(120 << 20)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c := find(args[1]); c != nil {
				printHelp(stdout, c)
				return 0
			}
			fmt.Fprintf(stderr, "valise: unknown command %q; run valise help\n", schema.Printable(args[1]))
			return exitUsage
		}
		printUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintf(stdout, "valise %s (bundle format v1, schema %s)\n", version, schema.ModelVersion)
		return 0
	}
	c := find(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "valise: unknown command %q; run valise help\n", schema.Printable(args[0]))
		return exitUsage
	}
	e := &env{stdout: stdout, stderr: stderr}
	fs := pflag.NewFlagSet("valise "+c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.home, "home", "", "office home directory (default $VALISE_HOME or ~/.valise)")
	fs.BoolVar(&e.json, "json", false, "machine-readable output")
	help := fs.BoolP("help", "h", false, "show help")
	if c.opts != nil {
		c.opts.AddFlags(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "valise %s: %v\nrun valise help %s\n", c.name, err, c.name)
		return exitUsage
	}
	if *help {
		printHelp(stdout, c)
		return 0
	}
	rest := fs.Args()
	if len(rest) < c.minArgs || (c.maxArgs >= 0 && len(rest) > c.maxArgs) {
		fmt.Fprintf(stderr, "valise %s: usage: valise %s %s\n", c.name, c.name, c.args)
		return exitUsage
	}
	e.homeExplicit = e.home != "" || os.Getenv("VALISE_HOME") != ""
	if e.home == "" {
		e.home = os.Getenv("VALISE_HOME")
	}
	if e.home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			fmt.Fprintf(stderr, "valise: no home directory: pass --home or set VALISE_HOME\n")
			return exitUsage
		}
		e.home = filepath.Join(h, ".valise")
	}
	if !c.noHome {
		o, err := office.OpenWith(e.home, passphrase)
		if err != nil {
			return report(e, c, err)
		}
		defer o.Close()
		e.office = o
	}
	return report(e, c, c.run(e, rest))
}

// report prints err, if any, and returns the exit code.
func report(e *env, c *command, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var s silent
	if errors.As(err, &s) {
		return code
	}
	if e.json {
		json.NewEncoder(e.stdout).Encode(map[string]any{"error": err.Error(), "check": checkOf(err), "exit": code})
	}
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintf(e.stderr, "valise %s: %s\nrun valise help %s\n", c.name, err, c.name)
	} else {
		fmt.Fprintf(e.stderr, "valise %s: %s\n", c.name, schema.Sanitize(err.Error()))
		if a := advice(err); a != "" {
			fmt.Fprintf(e.stderr, "  %s\n", a)
		}
	}
	return code
}

func find(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "valise: signed, encrypted record bundles between offices with no network link\n\nusage: valise COMMAND [options]\n\ncommands:\n")
	cs := append([]*command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nglobal options: --home DIR (or $VALISE_HOME, default ~/.valise), --json, -h/--help\n")
	fmt.Fprintf(w, "run valise help COMMAND for a command's options and an example\n\n%s", exitTable)
}

func printHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: valise %s %s\n\n%s\n\n", c.name, c.args, c.short)
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.String("home", "", "office home directory (default $VALISE_HOME or ~/.valise)")
	fs.Bool("json", false, "machine-readable output")
	if c.opts != nil {
		c.opts.AddFlags(fs)
	}
	fmt.Fprintf(w, "options:\n%s\n", fs.FlagUsages())
	if c.example != "" {
		fmt.Fprintf(w, "example:\n%s\n", c.example)
	}
}

// passphrase returns the key passphrase from $VALISE_PASSPHRASE, or asks
// for it on the terminal.
func passphrase() (string, error) {
	if p, ok := os.LookupEnv("VALISE_PASSPHRASE"); ok {
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return "", errors.New("the keys are passphrase-protected: set VALISE_PASSPHRASE or run valise in a terminal")
	}
	defer tty.Close()
	fmt.Fprint(tty, "valise passphrase: ")
	p, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(p), "\r\n"), nil
}

// newPassphrase asks for a new passphrase twice, or takes $VALISE_PASSPHRASE.
func newPassphrase() (string, error) {
	if p, ok := os.LookupEnv("VALISE_PASSPHRASE"); ok {
		if p == "" {
			return "", errors.New("VALISE_PASSPHRASE is empty")
		}
		return p, nil
	}
	p1, err := passphrase()
	if err != nil {
		return "", err
	}
	if len(p1) < 8 {
		return "", errors.New("passphrase shorter than 8 characters")
	}
	p2, err := passphrase()
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passphrases differ")
	}
	return p1, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

var version = "dev"
