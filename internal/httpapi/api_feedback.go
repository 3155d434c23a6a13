package httpapi

// Clinician feedback on predictions, its annotation tasks, and retraining
// from the adjudicated corrections.

import (
	"net/http"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/monitor"
)

// feedbackResponse is a recorded feedback and, when sent to an annotation
// project, the task import's result.
type feedbackResponse struct {
	monitor.Feedback
	Annotation string              `json:"annotation,omitempty"`
	Task       *annotate.AddResult `json:"task,omitempty"`
}

func (a *api) feedback(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Verdict    string  `json:"verdict"`
		Corrected  string  `json:"corrected"`
		Comment    string  `json:"comment"`
		Annotation *string `json:"annotation"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("id")
	p, err := a.Monitor.Prediction(ctx, id)
	if err != nil || p.Project != r.PathValue("project") {
		return errs.NotFoundf("prediction %q not found in project %q", id, r.PathValue("project"))
	}
	// Without "annotation", an incorrect prediction goes to the model's
	// feedback annotation project, when it has one ("" sends it nowhere).
	annotation := ""
	if in.Annotation != nil {
		annotation = *in.Annotation
	} else if in.Verdict == "incorrect" && a.Registry != nil {
		if annotation, err = a.Registry.FeedbackAnnotationOf(ctx, p.Model); err != nil {
			return err
		}
	}
	// Check the annotation project before recording anything.
	var ap annotate.Project
	if annotation != "" {
		if in.Verdict != "incorrect" {
			return errs.Invalidf("annotation: only a prediction marked incorrect goes to an annotation project")
		}
		if ap, err = a.Monitor.FeedbackAnnotation(ctx, p.Project, annotation); err != nil {
			return err
		}
	}
	f, err := a.Monitor.RecordFeedback(ctx, id, in.Verdict, in.Corrected, in.Comment)
	if err != nil {
		return err
	}
	out := feedbackResponse{Feedback: f}
	if annotation != "" {
		res, err := a.Monitor.SendToAnnotation(ctx, p, ap, in.Corrected)
		if err != nil {
			return err
		}
		out.Annotation, out.Task = ap.Name, &res
	}
	return WriteJSON(w, http.StatusCreated, out)
}

func (a *api) retrain(w http.ResponseWriter, r *http.Request) error {
	var o monitor.RetrainOptions
	if r.ContentLength != 0 {
		if err := DecodeJSON(r, &o); err != nil {
			return err
		}
	}
	if o.Version < 0 {
		return errs.Invalidf("version %d: want a positive integer (or none: the version in production)", o.Version)
	}
	name := r.PathValue("model")
	if p, err := a.Registry.ProjectOfModel(r.Context(), name); err != nil || p != r.PathValue("project") {
		return errs.NotFoundf("model %q not found in project %q", name, r.PathValue("project"))
	}
	res, err := a.Monitor.Retrain(r.Context(), name, o, nil)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusAccepted, res)
}
