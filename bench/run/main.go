// Command run is `make bench`: the side-by-side benchmark of SPEC §8.
//
// It generates the records (bench/recgen), sets up three offices, and
// measures in one run, alternating valise and its baseline (A B, B A, A B
// …), each valise command against the tools a user would otherwise chain:
//
//	pack           valise pack --input recs.jsonl    vs  zstd -3 -T0 < recs.jsonl | age -r R1 -r R2
//	verify         valise verify --card (auditor)    vs  minisign -V of the same bundle
//	import new     valise import of that bundle      vs  sqlite3 .import --csv of the records (table keyed by id)
//	import update  valise import of a bundle that    vs  the same sqlite3 .import, of the updated records
//	               changes every record held
//
// and, once, for information, bench/sqlbound: the sqlite3 baseline's rows
// inserted through the SQLite engine valise links (modernc.org/sqlite), the
// floor under import's time (valise writes at least these rows),
//
// with the peak memory of each valise command (ru_maxrss, which is what
// /usr/bin/time -v prints as "Maximum resident set size") and, when N is
// larger than the growth size, the same commands at 100k records for the
// growth ratio. It prints the table of medians, ratios and budgets and
// writes it to bench/results.md.
//
// Settings come from the environment (make passes them through): N
// (records, default 1000000), SMALL (growth size, default 100000), BIG
// (records of a memory-only run of pack, verify and import, e.g. 4000000;
// default none), REPS
// (runs of each side, default 3), SEED (default 1), BENCH_DIR (working
// files, default bench/out), SLOW (seconds, default 60: a valise command
// whose first run takes longer is not repeated, so that a slow valise
// still finishes at 1M records), KEEP=1 to keep the offices' homes
// afterwards.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"valise/bench/recgen"
)

var (
	valise  string // path of the valise binary
	workDir string
	logFile *os.File
)

type config struct {
	n, small, reps int
	big            int // records of the memory-only run (BIG), 0 for none
	seed           uint64
	slow           time.Duration
	keep           bool
	results        string
}

func main() {
	flag.StringVar(&valise, "valise", "bin/valise", "valise binary to measure")
	results := flag.String("results", "bench/results.md", "file to write the results table to")
	flag.Parse()
	cfg := config{
		n:       envInt("N", 1000000),
		small:   envInt("SMALL", 100000),
		big:     envInt("BIG", 0),
		reps:    envInt("REPS", 3),
		seed:    uint64(envInt("SEED", 1)),
		slow:    time.Duration(envInt("SLOW", 60)) * time.Second,
		keep:    os.Getenv("KEEP") == "1",
		results: *results,
	}
	workDir = os.Getenv("BENCH_DIR")
	if workDir == "" {
		workDir = filepath.Join("bench", "out")
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envInt(name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "bench: %s=%q is not a positive number\n", name, s)
		os.Exit(2)
	}
	return n
}

func say(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), msg)
	if logFile != nil {
		fmt.Fprintf(logFile, "== %s %s\n", time.Now().Format("15:04:05"), msg)
	}
}

