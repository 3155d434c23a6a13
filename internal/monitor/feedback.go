package monitor

// Feedback into annotation: a prediction a clinician marks incorrect
// becomes a task of an annotation project, added on the clinician's behalf.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/registry"
)

// annotations returns the annotation service checks and retraining use:
// Sources.Annotate, or one on the service's own database.
func (s *Service) annotations() *annotate.Service {
	if s.src.Annotate != nil {
		return s.src.Annotate
	}
	return annotate.NewService(s.db, s.audit, s.src.Datasets)
}

// FeaturesOnly keeps the logged inputs that are inputs of the version's
// signature, when it is known: a page or a task never shows anything but
// the model's features.
func FeaturesOnly(v registry.Version, in map[string]any) map[string]any {
	if len(v.Signature.Inputs) == 0 {
		return in
	}
	out := make(map[string]any, len(v.Signature.Inputs))
	for _, t := range v.Signature.Inputs {
		if x, ok := in[t.Name]; ok {
			out[t.Name] = x
		}
	}
	return out
}

// FeedbackTask is the annotation task of a prediction flagged incorrect:
// its inputs (features only: see FeaturesOnly) as a row, or as "name:
// value" lines for a text classification project, the model's version as
// the task's model, and the clinician's right answer as a suggestion when
// it is a label of the project.
func FeedbackTask(pred Prediction, features map[string]any, ap annotate.Project, corrected string) annotate.NewTask {
	fl := annotate.Flagged{PredictionID: pred.ID, Model: fmt.Sprintf("%s v%d", pred.Model, pred.Version)}
	if ap.Kind == annotate.KindRows {
		fl.Input = map[string]any{}
		for k, v := range features {
			fl.Input[k] = v
		}
	} else {
		keys := make([]string, 0, len(features))
		for k := range features {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, Cell(features[k]))
		}
		fl.Text = b.String()
	}
	t := annotate.FeedbackTasks([]annotate.Flagged{fl})[0]
	if slices.ContainsFunc(ap.Labels, func(l annotate.Label) bool { return l.Name == corrected }) {
		t.Predictions = append(t.Predictions, annotate.Prediction{Model: "clinician feedback", Result: annotate.Result{Choices: []string{corrected}}})
	}
	return t
}

// Cell formats a logged input value as a table cell: numbers in their
// shortest form, text as is, true/false, and "" for a missing value.
func Cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

// FeedbackAnnotation checks that annotation can receive the project's
// predictions flagged incorrect (a classification or rows project) and
// returns it.
func (s *Service) FeedbackAnnotation(ctx context.Context, project, annotation string) (annotate.Project, error) {
	ap, err := s.annotations().Get(ctx, project, annotation)
	if err != nil {
		return ap, err
	}
	if ap.Kind != annotate.KindClassification && ap.Kind != annotate.KindRows {
		return ap, errs.Invalidf("annotation project %s is a %s project: predictions go to classification or rows projects", ap.Name, ap.Kind)
	}
	return ap, nil
}

// SendToAnnotation adds a prediction flagged incorrect to an annotation
// project as a task, on the acting clinician's behalf (feedback.write:
// see annotate.AddFeedbackTasks), with corrected as a suggestion.
func (s *Service) SendToAnnotation(ctx context.Context, pred Prediction, ap annotate.Project, corrected string) (annotate.AddResult, error) {
	features := pred.Inputs
	if s.src.Registry != nil {
		v, err := s.src.Registry.Version(ctx, pred.Model, pred.Version)
		if err != nil {
			return annotate.AddResult{}, err
		}
		features = FeaturesOnly(v, pred.Inputs)
	}
	return s.annotations().AddFeedbackTasks(ctx, pred.Project, ap.Name, []annotate.NewTask{FeedbackTask(pred, features, ap, corrected)})
}
