package recgen

import (
	"bufio"
	"fmt"
	"io"
)

// Output formats of Write.
const (
	JSONL = "jsonl" // valise JSON lines, one record a line
	CSV   = "csv"   // id,schema,body: the sqlite3 baseline's form (see WriteCSVRow)
)

// Write writes n records of seed to w in format, and returns the number of
// bytes written.
func Write(w io.Writer, format string, seed uint64, n int, o Options) (int64, error) {
	if format != JSONL && format != CSV {
		return 0, fmt.Errorf("unknown format %q (want %s or %s)", format, JSONL, CSV)
	}
	if o.Count == 0 {
		o.Count = n
	}
	g := New(seed, o)
	bw := bufio.NewWriterSize(w, 1<<20)
	var total int64
	var row []byte
	for i := 0; i < n; i++ {
		line := g.Next()
		if format == CSV {
			row = AppendCSVRow(row[:0], line)
			line = row
		}
		k, err := bw.Write(line)
		total += int64(k)
		if err != nil {
			return total, err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return total, err
		}
		total++
	}
	return total, bw.Flush()
}

// AppendCSVRow appends the CSV row of a record line that Next returned:
// three RFC 4180 fields, id, schema and the JSON line itself as body, the
// last one quoted with its quotes doubled. No newline is appended.
//
// This is the table the sqlite3 baseline loads:
//
//	CREATE TABLE t(id TEXT PRIMARY KEY, schema TEXT NOT NULL, body TEXT NOT NULL)
//
// the same bytes valise keeps of a record (its JSON), keyed by id, without
// valise's version history, conflicts and ledger.
func AppendCSVRow(dst, line []byte) []byte {
	id, schema := SplitLine(line)
	dst = append(dst, id...)
	dst = append(dst, ',')
	dst = append(dst, schema...)
	dst = append(dst, ',', '"')
	for _, c := range line {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
