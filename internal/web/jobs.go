package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/jobs"
)

// maxLogBytes is how much of each output stream a job page shows (the
// end of it); the whole file is a download.
const maxLogBytes = 128 << 10

// jobURL is a job's page.
func jobURL(project string, id int64) string {
	return "/projects/" + url.PathEscape(project) + "/jobs/" + strconv.FormatInt(id, 10)
}

// commandText shows a command line, quoting words that need it.
func commandText(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`|&;<>()*?[]{}") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// jobs returns the job service, or NotFound when the UI runs without one.
func (u *UI) jobs() (*jobs.Service, error) {
	if u.d.Jobs == nil {
		return nil, errs.NotFoundf("jobs are not enabled on this server")
	}
	return u.d.Jobs, nil
}

type jobRow struct {
	jobs.Job
	CommandText string
	URL         string
	RunURL      string
}

func newJobRow(j jobs.Job) jobRow {
	row := jobRow{Job: j, CommandText: commandText(j.Command), URL: jobURL(j.Project, j.ID)}
	if j.RunID != nil {
		row.RunURL = runURL(j.Project, *j.RunID)
	}
	return row
}

type jobsData struct {
	Project string
	Jobs    []jobRow
}

// jobsPage lists a project's jobs, newest first.
func (u *UI) jobsPage(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.jobs()
	if err != nil {
		return err
	}
	ctx := r.Context()
	name := r.PathValue("project")
	if _, err := u.d.Projects.Get(ctx, name); err != nil {
		return err
	}
	js, err := svc.List(ctx, name)
	if err != nil {
		return err
	}
	d := jobsData{Project: name}
	for _, j := range js {
		d.Jobs = append(d.Jobs, newJobRow(j))
	}
	return u.render(w, http.StatusOK, "jobs", u.newPage(r, "Jobs · "+name, "projects", d))
}

// logView is one captured output stream.
type logView struct {
	Stream    string
	Text      string
	Truncated bool
	URL       string // the whole file
	Missing   bool
}

type jobData struct {
	Project   string
	Job       jobRow
	Terminal  bool
	CanCancel bool
	Flash     string
	Logs      []logView
}

// jobPage shows a job, its output once it has ended, and a Cancel button
// while it has not.
func (u *UI) jobPage(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.jobs()
	if err != nil {
		return err
	}
	ctx := r.Context()
	j, err := httpapi.ProjectJob(r, svc)
	if err != nil {
		return err
	}
	d := jobData{Project: j.Project, Job: newJobRow(j), Terminal: jobs.Terminal(j.State)}
	d.CanCancel = !d.Terminal && auth.FromContext(ctx).Can(j.Project, auth.PermRunWrite)
	if r.URL.Query().Get("cancelled") == "1" {
		d.Flash = "Cancellation requested: the job is " + j.State + "."
	}
	if d.Terminal && j.RunID != nil {
		for _, stream := range []string{"stdout", "stderr"} {
			d.Logs = append(d.Logs, u.jobLog(ctx, j, stream))
		}
	}
	return u.render(w, http.StatusOK, "job", u.newPage(r, "Job "+strconv.FormatInt(j.ID, 10)+" · "+j.Project, "projects", d))
}

// jobLog reads the end of an ended job's output stream from its run.
func (u *UI) jobLog(ctx context.Context, j jobs.Job, stream string) logView {
	name, _ := httpapi.JobLogArtifact(stream)
	lv := logView{Stream: stream, URL: artifactURL(j.Project, *j.RunID, name)}
	rc, err := u.d.Runs.OpenArtifact(ctx, *j.RunID, name)
	if err != nil {
		lv.Missing = true
		return lv
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		lv.Missing = true
		return lv
	}
	if len(data) > maxLogBytes {
		data = data[len(data)-maxLogBytes:]
		// Start on a whole character and a whole line.
		for len(data) > 0 && !utf8.RuneStart(data[0]) {
			data = data[1:]
		}
		if i := strings.IndexByte(string(data), '\n'); i >= 0 && i < 4096 {
			data = data[i+1:]
		}
		lv.Truncated = true
	}
	lv.Text = strings.ToValidUTF8(string(data), "\uFFFD")
	return lv
}

// cancelJob cancels a job from its page (post/redirect/get).
func (u *UI) cancelJob(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.jobs()
	if err != nil {
		return err
	}
	j, err := httpapi.ProjectJob(r, svc)
	if err != nil {
		return err
	}
	if _, err := svc.Cancel(r.Context(), j.ID, httpapi.CancelGrace); err != nil {
		return err
	}
	http.Redirect(w, r, jobURL(j.Project, j.ID)+"?cancelled=1", http.StatusSeeOther)
	return nil
}
