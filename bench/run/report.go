package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

const budgetMemMiB = 200

func secs(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// cell escapes the pipes of a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }

func rate(n int, d time.Duration) string {
	r := float64(n) / d.Seconds()
	if r >= 1000 {
		return fmt.Sprintf("%.1fk records/s", r/1000)
	}
	return fmt.Sprintf("%.0f records/s", r)
}

func mbps(bytes int64, d time.Duration) string {
	return fmt.Sprintf("%.0f MB/s", float64(bytes)/1e6/d.Seconds())
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// report renders the results as Markdown.
func report(cfg config, env *environment, all []*sizeResult, mem *memResult) string {
	var b strings.Builder
	big := all[len(all)-1]
	var small *sizeResult
	if len(all) > 1 {
		small = all[0]
	}
	fmt.Fprintf(&b, "# valise benchmark: SPEC §8 budgets\n\n")
	fmt.Fprintf(&b, "Written by `make bench` (bench/run) on %s, N=%d records (%.0f MB of JSON lines). "+
		"Every valise command is measured side by side with its baseline in the same run, alternating which goes first; "+
		"times are medians of wall-clock time, peak memory is the largest ru_maxrss of the runs "+
		"(what `/usr/bin/time -v` reports as \"Maximum resident set size\").\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), big.n, float64(big.jsonlBytes)/1e6)

	fmt.Fprintf(&b, "## Budgets at %d records\n\n", big.n)
	fmt.Fprintf(&b, "| SPEC §8 budget | valise | baseline | ratio | budget | verdict |\n|---|---|---|---|---|---|\n")
	p, z := big.pack.median(), big.zstdAge.median()
	r := z.wall.Seconds() / p.wall.Seconds()
	fmt.Fprintf(&b, "| pack (validate every record, compress, encrypt, sign) | %s, %s | `zstd -3 -T0 \\| age -r R1 -r R2`: %s, %s | %.2f× throughput | ≥ 1.0× | %s |\n",
		secs(p.wall), mbps(big.jsonlBytes, p.wall), secs(z.wall), mbps(big.jsonlBytes, z.wall), r, verdict(r >= 1.0))
	vv, m := big.verify.median(), big.minisign.median()
	r = vv.wall.Seconds() / m.wall.Seconds()
	fmt.Fprintf(&b, "| verify (auditor, no private key) | %s | `minisign -V`: %s | %.2f× time | ≤ 0.5× | %s |\n",
		secs(vv.wall), secs(m.wall), r, verdict(r <= 0.5))
	in, sq := big.importNew.median(), big.sqlNew.median()
	r = sq.wall.Seconds() / in.wall.Seconds()
	fmt.Fprintf(&b, "| import of new records (verify, decrypt, validate, merge, commit) | %s, %s | `sqlite3 .import --csv`: %s, %s | %.2f× rate | ≥ 1.5× | %s |\n",
		secs(in.wall), rate(big.n, in.wall), secs(sq.wall), rate(big.n, sq.wall), r, verdict(r >= 1.5))
	iu, su := big.importUpd.median(), big.sqlUpd.median()
	r = su.wall.Seconds() / iu.wall.Seconds()
	fmt.Fprintf(&b, "| import of a bundle that updates held records | %s, %s | `sqlite3 .import --csv`: %s, %s | %.2f× rate | ≥ 1.0× | %s |\n",
		secs(iu.wall), rate(big.n, iu.wall), secs(su.wall), rate(big.n, su.wall), r, verdict(r >= 1.0))
	for _, s := range []*series{&big.pack, &big.verify, &big.importNew, &big.importUpd} {
		m := s.maxRSS()
		fmt.Fprintf(&b, "| peak memory of %s | %s | | | < %d MiB | %s |\n", s.name, mib(m), budgetMemMiB, verdict(m < budgetMemMiB*1024))
	}
	if small != nil {
		limit := 1.1 * float64(big.n) / float64(small.n)
		pairs := [][2]*series{{&small.pack, &big.pack}, {&small.verify, &big.verify}, {&small.importNew, &big.importNew}, {&small.importUpd, &big.importUpd}}
		for _, pr := range pairs {
			a, c := pr[0].median(), pr[1].median()
			g := c.wall.Seconds() / a.wall.Seconds()
			fmt.Fprintf(&b, "| growth of %s, %d → %d records | %s → %s | | %.1f× | ≤ %.0f× | %s |\n",
				pr[1].name, small.n, big.n, secs(a.wall), secs(c.wall), g, limit, verdict(g <= limit))
		}
	} else {
		fmt.Fprintf(&b, "| growth | not measured: N=%d is not above SMALL=%d | | | ≤ 11× | — |\n", big.n, cfg.small)
	}

	for _, res := range all {
		b.WriteString(authorshipRows(res))
	}

	b.WriteString(authorshipSection(all))

	if mem != nil {
		fmt.Fprintf(&b, "\n## Memory at %d records (BIG, one run each)\n\n| command | time | peak RSS | budget | verdict |\n|---|---|---|---|---|\n", mem.n)
		for _, s := range []*series{&mem.pack, &mem.verify, &mem.impNew} {
			m := s.maxRSS()
			fmt.Fprintf(&b, "| %s | %s | %s | < %d MiB | %s |\n", s.name, secs(s.median().wall), mib(m), budgetMemMiB, verdict(m < budgetMemMiB*1024))
		}
		fmt.Fprintf(&b, "\n%.0f MB of JSON lines, bundle %.1f MB.\n", float64(mem.jsonlBytes)/1e6, float64(mem.bundleBytes)/1e6)
	}

	fmt.Fprintf(&b, "\n## Every run\n\n| records | command | runs (s, in order) | median | CPU (user+sys) | CPU / wall | peak RSS | note |\n|---|---|---|---|---|---|---|---|\n")
	for _, res := range all {
		for _, s := range []*series{&res.pack, &res.zstdAge, &res.verify, &res.minisign, &res.importNew, &res.sqlNew, &res.importUpd, &res.sqlUpd} {
			md := s.median()
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %.2f | %s | %s |\n", res.n, cell(s.name), s.times(), secs(md.wall),
				secs(md.cpu), md.cpu.Seconds()/md.wall.Seconds(), mib(s.maxRSS()), s.note)
		}
		for _, s := range res.setup {
			md := s.median()
			note := s.note
			if note == "" {
				note = "setup, not compared"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %.2f | %s | %s |\n", res.n, s.name, s.times(), secs(md.wall),
				secs(md.cpu), md.cpu.Seconds()/md.wall.Seconds(), mib(s.maxRSS()), note)
		}
	}

	fmt.Fprintf(&b, "\n## Sizes\n\n| records | JSON lines | CSV (id, schema, body) | bundle (pack --input, 2 recipients) | zstd \\| age output | update bundle |\n|---|---|---|---|---|---|\n")
	for _, res := range all {
		fmt.Fprintf(&b, "| %d | %.1f MB | %.1f MB | %.1f MB | %.1f MB | %.1f MB |\n", res.n, float64(res.jsonlBytes)/1e6, float64(res.csvBytes)/1e6,
			float64(res.bundleBytes)/1e6, float64(res.baselineAgeBytes)/1e6, float64(res.updateBundleBytes)/1e6)
	}

	fmt.Fprintf(&b, "\n## How it is measured\n\n")
	fmt.Fprintf(&b, "- **pack**: `valise pack --to CARICC --to KG-NCB --input recs.jsonl` (read and validate every record, canonical encoding, zstd, age to both offices' recipients, signature) against `zstd -3 -T0 < recs.jsonl | age -r R1 -r R2` with two X25519 recipients. Ingesting into the store is not part of pack.\n")
	fmt.Fprintf(&b, "- **verify**: `valise verify --card kz.card` from an auditor's empty home against `minisign -V` of the same bundle file, signed beforehand with `minisign -S` (key from `minisign -G -W`).\n")
	fmt.Fprintf(&b, "- **import of new records**: that bundle into a fresh copy of an empty CARICC (and KG-NCB) store; `--json` output checked for N inserted. Baseline: `sqlite3 new.db 'CREATE TABLE t(id TEXT PRIMARY KEY, schema TEXT NOT NULL, body TEXT NOT NULL)' '.import --csv recs.csv t'`, the same records with the JSON line as body.\n")
	fmt.Fprintf(&b, "- **import of updates**: CARICC ingests a changed version of every record (`bench/gen -update`) and packs the changes for KG-NCB; KG-NCB, holding the originals, imports that bundle (a fresh copy of its home each run); every record must fast-forward (N updated). Baseline: the same `.import` of the updated records' CSV.\n")
	fmt.Fprintf(&b, "- **growth**: the median time at N divided by the median at SMALL; the budget is 11× for 10× the records.\n")
	fmt.Fprintf(&b, "- **authorship**: see \"Cost of authorship\" above.\n")

	fmt.Fprintf(&b, "\n## Environment\n\n| | |\n|---|---|\n")
	for _, l := range env.lines {
		fmt.Fprintln(&b, l)
	}
	fmt.Fprintf(&b, "| load after the run | %s |\n", loadavg())
	fmt.Fprintf(&b, "| whole run | %s |\n", env.total.Round(time.Second))
	return b.String()
}

func loadavg() string {
	out, err := readFirstLine("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return out
}

const (
	budgetAuthorTime = 0.10 // issue 12: authorship within 10% of pack and import time
	budgetAuthorSize = 0.05 // and 5% of bundle size, at 100k records
)

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// authorshipRows are the budget rows of issue 12 at one size.
func authorshipRows(res *sizeResult) string {
	var b strings.Builder
	shares := []struct {
		name string
		c    *cpuShare
	}{{"pack --input", res.authPack}, {"pack (store)", res.authStorePack}, {"import new", res.authImportNew}, {"import update", res.authImportUpd}}
	var parts []string
	worst := 0.0
	for _, x := range shares {
		if x.c == nil {
			continue
		}
		parts = append(parts, x.name+" "+pct(x.c.share()))
		worst = max(worst, x.c.share())
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "| authorship share of pack / import time, %d records (CPU samples of a profiled run) | %s | | %s at most | ≤ %.0f%% | %s |\n",
			res.n, strings.Join(parts, ", "), pct(worst), 100*budgetAuthorTime, verdict(worst <= budgetAuthorTime))
	}
	parts, worst = nil, 0
	for _, x := range []struct {
		name string
		s    *payloadSplit
	}{{"pack --input bundle", res.splitA}, {"update bundle (relayed, KZ-NCB's proofs)", res.splitB}} {
		if x.s == nil {
			continue
		}
		w := max(x.s.marginal(), x.s.alone())
		parts = append(parts, fmt.Sprintf("%s %s (%s alone)", x.name, pct(x.s.marginal()), pct(x.s.alone())))
		worst = max(worst, w)
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "| authorship share of bundle size, %d records (proof lines, tree section, tree-secret; compressed) | %s | | %s at most | ≤ %.0f%% | %s |\n",
			res.n, strings.Join(parts, "; "), pct(worst), 100*budgetAuthorSize, verdict(worst <= budgetAuthorSize))
	}
	return b.String()
}

// authorshipSection details the cost of authorship at every size.
func authorshipSection(all []*sizeResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Cost of authorship (issue 12)\n\n")
	fmt.Fprintf(&b, "valise cannot pack without proofs, so this is the share of authorship in what each command does, not an A/B. "+
		"Issue 12's budget: within %.0f%% of pack and import time and %.0f%% of bundle size at 100k records.\n\n", 100*budgetAuthorTime, 100*budgetAuthorSize)
	fmt.Fprintf(&b, "| records | command (one extra run under the CPU profiler) | wall of the measured runs | CPU sampled | authorship CPU | share | budget | verdict |\n|---|---|---|---|---|---|---|---|\n")
	for _, res := range all {
		var storePack series
		for _, s := range res.setup {
			if strings.HasPrefix(s.name, "valise pack") {
				storePack = s
			}
		}
		for _, x := range []struct {
			s *series
			c *cpuShare
		}{{&res.pack, res.authPack}, {&storePack, res.authStorePack}, {&res.importNew, res.authImportNew}, {&res.importUpd, res.authImportUpd}} {
			if x.c == nil {
				continue
			}
			share := pct(x.c.share())
			if x.c.called > 0 {
				share += fmt.Sprintf(" (%s without `schema.Decode` in `packer.send`)", pct(float64(x.c.author-x.c.called)/float64(x.c.total)))
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | ≤ %.0f%% | %s |\n", res.n, cell(x.s.name), secs(x.s.median().wall), secs(x.c.total), secs(x.c.author),
				share, 100*budgetAuthorTime, verdict(x.c.share() <= budgetAuthorTime))
		}
	}
	fmt.Fprintf(&b, "\n| records | bundle | records | proof lines | tree section | tree-secret line | authorship, decompressed | bundle file | recompressed: whole / without authorship / authorship alone | share: marginal (alone) | budget | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, res := range all {
		for _, x := range []struct {
			name string
			s    *payloadSplit
		}{{"pack --input (KZ-NCB's own records)", res.splitA}, {"update (CARICC's changes to KZ-NCB's records)", res.splitB}} {
			s := x.s
			if s == nil {
				continue
			}
			w := max(s.marginal(), s.alone())
			fmt.Fprintf(&b, "| %d | %s | %.1f MB | %d lines, %.1f MB | %d tree + %d node lines, %d B | %d B | %.1f MB (%s of the payload) | %.2f MB | %.2f / %.2f / %.3f MB | %s (%s) | ≤ %.0f%% | %s |\n",
				res.n, x.name, float64(s.records)/1e6, s.proofLines, float64(s.proofs)/1e6, s.treeLines, s.nodeLines, s.trees, s.secret,
				float64(s.authorBytes())/1e6, pct(float64(s.authorBytes())/float64(s.decompressedSize)), float64(s.bundle)/1e6,
				float64(s.zAll)/1e6, float64(s.zNoProof)/1e6, float64(s.zProofAlone)/1e6, pct(s.marginal()), pct(s.alone()), 100*budgetAuthorSize, verdict(w <= budgetAuthorSize))
		}
	}
	fmt.Fprintf(&b, "\nHow:\n\n")
	fmt.Fprintf(&b, "- **Time**: after the measured runs, each command runs once more with `$VALISE_CPUPROFILE` (pack from the store, which runs once, is profiled in its only run). "+
		"`go tool pprof -traces` lists every sampled stack; a sample is authorship's when any frame of its stack is (so hashing, JSON, SQLite and allocation done on its behalf count, on whichever goroutine, and no sample twice): "+
		"package `valise/proof`; in `valise/exchange` the methods of `authorship` (the leaf hashing of import runs in `authorship.record` on the resolving goroutine), `newAuthorship`, `checkHandlingAuthor`, `resultClaims`, `packer.prove`, `packer.writeTrees`, `packer.unprovable`; "+
		"in `valise/store` `Tx.PutTree`, `Tx.AddTreeLeaves`, `Tx.AddTreeNodes`, `Store.Tree`, `Tx.carryClaims`; `bundle.Writer.WriteProof` and `WriteTree`; "+
		"and `schema.Decode` called from `packer.send`: pack --input decodes each line there for its leaf (before proofs, send took the key and never decoded the line), though the register of what was sent now reads the version vector from that decode too, so the share is also given without it. The share is of CPU, not wall time: the import and pack pipelines overlap goroutines, so the wall share may differ.\n")
	fmt.Fprintf(&b, "- **Not counted** (not separable in a profile): the claims column written with each record and read back (SQLite in `Tx.Apply`, the held reader, the store pack's query), "+
		"the bundle reader's look for a proof line after each record, and the compression and encryption of proof bytes (done with the records').\n")
	fmt.Fprintf(&b, "- **Size**: the payload is decrypted with a recipient's identity (`age`), decompressed and split per FORMAT.md §3 into the manifest, record lines, `proof` lines and the tree section (`tree`, `node` lines). "+
		"The content is compressed again with the writer's settings (zstd default level, one goroutine, 4 MiB window) whole, without the authorship lines, and the authorship lines alone; "+
		"the *marginal* share is (whole − without) / bundle file, the *alone* share the authorship lines compressed alone / bundle file; the verdict takes the larger. "+
		"The pack --input bundle carries only the sender's own records (no proof lines: the sender's tree is rebuilt by the reader), the update bundle one proof line per record (KZ-NCB's claim) and KZ-NCB's forwarded tree.\n")
	return b.String()
}

// historyHeader starts bench/history.md, which keeps a line per run of
// make bench: results.md is rewritten each time.
const historyHeader = `# valise benchmark history

One line per ` + "`make bench`" + ` run, appended by bench/run (results.md holds the
last run in full). Ratios as in results.md: pack and import are throughput
against their baseline (higher is better), verify is time against
` + "`minisign -V`" + ` (lower is better). Peak memory in MiB.

| date (UTC) | valise | N | load before | pack | verify | import new | import update | peak MiB pack / verify / import new / import update |
|---|---|---|---|---|---|---|---|---|
`

// historyLine is the line of this run in bench/history.md, at the largest
// N of the growth pair.
func historyLine(env *environment, all []*sizeResult) string {
	big := all[len(all)-1]
	field := func(key string) string {
		for _, l := range env.lines {
			if strings.HasPrefix(l, "| "+key+" | ") {
				return strings.TrimSuffix(strings.TrimPrefix(l, "| "+key+" | "), " |")
			}
		}
		return "?"
	}
	load, _, _ := strings.Cut(field("load before the run"), " ")
	// ratio is a's median time over b's.
	ratio := func(a, b *series) string {
		return fmt.Sprintf("%.2f×", a.median().wall.Seconds()/b.median().wall.Seconds())
	}
	return fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %s | %.0f / %.0f / %.0f / %.0f |\n",
		time.Now().UTC().Format("2006-01-02 15:04"), cell(field("valise")), big.n, load,
		ratio(&big.zstdAge, &big.pack), ratio(&big.verify, &big.minisign),
		ratio(&big.sqlNew, &big.importNew), ratio(&big.sqlUpd, &big.importUpd),
		float64(big.pack.maxRSS())/1024, float64(big.verify.maxRSS())/1024,
		float64(big.importNew.maxRSS())/1024, float64(big.importUpd.maxRSS())/1024)
}

// appendHistory appends line to the history file, creating it with its
// header.
func appendHistory(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		line = historyHeader + line
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
