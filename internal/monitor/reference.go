package monitor

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

// Sources are the services a check reads: the registry (versions in
// production), the training runs (the model artifact, the dataset version
// and threshold a version was trained with) and the datasets (the
// reference data). Retraining (Retrain) also uses Annotate (the feedback
// tasks' gold; one on the monitoring database when nil) and Train (submits
// a training job, as train.Submit).
type Sources struct {
	Registry *registry.Service
	Runs     *track.Service
	Datasets *dataset.Service
	Annotate *annotate.Service
	Train    func(ctx context.Context, spec train.Spec, experiment string) (jobs.Job, train.Spec, error)
}

// RefInfo describes a check's reference.
type RefInfo struct {
	Dataset   string  `json:"dataset"` // name@version
	Rows      int     `json:"rows"`    // rows used (the training split)
	Split     string  `json:"split,omitempty"`
	Task      string  `json:"task"`
	Threshold float64 `json:"threshold,omitempty"` // binary: the decision threshold
	Note      string  `json:"note,omitempty"`
}

// reference is a model version's reference, kept in memory: the training
// data restricted to the model's inputs and the model's predictions on it.
type reference struct {
	info   RefInfo
	model  *model.Model
	cols   []Column
	scores []float64
}

// refCache keeps the reference of each model version (a version's training
// data never changes).
type refCache struct {
	mu sync.Mutex
	m  map[int64]*reference
}

func (c *refCache) get(id int64) *reference {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *refCache) put(id int64, r *reference) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 32 {
		c.m = map[int64]*reference{}
	}
	c.m[id] = r
}

// loadModel reads a version's hygie model (the registry reads it).
func (s *Service) loadModel(ctx context.Context, v registry.Version) (*model.Model, error) {
	if v.Flavor != model.Format {
		return nil, errs.Invalidf("model %s version %d has flavor %q: monitoring needs a model trained by hygie (%s)", v.Model, v.Version, v.Flavor, model.Format)
	}
	return s.src.Registry.LoadModel(ctx, v)
}

// reference returns v's reference: the rows of the training split of the
// dataset version its run recorded (param "dataset"), or all its rows when
// the split cannot be recomputed (said in the note), restricted to the
// model's inputs, and the model's predictions on them. The caller must be
// allowed to read the dataset.
func (s *Service) reference(ctx context.Context, v registry.Version) (*reference, error) {
	if r := s.refs.get(v.ID); r != nil {
		return r, nil
	}
	if v.RunID == nil {
		return nil, errs.Invalidf("model %s version %d has no training run: no reference data", v.Model, v.Version)
	}
	m, err := s.loadModel(ctx, v)
	if err != nil {
		return nil, err
	}
	run, err := s.src.Runs.Get(ctx, *v.RunID)
	if err != nil {
		return nil, err
	}
	name, ver, err := train.ParseRef(run.Params["dataset"])
	if err != nil {
		return nil, errs.Invalidf("the training run %d records no dataset version (param dataset): no reference data", run.ID)
	}
	dv, err := s.src.Datasets.Get(ctx, v.Project, name, ver)
	if err != nil {
		return nil, err
	}
	f, err := s.src.Datasets.ReadFrame(ctx, dv)
	if err != nil {
		return nil, err
	}
	ref := &reference{model: m, info: RefInfo{Dataset: dv.Ref(), Task: m.Task}}
	if m.Task == model.Binary {
		ref.info.Threshold = 0.5
		if t, err := strconv.ParseFloat(run.Params["threshold"], 64); err == nil && t > 0 && t < 1 {
			ref.info.Threshold = t
		}
	}
	// The model's inputs, and the columns the split needs.
	t := &model.Table{}
	for _, in := range m.Inputs {
		vec, err := f.Col(in.Name)
		if err != nil {
			return nil, errs.Invalidf("the reference %s lacks the model's input %q", dv.Ref(), in.Name)
		}
		t.Cols = append(t.Cols, vecColumn(in.Name, vec, in.Type == model.Numeric))
	}
	for _, extra := range []string{run.Params["group"], run.Params["split_column"]} {
		if extra == "" || t.Col(extra) != nil {
			continue
		}
		if vec, err := f.Col(extra); err == nil {
			t.Cols = append(t.Cols, vecColumn(extra, vec, false))
		}
	}
	rows := make([]int, t.Rows())
	for i := range rows {
		rows[i] = i
	}
	if spec, err := train.SpecFromParams(run.Params); err != nil {
		ref.info.Note = "all rows of the dataset version: the run does not record its training split"
	} else if trainRows, _, how, err := train.LockedSplit(t, spec); err != nil {
		ref.info.Note = "all rows of the dataset version: " + errs.MessageOf(err)
	} else {
		rows, ref.info.Split = trainRows, how
	}
	t = t.Subset(rows)
	ref.info.Rows = len(rows)
	if ref.scores, err = m.Predict(t); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "scoring the reference")
	}
	for _, in := range m.Inputs {
		c := t.Col(in.Name)
		col := Column{Name: in.Name, Num: c.Num, Cat: catCells(c)}
		if col.Num != nil {
			// Sorted once for every later check (NaNs last; drift drops them).
			col.Num = sortedWithNaN(col.Num)
		}
		ref.cols = append(ref.cols, col)
	}
	ref.scores = sortedWithNaN(ref.scores)
	s.refs.put(v.ID, ref)
	return ref, nil
}

