package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/registry"
)

// Kind is the type of a value flowing between steps.
type Kind string

// Kinds of step outputs.
const (
	KindDataset Kind = "dataset" // a dataset version
	KindRun     Kind = "run"     // a tracking run (training or audit)
	KindModel   Kind = "model"   // a model version
	KindReport  Kind = "report"  // a report (risk), no artifact
)

// Input declares one input of a step type.
type Input struct {
	Name     string
	Kind     Kind
	Optional bool
}

// StepType is a kind of step: its inputs, output, configuration and
// version. Version is part of every cache key: bump it when the step's
// behaviour changes so cached outputs are recomputed.
type StepType struct {
	Name    string
	Version int
	Summary string
	Inputs  []Input
	Output  Kind
	// Level is the privacy level of the dataset the step outputs, given
	// its config and its dataset input's level ("" when unknown).
	Level     func(cfg any, in dataset.Level) dataset.Level
	newConfig func() any
	// NeedsSafeData marks steps that hand their dataset input to a
	// scientist's code (training): it must not be identifying.
	NeedsSafeData bool
}

func passLevel(_ any, in dataset.Level) dataset.Level { return in }

func fixedLevel(l dataset.Level) func(any, dataset.Level) dataset.Level {
	return func(any, dataset.Level) dataset.Level { return l }
}

// checker is implemented by configs that check themselves.
type checker interface{ check() []string }

