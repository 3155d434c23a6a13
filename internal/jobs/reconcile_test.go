package jobs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/track"
)

// TestMain lets the test binary play a hygie process that submits jobs and
// is then killed (HYGIE_JOBS_HELPER set): see startOrphans.
func TestMain(m *testing.M) {
	if os.Getenv("HYGIE_JOBS_HELPER") != "" {
		if err := orphanHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		select {} // killed by the test
	}
	os.Exit(m.Run())
}

// orphanHelper submits the commands of HYGIE_JOBS_HELPER (JSON) as "sam"
// on the database HYGIE_JOBS_DSN, with the executor HYGIE_JOBS_EXEC and
// the log directory HYGIE_JOBS_LOGS, and prints "job ID" for each.
func orphanHelper() error {
	var cmds [][]string
	if err := json.Unmarshal([]byte(os.Getenv("HYGIE_JOBS_HELPER")), &cmds); err != nil {
		return err
	}
	ctx := audit.WithActor(context.Background(), "helper")
	d, err := db.Open(ctx, os.Getenv("HYGIE_JOBS_DSN"), "")
	if err != nil {
		return err
	}
	al := audit.New(d)
	as := auth.NewService(d, al)
	p, err := as.PrincipalOf(ctx, "sam")
	if err != nil {
		return err
	}
	var ex jobs.Executor = jobs.NewLocal(len(cmds))
	if spool := os.Getenv("HYGIE_JOBS_SPOOL"); spool != "" {
		ex = jobs.NewSlurm(jobs.SlurmOptions{SpoolDir: spool, Poll: 100 * time.Millisecond})
	}
	s := jobs.NewService(d, track.NewService(d, blob.NewMemory(), al), as, al, ex, "http://127.0.0.1:1", os.Getenv("HYGIE_JOBS_LOGS"))
	for _, c := range cmds {
		j, err := s.Submit(auth.WithPrincipal(ctx, p), jobs.Request{Project: "proj", Command: c})
		if err != nil {
			return err
		}
		fmt.Printf("job %d\n", j.ID)
	}
	return nil
}

// startOrphans submits cmds from a separate process (on database dsn, log
// directory logs, the Slurm executor if spool is set), waits until they
// all run, then kills that process with SIGKILL, as when hygie server is
// killed: its jobs are left running.
func startOrphans(t *testing.T, f fixture, dsn, logs, spool string, cmds ...[]string) []jobs.Job {
	t.Helper()
	list, _ := json.Marshal(cmds)
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), "HYGIE_JOBS_HELPER="+string(list), "HYGIE_JOBS_DSN="+dsn, "HYGIE_JOBS_LOGS="+logs, "HYGIE_JOBS_SPOOL="+spool)
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })
	sc := bufio.NewScanner(out)
	var js []jobs.Job
	for range cmds {
		if !sc.Scan() {
			t.Fatalf("helper ended early: %v", sc.Err())
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "job "), 10, 64)
		if err != nil {
			t.Fatalf("helper printed %q", sc.Text())
		}
		var j jobs.Job
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if j, err = f.s.Get(f.ctx, id); err != nil || j.State == jobs.Running {
				break
			}
		}
		if j.State != jobs.Running {
			t.Fatalf("job %d of the helper = %+v, %v; want running", id, j, err)
		}
		js = append(js, j)
	}
	// Output copied to the job's log files before the kill (Slurm: tailed).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if logHas(logs, js[0].ID, "started") {
			break
		}
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	return js
}

func logHas(logs string, id int64, s string) bool {
	b, _ := os.ReadFile(filepath.Join(globOne(logs, id), "stdout.txt"))
	return strings.Contains(string(b), s)
}

func globOne(dir string, id int64) string {
	m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("job-%d-*", id)))
	if len(m) == 0 {
		return filepath.Join(dir, "none")
	}
	return m[0]
}