// vecColumn converts a dataset column: numbers (NaN missing) or text.
func vecColumn(name string, v *dataset.Vec, numeric bool) model.Column {
	n := v.Len()
	c := model.Column{Name: name}
	if numeric {
		c.Num = make([]float64, n)
		for i := range n {
			if x, ok := v.Float(i); ok {
				c.Num[i] = x
			} else if x, err := strconv.ParseFloat(strings.TrimSpace(v.String(i)), 64); err == nil && v.Type != dataset.TypeFloat && !v.IsNull(i) {
				c.Num[i] = x // numbers stored as text
			} else {
				c.Num[i] = math.NaN()
			}
		}
		return c
	}
	c.Text = make([]string, n)
	for i := range n {
		c.Text[i] = v.String(i)
	}
	return c
}

// catCells is a text column's cells with missing ones as "".
func catCells(c *model.Column) []string {
	if c.Num != nil {
		return nil
	}
	out := make([]string, len(c.Text))
	for i, s := range c.Text {
		if !model.IsMissing(s) {
			out[i] = strings.TrimSpace(s)
		}
	}
	return out
}

// window is a check window's current data: the logged predictions' inputs
// and scores, and the outcomes feedback gives.
type window struct {
	cols   []Column
	scores []float64
	y      []int     // labelled outcomes
	ys     []float64 // their scores
}

