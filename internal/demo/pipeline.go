package demo

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/pipeline"
)

// PipelineFile is the demo's lifecycle as a pipeline (hygie.yaml).
//
//go:embed hygie.yaml
var PipelineFile []byte

// PipelineRun summarises one run of the demo pipeline.
type PipelineRun struct {
	ID       int64             `json:"id"`
	State    string            `json:"state"`
	Duration time.Duration     `json:"duration_ns"`
	Steps    []PipelineStep    `json:"steps"`
	Params   map[string]string `json:"params"`
}

// PipelineStep is a step of a demo pipeline run.
type PipelineStep struct {
	Name     string          `json:"name"`
	State    string          `json:"state"` // succeeded (ran) or cached
	Cached   bool            `json:"cached"`
	JobID    *int64          `json:"job_id,omitempty"`
	Duration time.Duration   `json:"duration_ns"`
	Output   pipeline.Output `json:"output"`
}

func (r PipelineRun) output(step string) pipeline.Output {
	for _, s := range r.Steps {
		if s.Name == step {
			return s.Output
		}
	}
	return pipeline.Output{}
}

func (r PipelineRun) names(cached bool) string {
	var out []string
	for _, s := range r.Steps {
		if s.Cached == cached {
			out = append(out, s.Name)
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}

// Ran lists the steps that ran; Reused those whose outputs were reused.
func (r PipelineRun) ran() string    { return r.names(false) }
func (r PipelineRun) reused() string { return r.names(true) }

// runPipeline runs the demo pipeline and prints each step.
func runPipeline(ctx context.Context, a *app.App, out io.Writer, spec *pipeline.Spec, values map[string]string, baseURL, trigger string) (PipelineRun, error) {
	var buf strings.Builder
	rec, _, err := a.Pipelines.Run(ctx, Project, spec, pipeline.RunOptions{Trigger: trigger, Params: values, TrackingURI: baseURL, Out: &buf})
	for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		fmt.Fprintf(out, "  %s\n", line)
	}
	if err != nil {
		return PipelineRun{}, err
	}
	r := PipelineRun{ID: rec.ID, State: rec.State, Params: values}
	if rec.EndedAt != nil {
		r.Duration = rec.EndedAt.Sub(rec.CreatedAt)
	}
	for _, s := range rec.Steps {
		ps := PipelineStep{Name: s.Name, State: s.State, Cached: s.Cached, JobID: s.JobID, Duration: s.Duration()}
		if len(s.Outputs) > 0 {
			ps.Output = s.Outputs[0]
		}
		r.Steps = append(r.Steps, ps)
	}
	return r, nil
}
