package anon

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/risk"
)

// VersionQI is a quasi-identifier of a dataset version and how to
// generalise it: an on-the-fly hierarchy (Hierarchy: "interval:5,10,20",
// "mask", "mask:3", "date"), or a hierarchy in ARX's CSV format given as
// text (HierarchyCSV, fields separated by Sep, default ';'). With neither,
// the default for the column's type (DefaultHierarchy).
type VersionQI struct {
	Column       string `json:"column"`
	Hierarchy    string `json:"hierarchy,omitempty"`
	HierarchyCSV string `json:"hierarchy_csv,omitempty"`
	Sep          string `json:"sep,omitempty"`
}

// VersionConfig is the anonymisation of a dataset version.
type VersionConfig struct {
	// QuasiIdentifiers: empty means every column with role quasi_identifier,
	// each with its type's default hierarchy.
	QuasiIdentifiers []VersionQI `json:"quasi_identifiers,omitempty"`
	// Sensitive: nil means the columns with role sensitive.
	Sensitive      []string `json:"sensitive,omitempty"`
	K              int      `json:"k,omitempty"`
	L              float64  `json:"l,omitempty"`
	LVariant       string   `json:"l_variant,omitempty"` // distinct (default) or entropy
	T              float64  `json:"t,omitempty"`
	MaxSuppression float64  `json:"max_suppression"`
	Metric         string   `json:"metric,omitempty"` // default entropy
	Heuristic      bool     `json:"heuristic,omitempty"`
	// SamplingFraction is used by the risk estimates of the report.
	SamplingFraction float64 `json:"sampling_fraction,omitempty"`
	// Output is the dataset the anonymised version goes to (default: the
	// source's dataset).
	Output string `json:"output,omitempty"`
}

// VersionReport is what AnonymizeVersion did.
type VersionReport struct {
	Report
	Source     string          `json:"source"`
	Version    dataset.Version `json:"version"`
	Created    bool            `json:"created"`
	Dropped    []string        `json:"dropped_columns"`
	RiskBefore *risk.Report    `json:"risk_before"`
	RiskAfter  *risk.Report    `json:"risk_after"`
}

// DefaultHierarchy is the on-the-fly hierarchy used for a column of a type
// when none is given: dates day → month → year, integers intervals of 5, 10,
// 20 and 40, floats of 1, 5, 10 and 50, other columns masked character by
// character.
func DefaultHierarchy(t dataset.Type) string {
	switch t {
	case dataset.TypeDate:
		return "date"
	case dataset.TypeInteger:
		return "interval:5,10,20,40"
	case dataset.TypeFloat:
		return "interval:1,5,10,50"
	}
	return "mask"
}

