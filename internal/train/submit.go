package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
)

// JobCommand is the hygie subcommand a training job runs.
const JobCommand = "train-job"

// Submit checks spec against its dataset version (spec.Dataset is
// "name@version" in spec.Project) and submits it as a job running
// `exe train-job --spec JSON`. req carries the job's experiment, resources,
// output writers and tracking URI; its command, project and input are set
// here. The acting principal needs dataset.read and run.write.
func Submit(ctx context.Context, ds *dataset.Service, js *jobs.Service, exe string, spec Spec, req jobs.Request) (jobs.Job, Spec, error) {
	name, ver, err := ParseRef(spec.Dataset)
	if err != nil {
		return jobs.Job{}, spec, err
	}
	if err := auth.Require(ctx, spec.Project, auth.PermRunWrite); err != nil {
		return jobs.Job{}, spec, err
	}
	v, err := ds.Get(ctx, spec.Project, name, ver)
	if err != nil {
		return jobs.Job{}, spec, err
	}
	if err := FromVersion(&spec, v); err != nil {
		return jobs.Job{}, spec, err
	}
	spec.Defaults()
	if err := spec.Check(); err != nil {
		return jobs.Job{}, spec, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return jobs.Job{}, spec, err
	}
	req.Project = spec.Project
	req.Command = []string{exe, JobCommand, "--spec", string(b)}
	req.DatasetVersionID = &v.ID
	j, err := js.Submit(ctx, req)
	return j, spec, err
}

// Workers are the commands hygie's own jobs run (`hygie NAME --spec
// JSON`): training, the privacy audit, the de-identifier's training. Each
// decodes its spec and does the work, writing progress to w.
var Workers = map[string]Worker{
	JobCommand: worker("Run a training job's work", func(ctx context.Context, s Spec, w io.Writer) error {
		_, err := RunJob(ctx, s, w)
		return err
	}),
	AuditJobCommand: worker("Run a privacy audit job's work", func(ctx context.Context, s AuditSpec, w io.Writer) error {
		_, err := RunAuditJob(ctx, s, w)
		return err
	}),
	DeidJobCommand: worker("Run a de-identifier training job's work", func(ctx context.Context, s DeidSpec, w io.Writer) error {
		_, err := RunDeidJob(ctx, s, w)
		return err
	}),
}

// Worker is one of hygie's job commands.
type Worker struct {
	Short string
	// Run decodes the JSON spec (errs.Invalid when malformed) and runs it.
	Run func(ctx context.Context, spec []byte, w io.Writer) error
}

func worker[S any](short string, run func(context.Context, S, io.Writer) error) Worker {
	return Worker{Short: short, Run: func(ctx context.Context, b []byte, w io.Writer) error {
		var spec S
		if err := json.Unmarshal(b, &spec); err != nil {
			return errs.Invalidf("--spec: %v", err)
		}
		return run(ctx, spec, w)
	}}
}

// MainIfJob lets a test binary act as hygie for its own jobs: called first
// in TestMain, it runs the job and exits when the binary was started as
// `BINARY NAME --spec JSON` for a NAME of Workers (jobs run App.Executable,
// the test binary under go test).
func MainIfJob() {
	if len(os.Args) < 2 {
		return
	}
	w, ok := Workers[os.Args[1]]
	if !ok {
		return
	}
	if len(os.Args) != 4 || os.Args[2] != "--spec" {
		fmt.Fprintf(os.Stderr, "usage: hygie %s --spec JSON\n", os.Args[1])
		os.Exit(2)
	}
	if err := w.Run(context.Background(), []byte(os.Args[3]), os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "hygie %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	os.Exit(0)
}
