package store

import (
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"valise/schema"
)

// BatchSize is the number of records the batched statements handle at once:
// one statement per batch instead of one per record.
const BatchSize = 256

// stmtCache holds multi-row statements prepared for one transaction, by
// kind and number of rows.
type stmtCache map[string]*sql.Stmt

func (t *Tx) multi(kind string, rows int, build func(rows int) string) (*sql.Stmt, error) {
	if t.stmts == nil {
		t.stmts = stmtCache{}
	}
	key := fmt.Sprintf("%s/%d", kind, rows)
	if st, ok := t.stmts[key]; ok {
		return st, nil
	}
	st, err := t.tx.Prepare(build(rows))
	if err != nil {
		return nil, mapErr(err)
	}
	t.stmts[key] = st
	return st, nil
}

func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// GetMany returns the records held under ids (absent ids are missing from
// the map), with one query per BatchSize ids.
func (t *Tx) GetMany(ids []string) (map[string]*schema.Record, error) {
	out := make(map[string]*schema.Record, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		st, err := t.multi("get", n, func(rows int) string {
			return `SELECT body FROM records WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?, ", rows), ", ") + `)`
		})
		if err != nil {
			return nil, err
		}
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := st.Query(args...)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			var body []byte
			if err := rows.Scan(&body); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			r, err := schema.Decode(body)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store holds a malformed record: %w", err)
			}
			out[r.ID] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		ids = ids[n:]
	}
	return out, nil
}

// PutMany writes records as Put does, with a few statements per BatchSize
// records. Ids must be distinct. bodies, when not nil, holds each record's
// canonical encoding already made (nil entries are encoded here).
func (t *Tx) PutMany(recs []*schema.Record, bodies [][]byte, c Change) error {
	for len(recs) > 0 {
		n := min(len(recs), BatchSize)
		var b [][]byte
		if bodies != nil {
			b, bodies = bodies[:n], bodies[n:]
		}
		if err := t.putBatch(recs[:n], b, c); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

func (t *Tx) putBatch(recs []*schema.Record, given [][]byte, c Change) error {
	n := len(recs)
	// Version numbers continue each record's history.
	next := make(map[string]int64, n)
	st, err := t.multi("maxn", n, func(rows int) string {
		return `SELECT id, MAX(n) FROM versions WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?, ", rows), ", ") + `) GROUP BY id`
	})
	if err != nil {
		return err
	}
	args := make([]any, 0, n*9)
	for _, r := range recs {
		args = append(args, r.ID)
	}
	rows, err := st.Query(args...)
	if err != nil {
		return mapErr(err)
	}
	for rows.Next() {
		var id string
		var m int64
		if err := rows.Scan(&id, &m); err != nil {
			rows.Close()
			return mapErr(err)
		}
		next[id] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}

	at := t.s.now().UTC().Format(time.RFC3339)
	var source, bundle any
	if c.Source != "" {
		source = c.Source
	}
	if c.Bundle != "" {
		bundle = c.Bundle
	}
	bodies := make([][]byte, n)
	hashes := make([]string, n)
	args = args[:0]
	for i, r := range recs {
		if given != nil && given[i] != nil {
			bodies[i] = given[i]
		} else {
			bodies[i] = r.AppendCanonical(nil)
		}
		sum := r.ContentHash()
		hashes[i] = hex.EncodeToString(sum[:])
		t.changed++
		args = append(args, r.ID, r.Schema, r.Origin, r.Deleted, source, hashes[i], bodies[i], t.changed, at)
	}
	put, err := t.multi("put", n, func(rows int) string {
		return `INSERT INTO records(id, schema, origin, deleted, source, content_hash, body, changed, updated_at) VALUES ` +
			placeholders(rows, 9) + ` ON CONFLICT(id) DO UPDATE SET schema = excluded.schema, origin = excluded.origin, deleted = excluded.deleted,
			source = COALESCE(excluded.source, records.source), content_hash = excluded.content_hash, body = excluded.body,
			changed = excluded.changed, updated_at = excluded.updated_at`
	})
	if err != nil {
		return err
	}
	if _, err := put.Exec(args...); err != nil {
		return mapErr(err)
	}
	args = args[:0]
	for i, r := range recs {
		args = append(args, r.ID, next[r.ID]+1, at, c.Action, c.Agency, bundle, hashes[i], bodies[i])
	}
	ver, err := t.multi("ver", n, func(rows int) string {
		return `INSERT INTO versions(id, n, at, action, agency, bundle, content_hash, body) VALUES ` + placeholders(rows, 8)
	})
	if err != nil {
		return err
	}
	if _, err := ver.Exec(args...); err != nil {
		return mapErr(err)
	}
	return nil
}

// PeerKnowsMany records, for each id, that peer holds version vhashes[i].
func (t *Tx) PeerKnowsMany(peer string, ids, vhashes []string, bundle string) error {
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		st, err := t.multi("knows", n, func(rows int) string {
			return `INSERT INTO peer_state(peer, id, vhash, bundle) VALUES ` + placeholders(rows, 4) +
				` ON CONFLICT(peer, id) DO UPDATE SET vhash = excluded.vhash, bundle = excluded.bundle`
		})
		if err != nil {
			return err
		}
		args := make([]any, 0, n*4)
		for i := range ids[:n] {
			args = append(args, peer, ids[i], vhashes[i], bundle)
		}
		if _, err := st.Exec(args...); err != nil {
			return mapErr(err)
		}
		ids, vhashes = ids[n:], vhashes[n:]
	}
	return nil
}

// Live returns which of ids are held and not deleted, with one query per
// BatchSize ids and without decoding the records.
func (t *Tx) Live(ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		st, err := t.multi("live", n, func(rows int) string {
			return `SELECT id FROM records WHERE deleted = 0 AND id IN (` + strings.TrimSuffix(strings.Repeat("?, ", rows), ", ") + `)`
		})
		if err != nil {
			return nil, err
		}
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		rows, err := st.Query(args...)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			out[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, mapErr(err)
		}
		ids = ids[n:]
	}
	return out, nil
}