// Configurations of the step types (the `with:` of a step).
type (
	// ImportConfig imports a table: a file (path relative to the pipeline
	// file), a SQL query on a PostgreSQL warehouse whose DSN is in the
	// environment variable DSNEnv, or the latest version of an existing
	// dataset (imported by a steward outside the pipeline).
	ImportConfig struct {
		File     string            `yaml:"file" json:"file,omitempty"`
		Format   string            `yaml:"format" json:"format,omitempty"`
		SQL      string            `yaml:"sql" json:"sql,omitempty"`
		DSNEnv   string            `yaml:"dsn_env" json:"dsn_env,omitempty"`
		Existing string            `yaml:"existing" json:"existing,omitempty"`
		Dataset  string            `yaml:"dataset" json:"dataset,omitempty"`
		Level    string            `yaml:"level" json:"level,omitempty"`
		Roles    map[string]string `yaml:"roles" json:"roles,omitempty"`
		Types    map[string]string `yaml:"types" json:"types,omitempty"`
	}
	// DeidConfig de-identifies the free-text columns of an identifying
	// version (and pseudonymises it): Text is mask or surrogate.
	DeidConfig struct {
		Text   string `yaml:"text" json:"text"`
		Output string `yaml:"output" json:"output,omitempty"`
	}
	// RiskConfig assesses re-identification risk; MaxProsecutor, when set,
	// fails the step if the highest prosecutor risk exceeds it.
	RiskConfig struct {
		QuasiIdentifiers []string `yaml:"quasi_identifiers" json:"quasi_identifiers,omitempty"`
		Sensitive        []string `yaml:"sensitive" json:"sensitive,omitempty"`
		SamplingFraction float64  `yaml:"sampling_fraction" json:"sampling_fraction,omitempty"`
		MaxCombination   int      `yaml:"max_combination" json:"max_combination,omitempty"`
		MaxProsecutor    float64  `yaml:"max_prosecutor" json:"max_prosecutor,omitempty"`
	}
	// AnonymiseConfig anonymises a version (k-anonymity, l-diversity,
	// t-closeness); empty quasi-identifiers mean the columns with that role.
	AnonymiseConfig struct {
		QuasiIdentifiers []string `yaml:"quasi_identifiers" json:"quasi_identifiers,omitempty"`
		Sensitive        []string `yaml:"sensitive" json:"sensitive,omitempty"`
		K                int      `yaml:"k" json:"k,omitempty"`
		L                float64  `yaml:"l" json:"l,omitempty"`
		T                float64  `yaml:"t" json:"t,omitempty"`
		MaxSuppression   float64  `yaml:"max_suppression" json:"max_suppression"`
		Metric           string   `yaml:"metric" json:"metric,omitempty"`
		Output           string   `yaml:"output" json:"output,omitempty"`
	}
	// RecipeConfig applies a transformation recipe, inline or from a file
	// (relative to the pipeline file; its content is what the cache sees).
	RecipeConfig struct {
		Recipe string `yaml:"recipe" json:"recipe,omitempty"`
		File   string `yaml:"file" json:"file,omitempty"`
		Output string `yaml:"output" json:"output"`
	}
	// AnnotateConfig exports the adjudicated gold of an annotation project
	// as a dataset version; the step fails (and can be retried) until the
	// project holds at least MinGold adjudicated tasks.
	AnnotateConfig struct {
		Project string `yaml:"project" json:"project"`
		Dataset string `yaml:"dataset" json:"dataset,omitempty"`
		Level   string `yaml:"level" json:"level,omitempty"`
		MinGold int    `yaml:"min_gold" json:"min_gold,omitempty"`
	}
	// TrainConfig is a built-in learner's training job (see train.Spec).
	TrainConfig struct {
		Target       string            `yaml:"target" json:"target"`
		Positive     string            `yaml:"positive" json:"positive,omitempty"`
		Learner      string            `yaml:"learner" json:"learner"`
		Params       map[string]string `yaml:"params" json:"params,omitempty"`
		Features     []string          `yaml:"features" json:"features,omitempty"`
		Group        string            `yaml:"group" json:"group,omitempty"`
		CV           int               `yaml:"cv" json:"cv"`
		SplitColumn  string            `yaml:"split_column" json:"split_column,omitempty"`
		TestFraction float64           `yaml:"test_fraction" json:"test_fraction"`
		SplitSeed    int64             `yaml:"split_seed" json:"split_seed"`
		Seed         int64             `yaml:"seed" json:"seed"`
		Resamples    int               `yaml:"resamples" json:"resamples"`
		Level        float64           `yaml:"level" json:"level"`
		Threshold    float64           `yaml:"threshold" json:"threshold"`
		Prevalence   float64           `yaml:"prevalence" json:"prevalence"`
		Subgroups    []string          `yaml:"subgroups" json:"subgroups,omitempty"`
		Experiment   string            `yaml:"experiment" json:"experiment,omitempty"`
		CPUs         int               `yaml:"cpus" json:"cpus,omitempty"`
		Partition    string            `yaml:"partition" json:"partition,omitempty"`
	}
	// EvaluateConfig checks a training run's metrics: each Min (Max) entry
	// is a metric that must be at least (at most) the value.
	EvaluateConfig struct {
		Min map[string]float64 `yaml:"min" json:"min,omitempty"`
		Max map[string]float64 `yaml:"max" json:"max,omitempty"`
	}
	// AuditConfig runs the membership-inference privacy audit of a
	// training run as a job; MaxAdvantage, when set, fails the step above it.
	AuditConfig struct {
		Resamples    int     `yaml:"resamples" json:"resamples,omitempty"`
		Seed         int64   `yaml:"seed" json:"seed"`
		MaxAdvantage float64 `yaml:"max_advantage" json:"max_advantage,omitempty"`
	}
	// RegisterConfig registers a training run's model as a new version.
	RegisterConfig struct {
		Model string `yaml:"model" json:"model"`
	}
	// PromoteConfig promotes a model version through the project's gates.
	PromoteConfig struct {
		To string `yaml:"to" json:"to"`
	}
)

func (c *ImportConfig) check() []string {
	var out []string
	n := 0
	for _, s := range []string{c.File, c.SQL, c.Existing} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		out = append(out, "import: set exactly one of file, sql or existing")
	}
	if c.SQL != "" && c.DSNEnv == "" {
		out = append(out, "import: sql needs dsn_env, the environment variable holding the warehouse's connection string")
	}
	if c.Existing != "" {
		if !nameRE.MatchString(c.Existing) {
			out = append(out, fmt.Sprintf("import: existing: %q is not a dataset name", c.Existing))
		}
		if c.Dataset != "" || c.Level != "" || len(c.Roles) > 0 || len(c.Types) > 0 {
			out = append(out, "import: existing takes the dataset as it is: dataset, level, roles and types do not apply")
		}
		return out
	}
	if !nameRE.MatchString(c.Dataset) {
		out = append(out, fmt.Sprintf("import: dataset: %q is not a dataset name (lower-case letters, digits, '_' or '-')", c.Dataset))
	}
	if c.Level != "" && !dataset.ValidLevel(dataset.Level(c.Level)) {
		out = append(out, fmt.Sprintf("import: level %q: want identifying, pseudonymized, anonymized or aggregate", c.Level))
	}
	for col, r := range c.Roles {
		if !validRole(dataset.Role(r)) {
			out = append(out, fmt.Sprintf("import: roles: column %q: unknown role %q", col, r))
		}
	}
	return out
}