// AnonymizeVersion anonymises a dataset version with cfg's privacy model
// (see Anonymize) and stores the result as a new version at the anonymized
// level, whose parent is v and whose recipe describes the configuration and
// the chosen levels. The source is read with ds.ReadFrame (dataset.read;
// identifying versions need the steward's permission, and the read is
// audited); writing needs dataset.write. Quasi-identifiers become text
// columns holding their generalised values; columns with role
// direct_identifier or text are dropped, and so is patient_id when the
// source is identifying (a pseudonym may stay).
func AnonymizeVersion(ctx context.Context, ds *dataset.Service, v dataset.Version, vc VersionConfig) (*VersionReport, error) {
	if err := auth.Require(ctx, v.Project, auth.PermDatasetWrite); err != nil {
		return nil, err
	}
	if v.Level == dataset.Identifying && auth.Require(ctx, v.Project, auth.PermIdentifyingData) != nil {
		// Refused before anything else, and the attempt audited by the read.
		if _, err := ds.ReadFrame(ctx, v); err != nil {
			return nil, err
		}
		return nil, errs.Forbiddenf("%s holds identifying data", v.Ref())
	}
	col := func(name string) (dataset.Column, bool) {
		i := slices.IndexFunc(v.Columns, func(c dataset.Column) bool { return c.Name == name })
		if i < 0 {
			return dataset.Column{}, false
		}
		return v.Columns[i], true
	}
	qis := slices.Clone(vc.QuasiIdentifiers)
	if len(qis) == 0 {
		names, _ := risk.Columns(v)
		for _, n := range names {
			qis = append(qis, VersionQI{Column: n})
		}
	}
	if len(qis) == 0 {
		return nil, errs.Invalidf("%s has no column with role quasi_identifier: name the quasi-identifiers to anonymise", v.Ref())
	}
	sensitive := vc.Sensitive
	if sensitive == nil {
		_, sensitive = risk.Columns(v)
	}
	for i, q := range qis {
		c, ok := col(q.Column)
		if !ok {
			return nil, errs.Invalidf("%s has no column %q", v.Ref(), q.Column)
		}
		if c.Role.Identifying() || c.Role == dataset.RoleText {
			return nil, errs.Invalidf("column %q has role %s: it cannot be generalised, it is dropped", q.Column, c.Role)
		}
		if q.Hierarchy != "" && q.HierarchyCSV != "" {
			return nil, errs.Invalidf("column %q: give an on-the-fly hierarchy or a hierarchy file, not both", q.Column)
		}
		if q.Hierarchy == "" && q.HierarchyCSV == "" {
			qis[i].Hierarchy = DefaultHierarchy(c.Type)
		}
		if qis[i].Hierarchy != "" && !IsBuilderSpec(qis[i].Hierarchy) {
			return nil, errs.Invalidf("column %q: unknown hierarchy %q (want interval:W1,W2…, mask[:N] or date[:LAYOUT], or a hierarchy file)", q.Column, qis[i].Hierarchy)
		}
	}
	for _, s := range sensitive {
		if _, ok := col(s); !ok {
			return nil, errs.Invalidf("%s has no column %q", v.Ref(), s)
		}
	}
	cfg := Config{K: vc.K, MaxSuppression: vc.MaxSuppression, Sensitive: sensitive, Heuristic: vc.Heuristic}
	if vc.Metric != "" {
		m, err := ParseMetric(vc.Metric)
		if err != nil {
			return nil, err
		}
		cfg.Metric = m
	}
	if vc.L > 0 {
		switch vc.LVariant {
		case "", "distinct", "entropy":
		default:
			return nil, errs.Invalidf("l_variant %q: want distinct or entropy", vc.LVariant)
		}
		cfg.L = &LDiversity{L: vc.L, Entropy: vc.LVariant == "entropy"}
	}
	if vc.T > 0 {
		cfg.T = &TCloseness{T: vc.T}
	}
	if cfg.K < 2 && cfg.L == nil && cfg.T == nil {
		return nil, errs.Invalidf("no privacy model: give k >= 2, l-diversity or t-closeness")
	}
	output := v.Dataset
	if vc.Output != "" {
		output = vc.Output
	}

	f, err := ds.ReadFrame(ctx, v)
	if err != nil {
		return nil, err
	}
	t, err := TableFromFrame(f)
	if err != nil {
		return nil, err
	}
	t.Source = v.Ref()
	for _, q := range qis {
		j := t.Column(q.Column)
		values := make([]string, len(t.Rows))
		for i, row := range t.Rows {
			values[i] = row[j]
		}
		h, err := versionHierarchy(q, values)
		if err != nil {
			return nil, err
		}
		cfg.QIs = append(cfg.QIs, QI{Column: q.Column, Hierarchy: h})
	}
	res, err := Anonymize(ctx, t, cfg)
	if err != nil {
		return nil, err
	}

	// The new frame: generalised quasi-identifiers as text, other columns
	// as they were, minus what an anonymized version must not hold.
	out := &VersionReport{Report: res.Report, Source: v.Ref(), Dropped: []string{}}
	isQI := map[string]bool{}
	for _, q := range qis {
		isQI[q.Column] = true
	}
	nf := &dataset.Frame{}
	for j, c := range f.Columns {
		drop := c.Role == dataset.RoleDirectIdentifier || c.Role == dataset.RoleText ||
			(c.Role == dataset.RolePatientID && v.Level == dataset.Identifying)
		if drop {
			out.Dropped = append(out.Dropped, c.Name)
			continue
		}
		if !isQI[c.Name] {
			nf.Columns = append(nf.Columns, c)
			nf.Vecs = append(nf.Vecs, f.Vecs[j])
			continue
		}
		c.Type = dataset.TypeString
		vec := dataset.NewVec(dataset.TypeString, len(res.Table.Rows))
		for _, row := range res.Table.Rows {
			vec.AppendString(row[j])
		}
		nf.Columns = append(nf.Columns, c)
		nf.Vecs = append(nf.Vecs, vec)
	}
	recipe, err := versionRecipe(v, &cfg, qis, res)
	if err != nil {
		return nil, err
	}

	ro := risk.Options{QuasiIdentifiers: res.Report.QuasiIdentifiers, Sensitive: sensitive, SamplingFraction: vc.SamplingFraction, MaxCombination: 4}
	if out.RiskBefore, err = risk.Assess(t.Header, t.Rows, ro); err != nil {
		return nil, err
	}
	if out.RiskAfter, err = risk.Assess(res.Table.Header, res.Table.Rows, ro); err != nil {
		return nil, err
	}
	parent := v
	nv, created, err := ds.Create(ctx, dataset.NewVersion{Project: v.Project, Dataset: output, Frame: nf, Level: dataset.Anonymized, Parent: &parent, Recipe: recipe})
	if err != nil {
		return nil, err
	}
	out.Version, out.Created = nv, created
	return out, nil
}

