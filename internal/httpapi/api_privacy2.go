package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/anon"
	"github.com/hygie-health/hygie/internal/privacy/dp"
	"github.com/hygie-health/hygie/internal/privacy/risk"
)

// AddPrivacyAPI registers the privacy routes on dataset versions:
// re-identification risk, anonymisation into a new version, and
// differentially private releases with the dataset's budget.
func (s *Server) AddPrivacyAPI(ds *dataset.Service, d *dp.Service) {
	p := &privacyAPI{datasets: ds, dp: d}
	const data = "datasets"
	const ver = "/api/v1/projects/{project}/datasets/{dataset}/versions/{version}"
	s.Add(
		Route{Method: "GET", Pattern: ver + "/risk", Summary: "Re-identification risk of a version (query: qi=a,b — default the quasi_identifier columns; sensitive=c,d; sampling_fraction; threshold; small_class; max_combination): classes, prosecutor/journalist/marketer risk, uniqueness, CNIL criteria", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: p.risk},
		Route{Method: "POST", Pattern: ver + "/anonymize", Summary: "Anonymise a version (k-anonymity, l-diversity, t-closeness; body: JSON configuration with per quasi-identifier hierarchies) into a new anonymized version; identifying sources need the steward's permission", Tag: data, Scope: Project, Perm: auth.PermDatasetWrite, Handler: p.anonymize},
		Route{Method: "POST", Pattern: ver + "/dp", Summary: "A differentially private release (body: the query: kind, epsilon, delta, noise, column, lo, hi, by, quantiles, grid_size, patient_column, max_rows_per_patient), spending the dataset's budget", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: p.release},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/dp-budget", Summary: "A dataset's privacy budget (null when none is set) and its latest releases (query: limit)", Tag: data, Scope: Project, Perm: auth.PermDatasetRead, Handler: p.getBudget},
		Route{Method: "PUT", Pattern: "/api/v1/projects/{project}/datasets/{dataset}/dp-budget", Summary: "Set a dataset's privacy budget (body: epsilon, delta)", Tag: data, Scope: Project, Perm: auth.PermProjectManage, Handler: p.setBudget},
	)
}

type privacyAPI struct {
	datasets *dataset.Service
	dp       *dp.Service
}

func (p *privacyAPI) version(r *http.Request) (dataset.Version, error) {
	n, err := pathInt(r, "version")
	if err != nil {
		return dataset.Version{}, err
	}
	return p.datasets.Get(r.Context(), r.PathValue("project"), r.PathValue("dataset"), n)
}

// RiskOptions reads the risk options of a query string (qi, sensitive,
// sampling_fraction, threshold, small_class, max_combination).
func RiskOptions(q map[string][]string) (risk.Options, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	var o risk.Options
	o.QuasiIdentifiers = splitList(get("qi"))
	if _, ok := q["sensitive"]; ok {
		o.Sensitive = splitList(get("sensitive"))
		if o.Sensitive == nil {
			o.Sensitive = []string{}
		}
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"sampling_fraction", &o.SamplingFraction}, {"threshold", &o.Threshold}} {
		if s := get(f.name); s != "" {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || !(x > 0 && x <= 1) {
				return o, errs.Invalidf("query %s: want a number in (0, 1]", f.name)
			}
			*f.dst = x
		}
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"small_class", &o.SmallClass}, {"max_combination", &o.MaxCombination}} {
		if s := get(f.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 1000 {
				return o, errs.Invalidf("query %s: want a positive integer", f.name)
			}
			*f.dst = n
		}
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (p *privacyAPI) risk(w http.ResponseWriter, r *http.Request) error {
	v, err := p.version(r)
	if err != nil {
		return err
	}
	o, err := RiskOptions(r.URL.Query())
	if err != nil {
		return err
	}
	rep, err := risk.OfVersion(r.Context(), p.datasets, v, o)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"version": v.Ref(), "privacy_level": v.Level, "risk": rep})
}

func (p *privacyAPI) anonymize(w http.ResponseWriter, r *http.Request) error {
	v, err := p.version(r)
	if err != nil {
		return err
	}
	var cfg anon.VersionConfig
	if err := DecodeJSON(r, &cfg); err != nil {
		return err
	}
	rep, err := anon.AnonymizeVersion(r.Context(), p.datasets, v, cfg)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !rep.Created {
		status = http.StatusOK
	}
	return WriteJSON(w, status, rep)
}

func (p *privacyAPI) release(w http.ResponseWriter, r *http.Request) error {
	v, err := p.version(r)
	if err != nil {
		return err
	}
	var q dp.Query
	if err := DecodeJSON(r, &q); err != nil {
		return err
	}
	rel, err := p.dp.Release(r.Context(), v, q)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, rel)
}

func (p *privacyAPI) getBudget(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("dataset")
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 10000 {
			return errs.Invalidf("query limit: want an integer in [1, 10000]")
		}
		limit = n
	}
	if _, err := p.datasets.Get(ctx, project, name, 0); err != nil {
		return err
	}
	// Budgets lists only datasets with a budget: none is not an error here.
	bs, err := p.dp.Budgets(ctx, project)
	if err != nil {
		return err
	}
	var b *dp.Budget
	for i := range bs {
		if bs[i].Dataset == name {
			b = &bs[i]
		}
	}
	rels := []dp.Release{}
	if b != nil {
		if rels, err = p.dp.Releases(ctx, project, name, limit); err != nil {
			return err
		}
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"dataset": name, "budget": b, "releases": orEmpty(rels)})
}

func (p *privacyAPI) setBudget(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Epsilon *dp.Decimal `json:"epsilon"`
		Delta   *dp.Decimal `json:"delta"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Epsilon == nil {
		return errs.Invalidf("a budget needs epsilon (and optionally delta)")
	}
	delta := dp.DecimalInt(0)
	if in.Delta != nil {
		delta = *in.Delta
	}
	b, err := p.dp.SetBudget(r.Context(), r.PathValue("project"), r.PathValue("dataset"), *in.Epsilon, delta)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, b)
}
