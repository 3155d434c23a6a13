package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/privacy/vault"
)

// MaxDeidPageBytes is the largest text the de-identification page accepts
// (the API accepts more: httpapi.MaxDeidTextBytes).
const MaxDeidPageBytes = 100 << 10

// deidMode is a mode of the de-identification form.
type deidMode struct{ Value, Name, Help string }

// deidModes are the engine's modes (see pseudo.TextOptions).
var deidModes = []deidMode{
	{"mask", "Mask", "each entity becomes its label, e.g. [NOM]"},
	{"surrogate", "Surrogate", "realistic fake values, consistent within the text; dates are masked"},
	{"tag", "Tag only", "the text is unchanged; the entities are highlighted"},
}

// deidLabelNames say what each label stands for.
var deidLabelNames = map[deid.Label]string{
	deid.Nom: "last name", deid.Prenom: "first name", deid.Date: "date", deid.DateNaissance: "birth date",
	deid.Adresse: "address", deid.Ville: "city", deid.Zip: "postcode", deid.Tel: "phone number", deid.Mail: "e-mail",
	deid.Secu: "social security number (NIR)", deid.IPP: "patient id (IPP)", deid.NDA: "stay number (NDA)", deid.Hopital: "hospital",
}

// deidSeg is a run of the de-identified text: plain, or the replacement of
// an entity (Label set).
type deidSeg struct {
	Text  string
	Label string
}

// deidCount is one line of the legend.
type deidCount struct {
	Label, Name string
	Count       int
}

type deidData struct {
	Project  string
	Text     string // the user's own input, put back in the textarea only
	Mode     string
	Modes    []deidMode
	MaxKB    int
	Error    string
	Done     bool
	Output   string // the de-identified text, plain
	Segments []deidSeg
	Marked   bool // Segments carry the highlights
	Legend   []deidCount
	Total    int
}

func (u *UI) deidPage(w http.ResponseWriter, r *http.Request) error {
	return u.renderDeid(w, r, http.StatusOK, deidData{Mode: "mask"})
}

func (u *UI) renderDeid(w http.ResponseWriter, r *http.Request, status int, d deidData) error {
	d.Project, d.Modes, d.MaxKB = r.PathValue("project"), deidModes, MaxDeidPageBytes>>10
	return u.render(w, status, "deid", u.newPage(r, "De-identify a text · "+d.Project, "projects", d))
}

// deidText de-identifies the pasted text with the engine. Neither the text
// nor its entities are stored or logged: they are in this answer only.
func (u *UI) deidText(w http.ResponseWriter, r *http.Request) error {
	// Percent-encoding may triple the size of a text: bound the body, then
	// the text itself.
	r.Body = http.MaxBytesReader(w, r.Body, 3*MaxDeidPageBytes+4096)
	if err := r.ParseForm(); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return u.renderDeid(w, r, http.StatusRequestEntityTooLarge, deidData{Mode: "mask", Error: tooLongDeid(r)})
		}
		return errs.Invalidf("malformed form")
	}
	d := deidData{Text: r.PostForm.Get("text"), Mode: r.PostForm.Get("mode")}
	if d.Mode == "" {
		d.Mode = "mask"
	}
	switch {
	case len(d.Text) > MaxDeidPageBytes:
		// Not put back: the browser would post it again.
		d.Text, d.Error = "", tooLongDeid(r)
		return u.renderDeid(w, r, http.StatusRequestEntityTooLarge, d)
	case strings.TrimSpace(d.Text) == "":
		d.Error = "Paste a text to de-identify."
		return u.renderDeid(w, r, http.StatusBadRequest, d)
	case !utf8.ValidString(d.Text):
		d.Text, d.Error = "", "The text is not valid UTF-8."
		return u.renderDeid(w, r, http.StatusBadRequest, d)
	}
	res, err := httpapi.DeidText(d.Text, d.Mode)
	if errs.Is(err, errs.Invalid) {
		d.Error = errs.MessageOf(err)
		if !validDeidMode(d.Mode) {
			d.Mode = "mask"
		}
		return u.renderDeid(w, r, http.StatusBadRequest, d)
	}
	if err != nil {
		return err // the engine's (no text in it)
	}
	d.Done, d.Output, d.Total = true, res.Text, len(res.Entities)
	d.Segments, d.Marked = deidSegments(d.Text, res, d.Mode)
	counts := map[deid.Label]int{}
	for _, e := range res.Entities {
		counts[e.Label]++
	}
	for _, l := range deid.Labels() {
		if n := counts[l]; n > 0 {
			d.Legend = append(d.Legend, deidCount{Label: l.String(), Name: deidLabelNames[l], Count: n})
		}
	}
	return u.renderDeid(w, r, http.StatusOK, d)
}

