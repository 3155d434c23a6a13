package track

import (
	"context"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// SearchRunsNaive is SearchRuns as it was before it filtered and paged in
// SQL: every run of the experiments read with Get, then matched in Go. The
// tests compare SearchRuns with it, and the benchmark measures both.
func (s *Service) SearchRunsNaive(ctx context.Context, experimentIDs []int64, conds []Cond, offset, limit int) (runs []Run, more bool, err error) {
	if len(experimentIDs) == 0 {
		return nil, false, nil
	}
	q := `SELECT r.id FROM runs r WHERE r.experiment_id IN (?` + strings.Repeat(", ?", len(experimentIDs)-1) + `) ORDER BY r.started_at DESC, r.id DESC`
	args := make([]any, len(experimentIDs))
	for i, id := range experimentIDs {
		args[i] = id
	}
	ids, err := db.All(ctx, s.db, func(sc db.Scanner) (int64, error) {
		var id int64
		return id, sc.Scan(&id)
	}, q, args...)
	if err != nil {
		return nil, false, err
	}
	skipped := 0
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, false, err
		}
		keep := true
		for _, c := range conds {
			if keep, err = c.match(r); err != nil {
				return nil, false, err
			} else if !keep {
				break
			}
		}
		if !keep {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if len(runs) == limit {
			return runs, true, nil
		}
		runs = append(runs, r)
	}
	return runs, false, nil
}

func (c Cond) match(r Run) (bool, error) {
	var have string
	var ok bool
	switch c.Kind {
	case "metric":
		v, ok := r.Metrics[c.Key]
		if !ok {
			return false, nil
		}
		want, err := strconv.ParseFloat(c.Value, 64)
		if err != nil {
			return false, errs.Invalidf("metric %q compared with %q: want a number", c.Key, c.Value)
		}
		switch c.Op {
		case "=":
			return v == want, nil
		case "!=":
			return v != want, nil
		case "<":
			return v < want, nil
		case "<=":
			return v <= want, nil
		case ">":
			return v > want, nil
		case ">=":
			return v >= want, nil
		}
		return false, errs.Invalidf("operator %q not supported on metrics", c.Op)
	case "param":
		have, ok = r.Params[c.Key]
	case "tag":
		have, ok = r.Tags[c.Key]
	case "attribute":
		switch c.Key {
		case "status":
			have, ok = r.Status, true
		case "run_name":
			have, ok = r.Name, true
		default:
			return false, errs.Invalidf("attribute %q not supported in a search (status, run_name)", c.Key)
		}
	default:
		return false, errs.Invalidf("unknown search entity %q", c.Kind)
	}
	if !ok {
		return false, nil
	}
	switch c.Op {
	case "=":
		return have == c.Value, nil
	case "!=":
		return have != c.Value, nil
	}
	return false, errs.Invalidf("operator %q not supported on %ss (= and !=)", c.Op, c.Kind)
}
