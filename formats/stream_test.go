package formats

import (
	"fmt"
	"io"

	"valise/schema"
)

// result is what readAll collects of a file.
type result struct {
	Format   string
	Source   string // Edition(Format)
	Records  []*schema.Record
	Deletes  []string
	Problems []*Problem
}

// readAll reads a whole file through Stream, the path the binary takes,
// and finds duplicate ids as the ingest does through Options.Unique: an id
// seen a second time is a problem on the later line.
func readAll(name string, r io.Reader, opts Options) (*result, error) {
	if opts.Unique == nil {
		seen := map[string]int{}
		opts.Unique = func(line int, id string, _ bool) string {
			if prev, ok := seen[id]; ok {
				return fmt.Sprintf("duplicate id: also on line %d", prev)
			}
			seen[id] = line
			return ""
		}
	}
	res := &result{}
	format, err := Stream(name, r, opts, func(it Item) error {
		switch {
		case it.Problem != nil:
			res.Problems = append(res.Problems, it.Problem)
		case it.Record != nil:
			res.Records = append(res.Records, it.Record)
		default:
			res.Deletes = append(res.Deletes, it.Delete)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Format, res.Source = format, Edition(format)
	return res, nil
}
