package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// The prediction log: every prediction with its request id, model version,
// time, inputs (the model's inputs only: the columns of its signature,
// from pseudonymized or anonymized training data; any other column is
// refused before it gets here), output, latency and route.
//
// A background writer inserts predictions in batches, one transaction for
// all the requests waiting: under load a batch grows and the cost of a
// commit is shared. Its buffer is bounded: when full, inference waits (it
// never drops a prediction).

// logRow is one prediction as stored.
type logRow struct {
	id        string
	versionID int64
	at        time.Time
	inputs    string
	outputs   string
	requestID string
	latencyMS float64
	route     string
}

// errLogClosed is a write after Close.
var errLogClosed = errs.E(errs.Internal, "the prediction log is closed")

type logEntry struct {
	rows []logRow
	done chan error // nil: nobody waits
}

type logWriter struct {
	db      *db.DB
	delay   time.Duration
	log     *slog.Logger
	mu      sync.RWMutex
	closed  bool
	ch      chan *logEntry
	stopped chan struct{}
	written atomic.Int64 // rows written since the last checkpoint
}

// maxLogRows bounds the rows of one write transaction.
const maxLogRows = 2000

// rowsPerInsert bounds the rows of one INSERT statement (8 parameters each).
const rowsPerInsert = 250

func newLogWriter(d *db.DB, buffer int, delay time.Duration, log *slog.Logger) *logWriter {
	w := &logWriter{db: d, delay: delay, log: log, ch: make(chan *logEntry, buffer), stopped: make(chan struct{})}
	go w.loop()
	if d.Dialect() == db.SQLite {
		go w.checkpoint()
	}
	return w
}

// checkpoint copies the SQLite write-ahead log into the database in the
// background while predictions are written, so that the commit that crosses
// the WAL's size limit does not do it (tens of milliseconds) while
// requests wait for it.
func (w *logWriter) checkpoint() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-w.stopped:
			return
		case <-t.C:
		}
		if w.written.Swap(0) == 0 {
			continue
		}
		if _, err := w.db.Exec(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			w.log.Warn("checkpoint the write-ahead log", "err", err)
		}
	}
}

// write queues rows. With wait, it returns once they are committed, or
// after maxWait (if positive) with the rows still queued: they are written
// all the same, the answer just does not wait for a stalled commit.
func (w *logWriter) write(ctx context.Context, rows []logRow, wait bool, maxWait time.Duration) error {
	e := &logEntry{rows: rows}
	if wait {
		e.done = make(chan error, 1)
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return errLogClosed
	}
	select {
	case w.ch <- e:
	case <-ctx.Done():
		return ErrTimeout
	}
	if !wait {
		return nil
	}
	// Once queued, the rows are written whatever happens to the request:
	// wait for the outcome so the answer matches the log.
	if maxWait <= 0 {
		return <-e.done
	}
	t := time.NewTimer(maxWait)
	defer t.Stop()
	select {
	case err := <-e.done:
		return err
	case <-t.C:
		return nil
	}
}

func (w *logWriter) close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
	w.mu.Unlock()
	<-w.stopped
	return nil
}

func (w *logWriter) loop() {
	defer close(w.stopped)
	var batch []*logEntry
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		last time.Time // when the last commit started
		rate float64   // rows per second, smoothed
	)
	for e := range w.ch {
		batch = append(batch[:0], e)
		n := len(e.rows)
		// A commit costs far more than a row: when predictions arrive
		// faster than two per delay, commit at most once per delay so that
		// concurrent requests share a commit. Slower, commit at once.
		var delay time.Duration
		if rate*w.delay.Seconds() >= 2 {
			delay = time.Until(last.Add(w.delay))
		}
		if delay > 0 {
			timer.Reset(delay)
		}
	drain:
		for n < maxLogRows {
			select {
			case e2, ok := <-w.ch:
				if !ok {
					break drain
				}
				batch = append(batch, e2)
				n += len(e2.rows)
				continue
			default:
			}
			if delay <= 0 {
				break
			}
			select {
			case e2, ok := <-w.ch:
				if !ok {
					break drain
				}
				batch = append(batch, e2)
				n += len(e2.rows)
			case <-timer.C:
				break drain
			}
		}
		if delay > 0 && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		now := time.Now()
		if !last.IsZero() {
			if dt := now.Sub(last).Seconds(); dt > 0 {
				rate = 0.8*rate + 0.2*float64(n)/dt
			}
		}
		last = now
		err := w.insert(batch)
		if err != nil && len(batch) > 1 {
			// Keep one bad entry from failing the others.
			for _, e := range batch {
				w.finish(e, w.insert([]*logEntry{e}))
			}
			continue
		}
		if err == nil {
			w.written.Add(int64(n))
		}
		for _, e := range batch {
			w.finish(e, err)
		}
	}
}