// current reads v's predictions logged since from, and the outcomes
// feedback gives (see labelled).
func (s *Service) current(ctx context.Context, v registry.Version, ref *reference, from time.Time, lastN int) (*window, error) {
	rows, err := s.db.Query(ctx, `SELECT inputs_json, outputs_json FROM predictions WHERE model_version_id = ? AND at >= ? ORDER BY at, id`, v.ID, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	w := &window{cols: make([]Column, len(ref.model.Inputs))}
	for k, in := range ref.model.Inputs {
		w.cols[k].Name = in.Name
		if in.Type == model.Numeric {
			w.cols[k].Num = []float64{}
		} else {
			w.cols[k].Cat = []string{}
		}
	}
	for rows.Next() {
		var inJSON, outJSON string
		if err := rows.Scan(&inJSON, &outJSON); err != nil {
			return nil, err
		}
		var in map[string]any
		var out map[string]float64
		if json.Unmarshal([]byte(inJSON), &in) != nil || json.Unmarshal([]byte(outJSON), &out) != nil {
			continue
		}
		score := math.NaN()
		for _, y := range out { // one output per prediction
			score = y
		}
		w.scores = append(w.scores, score)
		for k := range w.cols {
			x := in[w.cols[k].Name]
			if w.cols[k].Num != nil {
				f, ok := x.(float64)
				if !ok {
					f = math.NaN()
				}
				w.cols[k].Num = append(w.cols[k].Num, f)
			} else {
				s := ""
				switch x := x.(type) {
				case string:
					if !model.IsMissing(x) {
						s = strings.TrimSpace(x)
					}
				case float64:
					s = strconv.FormatFloat(x, 'f', -1, 64)
				}
				w.cols[k].Cat = append(w.cols[k].Cat, s)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if ref.model.Task != model.Binary {
		return w, nil
	}
	w.y, w.ys, err = s.labelled(ctx, v, ref, from, lastN)
	return w, err
}

// labelled reads the outcomes feedback gives on v's predictions (the
// latest verdict other than "unsure" on each): those logged since from, or
// with lastN > 0 the lastN most recent labelled predictions, whenever
// logged. It returns the outcomes and the predictions' scores.
func (s *Service) labelled(ctx context.Context, v registry.Version, ref *reference, from time.Time, lastN int) ([]int, []float64, error) {
	q := `SELECT pr.id, pr.outputs_json, f.verdict, f.corrected FROM feedback f JOIN predictions pr ON pr.id = f.prediction_id
		WHERE pr.model_version_id = ? AND f.verdict <> 'unsure'`
	args := []any{v.ID}
	if lastN <= 0 {
		q += ` AND pr.at >= ?`
		args = append(args, from)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY pr.at, pr.id, f.id`, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	type lab struct {
		score float64
		code  int
	}
	var order []string
	byID := map[string]*lab{}
	for rows.Next() {
		var id, outJSON, verdict, corrected string
		if err := rows.Scan(&id, &outJSON, &verdict, &corrected); err != nil {
			return nil, nil, err
		}
		l, ok := byID[id]
		if !ok {
			var out map[string]float64
			if json.Unmarshal([]byte(outJSON), &out) != nil || len(out) != 1 {
				continue
			}
			l = &lab{score: math.NaN()}
			for _, y := range out {
				l.score = y
			}
			if math.IsNaN(l.score) {
				continue
			}
			byID[id] = l
			order = append(order, id)
		}
		l.code = labelOf(verdict, corrected, ref.model.Positive)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if lastN > 0 && len(order) > lastN {
		order = order[len(order)-lastN:]
	}
	ys := make([]int, 0, len(order))
	scores := make([]float64, 0, len(order))
	for _, id := range order {
		l := byID[id]
		predicted := 0
		if l.score >= ref.info.Threshold {
			predicted = 1
		}
		y := predicted
		switch l.code {
		case outcomePositive:
			y = 1
		case outcomeNegative:
			y = 0
		case verdictIncorrect:
			y = 1 - predicted
		}
		ys = append(ys, y)
		scores = append(scores, l.score)
	}
	return ys, scores, nil
}

const (
	verdictCorrect = iota
	verdictIncorrect
	outcomePositive
	outcomeNegative
)

// labelOf reads a feedback: the corrected value when it names the outcome
// (1/0, true/false, yes/no, positive/negative or the model's positive
// class), otherwise the verdict on the predicted class.
func labelOf(verdict, corrected, positive string) int {
	switch c := strings.ToLower(strings.TrimSpace(corrected)); {
	case c == "":
	case c == "1" || c == "true" || c == "yes" || c == "positive" || (positive != "" && c == strings.ToLower(positive)):
		return outcomePositive
	case c == "0" || c == "false" || c == "no" || c == "negative":
		return outcomeNegative
	}
	if verdict == "incorrect" {
		return verdictIncorrect
	}
	return verdictCorrect
}

// sortedWithNaN returns x's numbers sorted, followed by its NaNs.
func sortedWithNaN(x []float64) []float64 {
	out, missing := present(x)
	sortFloats(out)
	for range missing {
		out = append(out, math.NaN())
	}
	return out
}
