package pipeline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

// Deps are the services steps call.
type Deps struct {
	DB       *db.DB
	Audit    *audit.Log
	Datasets *dataset.Service
	Pseudo   *pseudo.Service
	Runs     *track.Service
	Registry *registry.Service
	Jobs     *jobs.Service
	Annotate *annotate.Service
	// Executable is the hygie binary jobs run.
	Executable string
}

// Service validates, plans and runs pipelines.
type Service struct {
	Deps
	now func() time.Time
	// Parallel bounds the steps running at once (default 2).
	Parallel int

	mu      sync.Mutex
	cancels map[int64]context.CancelFunc
}

// NewService returns the pipeline service.
func NewService(d Deps) *Service {
	return &Service{Deps: d, now: time.Now, Parallel: 2, cancels: map[int64]context.CancelFunc{}}
}

// Load parses and validates a pipeline file with parameter overrides,
// looking existing datasets up in project.
func (s *Service) Load(ctx context.Context, project, file string, data []byte, overrides map[string]string) (*Spec, map[string]string, error) {
	spec, err := Parse(file, data)
	if err != nil {
		return nil, nil, err
	}
	values, err := spec.Values(overrides)
	if err != nil {
		return nil, nil, err
	}
	var levelOf LevelOf
	if s.Datasets != nil && project != "" {
		levelOf = func(name string) (dataset.Level, []dataset.Column, bool) {
			v, err := s.Datasets.Get(ctx, project, name, 0)
			if err != nil {
				return "", nil, false
			}
			return v.Level, v.Columns, true
		}
	}
	if err := spec.Validate(values, levelOf); err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(file)
	for _, st := range spec.Steps {
		if err := resolveFiles(st, dir); err != nil {
			return nil, nil, err
		}
	}
	return spec, values, nil
}

// StepPlan is a step's state before a run: fresh (its recorded outputs
// are reused) or stale, and why.
type StepPlan struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Fresh   bool     `json:"fresh"`
	Reason  string   `json:"reason"`
	Key     string   `json:"cache_key,omitempty"`
	Outputs []Output `json:"outputs,omitempty"`

	parts keyParts
}

// State is "up to date" or "stale".
func (p StepPlan) State() string {
	if p.Fresh {
		return "up to date"
	}
	return "stale"
}

