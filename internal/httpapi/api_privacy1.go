package httpapi

import (
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/privacy/vault"
)

// AddPrivacyIAPI registers the de-identification of a pasted text and the
// vault's re-identification. Neither the text, its entities nor the
// re-identified value is ever logged: the logs carry route patterns only.
func (s *Server) AddPrivacyIAPI(svc Services) {
	p := &privacy1API{pseudo: svc.Pseudo}
	const tag = "privacy"
	s.Add(
		// De-identifying a text reads no project data; a scientist or a
		// steward (dataset.write) may use it.
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/deid", Summary: `De-identify a text (body: {"text": "...", "mode": "mask|surrogate|tag"}): the rewritten text and the entities with their offsets (code points)`,
			Tag: tag, Scope: Project, Perm: auth.PermDatasetWrite, Handler: p.deid},
		Route{Method: "POST", Pattern: "/api/v1/projects/{project}/vault/reidentify", Summary: `Re-identify a pseudonym (body: {"pseudonym": "...", "reason": "...", "domain": optional}); reidentifiers only, with a reason, audited, rate-limited; the answer must not be cached`,
			Tag: tag, Scope: Project, Perm: auth.PermVaultOpen, Handler: p.reidentify},
	)
}

type privacy1API struct{ pseudo *pseudo.Service }

// MaxDeidTextBytes is the largest text the deid endpoint accepts.
const MaxDeidTextBytes = 256 << 10

func (p *privacy1API) deid(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Text string `json:"text"`
		Mode string `json:"mode"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	res, err := DeidText(in.Text, in.Mode)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return WriteJSON(w, http.StatusOK, map[string]any{"mode": deidModeOr(in.Mode), "text": res.Text, "entities": res.Entities})
}

func deidModeOr(m string) string {
	if m == "" {
		return "mask"
	}
	return m
}

// DeidText de-identifies a pasted text (mode mask, surrogate or tag; empty:
// mask). Shared by the API and the web page.
func DeidText(text, mode string) (pseudo.TextResult, error) {
	mode = deidModeOr(mode)
	if _, err := deid.ParseMode(mode); err != nil {
		return pseudo.TextResult{}, errs.Invalidf("mode must be mask, surrogate or tag")
	}
	if text == "" {
		return pseudo.TextResult{}, errs.Invalidf("text is required")
	}
	if len(text) > MaxDeidTextBytes || !utf8.ValidString(text) {
		return pseudo.TextResult{}, errs.Invalidf("text must be valid UTF-8 of at most %d bytes", MaxDeidTextBytes)
	}
	eng, err := pseudo.Engine()
	if err != nil {
		return pseudo.TextResult{}, err
	}
	return pseudo.DeidentifyText(eng, text, pseudo.TextOptions{Mode: mode}), nil
}

func (p *privacy1API) reidentify(w http.ResponseWriter, r *http.Request) error {
	var in vault.Request
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	in.Project = r.PathValue("project")
	op, err := p.pseudo.Vault().Reidentify(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	return WriteJSON(w, http.StatusOK, op)
}

// pseudonymizeWithBody runs a pseudonymization with the optional JSON (or
// YAML) spec of the request body (see pseudo.Spec); no body: the defaults.
func pseudonymizeWithBody(ps *pseudo.Service, r *http.Request, v dataset.Version) (pseudo.Result, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return pseudo.Result{}, err
	}
	spec, err := pseudo.ParseSpec(b)
	if err != nil {
		return pseudo.Result{}, err
	}
	return ps.PseudonymizeWith(r.Context(), v, spec)
}
