package httpapi

// Model governance: the gate policy, sign-offs, clinical test cases,
// promotion reports, rollback and model cards.

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/registry"
)

type governance struct{ reg *registry.Service }

// AddGovernanceAPI registers the model governance routes.
func (s *Server) AddGovernanceAPI(reg *registry.Service) {
	g := &governance{reg: reg}
	const tag = "models"
	const ver = "/api/v1/projects/{project}/models/{model}/versions/{version}"
	s.Add(
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/policy", Summary: "The gate policy (YAML with Accept: application/yaml, else JSON)", Tag: tag, Scope: Project, Perm: auth.PermModelRead, Handler: g.getPolicy},
		Route{Method: "PUT", Pattern: "/api/v1/projects/{project}/policy", Summary: "Replace the gate policy (body: YAML or JSON)", Tag: tag, Scope: Project, Perm: auth.PermProjectManage, Handler: g.putPolicy},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/models/{model}/promotions", Summary: "Promotion reports of a model, newest first", Tag: tag, Scope: Project, Perm: auth.PermModelRead, Handler: g.promotions},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/models/{model}/rollback", Summary: `Put the previous production version back (body: {"reason"})`, Tag: tag, Scope: Project, Perm: auth.PermModelPromote, Handler: g.rollback},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/models/{model}/import", Summary: `Register a model trained elsewhere as a new version (body: {"format": xgboost|lightgbm, "model": the model file's text, "file_name", "signature": {"inputs": [{"name", "type", "categories"}], "task", "target", "positive"}}); 201 with the version`, Tag: tag, Scope: Project, Perm: auth.PermModelWrite, Handler: g.importModel},
		Route{Method: "PATCH", Pattern: "/api/v1/projects/{project}/models/{model}", Summary: `Change a model's settings (body: {"feedback_annotation": an annotation project of the project, classification or rows, where its predictions flagged incorrect go by default; "" for none}); the model`, Tag: tag, Scope: Project, Perm: auth.PermModelWrite, Handler: g.patchModel},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/models/{model}/canary", Summary: "The model's canary or shadow version, its share of the traffic and mode (404 when none)", Tag: tag, Scope: Project, Perm: auth.PermModelRead, Handler: g.getCanary},
		Route{Method: "PUT", Pattern: "/api/v1/projects/{project}/models/{model}/canary", Summary: `Send a share of the unversioned traffic to a version in integration (body: {"version", "share" in (0, 0.5], "mode": canary|shadow}); replaces any canary`, Tag: tag, Scope: Project, Perm: auth.PermModelPromote, Handler: g.putCanary},
		Route{Method: "DELETE", Pattern: "/api/v1/projects/{project}/models/{model}/canary", Summary: "End the model's canary or shadow (204, also when there was none)", Tag: tag, Scope: Project, Perm: auth.PermModelPromote, Handler: g.deleteCanary},
		Route{Method: "GET", Pattern: "/api/v1/projects/{project}/models/{model}/cases", Summary: "The model's clinical test cases", Tag: tag, Scope: Project, Perm: auth.PermModelRead, Handler: g.getCases},
		Route{Method: "PUT", Pattern: "/api/v1/projects/{project}/models/{model}/cases", Summary: "Replace the clinical test cases (body: YAML cases: [...])", Tag: tag, Scope: Project, Perm: auth.PermModelSignoff, Handler: g.putCases},
		Route{Method: "GET", Pattern: ver + "/cases", Summary: "Run the clinical test cases against a version", Tag: tag, Scope: Project, Perm: auth.PermModelRead, Handler: g.runCases},
		Route{Method: "GET", Pattern: ver + "/signoffs", Summary: "Sign-offs of a version", Tag: tag, Scope: Project, Perm: auth.PermModelRead, Handler: g.signoffs},
		Route{Method: "POST", Pattern: ver + "/signoffs", Summary: `Sign a version off for an environment (body: {"environment", "comment"}; clinician-validators, not the run's author)`, Tag: tag, Scope: Project, Perm: auth.PermModelSignoff, Handler: g.signOff},
		Route{Method: "GET", Pattern: ver + "/card", Summary: "The model card (Markdown with Accept: text/markdown, else JSON)", Tag: tag, Scope: Project, Perm: auth.PermModelRead, Handler: g.card},
	)
}

// version resolves the path's model and version in the path's project.
func (g *governance) version(r *http.Request) (registry.Version, error) {
	n, err := pathInt(r, "version")
	if err != nil {
		return registry.Version{}, err
	}
	v, err := g.reg.Version(r.Context(), r.PathValue("model"), n)
	if err != nil || v.Project != r.PathValue("project") {
		return v, errs.NotFoundf("model %q version %d not found in project %q", r.PathValue("model"), n, r.PathValue("project"))
	}
	return v, nil
}

func (g *governance) model(r *http.Request) (string, error) {
	name := r.PathValue("model")
	if p, err := g.reg.ProjectOfModel(r.Context(), name); err != nil || p != r.PathValue("project") {
		return "", errs.NotFoundf("model %q not found in project %q", name, r.PathValue("project"))
	}
	return name, nil
}

