package jobs

// The Slurm executor: sbatch, squeue, scontrol/sacct and scancel, run as
// commands (the Slurm client tools and their configuration must be on this
// machine).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Slurm runs jobs on a Slurm cluster: each job is a batch script submitted
// with sbatch, watched with squeue, its final state read with scontrol (or
// sacct), cancelled with scancel.
//
// The script and the job's --output/--error files live in a directory per job
// under SpoolDir, which must be on a filesystem shared with the compute nodes
// at the same path (on a single-node cluster, any local directory): slurmd
// reads the script and writes the output there, and this process tails the
// output into the job's run while it runs. The directory is removed when the
// job ends. The job's environment (with its MLflow token) travels through
// sbatch --export=ALL, never in a file hygie writes.
//
// A job ends in Slurm even if this process exits; the job row keeps its
// Slurm id (Job.ExternalID), so `hygie job cancel` from any process cancels
// it with scancel.
type Slurm struct {
	// Partition is the default partition ("" → the cluster's default); a
	// Spec's Partition overrides it.
	Partition string
	// SpoolDir holds the per-job directories (shared filesystem, see above).
	SpoolDir string
	// Poll is the squeue polling interval (0 → 1 s).
	Poll time.Duration

	mu   sync.Mutex
	jobs map[int64]*slurmJob
}

// SlurmOptions configure NewSlurm.
type SlurmOptions struct {
	Partition string
	SpoolDir  string
	Poll      time.Duration // 0 → 1 s
}

// NewSlurm returns a Slurm executor. (A zero Slurm with SpoolDir set works
// too.)
func NewSlurm(o SlurmOptions) *Slurm {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	return &Slurm{Partition: o.Partition, SpoolDir: o.SpoolDir, Poll: o.Poll, jobs: map[int64]*slurmJob{}}
}

var _ Executor = (*Slurm)(nil)

type slurmJob struct {
	slurmID string
	dir     string
	state   string // hygie state
	done    chan struct{}
	res     Result
	// outOff and errOff are how much of the output files the job's writers
	// already have (non-zero when re-attached after a restart).
	outOff, errOff int64
}

// Name implements Executor.
func (s *Slurm) Name() string { return "slurm" }

func (s *Slurm) job(id int64) (*slurmJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return nil, errUnknownJob
	}
	return j, nil
}

// sbatchValue checks a value written on an #SBATCH line, where sbatch does
// not apply shell quoting and expands %-patterns in file names.
func sbatchValue(what, v string) error {
	if strings.ContainsAny(v, " \t\r\n\"'\\%") {
		return fmt.Errorf("%s %q: Slurm options cannot carry whitespace, quotes, backslashes or %%", what, v)
	}
	return nil
}

