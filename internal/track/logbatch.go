package track

// The hot path of experiment tracking: training scripts log metrics many
// times a second (MLflow's runs/log-batch), each request naming its run.
//
// Two things make it fast while keeping every acknowledged batch committed:
//
//   - RunLocation, what the permission check of every request needs, is
//     cached: a run never changes experiment, an experiment never changes
//     project, and neither is ever deleted, so the answer never goes stale.
//   - LogBatch group-commits: concurrent batches queue, and a writer
//     goroutine commits whatever is queued in one transaction, one
//     multi-row INSERT for the metrics of all of them, then answers each
//     caller. One commit (one WAL append on SQLite, one WAL flush on
//     PostgreSQL) serves many requests, which is what SQLite's single
//     writer needs and what PostgreSQL benefits from too. If anything in a
//     group fails, the transaction is rolled back and each of its batches
//     is retried in a transaction of its own, so that a failing batch
//     fails alone.

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// runLocation is where a run lives, for permission checks.
type runLocation struct {
	project    string
	experiment int64
}

// locationCache remembers runs' locations (immutable, see above). It is
// emptied when it reaches maxCachedRuns, so it stays bounded.
type locationCache struct {
	mu sync.Mutex
	m  map[int64]runLocation
}

const maxCachedRuns = 100_000

func (c *locationCache) get(id int64) (runLocation, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[id]
	return l, ok
}

func (c *locationCache) put(id int64, l runLocation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedRuns {
		c.m = map[int64]runLocation{}
	}
	c.m[id] = l
}

// RunLocation returns the project and experiment of a run: what a
// permission check needs. Answers are cached (they never change).
func (s *Service) RunLocation(ctx context.Context, runID int64) (project string, experimentID int64, err error) {
	if l, ok := s.locations.get(runID); ok {
		return l.project, l.experiment, nil
	}
	err = s.db.QueryRow(ctx, `SELECT p.name, e.id`+runFrom+`WHERE r.id = ?`, runID).Scan(&project, &experimentID)
	if err != nil {
		return "", 0, db.NotFound(err, "run %d not found", runID)
	}
	s.locations.put(runID, runLocation{project, experimentID})
	return project, experimentID, nil
}

// LogBatch records metrics, parameters and tags of a run in one
// transaction: all or nothing, committed when it returns nil. A parameter
// may be logged again with the same value; another value is a conflict.
// Concurrent calls share transactions (see groupCommit) without sharing
// their fate.
func (s *Service) LogBatch(ctx context.Context, runID int64, metrics []Metric, params, tags []KV) error {
	if len(metrics) > MaxBatchMetrics || len(params) > MaxBatchParams || len(tags) > MaxBatchTags {
		return errs.Invalidf("a batch holds at most %d metrics, %d params and %d tags (got %d, %d, %d)",
			MaxBatchMetrics, MaxBatchParams, MaxBatchTags, len(metrics), len(params), len(tags))
	}
	for _, m := range metrics {
		if m.Key == "" {
			return errs.Invalidf("metric key must not be empty")
		}
	}
	seen := map[string]string{}
	for _, p := range params {
		if p.Key == "" {
			return errs.Invalidf("parameter key must not be empty")
		}
		if v, ok := seen[p.Key]; ok && v != p.Value {
			return errs.Conflictf("run %d: parameter %q given twice with different values", runID, p.Key)
		}
		seen[p.Key] = p.Value
	}
	for _, t := range tags {
		if t.Key == "" {
			return errs.Invalidf("tag key must not be empty")
		}
	}
	b := &batch{ctx: ctx, runID: runID, metrics: metrics, params: params, tags: tags, now: s.now().UTC(), done: make(chan error, 1)}
	return s.group.commit(s, b)
}

// batch is one LogBatch call waiting for its group commit.
type batch struct {
	ctx          context.Context // the caller's: a batch whose caller is gone is not written
	runID        int64
	metrics      []Metric
	params, tags []KV
	now          time.Time // the time of metrics logged without one
	done         chan error
}

// groupCommit queues concurrent batches and commits them in groups. Writer
// goroutines, at most the dialect's number, are started when batches wait
// and none is free; each commits groups until the queue is empty, then
// exits. Callers only wait for their answer: none is kept serving others.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*batch
	writers int
}

// Group sizes and writers. SQLite has one writer at a time anyway: a
// second would only wait for the lock. PostgreSQL writes in parallel; a few
// writers keep its connections busy while groups stay large (2 to 4
// measured best with 20 clients; 8 worse).
const (
	maxGroup        = 64 // batches per transaction
	postgresWriters = 4
)

func writers(d db.Dialect) int {
	if d == db.SQLite {
		return 1
	}
	return postgresWriters
}

// commit queues b and returns its outcome once written (or refused).
func (g *groupCommit) commit(s *Service, b *batch) error {
	g.mu.Lock()
	g.queue = append(g.queue, b)
	if g.writers < writers(s.db.Dialect()) {
		g.writers++
		go g.write(s)
	}
	g.mu.Unlock()
	return <-b.done
}