func tooLongDeid(r *http.Request) string {
	return fmt.Sprintf("The text is too long: this page accepts at most %d KB. Split it, or use the API (POST /api/v1/projects/%s/deid).",
		MaxDeidPageBytes>>10, r.PathValue("project"))
}

func validDeidMode(m string) bool {
	return slices.ContainsFunc(deidModes, func(x deidMode) bool { return x.Value == m })
}

// deidSegments splits the de-identified text into plain runs and entity
// replacements, so that the page can highlight them. The entities' offsets
// count code points into the original text. In mask and tag modes the
// replacements are known; in surrogate mode they are found between the
// unchanged runs of the original. ok is false when the text cannot be
// aligned: the page then shows it without highlights.
func deidSegments(orig string, res pseudo.TextResult, mode string) (segs []deidSeg, ok bool) {
	rs := []rune(orig)
	ents := res.Entities
	for i, e := range ents {
		if e.Start < 0 || e.End > len(rs) || e.Start >= e.End || i > 0 && e.Start < ents[i-1].End {
			return []deidSeg{{Text: res.Text}}, false
		}
	}
	gap := func(i int) string { // the original text before entity i (i == len: after the last)
		from, to := 0, len(rs)
		if i > 0 {
			from = ents[i-1].End
		}
		if i < len(ents) {
			to = ents[i].Start
		}
		return string(rs[from:to])
	}
	plain := func(s string) {
		if s != "" {
			segs = append(segs, deidSeg{Text: s})
		}
	}
	// Known replacements.
	if mode == "mask" || mode == "tag" {
		var b strings.Builder
		for i, e := range ents {
			plain(gap(i))
			s := e.Text
			if mode == "mask" {
				s = "[" + e.Label.String() + "]"
			}
			segs = append(segs, deidSeg{Text: s, Label: e.Label.String()})
		}
		plain(gap(len(ents)))
		for _, s := range segs {
			b.WriteString(s.Text)
		}
		if b.String() == res.Text {
			return segs, true
		}
		segs = nil
	}
	return alignSegments(rs, ents, res.Text)
}

