package jobs_test

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/track"
)

type fixture struct {
	db   *db.DB
	s    *jobs.Service
	runs *track.Service
	auth *auth.Service
	ctx  context.Context
}

// setup returns a job service over d with project "proj" and a context
// acting as scientist "sam".
func setup(t *testing.T, d *db.DB, slots int) fixture {
	t.Helper()
	ex := jobs.NewLocal(slots)
	ex.Grace = 500 * time.Millisecond
	return setupWith(t, d, ex)
}

// setupWith is setup with the given executor.
func setupWith(t *testing.T, d *db.DB, ex jobs.Executor) fixture {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "test")
	al := audit.New(d)
	if _, err := project.NewService(d, al).Create(ctx, "proj", "", ""); err != nil {
		t.Fatal(err)
	}
	as := auth.NewService(d, al)
	if _, err := as.CreateUser(ctx, "sam", "Sam", "", false); err != nil {
		t.Fatal(err)
	}
	if err := as.Grant(ctx, "proj", "sam", auth.RoleScientist); err != nil {
		t.Fatal(err)
	}
	p, err := as.PrincipalOf(ctx, "sam")
	if err != nil {
		t.Fatal(err)
	}
	runs := track.NewService(d, blob.NewMemory(), al)
	s := jobs.NewService(d, runs, as, al, ex, "http://127.0.0.1:8080", t.TempDir())
	return fixture{db: d, s: s, runs: runs, auth: as, ctx: auth.WithPrincipal(ctx, p)}
}

func (f fixture) run(t *testing.T, req jobs.Request) jobs.Job {
	t.Helper()
	if req.Project == "" {
		req.Project = "proj"
	}
	j, err := f.s.Submit(f.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	j, err = f.s.Wait(f.ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (f fixture) artifact(t *testing.T, runID int64, p string) string {
	t.Helper()
	r, err := f.runs.OpenArtifact(f.ctx, runID, p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

func TestFailedAndSucceeded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, 2)
		j := f.run(t, jobs.Request{Command: []string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}})
		if j.State != jobs.Failed || j.ExitCode == nil || *j.ExitCode != 3 || j.RunID == nil || j.Executor != "local" {
			t.Fatalf("job = %+v", j)
		}
		if j.StartedAt == nil || j.EndedAt == nil || j.PID == 0 {
			t.Errorf("timestamps/pid not recorded: %+v", j)
		}
		if got := f.artifact(t, *j.RunID, "logs/stdout.txt"); got != "hello\n" {
			t.Errorf("stdout = %q", got)
		}
		if got := f.artifact(t, *j.RunID, "logs/stderr.txt"); got != "oops\n" {
			t.Errorf("stderr = %q", got)
		}
		r, err := f.runs.Get(f.ctx, *j.RunID)
		if err != nil || r.Status != track.Failed {
			t.Errorf("run = %+v, %v", r, err)
		}

		var out strings.Builder
		ok := f.run(t, jobs.Request{Experiment: "exp", Command: []string{"echo", "fine"}, Stdout: &out})
		if ok.State != jobs.Succeeded || *ok.ExitCode != 0 || out.String() != "fine\n" {
			t.Fatalf("job = %+v, streamed %q", ok, out.String())
		}
		r, _ = f.runs.Get(f.ctx, *ok.RunID)
		if r.Status != track.Finished || r.Experiment != "exp" {
			t.Errorf("run = %+v", r)
		}
		list, err := f.s.List(f.ctx, "proj")
		if err != nil || len(list) != 2 || list[0].ID != ok.ID || list[1].Command[2] != "echo hello; echo oops >&2; exit 3" {
			t.Errorf("List = %+v, %v", list, err)
		}
		got, err := f.s.Get(f.ctx, j.ID)
		if err != nil || got.State != jobs.Failed {
			t.Errorf("Get = %+v, %v", got, err)
		}
	})
}