// Plan computes each step's cache key from its configuration and its
// inputs' content and looks its outputs up: a step is fresh when outputs
// are recorded for its key, stale otherwise (with the reason). A step
// downstream of a stale one is stale: its inputs will change.
func (s *Service) Plan(ctx context.Context, project string, spec *Spec, dir string) ([]StepPlan, error) {
	if err := auth.Require(ctx, project, auth.PermProjectRead); err != nil {
		return nil, err
	}
	plans := make([]StepPlan, 0, len(spec.Order()))
	known := map[string][]Output{}
	for _, st := range spec.Order() {
		p := StepPlan{Name: st.Name, Type: st.Type}
		parts, waiting, err := s.keyOf(ctx, project, spec, st, dir, known)
		if err != nil {
			return nil, fmt.Errorf("step %q: %w", st.Name, err)
		}
		if waiting != "" {
			p.Reason = fmt.Sprintf("input changed (upstream step %q will run)", waiting)
			if prev, err := s.lookupCache(ctx, project, spec.Name, st.Name, ""); err != nil {
				return nil, err
			} else if prev == nil {
				p.Reason = "never run"
			}
			plans = append(plans, p)
			continue
		}
		p.parts = parts
		p.Key, _, _ = parts.hashes()
		e, err := s.lookupCache(ctx, project, spec.Name, st.Name, p.Key)
		if err != nil {
			return nil, err
		}
		if e != nil {
			p.Fresh, p.Outputs, p.Reason = true, e.Outputs, "outputs recorded for this key"
			known[st.Name] = e.Outputs
		} else {
			prev, err := s.lookupCache(ctx, project, spec.Name, st.Name, "")
			if err != nil {
				return nil, err
			}
			p.Reason = staleReason(prev, parts)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// keyOf assembles a step's key parts from its config and its upstream
// outputs (known), or names an upstream step whose outputs are not known.
func (s *Service) keyOf(ctx context.Context, project string, spec *Spec, st *Step, dir string, known map[string][]Output) (keyParts, string, error) {
	t := Types[st.Type]
	k := keyParts{Type: st.Type, Version: t.Version, Config: configJSON(st.Config), Inputs: map[string]string{}}
	for name, ref := range st.Inputs {
		outs, ok := known[ref.Step]
		if !ok {
			return k, ref.Step, nil
		}
		k.Inputs[name] = identities(outs)
	}
	for _, a := range st.After {
		outs, ok := known[a]
		if !ok {
			return k, a, nil
		}
		k.Inputs["after:"+a] = identities(outs)
	}
	src, err := s.sourceIdentity(ctx, project, st, dir)
	if err != nil {
		return k, "", err
	}
	if src != "" {
		k.Inputs["source"] = src
	}
	return k, "", nil
}

func identities(outs []Output) string {
	ids := make([]string, len(outs))
	for i, o := range outs {
		ids[i] = o.identity()
	}
	return strings.Join(ids, ",")
}

// sourceIdentity is the content identity of what an import step reads:
// the file's SHA-256, the SQL result's hash, or the existing dataset's
// latest version.
func (s *Service) sourceIdentity(ctx context.Context, project string, st *Step, dir string) (string, error) {
	c, ok := st.Config.(*ImportConfig)
	if !ok {
		return "", nil
	}
	switch {
	case c.File != "":
		d, err := fileDigest(filepath.Join(dir, c.File))
		if err != nil {
			return "", errs.Invalidf("import file %s: %v", c.File, pathErr(err))
		}
		return "file:" + d, nil
	case c.SQL != "":
		dsn := getenv(c.DSNEnv)
		if dsn == "" {
			return "", errs.Invalidf("import: environment variable %s (dsn_env) is not set", c.DSNEnv)
		}
		d, err := SQLDigest(ctx, dsn, c.SQL)
		if err != nil {
			return "", err
		}
		return "sql:" + d, nil
	default:
		v, err := s.Datasets.Get(ctx, project, c.Existing, 0)
		if err != nil {
			return "", err
		}
		return "sha256:" + v.Digest, nil
	}
}

// RunOptions tunes a run.
type RunOptions struct {
	Dir         string            // the pipeline file's directory (relative paths)
	Trigger     string            // "manual" by default
	Params      map[string]string // the resolved parameter values, recorded
	DryRun      bool              // print the plan only
	TrackingURI string            // where jobs report (see app.TrackingServer)
	Out         io.Writer         // progress lines (nil: none)
	// OnStart is called with the run's id once it is recorded.
	OnStart func(runID int64)
}

// Run saves the pipeline, prints the plan, then runs the stale steps in
// dependency order, independent ones in parallel (Parallel at most),
// reusing the recorded outputs of fresh ones. A failed step (after its
// retries) skips its dependants and fails the run; cancelling ctx or
// RequestCancel cancels the running steps' jobs.
func (s *Service) Run(ctx context.Context, project string, spec *Spec, o RunOptions) (RunRecord, []StepPlan, error) {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if o.Trigger == "" {
		o.Trigger = "manual"
	}
	plans, err := s.Plan(ctx, project, spec, o.Dir)
	if err != nil {
		return RunRecord{}, nil, err
	}
	fmt.Fprintf(out, "plan of pipeline %s:\n", spec.Name)
	for _, p := range plans {
		fmt.Fprintf(out, "  %-14s %-14s %-10s %s\n", p.Name, p.Type, p.State(), p.Reason)
	}
	if o.DryRun {
		return RunRecord{}, plans, nil
	}
	if err := auth.Require(ctx, project, auth.PermRunWrite); err != nil {
		return RunRecord{}, plans, err
	}
	user := auth.FromContext(ctx).Username
	pid, err := s.save(ctx, project, spec, user)
	if err != nil {
		return RunRecord{}, plans, err
	}
	rec, err := s.createRun(ctx, pid, project, spec, o.Trigger, o.Params, user)
	if err != nil {
		return rec, plans, err
	}
	fmt.Fprintf(out, "pipeline run %d (%s)\n", rec.ID, o.Trigger)
	if o.OnStart != nil {
		o.OnStart(rec.ID)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.cancels[rec.ID] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.cancels, rec.ID)
		s.mu.Unlock()
	}()
	go func() { // a cancellation requested by another process
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if s.cancelRequested(rctx, rec.ID) {
					cancel()
					return
				}
			}
		}
	}()
	s.execute(rctx, project, spec, &rec, o, out)
	bg := context.WithoutCancel(ctx)
	rec.State = Succeeded
	for _, st := range rec.Steps {
		switch st.State {
		case Failed:
			rec.State = Failed
			if rec.Error == "" {
				rec.Error = fmt.Sprintf("step %s failed: %s", st.Name, st.Error)
			}
		case Cancelled:
			if rec.State != Failed {
				rec.State = Cancelled
			}
		}
	}
	if rec.State == Succeeded && rctx.Err() != nil {
		rec.State = Cancelled
	}
	if err := s.finishRun(bg, &rec); err != nil {
		return rec, plans, err
	}
	fmt.Fprintf(out, "pipeline run %d %s in %s\n", rec.ID, rec.State, rec.EndedAt.Sub(rec.CreatedAt).Round(time.Millisecond))
	if rec.State != Succeeded {
		msg := rec.Error
		if msg == "" {
			msg = "cancelled"
		}
		return rec, plans, errs.E(errs.Invalid, "pipeline run %d %s: %s", rec.ID, rec.State, msg)
	}
	return rec, plans, nil
}