func wantsText(r *http.Request, kind string) bool {
	return strings.Contains(r.Header.Get("Accept"), kind)
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errs.Invalidf("the request body is empty")
	}
	return b, nil
}

func (g *governance) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := g.reg.Policy(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	if wantsText(r, "yaml") {
		w.Header().Set("Content-Type", "application/yaml")
		_, err = w.Write(p.YAML())
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (g *governance) putPolicy(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	p, err := g.reg.SetPolicy(r.Context(), r.PathValue("project"), b)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (g *governance) promotions(w http.ResponseWriter, r *http.Request) error {
	name, err := g.model(r)
	if err != nil {
		return err
	}
	ps, err := g.reg.Promotions(r.Context(), name)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"promotions": orEmpty(ps)})
}

func (g *governance) rollback(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	name, err := g.model(r)
	if err != nil {
		return err
	}
	p, err := g.reg.Rollback(r.Context(), name, in.Reason)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, p)
}

func (g *governance) getCases(w http.ResponseWriter, r *http.Request) error {
	cs, err := g.reg.Cases(r.Context(), r.PathValue("project"), r.PathValue("model"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"cases": orEmpty(cs)})
}

func (g *governance) putCases(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	cs, err := g.reg.SetCases(r.Context(), r.PathValue("project"), r.PathValue("model"), b)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"cases": cs})
}

func (g *governance) runCases(w http.ResponseWriter, r *http.Request) error {
	v, err := g.version(r)
	if err != nil {
		return err
	}
	res, err := g.reg.RunCases(r.Context(), v)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"results": orEmpty(res)})
}

func (g *governance) signoffs(w http.ResponseWriter, r *http.Request) error {
	v, err := g.version(r)
	if err != nil {
		return err
	}
	so, err := g.reg.Signoffs(r.Context(), v.Model, v.Version)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"signoffs": orEmpty(so)})
}

func (g *governance) signOff(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Environment string `json:"environment"`
		Comment     string `json:"comment"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	v, err := g.version(r)
	if err != nil {
		return err
	}
	so, err := g.reg.SignOff(r.Context(), v.Model, v.Version, in.Environment, in.Comment)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, so)
}

func (g *governance) card(w http.ResponseWriter, r *http.Request) error {
	v, err := g.version(r)
	if err != nil {
		return err
	}
	c, err := g.reg.Card(r.Context(), v.Model, v.Version)
	if err != nil {
		return err
	}
	if wantsText(r, "markdown") {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_, err = io.WriteString(w, c.Markdown())
		return err
	}
	return WriteJSON(w, http.StatusOK, c)
}

// writeRefusal answers a promotion refused by its gates: 409 with the
// error and the full report.
func writeRefusal(w http.ResponseWriter, r *http.Request, err error) (bool, error) {
	var ref *registry.RefusedError
	if !errors.As(err, &ref) {
		return false, nil
	}
	var body struct {
		ErrorBody
		Promotion registry.Promotion `json:"promotion"`
	}
	body.Error.Code, body.Error.Message, body.Error.RequestID = errs.Conflict, errs.MessageOf(err), audit.RequestIDFrom(r.Context())
	body.Promotion = ref.Promotion
	return true, WriteJSON(w, http.StatusConflict, body)
}

func (g *governance) getCanary(w http.ResponseWriter, r *http.Request) error {
	name, err := g.model(r)
	if err != nil {
		return err
	}
	c, err := g.reg.Canary(r.Context(), name)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, c)
}

func (g *governance) patchModel(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		FeedbackAnnotation *string `json:"feedback_annotation"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.FeedbackAnnotation == nil {
		return errs.Invalidf("nothing to change: want feedback_annotation")
	}
	name, err := g.model(r)
	if err != nil {
		return err
	}
	m, err := g.reg.SetFeedbackAnnotation(r.Context(), name, *in.FeedbackAnnotation)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, m)
}

func (g *governance) putCanary(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Version int     `json:"version"`
		Share   float64 `json:"share"`
		Mode    string  `json:"mode"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Version < 1 {
		return errs.Invalidf("version: want a positive integer")
	}
	if in.Mode == "" {
		in.Mode = registry.ModeCanary
	}
	name, err := g.model(r)
	if err != nil {
		return err
	}
	c, err := g.reg.SetCanary(r.Context(), name, in.Version, in.Share, in.Mode)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, c)
}

func (g *governance) deleteCanary(w http.ResponseWriter, r *http.Request) error {
	name, err := g.model(r)
	if err != nil {
		return err
	}
	if err := g.reg.ClearCanary(r.Context(), name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *governance) importModel(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Format    string                   `json:"format"`
		Model     string                   `json:"model"`
		FileName  string                   `json:"file_name"`
		Signature registry.ImportSignature `json:"signature"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Model == "" {
		return errs.Invalidf("model: the model file's text is required")
	}
	v, err := g.reg.Import(r.Context(), registry.ImportOptions{Project: r.PathValue("project"), Model: r.PathValue("model"), Format: in.Format,
		File: []byte(in.Model), FileName: in.FileName, Signature: in.Signature})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, v)
}
