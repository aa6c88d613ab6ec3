// Package ingest reads records from files an office brings in (valise
// JSON lines, FollowTheMoney entities, CSV, the UN and OFAC sanctions
// lists) through package formats, validates them and writes them to the
// store as the office's own records, or as a new edition of a published
// list, reporting every problem found.
package ingest
