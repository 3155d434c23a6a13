// Package audit is hygie's tamper-evident audit log. Every state change and
// every read of identifying data appends an event; each event carries the
// SHA-256 hash of the previous one, so editing or deleting any stored event
// breaks the chain, and Verify finds the first broken link.
//
// Events name who, what and why, never identifying values: targets are
// object names and ids, not patient data.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Outcomes of an audited action.
const (
	Success = "success"
	Denied  = "denied"
	Failure = "failure"
)

// genesis is the previous hash of the first event.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Event is one audited action.
type Event struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Action    string    `json:"action"`
	Project   string    `json:"project,omitempty"`
	Target    string    `json:"target,omitempty"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	PrevHash  string    `json:"prev_hash"`
	Hash      string    `json:"hash"`
}

// hash computes the event's hash over every field but Hash itself.
func (e Event) hash() string {
	h := sha256.New()
	// A length-prefixed encoding, so no two field lists hash alike.
	for _, f := range []string{
		fmt.Sprint(e.Seq), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Project,
		e.Target, e.Outcome, e.Reason, e.RequestID, e.Detail, e.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Log appends to and reads the audit chain.
type Log struct {
	db  *db.DB
	now func() time.Time

	mu      sync.Mutex
	checked struct { // the last event a verification found intact
		seq  int64
		hash string
	}
	lastFull time.Time // when a full walk last found the chain intact
}

// New returns the audit log stored in d.
func New(d *db.DB) *Log { return &Log{db: d, now: time.Now} }

// SetClock replaces the clock (tests).
func (l *Log) SetClock(now func() time.Time) { l.now = now }

type ctxKey int

const (
	actorKey ctxKey = iota
	requestIDKey
)

// WithActor records who acts in ctx; Append uses it when Event.Actor is empty.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey, actor)
}

// ActorFrom returns the actor recorded in ctx, or "".
func ActorFrom(ctx context.Context) string {
	s, _ := ctx.Value(actorKey).(string)
	return s
}

// WithRequestID records the request id in ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFrom returns the request id recorded in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// Append adds e in its own transaction.
func (l *Log) Append(ctx context.Context, e Event) error {
	return l.db.InTx(ctx, func(tx *db.Tx) error { return l.AppendTx(ctx, tx, e) })
}

// AppendRefusal appends e, the audit event of a refused action, whose
// caller returns the refusal's own error: an append that fails is logged
// (action, outcome, request id and the error; the event's detail is left
// out) rather than dropped, so an operator sees that a refusal went
// unrecorded.
func (l *Log) AppendRefusal(ctx context.Context, e Event) {
	if err := l.Append(ctx, e); err != nil {
		slog.ErrorContext(ctx, "audit event not recorded", "action", e.Action, "outcome", e.Outcome,
			"request_id", RequestIDFrom(ctx), "err", err)
	}
}

// AppendTx adds e inside tx, so a state change and its audit event commit
// together or not at all.
func (l *Log) AppendTx(ctx context.Context, tx *db.Tx, e Event) error {
	if e.Action == "" || e.Outcome == "" {
		return fmt.Errorf("audit event needs an action and an outcome")
	}
	if e.Actor == "" {
		e.Actor = ActorFrom(ctx)
	}
	if e.Actor == "" {
		e.Actor = "system"
	}
	if e.RequestID == "" {
		e.RequestID = RequestIDFrom(ctx)
	}
	if err := tx.Lock(ctx, db.LockAudit); err != nil {
		return err
	}
	var (
		seq  int64
		prev string
	)
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		seq, prev = 0, genesis
	case err != nil:
		return fmt.Errorf("read audit chain head: %w", err)
	}
	e.Seq = seq + 1
	// PostgreSQL keeps microseconds: hash what will be read back.
	e.At = l.now().UTC().Truncate(time.Microsecond)
	e.PrevHash = prev
	e.Hash = e.hash()
	_, err = tx.Exec(ctx, `INSERT INTO audit_events
		(seq, at, actor, action, project, target, outcome, reason, request_id, detail, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.At, e.Actor, e.Action, e.Project, e.Target, e.Outcome, e.Reason, e.RequestID, e.Detail, e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// Filter selects events for List. Zero fields match everything.
type Filter struct {
	Actor, Project, Action string
	Since, Until           time.Time
	Limit                  int // default 100, at most 10000
	BeforeSeq              int64
}

const cols = `seq, at, actor, action, project, target, outcome, reason, request_id, detail, prev_hash, hash`

func scan(rows db.Scanner) (Event, error) {
	var e Event
	err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Project, &e.Target, &e.Outcome, &e.Reason, &e.RequestID, &e.Detail, &e.PrevHash, &e.Hash)
	e.At = e.At.UTC()
	return e, err
}

