// Command gen writes deterministic, realistic valise records for the
// benchmark (see package valise/bench/recgen):
//
//	go run ./bench/gen -seed 1 -n 1000000 > recs.jsonl
//	go run ./bench/gen -seed 1 -n 1000000 -format csv > recs.csv
//	go run ./bench/gen -seed 1 -n 1000000 -update > upd.jsonl
//
// The same seed and count always give the same bytes, and a smaller count
// gives a prefix of a larger one. -format csv writes the same records as
// the sqlite3 baseline's table t(id, schema, body); -update writes a
// changed version of every record (same ids), for measuring imports that
// update held records.
package main

import (
	"flag"
	"fmt"
	"os"

	"valise/bench/recgen"
)

func main() {
	seed := flag.Uint64("seed", 1, "random seed")
	n := flag.Int("n", 1000, "number of records")
	format := flag.String("format", recgen.JSONL, "output format: jsonl (valise JSON lines) or csv (id,schema,body for sqlite3 .import)")
	update := flag.Bool("update", false, "write a changed version of each record (same ids)")
	origin := flag.String("origin", recgen.DefaultOrigin, `origin agency of every record ("-" to leave it out)`)
	out := flag.String("o", "", "output file (default standard output)")
	flag.Parse()
	if flag.NArg() > 0 || *n < 0 {
		flag.Usage()
		os.Exit(2)
	}
	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		w = f
	}
	if _, err := recgen.Write(w, *format, *seed, *n, recgen.Options{Origin: *origin, Update: *update}); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
