package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/dataset/profile"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/recipe"
)

// maxProfileCells bounds the versions the dataset page profiles: the
// profile reads the whole content into memory on every view, which a GET
// must not do for a very large table (the CLI's `hygie dataset profile`
// has no such limit).
const maxProfileCells = 20_000_000

// exampleRecipe prefills the recipe form: the demo's height conversion.
const exampleRecipe = `name: height-in-metres
steps:
  - convert: {column: taille_cm, from: cm, to: m, as: taille_m, digits: 3}
`

// stepHelp is one recipe step kind, as the form's help lists it.
type stepHelp struct {
	Kind, What, Example string
}

// stepGroup is a group of step kinds in the form's help.
type stepGroup struct {
	Name  string
	Steps []stepHelp
}

// recipeSteps is the short reference shown next to the recipe form, in the
// order of docs/recipes.md (the reference of every field). A test checks
// that it names every step kind the recipe engine knows.
var recipeSteps = []stepGroup{
	{"Columns", []stepHelp{
		{"select", "keep these columns, in this order", "select: [ipp, age, taille_m]"},
		{"drop", "remove columns", "drop: [commentaire]"},
		{"rename", "rename columns", "rename: {taille: taille_cm}"},
		{"cast", "change a column's type", "cast: {columns: [dose], to: float}"},
	}},
	{"Values", []stepHelp{
		{"convert", "units, lab values", "convert: {column: glucose, analyte: glucose, from: mg/dL, to: mmol/L}"},
		{"recode", "map values to values", `recode: {column: sexe, map: {"1": M, "2": F}}`},
		{"derive", "a new column from an expression", `derive: {name: imc, expr: "poids_kg / taille_m ** 2"}`},
		{"filter", "keep the rows where an expression holds", "filter: age >= 18"},
		{"impute", "fill missing values", "impute: {column: lactate, method: median}"},
		{"bin", "cut numbers into intervals", "bin: {column: age, edges: [0, 18, 65, .inf]}"},
		{"one_hot", "one 0/1 column per category", "one_hot: {column: sexe, categories: [M, F]}"},
		{"age", "time between two dates", "age: {from: naissance, to: admission, name: age}"},
	}},
	{"Learning", []stepHelp{
		{"split", "train / validation / test column", "split: {fractions: {train: 0.8, test: 0.2}, seed: 7}"},
	}},
	{"Quality checks: stop when they fail", []stepHelp{
		{"not_null", "no missing value", "not_null: [ipp, admission]"},
		{"range", "values within bounds", "range: {column: taille_cm, min: 40, max: 250}"},
		{"unique", "no two rows share a value", "unique: [sejour]"},
		{"allowed", "values among a list", "allowed: {column: sexe, values: [M, F]}"},
		{"row_count", "number of rows within bounds", "row_count: {min: 100}"},
	}},
}

// versionRow is one line of the versions list.
type versionRow struct {
	dataset.Version
	URL     string
	Current bool
}

// lineageBox is one version in the lineage chain.
type lineageBox struct {
	Ref     string
	URL     string
	Level   dataset.Level
	Rows    int
	How     string // "imported", or the first line of its recipe
	HowFull string // the recipe's first line, unshortened
	Current bool
}

// transformForm is the recipe form's state.
type transformForm struct {
	Recipe string
	Output string
	Error  string
}

type datasetData struct {
	Project   string
	Dataset   string
	Version   dataset.Version
	Latest    int    // the latest version number
	LatestURL string // its page
	Versions  []versionRow
	Lineage   []lineageBox // oldest ancestor first, this version last
	Steps     []string     // the recipe's steps, one line each, when it parses
	// ParentURL links the parent version, if any.
	ParentURL string
	Flash     string

	Identifying bool // the version holds identifying data
	ShowProfile bool
	// ProfileNote says why no profile is shown, when it is not.
	ProfileNote string
	Profile     *profileView
	ProfileErr  string

	CanTransform bool
	Form         transformForm
	RecipeSteps  []stepGroup
}

// datasetURL is the page of one version of a dataset (0: the latest).
func datasetURL(project, name string, version int) string {
	u := "/projects/" + url.PathEscape(project) + "/datasets/" + url.PathEscape(name)
	if version > 0 {
		u += "?v=" + strconv.Itoa(version)
	}
	return u
}

// refURL links a "name@version" reference of a project's dataset.
func refURL(project, ref string) string {
	name, v, ok := strings.Cut(ref, "@")
	n, err := strconv.Atoi(v)
	if !ok || err != nil {
		return datasetURL(project, ref, 0)
	}
	return datasetURL(project, name, n)
}

// datasetPage shows a dataset version: its versions, schema, lineage and,
// to those who may read it, its privacy-aware profile.
func (u *UI) datasetPage(w http.ResponseWriter, r *http.Request) error {
	project, name := r.PathValue("project"), r.PathValue("dataset")
	n := 0
	if s := r.URL.Query().Get("v"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			return errs.Invalidf("version %q: want a positive number", s)
		}
	}
	v, err := u.d.Datasets.Get(r.Context(), project, name, n)
	if err != nil {
		return err
	}
	form := transformForm{Recipe: exampleRecipe}
	var flash string
	switch r.URL.Query().Get("created") {
	case "1":
		flash = "Recipe applied: " + v.Ref() + " was created."
	case "0":
		flash = "The recipe gave exactly the content of " + v.Ref() + ", which already existed: nothing new was created."
	}
	return u.renderDataset(w, r, http.StatusOK, v, form, flash)
}