// List returns matching events, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Event, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Project != "" {
		add("project = ?", f.Project)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, "*") {
			add("action LIKE ?", strings.TrimSuffix(f.Action, "*")+"%")
		} else {
			add("action = ?", f.Action)
		}
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UTC())
	}
	if f.BeforeSeq > 0 {
		add("seq < ?", f.BeforeSeq)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 10000 {
		return nil, errs.Invalidf("limit must be at most 10000")
	}
	q := `SELECT ` + cols + ` FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY seq DESC LIMIT %d`, f.Limit)
	return db.All(ctx, l.db, scan, q, args...)
}

// Report is the result of Verify.
type Report struct {
	Events int64 `json:"events"`
	OK     bool  `json:"ok"`
	// From is the first event this verification walked: 1 for a full
	// verification, later for VerifyRecent (the events before it were
	// found intact earlier by this process, and the last of them rechecked).
	From      int64  `json:"from,omitempty"`
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Problem   string `json:"problem,omitempty"`
	Head      string `json:"head,omitempty"`
}

// Verify walks the whole chain and reports the first broken link: an event
// whose content no longer matches its hash, whose previous hash does not
// match its predecessor, or a gap in the sequence (a deleted event).
func (l *Log) Verify(ctx context.Context) (Report, error) {
	start := l.now()
	r, err := l.verifyFrom(ctx, 0, genesis)
	if err == nil && r.OK {
		l.mu.Lock()
		l.lastFull = start
		l.mu.Unlock()
	}
	return r, err
}

// Thresholds of VerifyRecent: below fullWalkEvents events, or when the
// last full walk is older than fullWalkEvery, it walks the whole chain.
var (
	fullWalkEvents int64 = 50000
	fullWalkEvery        = 10 * time.Minute
)

// VerifyRecent is Verify made cheap enough for every load of a page: on a
// long chain it verifies only the events written since the last
// verification that found the chain intact, after rechecking that the last
// event then verified is unchanged, and walks the whole chain again every
// fullWalkEvery. `hygie audit verify` always walks everything.
func (l *Log) VerifyRecent(ctx context.Context) (Report, error) {
	l.mu.Lock()
	cp, lastFull := l.checked, l.lastFull
	l.mu.Unlock()
	if cp.seq < fullWalkEvents || l.now().Sub(lastFull) > fullWalkEvery {
		return l.Verify(ctx)
	}
	if cp.seq > 0 {
		e, err := scan(l.db.QueryRow(ctx, `SELECT `+cols+` FROM audit_events WHERE seq = ?`, cp.seq))
		if err != nil || e.Hash != cp.hash || e.hash() != e.Hash {
			return l.verifyFrom(ctx, 0, genesis) // changed or gone: say where, from the start
		}
	}
	if cp.seq == 0 {
		return l.verifyFrom(ctx, 0, genesis)
	}
	return l.verifyFrom(ctx, cp.seq, cp.hash)
}

// verifyFrom walks the events after seq after, whose predecessor's hash is
// prev, and remembers the new head when the walk finds the chain intact.
func (l *Log) verifyFrom(ctx context.Context, after int64, prev string) (Report, error) {
	rows, err := l.db.Query(ctx, `SELECT `+cols+` FROM audit_events WHERE seq > ? ORDER BY seq`, after)
	if err != nil {
		return Report{}, err
	}
	defer rows.Close()
	r := Report{OK: true, Events: after, From: after + 1, Head: prev}
	if after == 0 {
		r.Head = ""
	}
	want := after + 1
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return Report{}, err
		}
		r.Events++
		if !r.OK {
			continue
		}
		switch {
		case e.Seq != want:
			r.OK, r.BrokenSeq, r.Problem = false, want, fmt.Sprintf("event %d is missing (next stored is %d)", want, e.Seq)
		case e.PrevHash != prev:
			r.OK, r.BrokenSeq, r.Problem = false, e.Seq, fmt.Sprintf("event %d does not link to event %d (an event was changed or removed)", e.Seq, e.Seq-1)
		case e.hash() != e.Hash:
			r.OK, r.BrokenSeq, r.Problem = false, e.Seq, fmt.Sprintf("event %d was changed after it was written", e.Seq)
		}
		prev, want = e.Hash, e.Seq+1
		r.Head = e.Hash
	}
	if err := rows.Err(); err != nil {
		return Report{}, err
	}
	if r.OK && r.Events > 0 {
		l.mu.Lock()
		if r.Events > l.checked.seq {
			l.checked.seq, l.checked.hash = r.Events, r.Head
		}
		l.mu.Unlock()
	}
	return r, nil
}

// MarshalDetail encodes a detail map for Event.Detail.
func MarshalDetail(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