// versionHierarchy builds or parses the hierarchy of one quasi-identifier.
// Missing values ("") generalise to themselves, then to "*".
func versionHierarchy(q VersionQI, values []string) (*Hierarchy, error) {
	if q.HierarchyCSV != "" {
		sep := ';'
		if q.Sep != "" {
			r := []rune(q.Sep)
			if len(r) != 1 {
				return nil, errs.Invalidf("column %q: the hierarchy separator must be one character", q.Column)
			}
			sep = r[0]
		}
		return ParseHierarchy(strings.NewReader(q.HierarchyCSV), sep, "hierarchy of "+q.Column)
	}
	present := make([]string, 0, len(values))
	missing := false
	for _, s := range values {
		if s == "" {
			missing = true
		} else {
			present = append(present, s)
		}
	}
	if len(present) == 0 {
		return NewHierarchy(q.Hierarchy, [][]string{{"", "*"}})
	}
	h, err := BuildHierarchy(q.Hierarchy, present)
	if err != nil {
		return nil, errs.Invalidf("column %q: %s", q.Column, errs.MessageOf(err))
	}
	if !missing {
		return h, nil
	}
	levels := max(h.Levels(), 2)
	row := make([]string, levels)
	row[levels-1] = "*"
	rows := append(slices.Clone(h.Rows), row)
	return NewHierarchy(h.Source, rows)
}

// versionRecipe describes the anonymisation as YAML, the new version's
// recipe: the privacy model, the source, and per quasi-identifier its
// hierarchy and chosen level.
func versionRecipe(v dataset.Version, cfg *Config, qis []VersionQI, res *Result) (string, error) {
	type qiDoc struct {
		Column    string `yaml:"column"`
		Hierarchy string `yaml:"hierarchy"`
		Level     int    `yaml:"level"`
	}
	doc := struct {
		Anonymize      string   `yaml:"anonymize"`
		Source         string   `yaml:"source"`
		QIs            []qiDoc  `yaml:"quasi_identifiers"`
		Sensitive      []string `yaml:"sensitive,omitempty"`
		MaxSuppression float64  `yaml:"max_suppression"`
		Suppressed     int      `yaml:"suppressed"`
		Metric         string   `yaml:"metric"`
		MetricValue    float64  `yaml:"metric_value"`
		Search         string   `yaml:"search"`
	}{Anonymize: res.Report.PrivacyModel, Source: v.Ref(), Sensitive: cfg.Sensitive, MaxSuppression: cfg.MaxSuppression,
		Suppressed: res.Report.Suppressed, Metric: string(cfg.Metric), MetricValue: res.Report.MetricValue, Search: res.Report.Search}
	for i, q := range qis {
		h := q.Hierarchy
		if q.HierarchyCSV != "" {
			h = fmt.Sprintf("uploaded (%d values, %d levels)", len(cfg.QIs[i].Hierarchy.Rows), cfg.QIs[i].Hierarchy.Levels())
		}
		doc.QIs = append(doc.QIs, qiDoc{Column: q.Column, Hierarchy: h, Level: res.Levels[i]})
	}
	b, err := yaml.Marshal(doc)
	return string(b), err
}
