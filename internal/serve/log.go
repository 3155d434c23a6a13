package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
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
	wait bool       // someone waits for done
	done chan error // buffered: the outcome, when waited for
}

// entries are reused: an entry goes back once its outcome is read (or,
// when nobody waits, once written).
var entries = sync.Pool{New: func() any { return &logEntry{done: make(chan error, 1)} }}

func putEntry(e *logEntry) {
	e.rows, e.wait = nil, false
	entries.Put(e)
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
	// Used by the writing goroutine only: buffers reused across commits
	// and the prepared INSERTs of 1, 2, 4 … rowsPerInsert rows.
	rows  []logRow
	args  []any
	stmts [9]*db.Stmt // 9: log2(rowsPerInsert)+1
}

// maxLogRows bounds the rows of one write transaction.
const maxLogRows = 2000

// rowsPerInsert bounds the rows of one INSERT statement (8 parameters
// each); a power of two.
const rowsPerInsert = 256

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
// requests wait for it. Under a heavy load a checkpoint may not catch up
// with the writes: it goes on after they stop until the whole log is in
// the database, so that the next commits start the log afresh instead of
// writing while the backlog is copied and synced.
func (w *logWriter) checkpoint() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	pending := false // frames written since the last complete checkpoint
	for {
		select {
		case <-w.stopped:
			return
		case <-t.C:
		}
		if w.written.Swap(0) > 0 {
			pending = true
		} else if !pending {
			continue
		}
		var busy, frames, copied int
		err := w.db.QueryRow(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
		if err != nil {
			w.log.Warn("checkpoint the write-ahead log", "err", err)
			continue
		}
		if busy == 0 && copied >= frames {
			pending = false
		}
	}
}

// write queues rows. With wait, it returns once they are committed, or
// after maxWait (if positive) with the rows still queued: they are written
// all the same, the answer just does not wait for a stalled commit.
func (w *logWriter) write(ctx context.Context, rows []logRow, wait bool, maxWait time.Duration) error {
	e := entries.Get().(*logEntry)
	e.rows, e.wait = rows, wait
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		putEntry(e)
		return errLogClosed
	}
	select {
	case w.ch <- e:
	case <-ctx.Done():
		putEntry(e)
		return ErrTimeout
	}
	if !wait {
		return nil
	}
	// Once queued, the rows are written whatever happens to the request:
	// wait for the outcome so the answer matches the log.
	if maxWait <= 0 {
		err := <-e.done
		putEntry(e)
		return err
	}
	t := time.NewTimer(maxWait)
	defer t.Stop()
	select {
	case err := <-e.done:
		putEntry(e)
		return err
	case <-t.C:
		return nil // the entry is dropped, not reused: its outcome comes later
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
	defer func() {
		for _, st := range w.stmts {
			if st != nil {
				st.Close()
			}
		}
	}()
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
	if err != nil {
		w.log.Error("prediction log write failed", "rows", len(e.rows), "err", err)
	}
	if e.wait {
		e.done <- err // buffered: never blocks, even if the request is gone
	} else {
		putEntry(e)
	}
}

func (w *logWriter) insert(batch []*logEntry) error {
	rows := w.rows[:0]
	for _, e := range batch {
		rows = append(rows, e.rows...)
	}
	w.rows = rows[:0]
	defer clear(rows) // keep no prediction alive in the buffer
	if len(rows) == 0 {
		return nil
	}
	ctx := context.Background()
	return w.db.InTx(ctx, func(tx *db.Tx) error {
		for len(rows) > 0 {
			// Statements of a power of two rows, prepared once: n rows take
			// at most a statement per bit of n.
			n := rowsPerInsert
			for n > len(rows) {
				n >>= 1
			}
			args := w.args[:0]
			for _, r := range rows[:n] {
				args = append(args, r.id, r.versionID, r.at, r.inputs, r.outputs, r.requestID, r.latencyMS, r.route)
			}
			w.args = args[:0]
			var err error
			if st := w.stmt(ctx, n); st != nil {
				_, err = tx.ExecStmt(ctx, st, args...)
			} else {
				_, err = tx.Exec(ctx, insertSQL(n), args...)
			}
			clear(args)
			if err != nil {
				return err
			}
			rows = rows[n:]
		}
		return nil
	})
}

// stmt returns the prepared INSERT of n rows (a power of two), or nil if
// it cannot be prepared (the statement is then sent as text).
func (w *logWriter) stmt(ctx context.Context, n int) *db.Stmt {
	k := bits.TrailingZeros(uint(n))
	if w.stmts[k] == nil {
		st, err := w.db.Prepare(ctx, insertSQL(n))
		if err != nil {
			w.log.Warn("prepare the prediction log insert", "err", err)
			return nil
		}
		w.stmts[k] = st
	}
	return w.stmts[k]
}

// insertSQL is the INSERT of n predictions.
func insertSQL(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json, request_id, latency_ms, route) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
	}
	// A retried request with an idempotency key was logged by its first
	// attempt: keep that row (see idempotency.go).
	q.WriteString(` ON CONFLICT (id) DO NOTHING`)
	return q.String()
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
