package store

// CountFilter counts the records Each(f, …) gives, without reading them:
// the total of an export's progress bar.
func (s *Store) CountFilter(f Filter) (int64, error) {
	q := `SELECT COUNT(*) FROM records WHERE 1 = 1`
	var args []any
	if f.Type != "" {
		q += ` AND schema = ?`
		args = append(args, f.Type)
	}
	if !f.IncludeDeleted {
		q += ` AND deleted = 0`
	}
	if f.Source != "" {
		q += ` AND source = ?`
		args = append(args, f.Source)
	}
	var n int64
	err := s.db.QueryRow(q, args...).Scan(&n)
	return n, mapErr(err)
}
