package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Spec is what an executor runs.
type Spec struct {
	JobID   int64
	Argv    []string
	Env     []string // full environment of the child
	Dir     string
	Stdout  io.Writer
	Stderr  io.Writer
	Timeout time.Duration // 0: none
	// Requests for cluster executors (the local executor ignores them).
	CPUs        int
	MemoryBytes int64
	GPUs        int
	Partition   string // "" → the executor's default
	// OnSubmit, if set, is called once with the job's id in an external
	// scheduler (the Slurm job id), before Submit returns.
	OnSubmit func(externalID string)
	// OnStart is called once the process runs, with its pid (also its
	// process group id; 0 when it runs on another machine, as with Slurm).
	OnStart func(pid int)
}

// Result is how a job ended.
type Result struct {
	State    string // Succeeded, Failed or Cancelled
	ExitCode *int   // nil when the command never ran
	Message  string
}

// Executor runs job commands. Local runs them on this machine; Slurm submits
// them to a Slurm cluster (sbatch/squeue/scancel).
type Executor interface {
	Name() string
	// Submit queues the job and returns at once; the job starts when the
	// executor has room.
	Submit(ctx context.Context, s Spec) error
	// Wait blocks until the job ends.
	Wait(jobID int64) (Result, error)
	// Cancel stops a queued or running job.
	Cancel(jobID int64) error
	// State is the job's current state as the executor sees it.
	State(jobID int64) (string, error)
}

// Local runs jobs as local processes, each in its own process group, at most
// Slots at a time.
type Local struct {
	Grace time.Duration // between SIGTERM and SIGKILL
	sem   chan struct{}
	mu    sync.Mutex
	procs map[int64]*localProc
}

type localProc struct {
	state     string
	pid       int
	cancelled bool
	timedOut  bool
	cancel    chan struct{}
	done      chan struct{}
	res       Result
}

// NewLocal returns a local executor running at most slots jobs at once
// (runtime.NumCPU() if slots <= 0).
func NewLocal(slots int) *Local {
	if slots <= 0 {
		slots = runtime.NumCPU()
	}
	return &Local{Grace: 5 * time.Second, sem: make(chan struct{}, slots), procs: map[int64]*localProc{}}
}

// Name implements Executor.
func (l *Local) Name() string { return "local" }

var errUnknownJob = errors.New("job not known to this executor")

func (l *Local) proc(id int64) (*localProc, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.procs[id]
	if !ok {
		return nil, errUnknownJob
	}
	return p, nil
}

// Submit implements Executor.
func (l *Local) Submit(ctx context.Context, s Spec) error {
	if len(s.Argv) == 0 {
		return fmt.Errorf("empty command")
	}
	p := &localProc{state: Queued, cancel: make(chan struct{}), done: make(chan struct{})}
	l.mu.Lock()
	if _, dup := l.procs[s.JobID]; dup {
		l.mu.Unlock()
		return fmt.Errorf("job %d already submitted", s.JobID)
	}
	l.procs[s.JobID] = p
	l.mu.Unlock()
	go l.run(s, p)
	return nil
}

func (l *Local) finish(p *localProc, r Result) {
	l.mu.Lock()
	p.res = r
	p.state = r.State
	l.mu.Unlock()
	close(p.done)
}

func (l *Local) run(s Spec, p *localProc) {
	select {
	case l.sem <- struct{}{}:
	case <-p.cancel:
		l.finish(p, Result{State: Cancelled, Message: "cancelled before it started"})
		return
	}
	defer func() { <-l.sem }()

	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = s.Env, s.Dir, s.Stdout, s.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = l.Grace + time.Second
	l.mu.Lock()
	if p.cancelled {
		l.mu.Unlock()
		l.finish(p, Result{State: Cancelled, Message: "cancelled before it started"})
		return
	}
	if err := cmd.Start(); err != nil {
		l.mu.Unlock()
		l.finish(p, Result{State: Failed, Message: fmt.Sprintf("cannot start %q: %v", s.Argv[0], unwrapExec(err))})
		return
	}
	p.pid, p.state = cmd.Process.Pid, Running
	l.mu.Unlock()
	if s.OnStart != nil {
		s.OnStart(p.pid)
	}

	stop := make(chan struct{})
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		var timeout <-chan time.Time
		if s.Timeout > 0 {
			t := time.NewTimer(s.Timeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-stop:
			return
		case <-p.cancel:
		case <-timeout:
			l.mu.Lock()
			p.timedOut = true
			l.mu.Unlock()
		}
		KillGroup(p.pid, l.Grace, stop)
	}()
	err := cmd.Wait()
	close(stop)
	killer.Wait()
	// Leftover children of the job (daemonized helpers) go with it.
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)

	code := exitCode(cmd, err)
	l.mu.Lock()
	cancelled, timedOut := p.cancelled, p.timedOut
	l.mu.Unlock()
	r := Result{ExitCode: &code}
	switch {
	case cancelled:
		r.State, r.Message = Cancelled, "cancelled"
	case timedOut:
		r.State, r.Message = Failed, fmt.Sprintf("time limit of %s exceeded: killed", s.Timeout)
	case code == 0:
		r.State = Succeeded
	default:
		r.State, r.Message = Failed, fmt.Sprintf("exited with code %d", code)
	}
	l.finish(p, r)
}

func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exitCode(cmd *exec.Cmd, err error) int {
	if cmd.ProcessState == nil {
		return -1
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// KillGroup sends SIGTERM to process group pgid, then SIGKILL after grace
// unless done closes first.
func KillGroup(pgid int, grace time.Duration, done <-chan struct{}) {
	if pgid <= 0 {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// Wait implements Executor.
func (l *Local) Wait(id int64) (Result, error) {
	p, err := l.proc(id)
	if err != nil {
		return Result{}, err
	}
	<-p.done
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.procs, id)
	return p.res, nil
}

// Cancel implements Executor.
func (l *Local) Cancel(id int64) error {
	p, err := l.proc(id)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !p.cancelled {
		p.cancelled = true
		close(p.cancel)
	}
	return nil
}

// State implements Executor.
func (l *Local) State(id int64) (string, error) {
	p, err := l.proc(id)
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return p.state, nil
}