// batchScript is the sbatch script running spec with output in dir.
func batchScript(spec Spec, partition, dir string) (string, error) {
	if len(spec.Argv) == 0 {
		return "", fmt.Errorf("empty command")
	}
	for _, a := range spec.Argv {
		if strings.ContainsRune(a, 0) {
			return "", fmt.Errorf("command argument %q contains a NUL byte", a)
		}
	}
	if spec.Partition != "" {
		partition = spec.Partition
	}
	checks := [][2]string{{"spool directory", dir}, {"partition", partition}, {"working directory", spec.Dir}}
	for _, c := range checks {
		if err := sbatchValue(c[0], c[1]); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	opt := func(format string, args ...any) { fmt.Fprintf(&b, "#SBATCH "+format+"\n", args...) }
	opt("--job-name=hygie-%d", spec.JobID)
	opt("--output=%s", filepath.Join(dir, "stdout.txt"))
	opt("--error=%s", filepath.Join(dir, "stderr.txt"))
	if spec.CPUs > 0 {
		opt("--cpus-per-task=%d", spec.CPUs)
	}
	if spec.MemoryBytes > 0 {
		opt("--mem=%dM", (spec.MemoryBytes+(1<<20)-1)>>20)
	}
	if spec.GPUs > 0 {
		opt("--gres=gpu:%d", spec.GPUs)
	}
	if spec.Timeout > 0 {
		opt("--time=%d", int64((spec.Timeout+time.Minute-1)/time.Minute))
	}
	if partition != "" {
		opt("--partition=%s", partition)
	}
	if spec.Dir != "" {
		opt("--chdir=%s", spec.Dir)
	}
	b.WriteString("exec")
	for _, a := range spec.Argv {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	b.WriteByte('\n')
	return b.String(), nil
}

// shellQuote quotes s for a POSIX shell: as is when it is made of safe
// characters only, else in single quotes, each single quote inside written
// as quote, backslash, quote, quote.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_@%+=:,./-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// slurmCmd runs a Slurm client command and returns its stdout; its error
// carries the command's stderr.
func slurmCmd(ctx context.Context, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// One line: Slurm's messages joined with "; ".
		var lines []string
		for _, l := range strings.Split(stderr.String(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		msg := strings.Join(lines, "; ")
		if msg == "" {
			msg = unwrapExec(err).Error()
		}
		return stdout.String(), errors.New(msg)
	}
	return stdout.String(), nil
}

// Submit implements Executor: it writes the batch script and runs sbatch.
// An sbatch failure (an unknown partition, a request the cluster cannot
// satisfy) is returned with sbatch's message.
func (s *Slurm) Submit(ctx context.Context, spec Spec) error {
	s.mu.Lock()
	if s.jobs == nil {
		s.jobs = map[int64]*slurmJob{}
	}
	if _, dup := s.jobs[spec.JobID]; dup {
		s.mu.Unlock()
		return fmt.Errorf("job %d already submitted", spec.JobID)
	}
	s.mu.Unlock()
	if s.SpoolDir == "" {
		return fmt.Errorf("slurm executor: no spool directory")
	}
	if err := os.MkdirAll(s.SpoolDir, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(s.SpoolDir, fmt.Sprintf("job-%d-", spec.JobID))
	if err != nil {
		return err
	}
	script, err := batchScript(spec, s.Partition, dir)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "job.sh"), []byte(script), 0o700)
	}
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	out, err := slurmCmd(ctx, spec.Env, "sbatch", "--parsable", "--export=ALL", filepath.Join(dir, "job.sh"))
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("Slurm rejected the job: %w", err)
	}
	// --parsable prints "jobid" or "jobid;cluster".
	slurmID, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.ParseUint(slurmID, 10, 64); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("sbatch printed %q, not a job id", strings.TrimSpace(out))
	}
	j := &slurmJob{slurmID: slurmID, dir: dir, state: Queued, done: make(chan struct{})}
	s.mu.Lock()
	s.jobs[spec.JobID] = j
	s.mu.Unlock()
	if spec.OnSubmit != nil {
		spec.OnSubmit(slurmID)
	}
	go s.watch(spec, j)
	return nil
}

// tail copies what was appended to a file since *off to w.
func tail(path string, off *int64, w io.Writer) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(*off, io.SeekStart); err != nil {
		return
	}
	n, _ := io.Copy(w, f)
	*off += n
}

// slurmStates maps Slurm job states to hygie's; terminal ones are decided
// by slurmResult.
var slurmStates = map[string]string{
	"PENDING": Queued, "CONFIGURING": Queued, "REQUEUED": Queued, "REQUEUE_HOLD": Queued, "REQUEUE_FED": Queued,
	"RESV_DEL_HOLD": Queued, "SPECIAL_EXIT": Queued,
	"RUNNING": Running, "COMPLETING": Running, "SIGNALING": Running, "STAGE_OUT": Running, "SUSPENDED": Running,
	"STOPPED": Running, "RESIZING": Running, "UPDATE_DB": Running, "POWER_UP_NODE": Queued,
}

// slurmTerminal reports whether a Slurm state is final.
func slurmTerminal(st string) bool {
	switch st {
	case "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED":
		return true
	}
	return false
}