func (w *logWriter) finish(e *logEntry, err error) {
	if e.done != nil {
		e.done <- err // buffered: never blocks, even if the request is gone
	}
	if err != nil {
		w.log.Error("prediction log write failed", "rows", len(e.rows), "err", err)
	}
}

func (w *logWriter) insert(batch []*logEntry) error {
	var rows []logRow
	for _, e := range batch {
		rows = append(rows, e.rows...)
	}
	if len(rows) == 0 {
		return nil
	}
	return w.db.InTx(context.Background(), func(tx *db.Tx) error {
		for len(rows) > 0 {
			n := min(len(rows), rowsPerInsert)
			var q strings.Builder
			args := make([]any, 0, 8*n)
			q.WriteString(`INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json, request_id, latency_ms, route) VALUES `)
			for i, r := range rows[:n] {
				if i > 0 {
					q.WriteByte(',')
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, r.id, r.versionID, r.at, r.inputs, r.outputs, r.requestID, r.latencyMS, r.route)
			}
			if _, err := tx.Exec(context.Background(), q.String(), args...); err != nil {
				return err
			}
			rows = rows[n:]
		}
		return nil
	})
}

// Prune deletes the predictions logged more than olderThan ago (and the
// feedback on them) and returns how many it deleted. It deletes in chunks
// so that serving, which writes the same table, never waits long.
func (s *Service) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		return 0, errs.Invalidf("retention must be positive")
	}
	cutoff := s.now().UTC().Add(-olderThan)
	var total int64
	for {
		res, err := s.db.Exec(ctx, `DELETE FROM predictions WHERE id IN (SELECT id FROM predictions WHERE at < ? LIMIT 5000)`, cutoff)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 5000 {
			return total, nil
		}
	}
}

// Filter selects logged predictions. Zero fields do not filter.
type Filter struct {
	Model   string
	Version int
	Since   time.Time // at or after
	Until   time.Time // before
	Route   string    // primary, canary or shadow
	Limit   int       // default 100, at most 10,000
}

// Prediction is a logged prediction.
type Prediction struct {
	ID        string          `json:"id"`
	Model     string          `json:"model"`
	Version   int             `json:"version"`
	At        time.Time       `json:"at"`
	Inputs    json.RawMessage `json:"inputs"`
	Outputs   json.RawMessage `json:"outputs"`
	RequestID string          `json:"request_id"`
	LatencyMS float64         `json:"latency_ms"`
	Route     string          `json:"route"`
}

// Predictions lists a project's logged predictions, newest first. The
// principal needs predictions.read in the project.
func (s *Service) Predictions(ctx context.Context, project string, f Filter) ([]Prediction, error) {
	if err := auth.Require(ctx, project, auth.PermPredictionsRead); err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 10000 {
		return nil, errs.Invalidf("limit: at most 10000")
	}
	if f.Route != "" && f.Route != RoutePrimary && f.Route != RouteCanary && f.Route != RouteShadow {
		return nil, errs.Invalidf("route %q: want primary, canary or shadow", f.Route)
	}
	q := `SELECT pr.id, m.name, mv.version, pr.at, pr.inputs_json, pr.outputs_json, pr.request_id, pr.latency_ms, pr.route
		FROM predictions pr JOIN model_versions mv ON mv.id = pr.model_version_id JOIN models m ON m.id = mv.model_id JOIN projects p ON p.id = m.project_id
		WHERE p.name = ?`
	args := []any{project}
	if f.Model != "" {
		q += ` AND m.name = ?`
		args = append(args, f.Model)
	}
	if f.Version > 0 {
		q += ` AND mv.version = ?`
		args = append(args, f.Version)
	}
	if !f.Since.IsZero() {
		q += ` AND pr.at >= ?`
		args = append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q += ` AND pr.at < ?`
		args = append(args, f.Until.UTC())
	}
	if f.Route != "" {
		q += ` AND pr.route = ?`
		args = append(args, f.Route)
	}
	q += fmt.Sprintf(` ORDER BY pr.at DESC, pr.id LIMIT %d`, f.Limit)
	return db.All(ctx, s.db, func(sc db.Scanner) (Prediction, error) {
		var p Prediction
		var in, out string
		if err := sc.Scan(&p.ID, &p.Model, &p.Version, &p.At, &in, &out, &p.RequestID, &p.LatencyMS, &p.Route); err != nil {
			return p, err
		}
		p.At, p.Inputs, p.Outputs = p.At.UTC(), json.RawMessage(in), json.RawMessage(out)
		return p, nil
	}, q, args...)
}

// RunRetention prunes the log every interval until ctx is done (retention
// 0: never).
func (s *Service) RunRetention(ctx context.Context, retention, every time.Duration) {
	if retention <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.Prune(ctx, retention)
		switch {
		case err != nil && !errors.Is(err, context.Canceled):
			s.log.Error("prune the prediction log", "err", err)
		case n > 0:
			s.log.Info("pruned the prediction log", "deleted", n, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
