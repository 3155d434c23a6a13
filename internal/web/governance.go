package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/registry"
)

// policyURL is a project's gate policy page.
func policyURL(project string) string {
	return "/projects/" + url.PathEscape(project) + "/policy"
}

// policyEnv is one environment's gates, in words.
type policyEnv struct {
	Name  string
	Gates []string
}

type policyData struct {
	Project   string
	Level     string
	Prev      string
	Envs      []policyEnv
	Rules     []registry.Rule // the project's metric rules, checked for every environment
	Webhooks  []registry.Webhook
	YAML      string // the policy in force
	Text      string // the form's text: the policy, or what was typed
	CanEdit   bool
	Error     string
	Flash     string
	ModelsURL string
}

// describePolicy says what each environment's gates ask, in the order of
// promotion; an environment without gates says so.
func describePolicy(p *registry.Policy) []policyEnv {
	level := fmt.Sprintf("%g%%", p.Level*100)
	var out []policyEnv
	for _, env := range registry.PolicyEnvironments {
		pe := policyEnv{Name: env}
		e := p.Environments[env]
		if e == nil {
			out = append(out, pe)
			continue
		}
		for _, t := range e.Metrics {
			if t.Min != nil {
				pe.Gates = append(pe.Gates, fmt.Sprintf("%s ≥ %g on the lower bound of its %s confidence interval", t.Metric, *t.Min, level))
			}
			if t.Max != nil {
				pe.Gates = append(pe.Gates, fmt.Sprintf("%s ≤ %g on the upper bound of its %s confidence interval", t.Metric, *t.Max, level))
			}
		}
		if e.MinTestRows > 0 {
			pe.Gates = append(pe.Gates, fmt.Sprintf("at least %d rows in the test set", e.MinTestRows))
		}
		if e.MinPositives > 0 {
			pe.Gates = append(pe.Gates, fmt.Sprintf("at least %d positive cases in the test set", e.MinPositives))
		}
		if s := e.Subgroups; s != nil {
			g := fmt.Sprintf("in every subgroup of %s, %s", s.Column, s.Metric)
			switch {
			case s.Min > 0 && s.MaxGap > 0:
				g += fmt.Sprintf(" ≥ %g and within %g of the overall value", s.Min, s.MaxGap)
			case s.Min > 0:
				g += fmt.Sprintf(" ≥ %g", s.Min)
			default:
				g += fmt.Sprintf(" within %g of the overall value", s.MaxGap)
			}
			pe.Gates = append(pe.Gates, g+" (suppressed small subgroups are not checked)")
		}
		if e.Signoffs > 0 {
			pe.Gates = append(pe.Gates, fmt.Sprintf("%d clinician %s for %s (not by the model's author)", e.Signoffs, map[bool]string{true: "sign-off", false: "sign-offs"}[e.Signoffs == 1], env))
		}
		if a := e.PrivacyAudit; a != nil {
			pe.Gates = append(pe.Gates, fmt.Sprintf("a membership-inference audit of the training run, advantage ≤ %g on the upper bound of its interval", a.MaxAdvantage))
		}
		if e.ClinicalTests {
			pe.Gates = append(pe.Gates, "every clinical test case of the model passes")
		}
		if r := e.NoRegression; r != nil {
			pe.Gates = append(pe.Gates, fmt.Sprintf("no regression of %s by more than %g against the version now in %s", r.Metric, r.Margin, env))
		}
		out = append(out, pe)
	}
	return out
}

func (u *UI) policyData(r *http.Request) (*policyData, error) {
	ctx := r.Context()
	name := r.PathValue("project")
	if _, err := u.d.Projects.Get(ctx, name); err != nil {
		return nil, err
	}
	pol, err := u.d.Registry.Policy(ctx, name)
	if err != nil {
		return nil, err
	}
	d := &policyData{Project: name, Level: fmt.Sprintf("%g%%", pol.Level*100), Envs: describePolicy(pol), Webhooks: pol.Webhooks,
		YAML: string(pol.YAML()), CanEdit: auth.FromContext(ctx).Can(name, auth.PermProjectManage), ModelsURL: modelsURL(name)}
	if pol.Prevalence > 0 {
		d.Prev = fmt.Sprintf("%g", pol.Prevalence)
	}
	d.Text = d.YAML
	if d.Rules, err = u.d.Registry.Gates(ctx, name); err != nil {
		return nil, err
	}
	return d, nil
}

// policyPage shows a project's gate policy: in words per environment, as
// YAML, and to project admins a form to replace it.
func (u *UI) policyPage(w http.ResponseWriter, r *http.Request) error {
	d, err := u.policyData(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("saved") == "1" {
		d.Flash = "The gate policy was saved: it applies to the next promotions."
	}
	return u.render(w, http.StatusOK, "policy", u.newPage(r, "Gate policy · "+d.Project, "projects", d))
}

// setPolicy replaces a project's gate policy. A policy that does not parse
// comes back with its error (naming the field and line), the text kept.
func (u *UI) setPolicy(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	if err := postForm(r); err != nil {
		return err
	}
	doc := r.PostForm.Get("policy")
	if len(doc) > maxFormText {
		return errs.Invalidf("the policy is larger than %d bytes", maxFormText)
	}
	var err error
	if strings.TrimSpace(doc) == "" {
		// An emptied text area is more likely a slip than a decision.
		err = errs.Invalidf("the policy is empty: to remove every gate, save \"environments: {}\"")
	} else {
		_, err = u.d.Registry.SetPolicy(ctx, name, []byte(doc))
	}
	if err != nil {
		code := errs.CodeOf(err)
		if code == errs.Internal || code == errs.NotFound {
			return err
		}
		d, derr := u.policyData(r)
		if derr != nil {
			return derr
		}
		d.Text, d.Error = doc, errs.MessageOf(err)
		return u.render(w, httpapi.Status(code), "policy", u.newPage(r, "Gate policy · "+name, "projects", d))
	}
	http.Redirect(w, r, policyURL(name)+"?saved=1", http.StatusSeeOther)
	return nil
}