func TestEnvironmentAndToken(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, 1)
		t.Setenv("HYGIE_SECRET_SETTING", "must-not-leak")
		j := f.run(t, jobs.Request{Command: []string{"sh", "-c",
			`echo "$MLFLOW_RUN_ID|$MLFLOW_EXPERIMENT_ID|$HYGIE_JOB_ID|$MLFLOW_TRACKING_URI|$HYGIE_SECRET_SETTING"; echo "$MLFLOW_TRACKING_TOKEN" >&2`}})
		if j.State != jobs.Succeeded {
			t.Fatalf("job = %+v", j)
		}
		r, _ := f.runs.Get(f.ctx, *j.RunID)
		want := strconv.FormatInt(r.ID, 10) + "|" + strconv.FormatInt(r.ExperimentID, 10) + "|" + strconv.FormatInt(j.ID, 10) + "|http://127.0.0.1:8080|\n"
		if got := f.artifact(t, *j.RunID, "logs/stdout.txt"); got != want {
			t.Errorf("env = %q, want %q", got, want)
		}
		secret := strings.TrimSpace(f.artifact(t, *j.RunID, "logs/stderr.txt"))
		if !strings.HasPrefix(secret, "hyg_") {
			t.Fatalf("token = %q", secret)
		}
		if _, err := f.auth.Authenticate(f.ctx, "", secret); err == nil {
			t.Error("the job's token still works after the job")
		}
		toks, _ := f.auth.Tokens(f.ctx, "sam")
		if len(toks) != 1 || toks[0].RevokedAt == nil || toks[0].ExpiresAt == nil {
			t.Errorf("tokens = %+v", toks)
		}
	})
}

// syncBuffer is a strings.Builder safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestTokenWorksDuringJob(t *testing.T) {
	d := dbtest.SQLite(t)
	f := setup(t, d, 1)
	var out syncBuffer
	j, err := f.s.Submit(f.ctx, jobs.Request{Project: "proj", Stdout: &out, Command: []string{"sh", "-c", `echo "$MLFLOW_TRACKING_TOKEN"; sleep 30`}})
	if err != nil {
		t.Fatal(err)
	}
	var secret string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.HasSuffix(secret, "\n"); time.Sleep(20 * time.Millisecond) {
		secret = out.String()
	}
	secret = strings.TrimSpace(secret)
	p, err := f.auth.Authenticate(f.ctx, "", secret)
	if err != nil || p.Username != "sam" {
		t.Fatalf("the job's token while it runs: %v, %v", p, err)
	}
	if _, err := f.s.Cancel(f.ctx, j.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Authenticate(f.ctx, "", secret); err == nil {
		t.Error("token still works after cancel")
	}
}

func TestTimeLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, 1)
		start := time.Now()
		j := f.run(t, jobs.Request{Command: []string{"sleep", "30"}, Resources: jobs.Resources{TimeLimit: time.Second}})
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %s", el)
		}
		if j.State != jobs.Failed || !strings.Contains(j.Message, "time limit") {
			t.Errorf("job = %+v", j)
		}
		r, _ := f.runs.Get(f.ctx, *j.RunID)
		if r.Status != track.Failed {
			t.Errorf("run = %s", r.Status)
		}
	})
}

// alive reports whether pid runs (a zombie, killed but not yet reaped by
// its new parent, does not count).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestCancelKillsGroup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, 1)
		// The shell starts a child sleep and reports its pid.
		pidFile := t.TempDir() + "/child"
		j, err := f.s.Submit(f.ctx, jobs.Request{Project: "proj", Command: []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}})
		if err != nil {
			t.Fatal(err)
		}
		var child int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && child == 0; time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(pidFile)
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if child == 0 {
			t.Fatal("child never started")
		}
		start := time.Now()
		j, err = f.s.Cancel(f.ctx, j.ID, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != jobs.Cancelled || time.Since(start) > 3*time.Second {
			t.Errorf("job = %+v after %s", j, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
		if alive(child) {
			t.Errorf("child %d of the cancelled job is still alive", child)
			syscall.Kill(child, syscall.SIGKILL)
		}
		r, _ := f.runs.Get(f.ctx, *j.RunID)
		if r.Status != track.Killed {
			t.Errorf("run = %s", r.Status)
		}
		if _, err := f.s.Cancel(f.ctx, j.ID, time.Second); err == nil {
			t.Error("cancelling an ended job succeeded")
		}
	})
}

