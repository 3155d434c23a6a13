package httpapi

import (
	"io"
	"net/http"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/track"
)

// CancelGrace is how long a cancelled job run by another process on this
// machine has between SIGTERM and SIGKILL.
const CancelGrace = 5 * time.Second

// AddJobsAPI registers the jobs endpoints: list, show, read the captured
// output, cancel. Submitting an arbitrary command over HTTP is deliberately
// not offered: it would be remote code execution on the server. Jobs are
// submitted from the command line (hygie job submit) or as built-in
// training jobs.
func (s *Server) AddJobsAPI(j *jobs.Service, runs *track.Service) {
	a := &jobsAPI{jobs: j, runs: runs}
	const tag = "jobs"
	s.Add(
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/jobs", Summary: "Jobs, newest first", Tag: tag, Scope: Project, Perm: auth.PermRunRead, Handler: a.list},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/jobs/{job}", Summary: "A job: command, executor, state, exit code, times and its run", Tag: tag, Scope: Project, Perm: auth.PermRunRead, Handler: a.get},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/jobs/{job}/logs", Summary: "A job's captured output as text (query: stream=stdout|stderr, default stdout); available once the job has ended (409 while it runs)", Tag: tag, Scope: Project, Perm: auth.PermRunRead, Handler: a.logs},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/jobs/{job}/cancel", Summary: "Cancel a queued or running job (409 if it has already ended)", Tag: tag, Scope: Project, Perm: auth.PermRunWrite, Handler: a.cancel},
	)
}

type jobsAPI struct {
	jobs *jobs.Service
	runs *track.Service
}

func (a *jobsAPI) list(w http.ResponseWriter, r *http.Request) error {
	js, err := a.jobs.List(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"jobs": orEmpty(js)})
}

// ProjectJob returns job {job} of project {project}. A job of another
// project is not found, whether or not the caller may read that project.
func ProjectJob(r *http.Request, svc *jobs.Service) (jobs.Job, error) {
	id, err := pathInt(r, "job")
	if err != nil {
		return jobs.Job{}, err
	}
	project := r.PathValue("project")
	j, err := svc.Get(r.Context(), int64(id))
	if err == nil && j.Project == project {
		return j, nil
	}
	if err != nil && !errs.Is(err, errs.NotFound) && !errs.Is(err, errs.Forbidden) {
		return jobs.Job{}, err
	}
	return jobs.Job{}, errs.NotFoundf("job %d not found in project %q", id, project)
}

func (a *jobsAPI) get(w http.ResponseWriter, r *http.Request) error {
	j, err := ProjectJob(r, a.jobs)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, j)
}

// JobLogArtifact is the run artifact holding a job's stream (stdout or
// stderr), saved when the job ends.
func JobLogArtifact(stream string) (string, error) {
	switch stream {
	case "", "stdout":
		return "logs/stdout.txt", nil
	case "stderr":
		return "logs/stderr.txt", nil
	}
	return "", errs.Invalidf("query stream: want stdout or stderr, got %q", stream)
}

func (a *jobsAPI) logs(w http.ResponseWriter, r *http.Request) error {
	name, err := JobLogArtifact(r.URL.Query().Get("stream"))
	if err != nil {
		return err
	}
	j, err := ProjectJob(r, a.jobs)
	if err != nil {
		return err
	}
	if !jobs.Terminal(j.State) {
		return errs.Conflictf("job %d is %s: its output is attached to its run when it ends; read it then", j.ID, j.State)
	}
	if j.RunID == nil {
		return errs.NotFoundf("job %d has no run, hence no captured output (message: %s)", j.ID, j.Message)
	}
	rc, err := a.runs.OpenArtifact(r.Context(), *j.RunID, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, err = io.Copy(w, rc)
	return err
}

func (a *jobsAPI) cancel(w http.ResponseWriter, r *http.Request) error {
	j, err := ProjectJob(r, a.jobs)
	if err != nil {
		return err
	}
	j, err = a.jobs.Cancel(r.Context(), j.ID, CancelGrace)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, j)
}