// alignSegments finds the replacements of the entities in out, the text
// rewritten by the engine, knowing that the runs of the original between
// entities are unchanged and in order. A run may also occur inside a
// replacement (a space inside a surrogate address): of the possible
// splits, it keeps the one whose replacements are closest in length and
// word count to the originals, as surrogates are. Adjacent entities (no
// run between them) share one mark.
func alignSegments(rs []rune, ents []deid.Entity, out string) ([]deidSeg, bool) {
	fail := []deidSeg{{Text: out}}
	type group struct {
		label, orig string
		start, end  int // runes
	}
	var gs []group
	for _, e := range ents {
		if n := len(gs); n > 0 && gs[n-1].end == e.Start {
			gs[n-1].label += "+" + e.Label.String()
			gs[n-1].end = e.End
			gs[n-1].orig = string(rs[gs[n-1].start:e.End])
			continue
		}
		gs = append(gs, group{label: e.Label.String(), orig: e.Text, start: e.Start, end: e.End})
	}
	gaps := make([]string, len(gs)+1)
	for i := range gaps {
		from, to := 0, len(rs)
		if i > 0 {
			from = gs[i-1].end
		}
		if i < len(gs) {
			to = gs[i].start
		}
		gaps[i] = string(rs[from:to])
	}
	if len(gs) == 0 {
		return fail, out == gaps[0]
	}
	if !strings.HasPrefix(out, gaps[0]) || !strings.HasSuffix(out, gaps[len(gs)]) {
		return fail, false
	}
	cost := func(repl, orig string) int {
		d := utf8.RuneCountInString(repl) - utf8.RuneCountInString(orig)
		w := len(strings.Fields(repl)) - len(strings.Fields(orig))
		return max(d, -d) + 4*max(w, -w)
	}
	// steps[i][end] is the cheapest way for group i's replacement to end at
	// byte end of out, and where the previous one ended.
	type state struct{ cost, prev int }
	const maxCandidates = 64
	steps := make([]map[int]state, len(gs))
	starts := map[int]state{len(gaps[0]): {0, -1}} // start of group 0 → its state
	for i, g := range gs {
		steps[i] = map[int]state{}
		next := gaps[i+1]
		keep := func(start, end int, from state) {
			if end <= start {
				return
			}
			c := from.cost + cost(out[start:end], g.orig)
			if old, ok := steps[i][end]; !ok || c < old.cost || c == old.cost && start < old.prev {
				steps[i][end] = state{c, start}
			}
		}
		for start, st := range starts {
			if i == len(gs)-1 {
				keep(start, len(out)-len(next), st)
				continue
			}
			limit := min(len(out), start+4*len(g.orig)+64+len(next))
			for k, n := start+1, 0; k < limit && n < maxCandidates; n++ {
				j := strings.Index(out[k:limit], next)
				if j < 0 {
					break
				}
				keep(start, k+j, st)
				k += j + 1
			}
		}
		if len(steps[i]) == 0 {
			return fail, false
		}
		starts = map[int]state{}
		for end, st := range steps[i] {
			starts[end+len(next)] = state{st.cost, end}
		}
	}
	// Walk back from the end.
	ends := make([]int, len(gs))
	ends[len(gs)-1] = len(out) - len(gaps[len(gs)])
	for i := len(gs) - 1; i > 0; i-- {
		ends[i-1] = steps[i][ends[i]].prev - len(gaps[i])
	}
	var segs []deidSeg
	plain := func(s string) {
		if s != "" {
			segs = append(segs, deidSeg{Text: s})
		}
	}
	pos := 0
	for i, g := range gs {
		plain(gaps[i])
		start := pos + len(gaps[i])
		segs = append(segs, deidSeg{Text: out[start:ends[i]], Label: g.label})
		pos = ends[i]
	}
	plain(gaps[len(gs)])
	return segs, true
}

type vaultData struct {
	Project   string
	Pseudonym string
	Domain    string
	Reason    string // kept only when the form is shown again after an error
	MinReason int
	Error     string
	Opening   *vault.Opening
	Audited   string // the reason the audit log recorded
}

func (u *UI) vaultPage(w http.ResponseWriter, r *http.Request) error {
	if u.d.Vault == nil {
		return errs.NotFoundf("the vault is not enabled on this server")
	}
	return u.renderVault(w, r, http.StatusOK, vaultData{})
}

func (u *UI) renderVault(w http.ResponseWriter, r *http.Request, status int, d vaultData) error {
	d.Project = r.PathValue("project")
	if d.MinReason = u.d.Vault.MinReason; d.MinReason <= 0 {
		d.MinReason = vault.DefaultMinReason
	}
	// The page may hold an original value: never cached, never kept.
	w.Header().Set("Pragma", "no-cache")
	return u.render(w, status, "vault", u.newPage(r, "Vault · "+d.Project, "projects", d))
}

// vaultOpen re-identifies a pseudonym. The original value is in this
// answer only (not in a redirect, an URL or a log); the vault service
// audits the attempt with its reason and enforces the hourly limit.
func (u *UI) vaultOpen(w http.ResponseWriter, r *http.Request) error {
	if u.d.Vault == nil {
		return errs.NotFoundf("the vault is not enabled on this server")
	}
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	f := r.PostForm
	d := vaultData{Pseudonym: strings.TrimSpace(f.Get("pseudonym")), Domain: strings.TrimSpace(f.Get("domain")), Reason: f.Get("reason")}
	op, err := u.d.Vault.Reidentify(r.Context(), vault.Request{Project: r.PathValue("project"), Domain: d.Domain, Pseudonym: d.Pseudonym, Reason: d.Reason})
	switch code := errs.CodeOf(err); {
	case err == nil:
		d.Opening, d.Audited, d.Reason = &op, strings.TrimSpace(d.Reason), ""
		return u.renderVault(w, r, http.StatusOK, d)
	case code == errs.Invalid || code == errs.NotFound || code == errs.Conflict || code == errs.RateLimited:
		// Wrong input, unknown pseudonym, several domains, or the hourly limit.
		d.Error = errs.MessageOf(err)
		return u.renderVault(w, r, httpapi.Status(code), d)
	default:
		return err
	}
}
