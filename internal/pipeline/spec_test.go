package pipeline

import (
	"os"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

const base = `pipeline: p
params:
  k: 5
steps:
  - name: raw
    type: import
    with: {file: x.csv, dataset: raw, roles: {nom: direct_identifier}}
  - name: pseudo
    type: pseudonymise
    inputs: {dataset: raw}
  - name: feat
    type: recipe
    inputs: {dataset: pseudo}
    with: {recipe: "steps: []", output: feat}
  - name: train
    type: train
    inputs: {dataset: feat}
    with: {target: y, cv: "${params.k}"}
`

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name, file string
		params     map[string]string
		want       []string // fragments of the error ("" → valid)
	}{
		{"valid", base, nil, nil},
		{"param override", base, map[string]string{"k": "3"}, nil},
		{"unknown override", base, map[string]string{"kk": "3"}, []string{"--param kk: not declared"}},
		{"ill-typed param", base, map[string]string{"k": "three"}, []string{"hygie.yaml:18: step \"train\": with: cannot unmarshal !!str `three` into int"}},
		{"unknown type", strings.Replace(base, "type: recipe", "type: recipes", 1), nil, []string{`hygie.yaml:11: step "feat": unknown step type "recipes"`}},
		{"duplicate", strings.Replace(base, "name: feat", "name: pseudo", 1), nil, []string{`hygie.yaml:11: step "pseudo": duplicate step name (first at line 8)`}},
		{"unknown top key", base + "extra: 1\n", nil, []string{`hygie.yaml:19: unknown key "extra"`}},
		{"unknown step key", strings.Replace(base, "    inputs: {dataset: raw}", "    inputs: {dataset: raw}\n    retry: 2", 1), nil, []string{`step "pseudo": unknown key "retry"`}},
		{"unknown with key", strings.Replace(base, "target: y", "target: y, epochs: 3", 1), nil, []string{`hygie.yaml:18: step "train": with: unknown key "epochs"`}},
		{"missing input", strings.Replace(base, "    inputs: {dataset: feat}\n", "", 1), nil, []string{`hygie.yaml:15: step "train": missing input "dataset"`}},
		{"unknown input step", strings.Replace(base, "{dataset: feat}", "{dataset: feats}", 1), nil, []string{`hygie.yaml:17: step "train": input dataset: no step named "feats"`}},
		{"unknown input name", strings.Replace(base, "{dataset: feat}", "{data: feat}", 1), nil, []string{`step "train": unknown input "data"`, `missing input "dataset"`}},
		{"ill-typed input", base + "  - name: reg\n    type: register\n    inputs: {run: feat}\n    with: {model: m}\n", nil,
			[]string{`hygie.yaml:21: step "reg": input run: want a run, but step "feat" (recipe) outputs a dataset`}},
		{"steps syntax", strings.Replace(base, "{dataset: feat}", "{dataset: \"${steps.feat.dataset}\"}", 1), nil, nil},
		{"wrong output", strings.Replace(base, "{dataset: feat}", "{dataset: feat.run}", 1), nil, []string{`step "feat" has no output "run"`}},
		{"cycle", strings.Replace(base, "inputs: {dataset: raw}", "inputs: {dataset: raw}\n    after: [train]", 1), nil, []string{"cycle (each step waits for the next): pseudo → train → feat → pseudo"}},
		{"identifying to training", strings.Replace(base, "{dataset: pseudo}", "{dataset: raw}", 1), nil,
			[]string{`hygie.yaml:17: step "train": would give a scientist identifying data`, `imported by "raw"`}},
		{"identifying import at a lower level", strings.Replace(base, "dataset: raw,", "dataset: raw, level: pseudonymized,", 1), nil,
			[]string{`hygie.yaml:7: step "raw": import at level pseudonymized with direct identifiers (nom)`}},
		{"unknown param", strings.Replace(base, "${params.k}", "${params.folds}", 1), nil, []string{`unknown parameter ${params.folds}`}},
		{"bad config", strings.Replace(base, "with: {target: y, cv: \"${params.k}\"}", "with: {cv: 2, learner: svm}", 1), nil,
			[]string{"train: target is required", `learner "svm"`}},
		{"no steps", "pipeline: p\nsteps: []\n", nil, []string{"hygie.yaml:2: steps: want a non-empty list"}},
		{"not yaml", "pipeline: [", nil, []string{"hygie.yaml:1:"}},
		{"bad name", strings.Replace(base, "name: feat", "name: Feat", 1), nil, []string{"name: want lower-case"}},
		{"retries", strings.Replace(base, "inputs: {dataset: raw}", "inputs: {dataset: raw}\n    retries: 9", 1), nil, []string{"retries: want an integer from 0 to 5"}},
		{"promote env", base + "  - name: reg\n    type: register\n    inputs: {run: train}\n    with: {model: m}\n  - name: up\n    type: promote\n    inputs: {model: reg}\n    with: {to: prod}\n", nil,
			[]string{`promote: to "prod"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := func() error {
				s, err := Parse("hygie.yaml", []byte(c.file))
				if err != nil {
					return err
				}
				v, err := s.Values(c.params)
				if err != nil {
					return err
				}
				return s.Validate(v, nil)
			}()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !errs.Is(err, errs.Invalid) {
				t.Fatalf("want an invalid error, got %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestValidateOrderAndConfig(t *testing.T) {
	s, err := Parse("hygie.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := s.Values(map[string]string{"k": "3"})
	if err := s.Validate(v, nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range s.Order() {
		names = append(names, st.Name)
	}
	if strings.Join(names, ",") != "raw,pseudo,feat,train" {
		t.Fatalf("order %v", names)
	}
	if c := s.Step("train").Config.(*TrainConfig); c.CV != 3 || c.Learner != "gbdt" {
		t.Fatalf("train config %+v", c)
	}
}

// An existing dataset's level comes from the dataset service.
func TestValidateExistingLevel(t *testing.T) {
	file := `pipeline: p
steps:
  - name: src
    type: import
    with: {existing: cohort}
  - name: t
    type: train
    inputs: {dataset: src}
    with: {target: y}
`
	for _, c := range []struct {
		level dataset.Level
		ok    bool
	}{{dataset.Identifying, false}, {dataset.Pseudonymized, true}} {
		s, err := Parse("f.yaml", []byte(file))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Validate(nil, func(string) (dataset.Level, []dataset.Column, bool) { return c.level, nil, true })
		if (err == nil) != c.ok {
			t.Fatalf("level %s: %v", c.level, err)
		}
	}
}

func TestDemoPipelineValidates(t *testing.T) {
	b, err := os.ReadFile("../demo/hygie.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("hygie.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := s.Values(nil)
	if err := s.Validate(v, func(string) (dataset.Level, []dataset.Column, bool) { return dataset.Identifying, nil, true }); err != nil {
		t.Fatal(err)
	}
	if r := s.Step("release").Config.(*RecipeConfig); !strings.Contains(r.Recipe, "25, 30, .inf") {
		t.Fatalf("the parameter is not substituted in the recipe: %s", r.Recipe)
	}
	if len(s.Triggers) != 3 || s.Triggers[2].Schedule == "" {
		t.Fatalf("triggers %+v", s.Triggers)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("pipeline: p\nsteps: [{name: a, type: import, with: {existing: x}}]\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("f.yaml", b)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("parse error is not invalid: %v", err)
			}
			return
		}
		v, err := s.Values(nil)
		if err != nil {
			return
		}
		if err := s.Validate(v, nil); err == nil && len(s.Order()) != len(s.Steps) {
			t.Fatalf("valid spec with %d steps ordered as %d", len(s.Steps), len(s.Order()))
		}
	})
}