// reconcileDBs runs fn on a SQLite file and a PostgreSQL schema that a
// second process can open too (its dsn).
func reconcileDBs(t *testing.T, fn func(t *testing.T, d *db.DB, dsn string)) {
	ctx := context.Background()
	open := func(t *testing.T, dsn string) *db.DB {
		d, err := db.Open(ctx, dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		if _, err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Run("sqlite", func(t *testing.T) {
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "hygie.db")
		fn(t, open(t, dsn), dsn)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := dbtest.PostgresURL(t)
		fn(t, open(t, dsn), dsn)
	})
}

func (f fixture) service(ex jobs.Executor, logs string) *jobs.Service {
	return jobs.NewService(f.db, f.runs, f.auth, audit.New(f.db), ex, "http://127.0.0.1:1", logs)
}

// TestReconcileLocal kills the process that ran two local jobs, one whose
// process outlives it and one whose process ends meanwhile, while this
// process runs a third: Reconcile (as a restarted server) stops the
// surviving process and records both orphans failed with the reason and
// their output so far, and leaves the third, followed by a live process,
// alone.
func TestReconcileLocal(t *testing.T) {
	reconcileDBs(t, func(t *testing.T, d *db.DB, dsn string) {
		f := setup(t, d, 1)
		logs := t.TempDir()
		live := f.service(jobs.NewLocal(1), logs)
		lj, err := live.Submit(f.ctx, jobs.Request{Project: "proj", Command: []string{"sleep", "30"}})
		if err != nil {
			t.Fatal(err)
		}
		js := startOrphans(t, f, dsn, logs, "",
			[]string{"sh", "-c", "echo started; exec sleep 60"},
			[]string{"sh", "-c", "echo partial; echo oops >&2; sleep 1"})
		survivor, ended := js[0], js[1]
		if !alive(survivor.PID) {
			t.Fatalf("the job's process %d died with its parent", survivor.PID)
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && alive(ended.PID); time.Sleep(50 * time.Millisecond) {
		}

		ex := jobs.NewLocal(1)
		ex.Grace = 500 * time.Millisecond
		restarted := f.service(ex, logs)
		got, err := restarted.Reconcile(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Job.ID != survivor.ID || got[1].Job.ID != ended.ID || got[0].Action != "failed" || got[1].Action != "failed" {
			t.Fatalf("Reconcile = %+v", got)
		}
		checkGone(t, survivor.PID)
		for _, c := range []struct {
			j          jobs.Job
			msg        string
			out, inErr string
		}{
			{survivor, jobs.RestartMessage + "; its processes were stopped", "started\n", jobs.RestartMessage},
			{ended, jobs.RestartMessage, "partial\n", "oops\n" + jobs.RestartMessage + "\n"},
		} {
			j, err := f.s.Get(f.ctx, c.j.ID)
			if err != nil || j.State != jobs.Failed || j.Message != c.msg || j.EndedAt == nil || j.ExitCode != nil {
				t.Errorf("job %d after Reconcile = %+v, %v; want failed: %s", c.j.ID, j, err, c.msg)
				continue
			}
			if out := f.artifact(t, *j.RunID, "logs/stdout.txt"); out != c.out {
				t.Errorf("job %d stdout = %q, want %q", j.ID, out, c.out)
			}
			if e := f.artifact(t, *j.RunID, "logs/stderr.txt"); !strings.Contains(e, c.inErr) {
				t.Errorf("job %d stderr = %q, want it to hold %q", j.ID, e, c.inErr)
			}
			if r, err := f.runs.Get(f.ctx, *j.RunID); err != nil || r.Status != track.Failed {
				t.Errorf("job %d run = %+v, %v", j.ID, r, err)
			}
		}
		if _, err := os.Stat(globOne(logs, survivor.ID)); !os.IsNotExist(err) {
			t.Errorf("log directory of job %d left behind: %v", survivor.ID, err)
		}

		// The job a live process follows is untouched, and a second
		// Reconcile finds nothing to do.
		if j, _ := f.s.Get(f.ctx, lj.ID); j.State != jobs.Running && j.State != jobs.Queued {
			t.Errorf("live job after Reconcile = %+v", j)
		}
		if again, err := restarted.Reconcile(f.ctx); err != nil || len(again) != 0 {
			t.Errorf("second Reconcile = %+v, %v", again, err)
		}
		if j, err := live.Cancel(f.ctx, lj.ID, time.Second); err != nil || j.State != jobs.Cancelled {
			t.Errorf("cancel the live job: %+v, %v", j, err)
		}
	})
}

// TestReconcileSlurm kills the process that submitted a Slurm job while it
// runs: Reconcile re-attaches to it by its Slurm id, and the job ends as it
// does in Slurm, its whole output in its run, each line once.
func TestReconcileSlurm(t *testing.T) {
	slurmCluster(t)
	path := filepath.Join(t.TempDir(), "hygie.db")
	d, err := db.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	spool, logs := t.TempDir(), t.TempDir()
	f := setupWith(t, d, jobs.NewSlurm(jobs.SlurmOptions{SpoolDir: spool, Poll: 100 * time.Millisecond}))
	js := startOrphans(t, f, "sqlite:"+path, logs, spool,
		[]string{"sh", "-c", "echo started; sleep 4; echo done; echo failing >&2; exit 3"})
	j := js[0]
	if j.ExternalID == "" || !logHas(logs, j.ID, "started") {
		t.Fatalf("Slurm job before the kill = %+v (output copied: %v)", j, logHas(logs, j.ID, "started"))
	}
	restarted := f.service(jobs.NewSlurm(jobs.SlurmOptions{SpoolDir: spool, Poll: 100 * time.Millisecond}), logs)
	got, err := restarted.Reconcile(f.ctx)
	if err != nil || len(got) != 1 || got[0].Action != "attached" || got[0].Job.ID != j.ID {
		t.Fatalf("Reconcile = %+v, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, time.Minute)
	defer cancel()
	end, err := restarted.Wait(ctx, j.ID)
	if err != nil || end.State != jobs.Failed || end.ExitCode == nil || *end.ExitCode != 3 || end.Message != "exited with code 3" {
		t.Fatalf("re-attached job = %+v, %v", end, err)
	}
	if out := f.artifact(t, *end.RunID, "logs/stdout.txt"); out != "started\ndone\n" {
		t.Errorf("stdout = %q, want each line once", out)
	}
	if e := f.artifact(t, *end.RunID, "logs/stderr.txt"); e != "failing\n" {
		t.Errorf("stderr = %q", e)
	}
	if r, err := f.runs.Get(f.ctx, *end.RunID); err != nil || r.Status != track.Failed {
		t.Errorf("run = %+v, %v", r, err)
	}
	if again, err := restarted.Reconcile(f.ctx); err != nil || len(again) != 0 {
		t.Errorf("second Reconcile = %+v, %v", again, err)
	}
}