func run(cfg config) error {
	start := time.Now()
	var err error
	if valise, err = filepath.Abs(valise); err != nil {
		return err
	}
	if _, err := os.Stat(valise); err != nil {
		return fmt.Errorf("%v: build valise first (make build)", err)
	}
	if err := tools(); err != nil {
		return err
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	if workDir, err = filepath.Abs(workDir); err != nil {
		return err
	}
	if logFile, err = os.Create(filepath.Join(workDir, "bench.log")); err != nil {
		return err
	}
	defer logFile.Close()
	env := describe(cfg)
	sizes := []int{cfg.n}
	if cfg.n > cfg.small {
		sizes = []int{cfg.small, cfg.n}
	}
	var all []*sizeResult
	for _, n := range sizes {
		r, err := measure(cfg, n)
		if err != nil {
			return fmt.Errorf("at %d records: %w (log: %s)", n, err, logFile.Name())
		}
		all = append(all, r)
	}
	var bigRes *memResult
	if cfg.big > 0 {
		if bigRes, err = measureMemory(cfg, cfg.big); err != nil {
			return fmt.Errorf("at %d records: %w (log: %s)", cfg.big, err, logFile.Name())
		}
	}
	env.total = time.Since(start)
	table := report(cfg, env, all, bigRes)
	fmt.Print(table)
	if err := os.WriteFile(cfg.results, []byte(table), 0o644); err != nil {
		return err
	}
	say("wrote %s (log of every command: %s)", cfg.results, logFile.Name())
	hist := filepath.Join(filepath.Dir(cfg.results), "history.md")
	if err := appendHistory(hist, historyLine(env, all)); err != nil {
		return err
	}
	say("added a line to %s", hist)
	return nil
}

// tools checks the baseline tools, installing the Debian packages when
// running as root with apt-get, and otherwise says what to install.
func tools() error {
	need := map[string]string{"zstd": "zstd", "age": "age", "age-keygen": "age", "minisign": "minisign", "sqlite3": "sqlite3", "bash": "bash"}
	var pkgs []string
	for _, bin := range []string{"zstd", "age", "age-keygen", "minisign", "sqlite3", "bash"} {
		if _, err := exec.LookPath(bin); err != nil && !slices.Contains(pkgs, need[bin]) {
			pkgs = append(pkgs, need[bin])
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		return fmt.Errorf("the baseline tools are missing: install them with\n\n\tsudo apt-get install -y %s\n\nthen run make bench again", strings.Join(pkgs, " "))
	}
	fmt.Fprintf(os.Stderr, "bench: installing the baseline tools: apt-get install -y %s\n", strings.Join(pkgs, " "))
	install := func() error {
		c := exec.Command("apt-get", append([]string{"install", "-y", "--no-install-recommends"}, pkgs...)...)
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		c.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return c.Run()
	}
	if err := install(); err != nil {
		up := exec.Command("apt-get", "update")
		up.Stdout, up.Stderr = os.Stderr, os.Stderr
		if err := up.Run(); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		if err := install(); err != nil {
			return fmt.Errorf("apt-get install -y %s: %w", strings.Join(pkgs, " "), err)
		}
	}
	return nil
}

type environment struct {
	lines []string
	total time.Duration
}

func describe(cfg config) *environment {
	e := &environment{}
	add := func(k, v string) { e.lines = append(e.lines, fmt.Sprintf("| %s | %s |", k, v)) }
	first := func(name string, args ...string) string {
		out, _ := exec.Command(name, args...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return strings.TrimSpace(line)
	}
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, cpu, _ = strings.Cut(l, ": ")
				break
			}
		}
	}
	add("machine", fmt.Sprintf("%d cores, %s, %s/%s", runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH))
	add("load before the run", first("cat", "/proc/loadavg"))
	add("valise", first(valise, "--version"))
	agePath, _ := exec.LookPath("age")
	add("zstd", strings.Trim(first("zstd", "-V"), "* "))
	add("age", first("age", "--version")+" ("+agePath+"), X25519 recipients from age-keygen")
	add("minisign", first("minisign", "-v"))
	add("sqlite3", first("sqlite3", "-version"))
	add("records", fmt.Sprintf("bench/recgen seed %d; growth measured at %d and %d records", cfg.seed, cfg.small, cfg.n))
	add("repetitions", fmt.Sprintf("%d of each side, alternating A B / B A; medians. A valise command slower than SLOW=%s on its first run is not repeated "+
		"(the import of new records still runs twice: CARICC and KG-NCB both need the records)", cfg.reps, cfg.slow))
	return e
}

// sample is one timed command.
type sample struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64         // KiB
}

type series struct {
	name    string
	samples []sample
	note    string
}

func (s *series) median() sample {
	if len(s.samples) == 0 {
		return sample{}
	}
	w := make([]sample, len(s.samples))
	copy(w, s.samples)
	slices.SortFunc(w, func(a, b sample) int { return int(a.wall - b.wall) })
	m := len(w) / 2
	if len(w)%2 == 1 {
		return w[m]
	}
	a, b := w[m-1], w[m]
	return sample{wall: (a.wall + b.wall) / 2, cpu: (a.cpu + b.cpu) / 2, maxRSS: max(a.maxRSS, b.maxRSS)}
}

func (s *series) maxRSS() int64 {
	var m int64
	for _, x := range s.samples {
		m = max(m, x.maxRSS)
	}
	return m
}