func validRole(r dataset.Role) bool { return slices.Contains(dataset.Roles, r) }

func (c *ImportConfig) level() dataset.Level {
	if c.Existing != "" {
		return ""
	}
	if c.Level == "" {
		return dataset.Identifying
	}
	return dataset.Level(c.Level)
}

func (c *DeidConfig) check() []string {
	if !slices.Contains([]string{"mask", "surrogate"}, c.Text) {
		return []string{fmt.Sprintf("deid: text %q: want mask or surrogate", c.Text)}
	}
	return outputName("deid", c.Output)
}

func outputName(typ, name string) []string {
	if name != "" && !nameRE.MatchString(name) {
		return []string{fmt.Sprintf("%s: output %q is not a dataset name", typ, name)}
	}
	return nil
}

func (c *RiskConfig) check() []string {
	if c.MaxProsecutor < 0 || c.MaxProsecutor > 1 {
		return []string{"risk: max_prosecutor must be in [0, 1]"}
	}
	return nil
}

func (c *AnonymiseConfig) check() []string {
	var out []string
	if c.K < 2 && c.L == 0 && c.T == 0 {
		out = append(out, "anonymise: set k (at least 2), l or t")
	}
	if c.MaxSuppression < 0 || c.MaxSuppression > 1 {
		out = append(out, "anonymise: max_suppression must be in [0, 1]")
	}
	return append(out, outputName("anonymise", c.Output)...)
}

func (c *RecipeConfig) check() []string {
	var out []string
	if (c.Recipe == "") == (c.File == "") {
		out = append(out, "recipe: set exactly one of recipe (inline YAML) or file")
	}
	if c.Output == "" {
		out = append(out, "recipe: output (the dataset the result goes to) is required")
	}
	return append(out, outputName("recipe", c.Output)...)
}

func (c *AnnotateConfig) check() []string {
	var out []string
	if c.Project == "" {
		out = append(out, "annotate: project (the annotation project) is required")
	}
	if c.Level != "" && !dataset.ValidLevel(dataset.Level(c.Level)) {
		out = append(out, fmt.Sprintf("annotate: level %q: want identifying, pseudonymized, anonymized or aggregate", c.Level))
	}
	if c.MinGold < 0 {
		out = append(out, "annotate: min_gold must not be negative")
	}
	return append(out, outputName("annotate", c.Dataset)...)
}

func (c *TrainConfig) check() []string {
	var out []string
	if c.Target == "" {
		out = append(out, "train: target is required")
	}
	if c.Learner == "" {
		c.Learner = model.GBDT
	}
	if !slices.Contains([]string{model.GBDT, model.Logistic, model.Linear}, c.Learner) {
		out = append(out, fmt.Sprintf("train: learner %q: want gbdt, logistic or linear", c.Learner))
	}
	if c.CV < 0 || c.TestFraction < 0 || c.TestFraction >= 1 {
		out = append(out, "train: cv must not be negative and test_fraction must be in [0, 1)")
	}
	return out
}

func (c *AuditConfig) check() []string {
	if c.MaxAdvantage < 0 || c.MaxAdvantage > 1 {
		return []string{"privacy-audit: max_advantage must be in [0, 1]"}
	}
	return nil
}

func (c *RegisterConfig) check() []string {
	if !modelRE.MatchString(c.Model) {
		return []string{fmt.Sprintf("register: model %q: want lower-case letters, digits, '_' or '-'", c.Model)}
	}
	return nil
}

func (c *PromoteConfig) check() []string {
	if !slices.Contains(registry.PolicyEnvironments, c.To) {
		return []string{fmt.Sprintf("promote: to %q: want one of %s", c.To, strings.Join(registry.PolicyEnvironments, ", "))}
	}
	return nil
}

var modelRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,62}$`)

// Step type names.
const (
	TypeImport       = "import"
	TypePseudonymise = "pseudonymise"
	TypeDeid         = "deid"
	TypeRisk         = "risk"
	TypeAnonymise    = "anonymise"
	TypeRecipe       = "recipe"
	TypeAnnotate     = "annotate"
	TypeTrain        = "train"
	TypeEvaluate     = "evaluate"
	TypeAudit        = "privacy-audit"
	TypeRegister     = "register"
	TypePromote      = "promote"
)

var dsIn = []Input{{Name: "dataset", Kind: KindDataset}}
var runIn = []Input{{Name: "run", Kind: KindRun}}

// Types are the step types, by name.
var Types = map[string]*StepType{
	TypeImport: {Name: TypeImport, Version: 1, Summary: "import a file, a SQL query's result or the latest version of a dataset",
		Output: KindDataset, newConfig: func() any { return &ImportConfig{} },
		Level: func(c any, _ dataset.Level) dataset.Level { return c.(*ImportConfig).level() }},
	TypePseudonymise: {Name: TypePseudonymise, Version: 1, Summary: "keyed pseudonyms, direct identifiers dropped (steward)",
		Inputs: dsIn, Output: KindDataset, newConfig: func() any { return &pseudo.Spec{} }, Level: fixedLevel(dataset.Pseudonymized)},
	TypeDeid: {Name: TypeDeid, Version: 1, Summary: "de-identify free-text columns while pseudonymising (steward)",
		Inputs: dsIn, Output: KindDataset, newConfig: func() any { return &DeidConfig{} }, Level: fixedLevel(dataset.Pseudonymized)},
	TypeRisk: {Name: TypeRisk, Version: 1, Summary: "re-identification risk report, optionally gated",
		Inputs: dsIn, Output: KindReport, newConfig: func() any { return &RiskConfig{} }},
	TypeAnonymise: {Name: TypeAnonymise, Version: 1, Summary: "k-anonymity / l-diversity / t-closeness",
		Inputs: dsIn, Output: KindDataset, newConfig: func() any { return &AnonymiseConfig{} }, Level: fixedLevel(dataset.Anonymized)},
	TypeRecipe: {Name: TypeRecipe, Version: 1, Summary: "apply a transformation recipe",
		Inputs: dsIn, Output: KindDataset, newConfig: func() any { return &RecipeConfig{} }, Level: passLevel},
	TypeAnnotate: {Name: TypeAnnotate, Version: 1, Summary: "wait for and export an annotation project's gold",
		Output: KindDataset, newConfig: func() any { return &AnnotateConfig{} },
		Level: func(c any, _ dataset.Level) dataset.Level {
			if l := c.(*AnnotateConfig).Level; l != "" {
				return dataset.Level(l)
			}
			return dataset.Identifying
		}},
	TypeTrain: {Name: TypeTrain, Version: 1, Summary: "train and evaluate a built-in learner as a job (local or Slurm)",
		Inputs: dsIn, Output: KindRun, newConfig: func() any { return &TrainConfig{} }, NeedsSafeData: true},
	TypeEvaluate: {Name: TypeEvaluate, Version: 1, Summary: "check a training run's metrics against thresholds",
		Inputs: runIn, Output: KindRun, newConfig: func() any { return &EvaluateConfig{} }},
	TypeAudit: {Name: TypeAudit, Version: 1, Summary: "membership-inference privacy audit as a job",
		Inputs: runIn, Output: KindRun, newConfig: func() any { return &AuditConfig{} }},
	TypeRegister: {Name: TypeRegister, Version: 1, Summary: "register a training run's model as a model version",
		Inputs: runIn, Output: KindModel, newConfig: func() any { return &RegisterConfig{} }},
	TypePromote: {Name: TypePromote, Version: 1, Summary: "promote a model version through the gates",
		Inputs: []Input{{Name: "model", Kind: KindModel}}, Output: KindModel, newConfig: func() any { return &PromoteConfig{} }},
}

// TypeNames lists the step types, sorted.
func TypeNames() []string {
	out := make([]string, 0, len(Types))
	for k := range Types {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