type stepResult struct {
	name    string
	outputs []Output
	ok      bool
}

func (s *Service) execute(ctx context.Context, project string, spec *Spec, rec *RunRecord, o RunOptions, out io.Writer) {
	bg := context.WithoutCancel(ctx)
	idx := map[string]int{}
	for i, st := range rec.Steps {
		idx[st.Name] = i
	}
	var mu sync.Mutex // guards rec.Steps, known, done, out
	known := map[string][]Output{}
	done := map[string]bool{}
	failed := map[string]bool{}
	started := map[string]bool{}
	limit := s.Parallel
	if limit < 1 {
		limit = 1
	}
	results := make(chan stepResult)
	running := 0
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format, args...)
	}
	for {
		// Start every step whose dependencies are done, up to the limit;
		// skip those downstream of a failure.
		mu.Lock()
		for _, st := range spec.Order() {
			if started[st.Name] || running >= limit {
				continue
			}
			ready, blocked := true, ""
			for _, d := range st.deps() {
				if failed[d] {
					blocked = d
				}
				if !done[d] {
					ready = false
				}
			}
			if blocked != "" || (ctx.Err() != nil && !done[st.Name]) {
				started[st.Name], done[st.Name], failed[st.Name] = true, true, true
				r := &rec.Steps[idx[st.Name]]
				if ctx.Err() != nil {
					r.State, r.Reason = Cancelled, "run cancelled"
				} else {
					r.State, r.Reason = Skipped, fmt.Sprintf("upstream step %q did not succeed", blocked)
				}
				s.saveStep(bg, rec.ID, *r)
				say("  %-14s %s (%s)\n", st.Name, r.State, r.Reason)
				continue
			}
			if !ready {
				continue
			}
			started[st.Name] = true
			running++
			parts, waiting, err := s.keyOf(ctx, project, spec, st, o.Dir, known)
			if waiting != "" && err == nil {
				err = fmt.Errorf("internal: upstream %q has no outputs", waiting)
			}
			ins := map[string][]Output{}
			for name, ref := range st.Inputs {
				ins[name] = known[ref.Step]
			}
			go func(st *Step, parts keyParts, kerr error) {
				outs, ok := s.runStep(ctx, project, spec, st, parts, kerr, ins, rec, idx, &mu, o, say)
				results <- stepResult{name: st.Name, outputs: outs, ok: ok}
			}(st, parts, err)
		}
		if running == 0 {
			mu.Unlock()
			break
		}
		mu.Unlock()
		r := <-results
		mu.Lock()
		running--
		done[r.name] = true
		if r.ok {
			known[r.name] = r.outputs
		} else {
			failed[r.name] = true
		}
		mu.Unlock()
	}
}

