// Package jobs runs commands as tracked jobs: each job is a row in the
// metadata database, a tracked run (internal/track) whose artifacts hold the
// command's stdout and stderr, and a short-lived API token handed to the
// command through the MLflow environment variables, revoked when it ends.
//
// Jobs are run by an Executor. The local executor (Local) runs the command on
// this machine in its own process group, a bounded number at a time,
// enforcing the time limit by killing the group; it records but does not
// enforce the cpus, memory and gpus requests. The Slurm executor (Slurm)
// submits a batch script with sbatch, which asks Slurm for those resources
// and the time limit (rounded up to whole minutes), follows the job with
// squeue and scontrol, and copies its output files into the run; the job
// row records the Slurm job id (external_id).
//
// Cancelling a job owned by another process (another `hygie job submit`):
// Cancel marks the row cancel_requested, then for a Slurm job runs scancel
// on its Slurm id (from any host with the Slurm client tools); for a local
// job, on the same machine only, it signals the process group recorded in
// the row (host and pid). The owning process then records the job as
// cancelled; if the owner is gone, Cancel records the end itself.
//
// After a restart, Reconcile takes over the jobs whose owning process died
// (see reconcile.go): Slurm jobs are followed again, local ones failed.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/track"
)

// Job states.
const (
	Queued    = "queued"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// DefaultTokenTTL is the job token's lifetime when the job has no time limit.
const DefaultTokenTTL = 24 * time.Hour

// Resources are what a job asks for.
type Resources struct {
	CPUs        int           `json:"cpus,omitempty"`
	MemoryBytes int64         `json:"memory_bytes,omitempty"`
	GPUs        int           `json:"gpus,omitempty"`
	TimeLimit   time.Duration `json:"time_limit,omitempty"`
}

// Job is one command run.
type Job struct {
	ID        int64     `json:"id"`
	Project   string    `json:"project"`
	RunID     *int64    `json:"run_id,omitempty"`
	Command   []string  `json:"command"`
	Resources Resources `json:"resources"`
	Executor  string    `json:"executor"`
	State     string    `json:"state"`
	ExitCode  *int      `json:"exit_code,omitempty"`
	Message   string    `json:"message,omitempty"`
	Host      string    `json:"host,omitempty"`
	PID       int       `json:"pid,omitempty"`
	// ExternalID is the job's id in an external scheduler (the Slurm job id).
	ExternalID string     `json:"external_id,omitempty"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	tokenID    *int64
	cancelReq  bool
}

// Request describes a job to submit.
type Request struct {
	Project    string
	Experiment string // "" → default
	Command    []string
	Resources  Resources
	// Partition is the Slurm partition ("" → the executor's default); other
	// executors ignore it.
	Partition string
	// DatasetVersionID, if set, is recorded as the run's input (lineage).
	DatasetVersionID *int64
	// TrackingURI, if set, replaces the service's base URL as the job's
	// MLFLOW_TRACKING_URI (e.g. a loopback server started for the job).
	TrackingURI string
	// Stdout and Stderr, if set, also receive the command's output (for
	// streaming it to a terminal); it is always captured to the run.
	Stdout, Stderr io.Writer
}

// Service submits and tracks jobs.
type Service struct {
	db      *db.DB
	runs    *track.Service
	auth    *auth.Service
	audit   *audit.Log
	exec    Executor
	baseURL string
	logDir  string
	host    string
	now     func() time.Time

	mu   sync.Mutex
	done map[int64]chan struct{}
}

// NewService returns the job service. baseURL is given to jobs as
// MLFLOW_TRACKING_URI; logDir holds output while a job runs.
func NewService(d *db.DB, runs *track.Service, a *auth.Service, al *audit.Log, exec Executor, baseURL, logDir string) *Service {
	host, _ := os.Hostname()
	return &Service{db: d, runs: runs, auth: a, audit: al, exec: exec, baseURL: baseURL, logDir: logDir, host: host, now: time.Now, done: map[int64]chan struct{}{}}
}

// Terminal reports whether state is final.
func Terminal(state string) bool {
	return state == Succeeded || state == Failed || state == Cancelled
}

// childEnv is the job's environment: this process's, without hygie's own
// settings (they may hold secrets) and MLflow variables, plus the job's.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HYGIE_") || strings.HasPrefix(kv, "MLFLOW_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Submit records a job and hands it to the executor; it returns at once.
// The acting principal needs run.write on the project; the job's token is
// theirs.
func (s *Service) Submit(ctx context.Context, req Request) (Job, error) {
	if len(req.Command) == 0 || req.Command[0] == "" {
		return Job{}, errs.Invalidf("job: a command is required")
	}
	r := req.Resources
	if r.CPUs < 0 || r.GPUs < 0 || r.MemoryBytes < 0 || r.TimeLimit < 0 {
		return Job{}, errs.Invalidf("job: resources must not be negative")
	}
	if err := auth.Require(ctx, req.Project, auth.PermRunWrite); err != nil {
		return Job{}, err
	}
	user := auth.FromContext(ctx).Username
	cmdJSON, err := json.Marshal(req.Command)
	if err != nil {
		return Job{}, err
	}
	j := Job{Project: req.Project, Command: req.Command, Resources: r, Executor: s.exec.Name(), State: Queued,
		CreatedBy: user, CreatedAt: s.now().UTC()}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, req.Project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", req.Project)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO jobs (project_id, command, cpus, memory_bytes, gpus, time_limit_ms, executor, state, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, pid, string(cmdJSON), r.CPUs, r.MemoryBytes, r.GPUs, r.TimeLimit.Milliseconds(),
			j.Executor, Queued, user, j.CreatedAt).Scan(&j.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "job.submit", Project: req.Project, Target: fmt.Sprintf("job:%d", j.ID), Outcome: audit.Success})
	})
	if err != nil {
		return Job{}, err
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.done[j.ID] = done
	s.mu.Unlock()
	bg := context.WithoutCancel(ctx)

	fail := func(msg string, files *logFiles) (Job, error) {
		if files != nil {
			fmt.Fprintln(files.stderr, msg)
		}
		s.finalize(bg, &j, Result{State: Failed, Message: msg}, files)
		s.closeDone(j.ID, done)
		return s.get(bg, j.ID)
	}
	run, err := s.runs.StartRun(ctx, req.Project, req.Experiment, fmt.Sprintf("job-%d", j.ID), req.DatasetVersionID)
	if err != nil {
		return fail("cannot create the job's run: "+errs.MessageOf(err), nil)
	}
	j.RunID = &run.ID
	if _, run.ExperimentID, err = s.runs.RunLocation(ctx, run.ID); err != nil {
		return fail("cannot read the job's run: "+errs.MessageOf(err), nil)
	}
	if _, err := s.db.Exec(ctx, `UPDATE jobs SET run_id = ? WHERE id = ?`, run.ID, j.ID); err != nil {
		return fail("cannot record the job's run: "+err.Error(), nil)
	}
	ttl := r.TimeLimit
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	tok, secret, err := s.auth.CreateToken(ctx, user, fmt.Sprintf("job-%d", j.ID), auth.KindAPI, ttl, "")
	if err != nil {
		return fail("cannot create the job's token: "+errs.MessageOf(err), nil)
	}
	j.tokenID = &tok.ID
	if _, err := s.db.Exec(ctx, `UPDATE jobs SET token_id = ? WHERE id = ?`, tok.ID, j.ID); err != nil {
		if rerr := s.auth.RevokeToken(bg, user, tok.ID); rerr != nil {
			slog.ErrorContext(ctx, "job not started; its API token could not be revoked and stays valid until it expires", "job", j.ID, "token", tok.ID, "err", rerr)
		}
		return fail("cannot record the job's token: "+err.Error(), nil)
	}
	trackingURI := s.baseURL
	if req.TrackingURI != "" {
		trackingURI = req.TrackingURI
	}
	files, err := s.openLogs(j.ID)
	if err != nil {
		return fail("cannot create the job's log files: "+err.Error(), nil)
	}
	spec := Spec{
		JobID: j.ID, Argv: req.Command, Timeout: r.TimeLimit,
		CPUs: r.CPUs, MemoryBytes: r.MemoryBytes, GPUs: r.GPUs, Partition: req.Partition,
		Env: childEnv("MLFLOW_TRACKING_URI="+trackingURI, "MLFLOW_TRACKING_TOKEN="+secret,
			"MLFLOW_EXPERIMENT_ID="+strconv.FormatInt(run.ExperimentID, 10), "MLFLOW_RUN_ID="+strconv.FormatInt(run.ID, 10),
			"HYGIE_JOB_ID="+strconv.FormatInt(j.ID, 10)),
		Stdout: files.stdout, Stderr: files.stderr,
		OnSubmit: func(externalID string) {
			if _, err := s.db.Exec(bg, `UPDATE jobs SET external_id = ? WHERE id = ?`, externalID, j.ID); err != nil {
				slog.ErrorContext(bg, "job's executor id not recorded: a cancel from another process cannot reach it", "job", j.ID, "external_id", externalID, "err", err)
			}
		},
		OnStart: func(pid int) {
			if started, err := s.markStarted(bg, j.ID, pid); err == nil && !started {
				// Cancelled (by another process) while queued.
				s.exec.Cancel(j.ID)
			}
		},
	}
	if req.Stdout != nil {
		spec.Stdout = io.MultiWriter(files.stdout, req.Stdout)
	}
	if req.Stderr != nil {
		spec.Stderr = io.MultiWriter(files.stderr, req.Stderr)
	}
	if err := s.exec.Submit(ctx, spec); err != nil {
		return fail("cannot submit the job: "+err.Error(), files)
	}
	go s.follow(bg, &j, files, done)
	return s.get(bg, j.ID)
}

// markStarted records that a queued job runs (with its pid, 0 on another
// machine); it reports false when the job was not queued any more or was
// asked to cancel.
func (s *Service) markStarted(ctx context.Context, id int64, pid int) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE jobs SET state = ?, started_at = ?, host = ?, pid = ? WHERE id = ? AND state = ? AND NOT cancel_requested`,
		Running, s.now().UTC(), s.host, pid, id, Queued)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// follow waits for the executor to end job j, then records the end.
func (s *Service) follow(ctx context.Context, j *Job, files *logFiles, done chan struct{}) {
	res, err := s.exec.Wait(j.ID)
	if err != nil {
		res = Result{State: Failed, Message: err.Error()}
	}
	if res.State == Failed && res.ExitCode == nil && res.Message != "" {
		fmt.Fprintln(files.stderr, res.Message)
	}
	s.finalize(ctx, j, res, files)
	s.closeDone(j.ID, done)
}

func (s *Service) closeDone(id int64, done chan struct{}) {
	close(done)
	s.mu.Lock()
	delete(s.done, id)
	s.mu.Unlock()
}

// logFiles are a job's output while it runs, in a directory of its own
// under the service's log directory. The process that follows the job holds
// an exclusive lock (flock) on the directory's owner.lock file, released
// when it ends or dies: Reconcile tells by it an orphaned job from one that
// another live process follows. (Go opens files close-on-exec: the job's
// processes do not inherit the lock.)
type logFiles struct {
	dir            string
	lock           *os.File
	stdout, stderr *os.File
}

func (s *Service) openLogs(id int64) (*logFiles, error) {
	if err := os.MkdirAll(s.logDir, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.logDir, fmt.Sprintf("job-%d-", id))
	if err != nil {
		return nil, err
	}
	f := &logFiles{dir: dir}
	if f.lock, err = lockDir(dir); err == nil {
		f.stdout, err = os.OpenFile(filepath.Join(dir, "stdout.txt"), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	}
	if err == nil {
		f.stderr, err = os.OpenFile(filepath.Join(dir, "stderr.txt"), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	}
	if err != nil {
		f.remove()
		return nil, err
	}
	return f, nil
}

// errLocked is lockDir's answer when another process holds the lock.
var errLocked = errors.New("job followed by another process")

// lockDir takes the exclusive lock on dir/owner.lock without waiting.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "owner.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

func (f *logFiles) close() {
	for _, c := range []*os.File{f.stdout, f.stderr, f.lock} {
		if c != nil {
			c.Close()
		}
	}
}

// remove deletes the files, then releases the lock.
func (f *logFiles) remove() {
	for _, c := range []*os.File{f.stdout, f.stderr} {
		if c != nil {
			c.Close()
		}
	}
	os.RemoveAll(f.dir)
	if f.lock != nil {
		f.lock.Close()
	}
}

// finalize records a job's end: output artifacts, job row, run status,
// token revocation. It carries on past errors so as much as possible is
// recorded, and reports them in the job's message.
func (s *Service) finalize(ctx context.Context, j *Job, res Result, files *logFiles) {
	var problems []string
	if files != nil {
		// Removed (and unlocked) once the end is recorded: until then the
		// lock tells Reconcile in another process that the job is followed.
		defer files.remove()
		if j.RunID != nil {
			for _, f := range []*os.File{files.stdout, files.stderr} {
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					problems = append(problems, err.Error())
					continue
				}
				if err := s.runs.PutArtifact(ctx, *j.RunID, "logs/"+filepath.Base(f.Name()), f); err != nil {
					problems = append(problems, "saving "+filepath.Base(f.Name())+": "+errs.MessageOf(err))
				}
			}
		}
	}
	var (
		cancelReq bool
		ended     sql.NullTime
	)
	if err := s.db.QueryRow(ctx, `SELECT cancel_requested, ended_at FROM jobs WHERE id = ?`, j.ID).Scan(&cancelReq, &ended); err != nil {
		// Record the end as the executor saw it: better than no end.
		slog.ErrorContext(ctx, "job end: cannot read whether it was cancelled", "job", j.ID, "err", err)
	}
	if ended.Valid {
		return // recorded by a cancel from another process
	}
	if cancelReq && res.State != Succeeded {
		res.State, res.Message = Cancelled, "cancelled"
	}
	if j.tokenID != nil {
		if err := s.auth.RevokeToken(ctx, j.CreatedBy, *j.tokenID); err != nil {
			problems = append(problems, "revoking the job's token: "+errs.MessageOf(err))
		}
	}
	if j.RunID != nil {
		status := track.Finished
		switch res.State {
		case Failed:
			status = track.Failed
		case Cancelled:
			status = track.Killed
		}
		if err := s.runs.End(ctx, *j.RunID, status); err != nil {
			problems = append(problems, "ending the run: "+errs.MessageOf(err))
		}
	}
	msg := res.Message
	if len(problems) > 0 {
		msg = strings.TrimPrefix(msg+"; "+strings.Join(problems, "; "), "; ")
	}
	if _, err := s.db.Exec(ctx, `UPDATE jobs SET state = ?, exit_code = ?, message = ?, ended_at = ? WHERE id = ? AND ended_at IS NULL`,
		res.State, res.ExitCode, msg, s.now().UTC(), j.ID); err != nil {
		return
	}
	if err := s.audit.Append(ctx, audit.Event{Action: "job.end", Project: j.Project, Target: fmt.Sprintf("job:%d", j.ID), Outcome: audit.Success,
		Detail: audit.MarshalDetail(map[string]any{"state": res.State})}); err != nil {
		// The job has ended: no caller is left to return this to.
		slog.ErrorContext(ctx, "job end recorded, its audit event not", "job", j.ID, "err", err)
	}
}

// Wait blocks until a job submitted by this service ends, then returns it.
func (s *Service) Wait(ctx context.Context, id int64) (Job, error) {
	s.mu.Lock()
	done, ok := s.done[id]
	s.mu.Unlock()
	if !ok {
		if j, err := s.get(ctx, id); err != nil || Terminal(j.State) {
			return j, err
		}
		return Job{}, errs.NotFoundf("job %d is not run by this process", id)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return Job{}, ctx.Err()
	}
	return s.get(context.WithoutCancel(ctx), id)
}

const jobCols = `j.id, p.name, j.run_id, j.command, j.cpus, j.memory_bytes, j.gpus, j.time_limit_ms, j.executor, j.state, j.exit_code,
	j.message, j.host, j.pid, j.external_id, j.token_id, j.cancel_requested, j.created_by, j.created_at, j.started_at, j.ended_at
	FROM jobs j JOIN projects p ON p.id = j.project_id `

func scanJob(sc db.Scanner) (Job, error) {
	var (
		j        Job
		cmd      string
		limit    int64
		run, tok sql.NullInt64
		code     sql.NullInt64
		st, en   sql.NullTime
	)
	err := sc.Scan(&j.ID, &j.Project, &run, &cmd, &j.Resources.CPUs, &j.Resources.MemoryBytes, &j.Resources.GPUs, &limit, &j.Executor,
		&j.State, &code, &j.Message, &j.Host, &j.PID, &j.ExternalID, &tok, &j.cancelReq, &j.CreatedBy, &j.CreatedAt, &st, &en)
	if err != nil {
		return j, err
	}
	j.Resources.TimeLimit = time.Duration(limit) * time.Millisecond
	if run.Valid {
		j.RunID = &run.Int64
	}
	if tok.Valid {
		j.tokenID = &tok.Int64
	}
	if code.Valid {
		c := int(code.Int64)
		j.ExitCode = &c
	}
	j.CreatedAt = j.CreatedAt.UTC()
	if st.Valid {
		t := st.Time.UTC()
		j.StartedAt = &t
	}
	if en.Valid {
		t := en.Time.UTC()
		j.EndedAt = &t
	}
	if err := json.Unmarshal([]byte(cmd), &j.Command); err != nil {
		return j, fmt.Errorf("job %d: command: %w", j.ID, err)
	}
	return j, nil
}

func (s *Service) get(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, `SELECT `+jobCols+`WHERE j.id = ?`, id))
	if err != nil {
		return j, db.NotFound(err, "job %d not found", id)
	}
	return j, nil
}

