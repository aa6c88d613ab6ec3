// Command sqlbound measures what bounds valise import from below: the
// SQLite engine valise uses (modernc.org/sqlite, pure Go) inserting the
// same rows a plain load would, in one transaction, with nothing of
// valise around it. make bench runs it beside sqlite3 .import and valise
// import, on the same records:
//
//	go run ./bench/sqlbound -db t.db recs.csv
//
// It reads the CSV the sqlite3 baseline imports (id, schema, body), and
// inserts each row with a 16-byte blob beside it, the size of the MAC
// that valise seals every record row with, into
//
//	t(id TEXT PRIMARY KEY, schema TEXT NOT NULL, body TEXT NOT NULL, mac BLOB)
//
// through multi-row prepared INSERTs of 256 rows, in a store with
// valise's own settings (16 KiB pages, WAL, synchronous FULL), and
// prints the rows inserted and the seconds it took.
package main

import (
	"bufio"
	"crypto/rand"
	"database/sql"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	_ "modernc.org/sqlite"
)

const batch = 256

func main() {
	dbPath := flag.String("db", "sqlbound.db", "database file to create (removed first)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sqlbound -db FILE RECORDS.csv")
		os.Exit(2)
	}
	n, d, err := run(*dbPath, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlbound:", err)
		os.Exit(1)
	}
	fmt.Printf("%d rows in %.3f s\n", n, d.Seconds())
}

func run(dbPath, csvPath string) (int, time.Duration, error) {
	for _, f := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", dbPath + "-journal"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, 0, err
		}
	}
	in, err := os.Open(csvPath)
	if err != nil {
		return 0, 0, err
	}
	defer in.Close()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=page_size(16384)&_journal_mode=WAL&_pragma=synchronous(FULL)&_pragma=cache_size(-8192)&_txlock=immediate")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t(id TEXT PRIMARY KEY, schema TEXT NOT NULL, body TEXT NOT NULL, mac BLOB)`); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	tx, err := db.Begin()
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	full, err := tx.Prepare(insert(batch))
	if err != nil {
		return 0, 0, err
	}
	r := csv.NewReader(bufio.NewReaderSize(in, 1<<20))
	r.FieldsPerRecord = 3
	r.ReuseRecord = true
	args := make([]any, 0, 4*batch)
	rows := 0
	flush := func(st *sql.Stmt) error {
		_, err := st.Exec(args...)
		args = args[:0]
		return err
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		mac := make([]byte, 16)
		rand.Read(mac)
		args = append(args, rec[0], rec[1], rec[2], mac)
		rows++
		if len(args) == cap(args) {
			if err := flush(full); err != nil {
				return 0, 0, err
			}
		}
	}
	if len(args) > 0 {
		st, err := tx.Prepare(insert(len(args) / 4))
		if err != nil {
			return 0, 0, err
		}
		if err := flush(st); err != nil {
			return 0, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	return rows, time.Since(start), nil
}

func insert(rows int) string {
	return "INSERT INTO t(id, schema, body, mac) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", rows), ", ")
}