// runStep runs (or reuses) one step, recording its state, and returns its
// outputs.
func (s *Service) runStep(ctx context.Context, project string, spec *Spec, st *Step, parts keyParts, kerr error, ins map[string][]Output, rec *RunRecord, idx map[string]int, mu *sync.Mutex, o RunOptions, say func(string, ...any)) ([]Output, bool) {
	bg := context.WithoutCancel(ctx)
	update := func(f func(r *StepRecord)) StepRecord {
		mu.Lock()
		defer mu.Unlock()
		r := &rec.Steps[idx[st.Name]]
		f(r)
		s.saveStep(bg, rec.ID, *r)
		return *r
	}
	now := s.now().UTC()
	if kerr != nil {
		r := update(func(r *StepRecord) {
			r.State, r.Error, r.StartedAt, r.EndedAt = Failed, errs.MessageOf(kerr), &now, &now
		})
		say("  %-14s failed: %s\n", st.Name, r.Error)
		return nil, false
	}
	key, _, _ := parts.hashes()
	if e, err := s.lookupCache(ctx, project, spec.Name, st.Name, key); err == nil && e != nil {
		update(func(r *StepRecord) {
			r.State, r.Cached, r.CacheKey, r.Outputs, r.Reason, r.StartedAt, r.EndedAt = Cached, true, key, e.Outputs, "up to date", &now, &now
		})
		say("  %-14s cached   %s\n", st.Name, describe(e.Outputs))
		return e.Outputs, true
	}
	update(func(r *StepRecord) { r.State, r.CacheKey, r.StartedAt = Running, key, &now })
	say("  %-14s running\n", st.Name)
	var outs []Output
	var err error
	attempts := 0
	for attempts <= st.Retries {
		attempts++
		n := attempts
		update(func(r *StepRecord) { r.Attempts = n })
		outs, err = s.perform(ctx, project, st, ins, o, func(j jobs.Job) {
			id := j.ID
			update(func(r *StepRecord) { r.JobID = &id })
			say("  %-14s job %d on the %s executor\n", st.Name, j.ID, j.Executor)
		})
		if err == nil || ctx.Err() != nil || errs.Is(err, errs.Forbidden) {
			break
		}
		if attempts <= st.Retries {
			say("  %-14s attempt %d failed (%s); retrying\n", st.Name, attempts, errs.MessageOf(err))
		}
	}
	end := s.now().UTC()
	if err != nil {
		state := Failed
		if ctx.Err() != nil {
			state = Cancelled
		}
		r := update(func(r *StepRecord) { r.State, r.Error, r.EndedAt = state, errs.MessageOf(err), &end })
		say("  %-14s %s after %d attempt(s): %s\n", st.Name, state, attempts, r.Error)
		return nil, false
	}
	if err := s.storeCache(bg, project, spec.Name, st.Name, parts, outs, rec.ID); err != nil {
		r := update(func(r *StepRecord) { r.State, r.Error, r.EndedAt = Failed, "cannot record outputs: "+err.Error(), &end })
		say("  %-14s failed: %s\n", st.Name, r.Error)
		return nil, false
	}
	r := update(func(r *StepRecord) { r.State, r.Outputs, r.EndedAt = Succeeded, outs, &end })
	say("  %-14s done in %s: %s\n", st.Name, r.Duration().Round(time.Millisecond), describe(outs))
	return outs, true
}

func describe(outs []Output) string {
	var parts []string
	for _, o := range outs {
		s := string(o.Kind) + " " + o.Ref
		if o.Summary != "" {
			s += " (" + o.Summary + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