// slurmResult maps a final Slurm state and "N:S" exit code to a Result.
func slurmResult(state, exit string) Result {
	var code *int
	if n, sig, ok := strings.Cut(exit, ":"); ok {
		c, err1 := strconv.Atoi(n)
		s, err2 := strconv.Atoi(sig)
		if err1 == nil && err2 == nil {
			if s != 0 {
				c = 128 + s
			}
			code = &c
		}
	}
	r := Result{ExitCode: code}
	switch state {
	case "COMPLETED":
		r.State = Succeeded
	case "FAILED":
		r.State = Failed
		if code != nil && *code != 0 {
			r.Message = fmt.Sprintf("exited with code %d", *code)
		} else {
			r.Message = "failed in Slurm"
		}
	case "TIMEOUT":
		r.State, r.Message = Failed, "time limit reached: killed by Slurm"
	case "CANCELLED", "REVOKED":
		r.State, r.Message = Cancelled, "cancelled"
	case "NODE_FAIL":
		r.State, r.Message = Failed, "Slurm node failure"
	case "OUT_OF_MEMORY":
		r.State, r.Message = Failed, "out of memory: killed by Slurm"
	case "BOOT_FAIL":
		r.State, r.Message = Failed, "Slurm node boot failure"
	case "DEADLINE":
		r.State, r.Message = Failed, "Slurm deadline reached"
	case "PREEMPTED":
		r.State, r.Message = Failed, "preempted by Slurm"
	default:
		r.State, r.Message = Failed, "Slurm job state "+state
	}
	return r
}

var (
	reJobState = regexp.MustCompile(`(?:^|\s)JobState=(\S+)`)
	reExitCode = regexp.MustCompile(`(?:^|\s)ExitCode=(\d+:\d+)`)
)

// parseScontrol reads JobState and ExitCode from `scontrol show job -o`.
func parseScontrol(out string) (state, exit string) {
	if m := reJobState.FindStringSubmatch(out); m != nil {
		state = m[1]
	}
	if m := reExitCode.FindStringSubmatch(out); m != nil {
		exit = m[1]
	}
	return state, exit
}

// parseSacct reads `sacct -n -P -X -o State,ExitCode`: "CANCELLED by 0|0:15".
func parseSacct(out string) (state, exit string) {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	st, exit, _ := strings.Cut(line, "|")
	state, _, _ = strings.Cut(strings.TrimSpace(st), " ")
	return strings.TrimSuffix(state, "+"), strings.TrimSpace(exit)
}

// slurmState is a Slurm job's state and exit code: from squeue while it is
// queued or running, then from scontrol (the controller remembers ended
// jobs for MinJobAge) or sacct (accounting).
func slurmState(ctx context.Context, id string) (state, exit string, err error) {
	out, qerr := slurmCmd(ctx, nil, "squeue", "-h", "-j", id, "-o", "%T")
	state = strings.TrimSpace(out)
	if qerr == nil && state != "" && !slurmTerminal(state) {
		return state, "", nil
	}
	out, cerr := slurmCmd(ctx, nil, "scontrol", "show", "job", "-o", id)
	if cerr == nil {
		if st, ex := parseScontrol(out); st != "" {
			return st, ex, nil
		}
	}
	out, aerr := slurmCmd(ctx, nil, "sacct", "-n", "-P", "-X", "-j", id, "-o", "State,ExitCode")
	if aerr == nil {
		if st, ex := parseSacct(out); st != "" {
			return st, ex, nil
		}
	}
	if qerr != nil {
		return "", "", fmt.Errorf("squeue: %v; scontrol: %v; sacct: %v", qerr, cerr, aerr)
	}
	return "", "", fmt.Errorf("Slurm job %s is no longer known (scontrol: %v; sacct: %v)", id, cerr, aerr)
}

// slurmLostAfter is how long Slurm may fail to report a job before the
// executor gives up on it.
const slurmLostAfter = 10 * time.Minute