// Get returns a job; the principal needs run.read on its project.
func (s *Service) Get(ctx context.Context, id int64) (Job, error) {
	j, err := s.get(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if err := auth.Require(ctx, j.Project, auth.PermRunRead); err != nil {
		return Job{}, err
	}
	return j, nil
}

// List returns a project's jobs, newest first.
func (s *Service) List(ctx context.Context, project string) ([]Job, error) {
	if err := auth.Require(ctx, project, auth.PermRunRead); err != nil {
		return nil, err
	}
	return db.All(ctx, s.db, scanJob, `SELECT `+jobCols+`WHERE p.name = ? ORDER BY j.id DESC`, project)
}

// Cancel stops a job. A job run by this process is cancelled through the
// executor; a Slurm job run by another process is cancelled with scancel
// and its owner records the end; a job run by another process on this
// machine has its process
// group signalled (SIGTERM, then SIGKILL after grace) and its owner records
// the end; a job whose owner is gone is recorded cancelled here.
func (s *Service) Cancel(ctx context.Context, id int64, grace time.Duration) (Job, error) {
	j, err := s.get(ctx, id)
	if err != nil {
		return Job{}, err
	}
	if err := auth.Require(ctx, j.Project, auth.PermRunWrite); err != nil {
		return Job{}, err
	}
	if Terminal(j.State) {
		return j, errs.Conflictf("job %d has already ended (%s)", id, j.State)
	}
	if _, err := s.db.Exec(ctx, `UPDATE jobs SET cancel_requested = ? WHERE id = ?`, true, id); err != nil {
		return Job{}, err
	}
	if err := s.audit.Append(ctx, audit.Event{Action: "job.cancel", Project: j.Project, Target: fmt.Sprintf("job:%d", id), Outcome: audit.Success}); err != nil {
		return Job{}, err
	}
	s.mu.Lock()
	_, mine := s.done[id]
	s.mu.Unlock()
	if mine {
		// Unknown to the executor means it has just ended: Wait sees the end.
		_ = s.exec.Cancel(id)
		return s.Wait(ctx, id)
	}
	if j.Executor == "slurm" && j.ExternalID != "" {
		// Slurm cancels it wherever it runs; its owner (polling Slurm)
		// then records the end.
		if err := SlurmCancel(ctx, j.ExternalID); err != nil {
			return j, errs.Conflictf("job %d (Slurm job %s): %v", id, j.ExternalID, err)
		}
		deadline := time.Now().Add(grace + 5*time.Second)
		for time.Now().Before(deadline) {
			if j, err = s.get(ctx, id); err != nil || Terminal(j.State) {
				return j, err
			}
			time.Sleep(100 * time.Millisecond)
		}
		s.finalize(context.WithoutCancel(ctx), &j, Result{State: Cancelled, Message: "cancelled (owner process gone)"}, nil)
		return s.get(ctx, id)
	}
	if j.Host != "" && j.Host != s.host {
		return j, errs.Conflictf("job %d runs on host %s: cancel it there", id, j.Host)
	}
	if j.PID > 0 && syscall.Kill(-j.PID, 0) == nil {
		_ = syscall.Kill(-j.PID, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for syscall.Kill(-j.PID, 0) == nil {
			if time.Now().After(deadline) {
				_ = syscall.Kill(-j.PID, syscall.SIGKILL)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The owner records the end; give it a moment, then record it here
		// (the owner may be gone, its job orphaned).
		for range 40 {
			if j, err = s.get(ctx, id); err != nil || Terminal(j.State) {
				return j, err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Nobody runs it any more (the owning process died, or it is queued in
	// a process that is gone): record the end here.
	s.finalize(context.WithoutCancel(ctx), &j, Result{State: Cancelled, Message: "cancelled (owner process gone)"}, nil)
	return s.get(ctx, id)
}