// write commits groups until the queue is empty.
func (g *groupCommit) write(s *Service) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.queue) > 0 {
		n := min(len(g.queue), maxGroup)
		q := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		s.commitGroup(q)
		g.mu.Lock()
	}
	g.queue = nil
	g.writers--
}

// commitGroup writes q in one transaction and answers every batch of it
// (exactly once).
func (s *Service) commitGroup(q []*batch) {
	// The transaction serves many requests: it runs on its own context.
	ctx := context.Background()
	live := make([]*batch, 0, len(q))
	for _, b := range q {
		if err := b.ctx.Err(); err != nil {
			b.done <- err
			continue
		}
		live = append(live, b)
	}
	if len(live) == 0 {
		return
	}
	var (
		ok     []*batch // the batches of live whose run exists
		sorted bool     // whether the others have been answered
	)
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var missing []*batch
		var err error
		if ok, missing, err = s.existing(ctx, tx, live, true); err != nil {
			return err
		}
		sorted = true
		for _, b := range missing {
			b.done <- errs.NotFoundf("run %d not found", b.runID)
		}
		if err := insertMetrics(ctx, tx, ok); err != nil {
			return err
		}
		for _, b := range ok {
			if err := applyParamsTags(ctx, tx, b); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		for _, b := range ok {
			b.done <- nil
		}
	case !sorted: // nothing answered yet
		s.commitEach(ctx, live)
	default:
		s.commitEach(ctx, ok)
	}
}

// commitEach writes each batch in a transaction of its own, after a group
// failed: the failure then belongs to the batch that caused it.
func (s *Service) commitEach(ctx context.Context, bs []*batch) {
	for _, b := range bs {
		b.done <- s.db.InTx(ctx, func(tx *db.Tx) error {
			ok, _, err := s.existing(ctx, tx, []*batch{b}, false)
			if err != nil {
				return err
			}
			if len(ok) == 0 {
				return errs.NotFoundf("run %d not found", b.runID)
			}
			if err := insertMetrics(ctx, tx, ok); err != nil {
				return err
			}
			return applyParamsTags(ctx, tx, b)
		})
	}
}

// existing splits bs into the batches whose run exists and the others, in
// at most one query. With cached, a run whose location is cached counts as
// existing without a query (runs are never deleted; were one deleted, the
// foreign key on its metrics, parameters and tags would fail the group and
// commitEach would look again without the cache).
func (s *Service) existing(ctx context.Context, tx *db.Tx, bs []*batch, cached bool) (ok, missing []*batch, err error) {
	exists := map[int64]bool{}
	var ids []any
	for _, b := range bs {
		if _, seen := exists[b.runID]; seen {
			continue
		}
		_, known := s.locations.get(b.runID)
		exists[b.runID] = cached && known
		if !exists[b.runID] {
			ids = append(ids, b.runID)
		}
	}
	if len(ids) > 0 {
		found, err := db.All(ctx, tx, func(sc db.Scanner) (int64, error) {
			var id int64
			return id, sc.Scan(&id)
		}, `SELECT id FROM runs WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, ids...)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range found {
			exists[id] = true
		}
	}
	for _, b := range bs {
		if exists[b.runID] {
			ok = append(ok, b)
		} else {
			missing = append(missing, b)
		}
	}
	return ok, missing, nil
}

// metricsPerInsert bounds the rows of one INSERT (6 parameters each: well
// under SQLite's and PostgreSQL's limits on parameters).
const metricsPerInsert = 500

// insertMetrics inserts the metrics of bs with multi-row INSERTs.
func insertMetrics(ctx context.Context, tx *db.Tx, bs []*batch) error {
	const head = `INSERT INTO run_metrics (run_id, key, value, is_nan, step, at) VALUES `
	var (
		q    strings.Builder
		args []any
		rows int
	)
	flush := func() error {
		if rows == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, q.String(), args...)
		q.Reset()
		args, rows = args[:0], 0
		return err
	}
	for _, b := range bs {
		for _, m := range b.metrics {
			if rows == 0 {
				q.WriteString(head)
				q.WriteString("(?, ?, ?, ?, ?, ?)")
			} else {
				q.WriteString(", (?, ?, ?, ?, ?, ?)")
			}
			at := m.At
			if at.IsZero() {
				at = b.now
			}
			v, isNaN := storedValue(m.Value)
			args = append(args, b.runID, m.Key, v, isNaN, m.Step, at.UTC())
			if rows++; rows == metricsPerInsert {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// applyParamsTags writes a batch's parameters (refusing a new value for a
// logged one) and tags.
func applyParamsTags(ctx context.Context, tx *db.Tx, b *batch) error {
	for _, p := range b.params {
		res, err := tx.Exec(ctx, `INSERT INTO run_params (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO NOTHING`, b.runID, p.Key, p.Value)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var old string
			if err := tx.QueryRow(ctx, `SELECT value FROM run_params WHERE run_id = ? AND key = ?`, b.runID, p.Key).Scan(&old); err != nil {
				return err
			}
			if old != p.Value {
				return errs.Conflictf("run %d: parameter %q already logged with another value", b.runID, p.Key)
			}
		}
	}
	return setTagsTx(ctx, tx, b.runID, b.tags)
}
