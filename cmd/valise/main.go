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
	os.Exit(profiled(func() int { return run(os.Args[1:], os.Stdout, os.Stderr) }))
}

func run(args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	// Global options may come before the command as well as after it
	// (valise --home X status, valise status --home X).
	g, rest, err := leadingGlobals(args)
	e.home, e.json = g.home, g.json || wantsJSON(args)
	if err != nil {
		return report(e, nil, err)
	}
	if len(rest) == 0 {
		switch {
		case g.version:
			return printVersion(e)
		case g.help:
			printUsage(stdout)
			return exitOK
		}
		if e.json {
			return report(e, nil, usagef("no command given; run valise help"))
		}
		printUsage(stdout)
		return exitUsage
	}
	if rest[0] == "help" {
		if len(rest) > 1 {
			c := find(rest[1])
			if c == nil {
				return report(e, nil, unknownCommand(rest[1]))
			}
			printHelp(stdout, c)
			return exitOK
		}
		printUsage(stdout)
		return exitOK
	}
	if rest[0] == "version" {
		return printVersion(e)
	}
	c := find(rest[0])
	if c == nil {
		return report(e, nil, unknownCommand(rest[0]))
	}
	fs := pflag.NewFlagSet("valise "+c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.home, "home", g.home, "office home directory (default $VALISE_HOME or ~/.valise)")
	fs.BoolVar(&e.json, "json", e.json, "machine-readable output")
	help := fs.BoolP("help", "h", g.help, "show help")
	if c.opts != nil {
		c.opts.AddFlags(fs)
	}
	if err := fs.Parse(rest[1:]); err != nil {
		return report(e, c, flagError(fs, err))
	}
	if *help {
		printHelp(stdout, c)
		return exitOK
	}
	pos := fs.Args()
	if len(pos) < c.minArgs || (c.maxArgs >= 0 && len(pos) > c.maxArgs) {
		what := "missing argument"
		if len(pos) > c.minArgs {
			what = fmt.Sprintf("unexpected argument %q", schema.Printable(pos[len(pos)-1]))
		}
		return report(e, c, usagef("%s", what))
	}
	e.homeExplicit = e.home != "" || os.Getenv("VALISE_HOME") != ""
	if e.home == "" {
		e.home = os.Getenv("VALISE_HOME")
	}
	if e.home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return report(e, c, usagef("no home directory: pass --home or set VALISE_HOME"))
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
	return report(e, c, c.run(e, pos))
}

// globals are the options every command takes, given before the command.
type globals struct {
	home                string
	json, help, version bool
}

// leadingGlobals reads the global options before the command and returns
// the rest of args, the command first.
func leadingGlobals(args []string) (globals, []string, error) {
	var g globals
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		switch {
		case a == "--json":
			g.json = true
		case a == "-h" || a == "--help":
			g.help = true
		case a == "--version":
			g.version = true
		case a == "--home":
			if len(args) < 2 {
				return g, nil, usagef("flag needs an argument: --home")
			}
			g.home = args[1]
			args = args[1:]
		case strings.HasPrefix(a, "--home="):
			g.home = strings.TrimPrefix(a, "--home=")
		case a == "--":
			return g, args[1:], nil
		default:
			return g, nil, usagef("unknown global option %s before the command%s (command options go after the command)",
				schema.Printable(a), suggest(strings.TrimLeft(a, "-"), []string{"home", "json", "help", "version"}, "--"))
		}
		args = args[1:]
	}
	return g, args, nil
}

// wantsJSON tells whether --json is among args, for the errors found
// before the flags are parsed.
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

func unknownCommand(name string) error {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return usagef("unknown command %q%s; run valise help", schema.Printable(name), suggest(name, append(names, "help", "version"), ""))
}

// flagError turns pflag's error into a usage error, with the flag meant
// when the one given looks like a typo of it.
func flagError(fs *pflag.FlagSet, err error) error {
	msg := err.Error()
	name := ""
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		name = strings.TrimPrefix(msg, "unknown flag: --")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		return usagef("%s", msg)
	default:
		return usagef("%s", msg)
	}
	name, _, _ = strings.Cut(name, "=")
	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	return usagef("%s%s", msg, suggest(name, names, "--"))
}

// suggest returns "; did you mean X?" for the candidate nearest to s, when
// one is near enough to be a typo, else "".
func suggest(s string, candidates []string, prefix string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if strings.HasPrefix(strings.ToLower(c), strings.ToLower(s)) && len(s) >= 2 {
			d = 1
		}
		if best == "" || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	if best == "" || bestD > limit || s == best {
		return ""
	}
	return fmt.Sprintf("; did you mean %s%s?", prefix, best)
}

// editDistance is the Levenshtein distance of a and b, with the swap of
// two neighbouring letters counted as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func printVersion(e *env) int {
	if e.json {
		printJSON(e.stdout, map[string]any{"format_version": jsonFormatVersion, "version": version,
			"bundle_format": 1, "manifest_format": 2, "schema": schema.ModelVersion})
		return exitOK
	}
	fmt.Fprintf(e.stdout, "valise %s (bundle format v1, manifest v2, schema %s)\n", version, schema.ModelVersion)
	return exitOK
}

// report prints err, if any, and returns the exit code. c is nil for an
// error found before the command was known.
func report(e *env, c *command, err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var s silent
	if errors.As(err, &s) {
		return code
	}
	name := "valise"
	if c != nil {
		name = "valise " + c.name
	}
	if e.json {
		printJSON(e.stdout, errorJSON(err, code))
	}
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintf(e.stderr, "%s: %s\n", name, schema.Sanitize(err.Error()))
		if c != nil {
			fmt.Fprintf(e.stderr, "usage: %s\nrun valise help %s\n", synopsis(c), c.name)
		}
	} else {
		fmt.Fprintf(e.stderr, "%s: %s\n", name, schema.Sanitize(err.Error()))
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

// synopsis is c's usage line: its arguments and required options.
func synopsis(c *command) string {
	if c.args == "" {
		return "valise " + c.name
	}
	return "valise " + c.name + " " + c.args
}

func printHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\n", synopsis(c), c.short)
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
// for it on the terminal (/dev/tty; the console on Windows).
func passphrase() (string, error) {
	if p, ok := os.LookupEnv("VALISE_PASSPHRASE"); ok {
		return p, nil
	}
	in, out, err := openTerminal()
	if err != nil {
		return "", errors.New("the keys are passphrase-protected: set VALISE_PASSPHRASE or run valise in a terminal")
	}
	defer in.Close()
	defer out.Close()
	if !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("the keys are passphrase-protected: set VALISE_PASSPHRASE or run valise in a terminal")
	}
	fmt.Fprint(out, "valise passphrase: ")
	p, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(out)
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
