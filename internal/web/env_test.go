package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/web"
)

const (
	adminToken = "hyg_test-admin-bootstrap-token"
	// The password of every seeded user with one.
	password = "correct-horse-battery"
	// A value in the seeded dataset's rows: no page may ever show it.
	rowValue = "PSEUDO-7f3a9c"
)

// env is a whole hygie HTTP server (API plumbing + web UI) on a fresh
// SQLite database, seeded with one project "sepsis" and its members:
//
//	alice  scientist            (password)
//	victor viewer               (password)
//	carla  clinician-validator  (password)
//	nora   no role anywhere     (password)
//	sam    steward              (password)
//
// plus the bootstrap admin (token only), a pseudonymized dataset, a finished
// run registered as model "sepsis-risk" v1 in dev, and one prediction; a
// second project "cardio" holds one prediction of its own. The steward also
// imported an identifying extract, "admissions@1" (names, IPPs, free-text
// notes), and derived "admissions_pseudo@1" from it (see seedAdmissions).
type env struct {
	t        *testing.T
	srv      *httptest.Server
	client   *http.Client
	db       *db.DB
	auth     *auth.Service
	audit    *audit.Log
	monitor  *monitor.Service
	datasets *dataset.Service
	pseudo   *pseudo.Service
	runs     *track.Service
	jobs     *jobs.Service
	pred     string // the sepsis prediction's id
	cardioPr string // the cardio prediction's id
	// secrets are the identifying cells of the admissions extract (names,
	// IPPs, their pseudonyms, notes): no page may ever show one.
	secrets []string
}