func TestBadCommand(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, 1)
		j := f.run(t, jobs.Request{Command: []string{"/no/such/command-hygie"}})
		if j.State != jobs.Failed || j.ExitCode != nil || j.Message != `cannot start "/no/such/command-hygie": no such file or directory` || j.EndedAt == nil {
			t.Fatalf("job = %+v", j)
		}
		r, _ := f.runs.Get(f.ctx, *j.RunID)
		if r.Status != track.Failed {
			t.Errorf("run = %s", r.Status)
		}
		if got := f.artifact(t, *j.RunID, "logs/stderr.txt"); !strings.Contains(got, "cannot start") {
			t.Errorf("stderr = %q", got)
		}
		toks, _ := f.auth.Tokens(f.ctx, "sam")
		if len(toks) != 1 || toks[0].RevokedAt == nil {
			t.Errorf("tokens = %+v", toks)
		}
		if _, err := f.s.Submit(f.ctx, jobs.Request{Project: "proj"}); err == nil {
			t.Error("empty command accepted")
		}
	})
}

func TestConcurrencyBound(t *testing.T) {
	d := dbtest.SQLite(t)
	f := setup(t, d, 2)
	dir := t.TempDir()
	// Each job marks itself running in a file, records how many are, waits, and unmarks.
	script := `touch ` + dir + `/$HYGIE_JOB_ID; ls ` + dir + ` | wc -l >> ` + dir + `.max; sleep 0.3; rm ` + dir + `/$HYGIE_JOB_ID`
	var ids []int64
	for range 5 {
		j, err := f.s.Submit(f.ctx, jobs.Request{Project: "proj", Command: []string{"sh", "-c", script}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		j, err := f.s.Wait(f.ctx, id)
		if err != nil || j.State != jobs.Succeeded {
			t.Fatalf("job = %+v, %v", j, err)
		}
	}
	b, _ := os.ReadFile(dir + ".max")
	counts := strings.Fields(string(b))
	if len(counts) != 5 {
		t.Fatalf("counts = %q", counts)
	}
	for _, c := range counts {
		if n, _ := strconv.Atoi(c); n > 2 {
			t.Errorf("%d jobs ran at once, bound is 2", n)
		}
	}
}

func TestLocalQueuedCancel(t *testing.T) {
	l := jobs.NewLocal(1)
	l.Grace = 200 * time.Millisecond
	ctx := context.Background()
	if err := l.Submit(ctx, jobs.Spec{JobID: 1, Argv: []string{"sleep", "30"}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, _ := l.State(1); st == jobs.Running {
			break
		}
	}
	if err := l.Submit(ctx, jobs.Spec{JobID: 2, Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if st, _ := l.State(2); st != jobs.Queued {
		t.Errorf("second job state = %s, want queued", st)
	}
	l.Cancel(2)
	l.Cancel(1)
	for _, id := range []int64{1, 2} {
		r, err := l.Wait(id)
		if err != nil || r.State != jobs.Cancelled {
			t.Errorf("job %d: %+v, %v", id, r, err)
		}
	}
}

// TestCancelFromAnotherProcess cancels through a second service (standing for
// another hygie process on this machine): it signals the job's process
// group, and the owner records the end.
func TestCancelFromAnotherProcess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d, 1)
		other := jobs.NewService(d, f.runs, f.auth, audit.New(d), jobs.NewLocal(1), "http://x", t.TempDir())
		j, err := f.s.Submit(f.ctx, jobs.Request{Project: "proj", Command: []string{"sleep", "30"}})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && j.PID == 0; time.Sleep(20 * time.Millisecond) {
			j, _ = f.s.Get(f.ctx, j.ID)
		}
		start := time.Now()
		got, err := other.Cancel(f.ctx, j.ID, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != jobs.Cancelled || time.Since(start) > 4*time.Second {
			t.Errorf("job = %+v after %s", got, time.Since(start))
		}
		if alive(j.PID) {
			t.Errorf("job process %d still alive", j.PID)
		}
		if _, err := f.s.Wait(f.ctx, j.ID); err != nil {
			t.Error(err)
		}
	})
}
