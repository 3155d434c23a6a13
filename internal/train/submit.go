package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
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

// JobMain runs a training job from its command line (args after
// JobCommand: --spec JSON) and returns the exit code. The hygie binary's
// train-job command calls it, and so do test binaries standing in for
// hygie (see MainIfJob).
func JobMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "--spec" {
		fmt.Fprintln(stderr, "usage: hygie train-job --spec JSON")
		return 2
	}
	var spec Spec
	if err := json.Unmarshal([]byte(args[1]), &spec); err != nil {
		fmt.Fprintf(stderr, "hygie train-job: --spec: %v\n", err)
		return 2
	}
	if _, err := RunJob(ctx, spec, stdout); err != nil {
		fmt.Fprintf(stderr, "hygie train-job: %v\n", err)
		return 1
	}
	return 0
}

// MainIfJob lets a test binary act as hygie for training and audit jobs:
// called first in TestMain, it runs the job and exits when the binary was
// started as `BINARY train-job --spec JSON` or `BINARY audit-job --spec
// JSON` (jobs run App.Executable, the test binary under go test).
func MainIfJob() {
	if len(os.Args) > 1 && os.Args[1] == JobCommand {
		os.Exit(JobMain(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == AuditJobCommand {
		os.Exit(AuditJobMain(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
}