func newEnv(t *testing.T, configure ...func(*web.Deps)) *env {
	t.Helper()
	ctx := context.Background()
	d := dbtest.SQLite(t)
	blobs := blob.NewMemory()
	kr, err := keys.New(keys.Random())
	if err != nil {
		t.Fatal(err)
	}
	a := audit.New(d)
	authSvc := auth.NewService(d, a)
	projects := project.NewService(d, a)
	datasets := dataset.NewService(d, blobs, kr, a)
	runs := track.NewService(d, blobs, a)
	reg := registry.NewService(d, runs, a)
	mon := monitor.NewService(d, a)
	ps := pseudo.NewService(d, kr, datasets, a)
	js := jobs.NewService(d, runs, authSvc, a, jobs.NewLocal(2), "http://127.0.0.1:1", t.TempDir())

	srv := httpapi.New(httpapi.Options{Auth: authSvc, Audit: a, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	deps := web.Deps{Auth: authSvc, Projects: projects, Audit: a, Datasets: datasets, Runs: runs, Registry: reg, Monitor: mon, Vault: ps.Vault(), Jobs: js,
		SessionTTL: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range configure {
		f(&deps)
	}
	ui, err := web.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	srv.Add(ui.Routes()...)
	srv.ErrorPage = ui.ErrorPage
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	e := &env{t: t, srv: ts, db: d, auth: authSvc, audit: a, monitor: mon, datasets: datasets, pseudo: ps, runs: runs, jobs: js,
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	// Seed, acting as the bootstrap admin and then as members.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := authSvc.Bootstrap(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	admin := e.as("admin")
	_, err = projects.Create(admin, "sepsis", "Early sepsis warning", "Predict sepsis onset in the ICU from vital signs and lactate.")
	must(err)
	_, err = projects.Create(admin, "cardio", "Heart failure readmission", "")
	must(err)
	for _, u := range []struct {
		name, display string
		role          auth.Role
	}{
		{"alice", "Alice Martin", auth.RoleScientist},
		{"victor", "Victor Leroy", auth.RoleViewer},
		{"carla", "Dr Carla Bernard", auth.RoleClinicianValidator},
		{"nora", "Nora Petit", ""},
		{"sam", "Samir Haddad", auth.RoleSteward},
	} {
		_, err := authSvc.CreateUser(admin, u.name, u.display, password, false)
		must(err)
		if u.role != "" {
			must(authSvc.Grant(admin, "sepsis", u.name, u.role))
		}
	}
	must(authSvc.Grant(admin, "cardio", "alice", auth.RoleScientist))

	alice := e.as("alice")
	tbl := &dataset.Table{
		Columns: []dataset.Column{
			{Name: "pid", Type: dataset.TypeString, Role: dataset.RolePatientID},
			{Name: "age", Type: dataset.TypeInteger, Role: dataset.RoleFeature},
			{Name: "lactate", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
			{Name: "sepsis", Type: dataset.TypeInteger, Role: dataset.RoleTarget},
		},
		Rows: [][]string{{rowValue, "71", "3.1", "1"}, {"PSEUDO-0b12de", "54", "1.2", "0"}, {"PSEUDO-99aa01", "63", "2.4", "1"}},
	}
	dsv, _, err := datasets.Create(alice, dataset.NewVersion{Project: "sepsis", Dataset: "icu_vitals", Table: tbl, Level: dataset.Pseudonymized})
	must(err)
	must(reg.SetGate(admin, "sepsis", registry.Rule{Metric: "auc", Op: ">=", Threshold: 0.8}))
	e.seedAdmissions(e.as("sam"), datasets)
	e.pred = e.seedModel(alice, runs, reg, "sepsis", "sepsis-risk", &dsv.ID, "pred-sepsis-0001")
	e.cardioPr = e.seedModel(alice, runs, reg, "cardio", "readmit", nil, "pred-cardio-0001")
	return e
}

// seedModel records a finished run, registers it, promotes it to dev, and
// logs one prediction of it.
func (e *env) seedModel(ctx context.Context, runs *track.Service, reg *registry.Service, project, model string, dsID *int64, predID string) string {
	t := e.t
	t.Helper()
	run, err := runs.StartRun(ctx, project, "baseline", "logistic", dsID)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{"auc": 0.8412, "brier": 0.1187, "sensitivity": 0.79, "specificity": 0.83, "f1": 0.7} {
		if err := runs.LogMetric(ctx, run.ID, k, v, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := runs.PutArtifact(ctx, run.ID, "model.json", strings.NewReader(`{"coef":[0.1]}`)); err != nil {
		t.Fatal(err)
	}
	if err := runs.End(ctx, run.ID, track.Finished); err != nil {
		t.Fatal(err)
	}
	mv, err := reg.Register(ctx, project, model, run.ID, "model.json", "linear", registry.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Promote(ctx, model, mv.Version, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec(ctx, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json) VALUES (?, ?, ?, ?, ?)`,
		predID, mv.ID, time.Now().UTC(), `{"age":71,"lactate":3.1}`, `{"risk":0.82}`); err != nil {
		t.Fatal(err)
	}
	return predID
}

// seedAdmissions has the steward import an identifying extract of 120
// admissions, admissions@1 (IPP, name, sex, birth date, height, admission
// date, diabetes, lactate, sepsis, free-text notes naming the patient), and
// derive admissions_pseudo@1 from it as hygie's pseudonymization does: IPPs
// become pseudonyms, names and notes are dropped, birth dates keep the year.
// The values are made up but deterministic.
func (e *env) seedAdmissions(ctx context.Context, datasets *dataset.Service) {
	t := e.t
	t.Helper()
	first := []string{"Jeanne", "Marcel", "Odette", "Lucien", "Simone", "Gaston", "Yvette", "Raymond", "Huguette", "Fernand", "Ginette", "Albert"}
	last := []string{"Dupontel", "Lefebvre", "Moreau", "Girardin", "Fontaine", "Chevalier", "Rousseau", "Blanchard", "Gauthier", "Perrin"}
	rng := rand.New(rand.NewPCG(20240501, 7))
	day0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ident := &dataset.Table{Columns: []dataset.Column{
		{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID},
		{Name: "nom", Type: dataset.TypeString, Role: dataset.RoleDirectIdentifier},
		{Name: "sexe", Type: dataset.TypeString, Role: dataset.RoleQuasiIdentifier},
		{Name: "naissance", Type: dataset.TypeDate, Role: dataset.RoleQuasiIdentifier},
		{Name: "taille_cm", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "admission", Type: dataset.TypeDate, Role: dataset.RoleDate},
		{Name: "diabete", Type: dataset.TypeBoolean, Role: dataset.RoleFeature},
		{Name: "lactate", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "sepsis", Type: dataset.TypeInteger, Role: dataset.RoleTarget},
		{Name: "notes", Type: dataset.TypeText, Role: dataset.RoleText},
	}}
	pseudo := &dataset.Table{Columns: []dataset.Column{
		{Name: "ipp", Type: dataset.TypeString, Role: dataset.RolePatientID},
		{Name: "sexe", Type: dataset.TypeString, Role: dataset.RoleQuasiIdentifier},
		{Name: "naissance_annee", Type: dataset.TypeInteger, Role: dataset.RoleQuasiIdentifier},
		{Name: "taille_cm", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "admission", Type: dataset.TypeDate, Role: dataset.RoleDate},
		{Name: "diabete", Type: dataset.TypeBoolean, Role: dataset.RoleFeature},
		{Name: "lactate", Type: dataset.TypeFloat, Role: dataset.RoleFeature},
		{Name: "sepsis", Type: dataset.TypeInteger, Role: dataset.RoleTarget},
	}}
	for i := range 120 {
		ipp := fmt.Sprintf("IPP-%07d", 4410000+i*37)
		name := first[i%len(first)] + " " + last[i/len(first)]
		sum := sha256.Sum256([]byte(ipp))
		pseudonym := "PS" + hex.EncodeToString(sum[:])[:20]
		note := fmt.Sprintf("Vu aux urgences, %s, douleur thoracique", name)
		sex := "F"
		if rng.IntN(100) < 47 {
			sex = "M"
		}
		born := time.Date(1938+rng.IntN(62), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		height := 158.0 + 11*rng.NormFloat64()
		if sex == "M" {
			height += 12
		}
		lactate, sepsis := "", "0"
		if rng.IntN(10) > 0 {
			l := 0.7 + rng.ExpFloat64()*1.4
			lactate = strconv.FormatFloat(l, 'f', 1, 64)
			if l > 2.5 && rng.IntN(3) > 0 {
				sepsis = "1"
			}
		}
		diabetes := strconv.FormatBool(rng.IntN(4) == 0)
		admitted := day0.AddDate(0, 0, rng.IntN(182)).Format(time.DateOnly)
		h := strconv.FormatFloat(height, 'f', 1, 64)
		ident.Rows = append(ident.Rows, []string{ipp, name, sex, born.Format(time.DateOnly), h, admitted, diabetes, lactate, sepsis, note})
		pseudo.Rows = append(pseudo.Rows, []string{pseudonym, sex, strconv.Itoa(born.Year()), h, admitted, diabetes, lactate, sepsis})
		e.secrets = append(e.secrets, ipp, name, pseudonym, note)
	}
	src, _, err := datasets.Create(ctx, dataset.NewVersion{Project: "sepsis", Dataset: "admissions", Table: ident, Level: dataset.Identifying})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := datasets.Create(ctx, dataset.NewVersion{Project: "sepsis", Dataset: "admissions_pseudo", Table: pseudo, Level: dataset.Pseudonymized,
		Parent: &src, Recipe: "pseudonymize: hmac-sha256 (project key) on [ipp]; drop [nom notes]; year only for [naissance]"}); err != nil {
		t.Fatal(err)
	}
}

// as returns a context acting as username, with their current roles.
func (e *env) as(username string) context.Context {
	e.t.Helper()
	p, err := e.auth.PrincipalOf(context.Background(), username)
	if err != nil {
		e.t.Fatal(err)
	}
	return auth.WithPrincipal(context.Background(), p)
}

// session opens a web session for username directly (no bcrypt), and
// returns its cookie.
func (e *env) session(username string) *http.Cookie {
	e.t.Helper()
	_, secret, err := e.auth.CreateToken(e.as(username), username, "test session", auth.KindSession, time.Hour, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Cookie{Name: httpapi.SessionCookie, Value: secret}
}

// response is a finished HTTP exchange.
type response struct {
	*http.Response
	Body string
}

// do sends a request. For unsafe methods, origin "" means "from our own
// pages" (the server's Origin); "-" sends no Origin at all.
func (e *env) do(method, path string, form url.Values, cookie *http.Cookie, origin string) response {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method != http.MethodGet && method != http.MethodHead {
		switch origin {
		case "":
			req.Header.Set("Origin", e.srv.URL)
		case "-":
		default:
			req.Header.Set("Origin", origin)
		}
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Response: resp, Body: string(b)}
}

func (e *env) get(path string, cookie *http.Cookie) response {
	e.t.Helper()
	return e.do(http.MethodGet, path, nil, cookie, "")
}

// sessionCookie returns the session cookie a response sets, or nil.
func sessionCookie(r response) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == httpapi.SessionCookie {
			return c
		}
	}
	return nil
}
