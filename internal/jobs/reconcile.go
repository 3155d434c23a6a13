package jobs

// Reconciliation after a restart: jobs left queued or running by a process
// that died (hygie server killed, the machine rebooted).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hygie-health/hygie/internal/db"
)

// RestartMessage is the message of a job that a restart of the process
// following it ended.
const RestartMessage = "the server restarted while this job ran"

// noLogsGrace is how old a job without a log directory must be before
// Reconcile takes it as orphaned: younger, its submitter may still be
// creating it.
const noLogsGrace = time.Minute

// Reconciled is what Reconcile did with one job.
type Reconciled struct {
	Job    Job    `json:"job"`
	Action string `json:"action"` // "attached", "failed" or "skipped"
	Reason string `json:"reason,omitempty"`
}

// Reconcile takes over the jobs left queued or running by a process that is
// gone, as hygie server does when it starts. A job is orphaned when no live
// process holds the lock of its log directory (see logFiles); jobs other
// live processes follow (a `hygie job submit` in progress), and jobs of
// other machines, are left alone.
//
//   - A Slurm job is followed again by its Slurm id (squeue, scontrol,
//     sacct): its state and the rest of its output reach the job and its run
//     as if nothing happened. With another executor configured it is left
//     as is ("skipped").
//   - A local job cannot be re-attached (its exit status goes to the dead
//     parent): a process of the job still alive is stopped (SIGTERM to its
//     process group, SIGKILL after the executor's grace), and the job is
//     recorded failed with RestartMessage, its output so far kept in its
//     run like any job's. A job queued when its process died is failed the
//     same way.
//
// The job's token, run and audit trail are ended as for any job.
func (s *Service) Reconcile(ctx context.Context) ([]Reconciled, error) {
	open, err := db.All(ctx, s.db, scanJob, `SELECT `+jobCols+`WHERE j.ended_at IS NULL AND j.state IN (?, ?) ORDER BY j.id`, Queued, Running)
	if err != nil {
		return nil, err
	}
	var out []Reconciled
	var problems []error
	for _, j := range open {
		s.mu.Lock()
		_, mine := s.done[j.ID]
		s.mu.Unlock()
		if mine {
			continue
		}
		files, err := s.adoptLogs(j)
		if errors.Is(err, errLocked) || files == nil && err == nil {
			continue // followed by a live process, or not (yet) ours to judge
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("job %d: %w", j.ID, err))
			continue
		}
		r, err := s.reconcile(ctx, j, files)
		if err != nil {
			problems = append(problems, fmt.Errorf("job %d: %w", j.ID, err))
		}
		if r.Action != "" {
			out = append(out, r)
		}
	}
	return out, errors.Join(problems...)
}

// adoptLogs takes the lock of job j's log directory and reopens its output
// files for appending; it returns errLocked when a live process holds it,
// and nil files when the job is another machine's or too young to judge.
func (s *Service) adoptLogs(j Job) (*logFiles, error) {
	if j.Host != "" && j.Host != s.host {
		return nil, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(s.logDir, fmt.Sprintf("job-%d-*", j.ID)))
	if len(dirs) == 0 {
		// No log directory here: a job started on this host whose
		// directory is gone is ours to end; one with no host yet may be
		// queued in a process elsewhere (a shared PostgreSQL): left alone.
		if j.Host != s.host || s.now().Sub(j.CreatedAt) < noLogsGrace {
			return nil, nil
		}
		return s.openLogs(j.ID)
	}
	f := &logFiles{dir: dirs[len(dirs)-1]}
	var err error
	if f.lock, err = lockDir(f.dir); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		dst  **os.File
		name string
	}{{&f.stdout, "stdout.txt"}, {&f.stderr, "stderr.txt"}} {
		if *p.dst, err = os.OpenFile(filepath.Join(f.dir, p.name), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600); err != nil {
			f.close()
			return nil, err
		}
	}
	return f, nil
}

func (s *Service) reconcile(ctx context.Context, j Job, files *logFiles) (Reconciled, error) {
	if j.Executor == "slurm" {
		sl, ok := s.exec.(*Slurm)
		switch {
		case j.ExternalID == "":
			return s.failOrphan(ctx, j, files, "the server restarted before the job reached Slurm"), nil
		case !ok:
			files.close()
			return Reconciled{Job: j, Action: "skipped", Reason: "a Slurm job, and the executor is " + s.exec.Name()}, nil
		}
		return s.attachSlurm(ctx, sl, j, files)
	}
	msg := RestartMessage
	switch {
	case j.State == Queued:
		msg = "the server restarted before this job started"
	case j.PID > 0 && ownProcess(j.PID, j.ID):
		grace := 5 * time.Second
		if l, ok := s.exec.(*Local); ok {
			grace = l.Grace
		}
		killGroupWait(j.PID, grace)
		msg += "; its processes were stopped"
	}
	return s.failOrphan(ctx, j, files, msg), nil
}

// failOrphan records an orphaned job failed with msg, keeping its output.
func (s *Service) failOrphan(ctx context.Context, j Job, files *logFiles, msg string) Reconciled {
	fmt.Fprintln(files.stderr, msg)
	s.finalize(ctx, &j, Result{State: Failed, Message: msg}, files)
	if got, err := s.get(ctx, j.ID); err == nil {
		j = got
	}
	return Reconciled{Job: j, Action: "failed", Reason: msg}
}

// attachSlurm follows a Slurm job again from where its output stopped.
func (s *Service) attachSlurm(ctx context.Context, sl *Slurm, j Job, files *logFiles) (Reconciled, error) {
	outOff, err1 := files.stdout.Seek(0, 2)
	errOff, err2 := files.stderr.Seek(0, 2)
	if err := errors.Join(err1, err2); err != nil {
		files.close()
		return Reconciled{}, err
	}
	bg := context.WithoutCancel(ctx)
	spec := Spec{JobID: j.ID, Stdout: files.stdout, Stderr: files.stderr, OnStart: func(int) {
		if _, err := s.markStarted(bg, j.ID, 0); err != nil {
			slog.ErrorContext(bg, "re-attached job: its start not recorded", "job", j.ID, "err", err)
		}
	}}
	done := make(chan struct{})
	s.mu.Lock()
	s.done[j.ID] = done
	s.mu.Unlock()
	if err := sl.Attach(spec, j.ExternalID, outOff, errOff); err != nil {
		s.closeDone(j.ID, done)
		return s.failOrphan(ctx, j, files, fmt.Sprintf("%s; following Slurm job %s again failed: %v", RestartMessage, j.ExternalID, err)), nil
	}
	if j.cancelReq {
		_ = sl.Cancel(j.ID) // asked while nobody followed it
	}
	go s.follow(bg, &j, files, done)
	return Reconciled{Job: j, Action: "attached", Reason: "Slurm job " + j.ExternalID}, nil
}

// ownProcess reports whether pid is alive and a process of job id: its
// environment holds HYGIE_JOB_ID=id (so a pid reused since is left alone).
func ownProcess(pid int, id int64) bool {
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return false
	}
	return bytes.Contains(append([]byte{0}, env...), []byte("\x00HYGIE_JOB_ID="+strconv.FormatInt(id, 10)+"\x00"))
}

// killGroupWait stops process group pgid (SIGTERM, SIGKILL after grace)
// and waits, a few seconds at most, until it is gone.
func killGroupWait(pgid int, grace time.Duration) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for syscall.Kill(-pgid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
			for syscall.Kill(-pgid, 0) == nil && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