// renderDataset renders the page of version v with the recipe form in the
// given state.
func (u *UI) renderDataset(w http.ResponseWriter, r *http.Request, status int, v dataset.Version, form transformForm, flash string) error {
	ctx := r.Context()
	p := auth.FromContext(ctx)
	d := datasetData{Project: v.Project, Dataset: v.Dataset, Version: v, Flash: flash, Form: form, RecipeSteps: recipeSteps,
		Identifying: v.Level == dataset.Identifying}
	if v.Parent != "" {
		d.ParentURL = refURL(v.Project, v.Parent)
	}
	versions, err := u.d.Datasets.Versions(ctx, v.Project, v.Dataset)
	if err != nil {
		return err
	}
	for _, o := range versions {
		if o.Version > d.Latest {
			d.Latest, d.LatestURL = o.Version, datasetURL(o.Project, o.Dataset, o.Version)
		}
		d.Versions = append(d.Versions, versionRow{Version: o, URL: datasetURL(o.Project, o.Dataset, o.Version), Current: o.Version == v.Version})
	}
	lineage, err := u.d.Datasets.Lineage(ctx, v)
	if err != nil {
		return err
	}
	for i := len(lineage) - 1; i >= 0; i-- {
		l := lineage[i]
		b := lineageBox{Ref: l.Ref(), URL: datasetURL(l.Project, l.Dataset, l.Version), Level: l.Level, Rows: l.Rows, Current: i == 0}
		b.HowFull = madeBy(l)
		b.How = shorten(b.HowFull, 48)
		d.Lineage = append(d.Lineage, b)
	}
	if v.Recipe != "" {
		if rec, err := recipe.Parse([]byte(v.Recipe)); err == nil {
			for _, s := range rec.Steps {
				d.Steps = append(d.Steps, s.Describe())
			}
		}
	}

	mayIdentify := p.Can(v.Project, auth.PermIdentifyingData)
	d.CanTransform = p.Can(v.Project, auth.PermDatasetWrite) && (!d.Identifying || mayIdentify)
	switch {
	case d.Identifying && !mayIdentify:
		d.ProfileNote = "This version holds identifying data: its profile is shown only to the project's data stewards."
	case v.Rows*max(1, len(v.Columns)) > maxProfileCells:
		d.ProfileNote = "This version is too large to profile in the page (" + strconv.Itoa(v.Rows) + " rows); profile it from the command line: hygie dataset profile " + v.Ref() + " -p " + v.Project + "."
	default:
		d.ShowProfile = true
		rep, err := profile.OfVersion(ctx, u.d.Datasets, v)
		switch {
		case err == nil:
			d.Profile = newProfileView(rep)
		case errs.CodeOf(err) == errs.Internal:
			u.log.Error("profile a dataset version", "request_id", audit.RequestIDFrom(ctx), "dataset", v.Ref(), "err", err)
			d.ProfileErr = "The profile could not be computed."
		default:
			d.ProfileErr = "The profile could not be computed: " + errs.MessageOf(err)
		}
	}
	title := v.Ref() + " · " + v.Project
	return u.render(w, status, "dataset", u.newPage(r, title, "projects", d))
}

// madeBy says how a version was made: imported, or by its recipe (its
// first non-empty line).
func madeBy(v dataset.Version) string {
	for line := range strings.Lines(v.Recipe) {
		if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
			return s
		}
	}
	if v.Parent != "" {
		return "derived from " + v.Parent
	}
	return "imported"
}

// transform applies a recipe typed in the dataset page to a version. A
// recipe that does not apply re-renders the page with the error and the
// recipe as typed; success goes to the new version's page.
func (u *UI) transform(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	project, name := r.PathValue("project"), r.PathValue("dataset")
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	n, err := strconv.Atoi(r.PostForm.Get("version"))
	if err != nil || n <= 0 {
		return errs.Invalidf("the form names no version to transform")
	}
	src, err := u.d.Datasets.Get(ctx, project, name, n)
	if err != nil {
		return err
	}
	// Browsers send a textarea's lines ending in CRLF: store plain lines.
	text := strings.ReplaceAll(r.PostForm.Get("recipe"), "\r\n", "\n")
	output := strings.TrimSpace(r.PostForm.Get("output"))
	out, created, err := recipe.Transform(ctx, u.d.Datasets, src, []byte(text), output)
	if err != nil {
		switch errs.CodeOf(err) {
		case errs.Invalid, errs.Conflict:
			form := transformForm{Recipe: text, Output: output, Error: errs.MessageOf(err)}
			return u.renderDataset(w, r, httpapi.Status(errs.CodeOf(err)), src, form, "")
		}
		return err
	}
	// The form posts to #transform, so that an error shows by the form; a
	// redirect would inherit that fragment: start the new page at its top.
	to := datasetURL(out.Project, out.Dataset, out.Version) + "&created=0#top"
	if created {
		to = datasetURL(out.Project, out.Dataset, out.Version) + "&created=1#top"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}