func (s *Slurm) watch(spec Spec, j *slurmJob) {
	stdout, stderr := spec.Stdout, spec.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	outPath, errPath := filepath.Join(j.dir, "stdout.txt"), filepath.Join(j.dir, "stderr.txt")
	outOff, errOff := j.outOff, j.errOff
	started := false
	start := func() {
		if !started {
			started = true
			if spec.OnStart != nil {
				spec.OnStart(0)
			}
		}
	}
	ctx := context.Background()
	var (
		res       Result
		lastKnown = time.Now()
	)
	for {
		st, exit, err := slurmState(ctx, j.slurmID)
		tail(outPath, &outOff, stdout)
		tail(errPath, &errOff, stderr)
		switch {
		case err != nil:
			if time.Since(lastKnown) > slurmLostAfter {
				res = Result{State: Failed, Message: fmt.Sprintf("lost track of Slurm job %s: %v", j.slurmID, err)}
			}
		case slurmTerminal(st):
			res = slurmResult(st, exit)
			if res.State != Cancelled {
				start() // it ran, maybe between two polls
			} else if !started {
				res.ExitCode = nil // cancelled before it ran (as far as we saw)
			}
		default:
			lastKnown = time.Now()
			hs := slurmStates[st]
			if hs == "" {
				hs = Running
			}
			if hs == Running {
				start()
			}
			s.mu.Lock()
			j.state = hs
			s.mu.Unlock()
		}
		if res.State != "" {
			break
		}
		if s.Poll > 0 {
			time.Sleep(s.Poll)
		} else {
			time.Sleep(time.Second)
		}
	}
	tail(outPath, &outOff, stdout)
	tail(errPath, &errOff, stderr)
	os.RemoveAll(j.dir)
	s.mu.Lock()
	j.res, j.state = res, res.State
	s.mu.Unlock()
	close(j.done)
}

// Attach follows Slurm job slurmID again, as Submit does, after the
// process that submitted it is gone (hygie server restarted): its state
// from squeue, scontrol or sacct, its output from the job's directory in
// the spool (if still there) from the given offsets, which are how much of
// stdout and stderr spec's writers already received. spec.OnStart is called
// once the job is seen running; Wait then returns how it ended.
func (s *Slurm) Attach(spec Spec, slurmID string, outOff, errOff int64) error {
	if _, err := strconv.ParseUint(slurmID, 10, 64); err != nil {
		return fmt.Errorf("Slurm job id %q: not a number", slurmID)
	}
	s.mu.Lock()
	if s.jobs == nil {
		s.jobs = map[int64]*slurmJob{}
	}
	if _, dup := s.jobs[spec.JobID]; dup {
		s.mu.Unlock()
		return fmt.Errorf("job %d already followed", spec.JobID)
	}
	// The directory Submit made (job-ID-random); without it (removed by
	// hand, or another spool directory) the output is lost, not the state.
	dir := filepath.Join(s.SpoolDir, fmt.Sprintf("job-%d-gone", spec.JobID))
	if dirs, _ := filepath.Glob(filepath.Join(s.SpoolDir, fmt.Sprintf("job-%d-*", spec.JobID))); len(dirs) > 0 {
		dir = dirs[len(dirs)-1]
	}
	j := &slurmJob{slurmID: slurmID, dir: dir, state: Queued, done: make(chan struct{}), outOff: outOff, errOff: errOff}
	s.jobs[spec.JobID] = j
	s.mu.Unlock()
	go s.watch(spec, j)
	return nil
}

// Wait implements Executor.
func (s *Slurm) Wait(id int64) (Result, error) {
	j, err := s.job(id)
	if err != nil {
		return Result{}, err
	}
	<-j.done
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jobs, id)
	return j.res, nil
}

// Cancel implements Executor: scancel.
func (s *Slurm) Cancel(id int64) error {
	j, err := s.job(id)
	if err != nil {
		return err
	}
	return SlurmCancel(context.Background(), j.slurmID)
}

// SlurmCancel cancels Slurm job slurmID (scancel), from any process.
func SlurmCancel(ctx context.Context, slurmID string) error {
	if _, err := slurmCmd(ctx, nil, "scancel", slurmID); err != nil {
		return fmt.Errorf("scancel %s: %w", slurmID, err)
	}
	return nil
}

// State implements Executor: the state as of the last poll.
func (s *Slurm) State(id int64) (string, error) {
	j, err := s.job(id)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return j.state, nil
}