func (s *series) times() string {
	var parts []string
	for _, x := range s.samples {
		if x.wall < time.Second {
			parts = append(parts, fmt.Sprintf("%.3f", x.wall.Seconds()))
		} else {
			parts = append(parts, fmt.Sprintf("%.2f", x.wall.Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}

type sizeResult struct {
	n                 int
	jsonlBytes        int64
	csvBytes          int64
	bundleBytes       int64
	baselineAgeBytes  int64
	updateBundleBytes int64
	pack, zstdAge     series
	verify, minisign  series
	importNew, sqlNew series
	importUpd, sqlUpd series
	setup             []series // unmeasured steps, timed for information
	// The cost of authorship (authorship.go): the share of CPU samples of
	// one extra profiled run of each command, and the split of the
	// bundles' payloads.
	authPack, authStorePack, authImportNew, authImportUpd *cpuShare
	splitA, splitB                                        *payloadSplit
}

// cmd runs a command, its output going to the log, and measures it.
func cmd(dir string, stdout io.Writer, name string, args ...string) (sample, error) {
	return cmdEnv(dir, nil, stdout, name, args...)
}

// cmdEnv is cmd with variables added to the environment.
func cmdEnv(dir string, env []string, stdout io.Writer, name string, args ...string) (sample, error) {
	c := exec.Command(name, args...)
	c.Dir = dir
	if env != nil {
		c.Env = append(os.Environ(), env...)
	}
	var tail bytes.Buffer
	c.Stderr = io.MultiWriter(logFile, &tail)
	if stdout != nil {
		c.Stdout = io.MultiWriter(logFile, stdout)
	} else {
		c.Stdout = io.MultiWriter(logFile, &tail)
	}
	fmt.Fprintf(logFile, "$ %s%s %s\n", strings.Join(append(env, ""), " "), name, strings.Join(args, " "))
	// Flush what earlier commands left dirty, so that their write-back
	// is not charged to this one.
	syncDisks()
	t0 := time.Now()
	err := c.Run()
	wall := time.Since(t0)
	s := sample{wall: wall}
	if ps := c.ProcessState; ps != nil {
		s.cpu = ps.UserTime() + ps.SystemTime()
		if rss, ok := maxRSSOf(ps); ok {
			s.maxRSS = rss
		}
	}
	fmt.Fprintf(logFile, "  -> %.3f s wall, %.3f s cpu, %d KiB max RSS, err %v\n", wall.Seconds(), s.cpu.Seconds(), s.maxRSS, err)
	if err != nil {
		t := tail.String()
		if len(t) > 2000 {
			t = t[len(t)-2000:]
		}
		return s, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, t)
	}
	return s, nil
}

// sh runs a shell pipeline with pipefail.
func sh(dir, script string) (sample, error) {
	return cmd(dir, nil, "bash", "-c", "set -eo pipefail; "+script)
}

func v(dir string, stdout io.Writer, args ...string) (sample, error) {
	return cmd(dir, stdout, valise, args...)
}

// pair measures a (valise) and b (baseline) reps times each, alternating
// which goes first. prepA runs before every a, untimed. A valise command
// slower than cfg.slow on its first run is run minReps times only.
func pair(cfg config, label string, minReps int, a, b *series, prepA func(rep int) error, runA, runB func(rep int) (sample, error)) error {
	reps := cfg.reps
	for rep := 0; rep < reps; rep++ {
		order := []bool{true, false}
		if rep%2 == 1 {
			order = []bool{false, true}
		}
		for _, isA := range order {
			if isA {
				if prepA != nil {
					if err := prepA(rep); err != nil {
						return err
					}
				}
				s, err := runA(rep)
				if err != nil {
					return err
				}
				a.samples = append(a.samples, s)
				say("%s: %s run %d: %.2f s, %.0f MiB", label, a.name, rep+1, s.wall.Seconds(), float64(s.maxRSS)/1024)
				if rep == 0 && s.wall > cfg.slow && reps > minReps {
					reps = minReps
					a.note = fmt.Sprintf("%d run(s) only: the first took longer than SLOW=%s", reps, cfg.slow)
					b.note = a.note
				}
			} else {
				s, err := runB(rep)
				if err != nil {
					return err
				}
				b.samples = append(b.samples, s)
				say("%s: %s run %d: %.2f s", label, b.name, rep+1, s.wall.Seconds())
			}
		}
	}
	return nil
}

func measure(cfg config, n int) (*sizeResult, error) {
	res := &sizeResult{n: n}
	say("%d records: generating", n)
	recs, upd, recsCSV, updCSV, err := generate(cfg, n)
	if err != nil {
		return nil, err
	}
	res.jsonlBytes, res.csvBytes = fileSize(recs), fileSize(recsCSV)

	dir, err := freshDir(n)
	if err != nil {
		return nil, err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	say("%d records: setting up offices KZ-NCB, CARICC, KG-NCB and the baseline keys", n)
	if err := setup(dir); err != nil {
		return nil, err
	}
	r1, r2, err := ageRecipients(dir)
	if err != nil {
		return nil, err
	}
	// Warm the page cache for both sides alike.
	for _, f := range []string{recs, upd, recsCSV, updCSV} {
		if err := warm(f); err != nil {
			return nil, err
		}
	}

	// pack
	res.pack.name, res.zstdAge.name = "valise pack --input", "zstd -3 -T0 | age"
	bundleA := filepath.Join(dir, "A.valise")
	err = pair(cfg, "pack", 1, &res.pack, &res.zstdAge, func(rep int) error {
		if err := os.Remove(filepath.Join(dir, "packed.valise")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}, func(rep int) (sample, error) {
		s, err := v(dir, nil, "pack", "--home", "kz", "--to", "CARICC", "--to", "KG-NCB", "--input", recs, "-o", "packed.valise")
		if err == nil && rep == 0 {
			err = os.Link(filepath.Join(dir, "packed.valise"), bundleA)
		}
		return s, err
	}, func(rep int) (sample, error) {
		return sh(dir, fmt.Sprintf("zstd -3 -T0 -q < %s | age -r %s -r %s > baseline.age", recs, r1, r2))
	})
	if err != nil {
		return nil, err
	}
	res.bundleBytes, res.baselineAgeBytes = fileSize(bundleA), fileSize(filepath.Join(dir, "baseline.age"))
	say("%d records: pack --input once more under the CPU profiler, for the share of authorship", n)
	if err := os.Remove(filepath.Join(dir, "packed.valise")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if res.authPack, err = profiled(dir, "pack-input", nil, "pack", "--home", "kz", "--to", "CARICC", "--to", "KG-NCB", "--input", recs, "-o", "packed.valise"); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, "packed.valise"))
	if res.splitA, err = splitBundle(dir, bundleA, "kz.card", filepath.Join(dir, "ca0", "identity.txt")); err != nil {
		return nil, err
	}

	// verify
	res.verify.name, res.minisign.name = "valise verify (auditor)", "minisign -V"
	if _, err := cmd(dir, nil, "minisign", "-S", "-s", "minisign.key", "-m", bundleA, "-x", "A.minisig"); err != nil {
		return nil, err
	}
	err = pair(cfg, "verify", 1, &res.verify, &res.minisign, nil, func(rep int) (sample, error) {
		return v(dir, nil, "verify", "--home", "auditor", "--card", "kz.card", bundleA)
	}, func(rep int) (sample, error) {
		return cmd(dir, nil, "minisign", "-V", "-q", "-p", "minisign.pub", "-m", bundleA, "-x", "A.minisig")
	})
	if err != nil {
		return nil, err
	}

	// import of new records: into fresh copies of CARICC and KG-NCB in turn,
	// so that both end up holding bundle A for the update step (which is
	// why a slow import still runs twice).
	res.importNew.name, res.sqlNew.name = "valise import (new records)", "sqlite3 .import --csv"
	homes := map[string]string{}
	err = pair(cfg, "import new", min(2, cfg.reps), &res.importNew, &res.sqlNew, nil, func(rep int) (sample, error) {
		office := []string{"ca", "kg"}[rep%2]
		home := fmt.Sprintf("%s-A%d", office, rep)
		if err := copyDir(filepath.Join(dir, office+"0"), filepath.Join(dir, home)); err != nil {
			return sample{}, err
		}
		var out bytes.Buffer
		s, err := v(dir, &out, "import", "--json", "--home", home, bundleA)
		if err == nil {
			err = checkCounts(out.Bytes(), "inserted", n)
		}
		if prev := homes[office]; prev != "" {
			os.RemoveAll(filepath.Join(dir, prev))
		}
		homes[office] = home
		return s, err
	}, func(rep int) (sample, error) {
		return sqliteImport(dir, recsCSV)
	})
	if err != nil {
		return nil, err
	}
	// What the SQLite engine valise links bounds import at: the same rows
	// inserted by bench/sqlbound, once, for information.
	bound, err := sqlBound(dir, recsCSV)
	if err != nil {
		return nil, err
	}
	res.setup = append(res.setup, series{name: "bench/sqlbound: the same rows into modernc.org/sqlite", samples: []sample{bound},
		note: "bound of import, not compared"})
	say("%d records: import of new records once more under the CPU profiler", n)
	if err := copyDir(filepath.Join(dir, "ca0"), filepath.Join(dir, "ca-prof")); err != nil {
		return nil, err
	}
	var profOut bytes.Buffer
	if res.authImportNew, err = profiled(dir, "import-new", &profOut, "import", "--json", "--home", "ca-prof", bundleA); err != nil {
		return nil, err
	}
	if err := checkCounts(profOut.Bytes(), "inserted", n); err != nil {
		return nil, err
	}
	os.RemoveAll(filepath.Join(dir, "ca-prof"))
	if homes["kg"] == "" {
		// One run only: KG-NCB still needs the records, untimed.
		if err := copyDir(filepath.Join(dir, "kg0"), filepath.Join(dir, "kg-A")); err != nil {
			return nil, err
		}
		s, err := v(dir, nil, "import", "--home", "kg-A", bundleA)
		if err != nil {
			return nil, err
		}
		homes["kg"] = "kg-A"
		res.setup = append(res.setup, series{name: "valise import (new records) into KG-NCB, setup", samples: []sample{s}})
	}

	// The update bundle: CARICC changes every record it received from
	// KZ-NCB (ingest of the updated file) and packs the changes for
	// KG-NCB, which holds the originals: every record fast-forwards.
	say("%d records: CARICC ingests the updated records and packs them for KG-NCB (setup, not compared)", n)
	ing, err := v(dir, nil, "ingest", "--home", homes["ca"], upd)
	if err != nil {
		return nil, err
	}
	res.setup = append(res.setup, series{name: "valise ingest (update every held record)", samples: []sample{ing}})
	bundleB := filepath.Join(dir, "B.valise")
	// Run once only (a second pack would find nothing to send), under the
	// CPU profiler.
	var pk sample
	if res.authStorePack, pk, err = profiledSample(dir, "pack-store", nil, "pack", "--home", homes["ca"], "--to", "KG-NCB", "-o", bundleB); err != nil {
		return nil, err
	}
	res.setup = append(res.setup, series{name: "valise pack (changes from the store)", samples: []sample{pk}, note: "setup, not compared; under the CPU profiler"})
	res.updateBundleBytes = fileSize(bundleB)
	if res.splitB, err = splitBundle(dir, bundleB, "ca0.card", filepath.Join(dir, "kg0", "identity.txt")); err != nil {
		return nil, err
	}
	os.RemoveAll(filepath.Join(dir, homes["ca"]))

	res.importUpd.name, res.sqlUpd.name = "valise import (update held)", "sqlite3 .import --csv"
	err = pair(cfg, "import update", 1, &res.importUpd, &res.sqlUpd, func(rep int) error {
		os.RemoveAll(filepath.Join(dir, "kg-B"))
		return copyDir(filepath.Join(dir, homes["kg"]), filepath.Join(dir, "kg-B"))
	}, func(rep int) (sample, error) {
		var out bytes.Buffer
		s, err := v(dir, &out, "import", "--json", "--home", "kg-B", bundleB)
		if err == nil {
			err = checkCounts(out.Bytes(), "updated", n)
		}
		return s, err
	}, func(rep int) (sample, error) {
		return sqliteImport(dir, updCSV)
	})
	if err != nil {
		return nil, err
	}
	say("%d records: import of updates once more under the CPU profiler", n)
	os.RemoveAll(filepath.Join(dir, "kg-B"))
	if err := copyDir(filepath.Join(dir, homes["kg"]), filepath.Join(dir, "kg-B")); err != nil {
		return nil, err
	}
	profOut.Reset()
	if res.authImportUpd, err = profiled(dir, "import-update", &profOut, "import", "--json", "--home", "kg-B", bundleB); err != nil {
		return nil, err
	}
	if err := checkCounts(profOut.Bytes(), "updated", n); err != nil {
		return nil, err
	}
	os.RemoveAll(filepath.Join(dir, "kg-B"))
	return res, nil
}

// memResult is the memory-only run at BIG records: pack --input, verify
// and import once each, for their peak memory.
type memResult struct {
	n                    int
	jsonlBytes           int64
	bundleBytes          int64
	pack, verify, impNew series
}

// measureMemory runs pack --input, verify and import once each at n
// records, for SPEC §8's "whatever the bundle's size": their peak memory
// must not grow with n.
func measureMemory(cfg config, n int) (*memResult, error) {
	res := &memResult{n: n}
	say("%d records (memory only): generating", n)
	recs := filepath.Join(workDir, fmt.Sprintf("seed%d-n%d-recs.jsonl", cfg.seed, n))
	if err := genFile(recs, recgen.JSONL, cfg.seed, n, false); err != nil {
		return nil, err
	}
	res.jsonlBytes = fileSize(recs)
	dir, err := freshDir(n)
	if err != nil {
		return nil, err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	if err := setup(dir); err != nil {
		return nil, err
	}
	res.pack.name, res.verify.name, res.impNew.name = "valise pack --input", "valise verify (auditor)", "valise import (new records)"
	say("%d records (memory only): pack --input", n)
	s, err := v(dir, nil, "pack", "--home", "kz", "--to", "CARICC", "--to", "KG-NCB", "--input", recs, "-o", "A.valise")
	if err != nil {
		return nil, err
	}
	res.pack.samples = append(res.pack.samples, s)
	res.bundleBytes = fileSize(filepath.Join(dir, "A.valise"))
	say("%d records (memory only): verify", n)
	if s, err = v(dir, nil, "verify", "--home", "auditor", "--card", "kz.card", "A.valise"); err != nil {
		return nil, err
	}
	res.verify.samples = append(res.verify.samples, s)
	say("%d records (memory only): import", n)
	var out bytes.Buffer
	if s, err = v(dir, &out, "import", "--json", "--home", "ca0", "A.valise"); err != nil {
		return nil, err
	}
	if err := checkCounts(out.Bytes(), "inserted", n); err != nil {
		return nil, err
	}
	res.impNew.samples = append(res.impNew.samples, s)
	return res, nil
}

// checkCounts makes sure an import did what is measured: every record
// inserted, or every record updated.
func checkCounts(out []byte, kind string, n int) error {
	var doc struct {
		Bundles []struct {
			OK     bool           `json:"ok"`
			Counts map[string]int `json:"counts"`
		} `json:"bundles"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return fmt.Errorf("reading import --json output: %w", err)
	}
	reps := doc.Bundles
	if len(reps) != 1 || !reps[0].OK || reps[0].Counts[kind] != n {
		return fmt.Errorf("import did not report %d %s: %s", n, kind, out)
	}
	return nil
}

func sqliteImport(dir, csv string) (sample, error) {
	db := filepath.Join(dir, "baseline.db")
	for _, f := range []string{db, db + "-journal", db + "-wal"} {
		os.Remove(f)
	}
	s, err := cmd(dir, nil, "sqlite3", db,
		"CREATE TABLE t(id TEXT PRIMARY KEY, schema TEXT NOT NULL, body TEXT NOT NULL)",
		".import --csv "+csv+" t")
	if err != nil {
		return s, err
	}
	out, err := exec.Command("sqlite3", db, "SELECT count(*) FROM t").Output()
	if err != nil {
		return s, fmt.Errorf("counting the baseline's rows: %w", err)
	}
	fmt.Fprintf(logFile, "  baseline table holds %s rows\n", strings.TrimSpace(string(out)))
	os.Remove(db)
	return s, nil
}

// generate writes the record files for n, reusing those of an earlier run.
func generate(cfg config, n int) (recs, upd, recsCSV, updCSV string, err error) {
	base := filepath.Join(workDir, fmt.Sprintf("seed%d-n%d", cfg.seed, n))
	recs, upd, recsCSV, updCSV = base+"-recs.jsonl", base+"-upd.jsonl", base+"-recs.csv", base+"-upd.csv"
	for _, f := range []struct {
		path, format string
		update       bool
	}{{recs, recgen.JSONL, false}, {upd, recgen.JSONL, true}, {recsCSV, recgen.CSV, false}, {updCSV, recgen.CSV, true}} {
		if err := genFile(f.path, f.format, cfg.seed, n, f.update); err != nil {
			return "", "", "", "", err
		}
	}
	return recs, upd, recsCSV, updCSV, nil
}

// genFile writes n generated records to path, unless an earlier run did.
func genFile(path, format string, seed uint64, n int, update bool) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := recgen.Write(out, format, seed, n, recgen.Options{Update: update}); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// freshDir empties (or creates) the working directory of the run at n.
func freshDir(n int) (string, error) {
	dir := filepath.Join(workDir, fmt.Sprintf("run-%d", n))
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	return dir, os.MkdirAll(dir, 0o755)
}

// sqlBound runs bench/sqlbound on the records' CSV: the rows of the
// sqlite3 baseline inserted through the pure-Go SQLite valise uses, with
// valise's settings and nothing else of valise. It is built from this
// module each time (make bench runs from the repository's root; the build
// cache makes it quick).
func sqlBound(dir, csv string) (sample, error) {
	bin := filepath.Join(workDir, "sqlbound")
	if _, err := cmd(".", nil, "go", "build", "-o", bin, "./bench/sqlbound"); err != nil {
		return sample{}, err
	}
	db := filepath.Join(dir, "sqlbound.db")
	defer func() {
		for _, f := range []string{db, db + "-wal", db + "-shm", db + "-journal"} {
			os.Remove(f)
		}
	}()
	return cmd(dir, nil, bin, "-db", db, csv)
}

// setup creates the offices KZ-NCB (kz), CARICC (ca0) and KG-NCB (kg0),
// which all trust each other, an empty auditor home and the minisign key.
func setup(dir string) error {
	offices := []struct{ home, agency string }{{"kz", "KZ-NCB"}, {"ca0", "CARICC"}, {"kg0", "KG-NCB"}}
	fpr := map[string]string{}
	for _, o := range offices {
		if _, err := v(dir, nil, "init", "--home", o.home, "--agency", o.agency); err != nil {
			return err
		}
		var out bytes.Buffer
		if _, err := v(dir, &out, "card", "--home", o.home, "-o", o.home+".card"); err != nil {
			return err
		}
		_, f, ok := strings.Cut(out.String(), "fingerprint: ")
		if !ok {
			return fmt.Errorf("valise card printed no fingerprint: %s", out.String())
		}
		fpr[o.home] = strings.TrimSpace(f)
	}
	for _, a := range offices {
		for _, b := range offices {
			if a != b {
				if _, err := v(dir, nil, "peer", "add", "--home", a.home, b.home+".card", "--fingerprint", fpr[b.home]); err != nil {
					return err
				}
			}
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "auditor"), 0o755); err != nil {
		return err
	}
	_, err := cmd(dir, nil, "minisign", "-G", "-W", "-f", "-p", "minisign.pub", "-s", "minisign.key")
	return err
}

func ageRecipients(dir string) (string, string, error) {
	var rs []string
	for _, k := range []string{"age1.key", "age2.key"} {
		if _, err := cmd(dir, nil, "age-keygen", "-o", k); err != nil {
			return "", "", err
		}
		out, err := exec.Command("age-keygen", "-y", filepath.Join(dir, k)).Output()
		if err != nil {
			return "", "", fmt.Errorf("age-keygen -y: %w", err)
		}
		rs = append(rs, strings.TrimSpace(string(out)))
	}
	return rs[0], rs[1], nil
}

func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, bufio.NewReaderSize(f, 1<<20))
	return err
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// copyDir copies an office home (flat: files only).
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		out, err := os.OpenFile(filepath.Join(dst, e.Name()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func readFirstLine(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(line), nil
}
