package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/learn"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
)

// env is a registry with a project "proj", a serving service on it and
// an HTTP server with the inference protocol; sam (scientist of proj)
// holds a token.
type env struct {
	d     *db.DB
	al    *audit.Log
	runs  *track.Service
	reg   *registry.Service
	svc   *serve.Service
	prom  *prometheus.Registry
	ctx   context.Context // as sam
	srv   *httptest.Server
	token string
}

func newEnv(t testing.TB, d *db.DB, o serve.Options, hooks ...func(*serve.Service)) *env {
	t.Helper()
	ctx := context.Background()
	al := audit.New(d)
	as := auth.NewService(d, al)
	admin := auth.WithPrincipal(ctx, &auth.Principal{Username: "admin", Admin: true})
	if _, err := project.NewService(d, al).Create(admin, "proj", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := as.CreateUser(admin, "sam", "Sam", "", false); err != nil {
		t.Fatal(err)
	}
	if err := as.Grant(admin, "proj", "sam", auth.RoleScientist); err != nil {
		t.Fatal(err)
	}
	_, secret, err := as.CreateToken(admin, "sam", "t", auth.KindAPI, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{d: d, al: al, prom: prometheus.NewRegistry(), token: secret,
		ctx: auth.WithPrincipal(ctx, &auth.Principal{Username: "sam", Roles: map[string][]auth.Role{"proj": {auth.RoleScientist}}})}
	blobs := blob.NewMemory()
	e.runs = track.NewService(d, blobs, al)
	e.reg = registry.NewService(d, e.runs, al)
	o.Registerer = e.prom
	e.svc = serve.New(d, e.reg, blobs, al, o)
	for _, h := range hooks {
		h(e.svc)
	}
	t.Cleanup(func() { e.svc.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Options{Auth: as, Audit: al, Logger: log})
	srv.AddOIP(httpapi.Services{Serve: e.svc, Registry: e.reg})
	e.srv = httptest.NewServer(srv)
	t.Cleanup(e.srv.Close)
	return e
}

// linear is a regression model y = k·x on one numeric input x.
func linear(k float64) *model.Model {
	return &model.Model{Format: model.Format, Learner: model.Linear, Task: model.Regression, Target: "y",
		Inputs: []model.Input{{Name: "x", Type: model.Numeric}}, Linear: &learn.LinearRegression{Features: []string{"x"}, Coef: []float64{k}}}
}

// register adds m as a new version of name.
func (e *env) register(t testing.TB, name string, m *model.Model) registry.Version {
	t.Helper()
	r, err := e.runs.StartRun(e.ctx, "proj", "exp", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Marshal()
	if err := e.runs.PutArtifact(e.ctx, r.ID, "model/model.json", bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := e.runs.End(e.ctx, r.ID, track.Finished); err != nil {
		t.Fatal(err)
	}
	v, err := e.reg.Register(e.ctx, "proj", name, r.ID, "model/model.json", model.Format, registry.Signature{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) promote(t testing.TB, name string, version int, envs ...string) {
	t.Helper()
	for _, to := range envs {
		if _, err := e.reg.Promote(e.ctx, name, version, to); err != nil {
			t.Fatalf("promote %s %d to %s: %v", name, version, to, err)
		}
	}
}

var allEnvs = []string{"dev", "test", "integration", "production"}

// post sends an inference request; it returns the status and the decoded
// body (a response, or {"error": ...}).
func (e *env) post(t testing.TB, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Errorf("HTTP %d: body is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// xRequest is a request for the linear models: x = values.
func xRequest(values ...float64) string {
	b, _ := json.Marshal(map[string]any{"id": "r1", "inputs": []map[string]any{{"name": "x", "shape": []int{len(values)}, "datatype": "FP64", "data": values}}})
	return string(b)
}

// count is the number of logged predictions (route "" for all).
func (e *env) count(t testing.TB, route string) int {
	t.Helper()
	if err := e.svc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	q, args := `SELECT COUNT(*) FROM predictions`, []any{}
	if route != "" {
		q += ` WHERE route = ?`
		args = append(args, route)
	}
	var n int
	if err := e.d.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// metric returns the sum and count of a histogram, or a counter's value
// (count 0), summed over the label values that match labels.
func (e *env) metric(t testing.TB, name string, labels map[string]string) (sum float64, count uint64) {
	t.Helper()
	mfs, err := e.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Histogram != nil:
				sum += m.Histogram.GetSampleSum()
				count += m.Histogram.GetSampleCount()
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum, count
}

// Adult-like data: the features of the UCI adult census table (the
// benchmark's reference model), with a synthetic target.
var adultCats = map[string][]string{
	"sex":            {"Male", "Female"},
	"race":           {"White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other"},
	"marital-status": {"Married-civ-spouse", "Divorced", "Never-married", "Separated", "Widowed", "Married-spouse-absent"},
	"education":      {"Bachelors", "Some-college", "11th", "HS-grad", "Prof-school", "Assoc-acdm", "Masters", "Doctorate", "9th"},
	"native-country": {"United-States", "Mexico", "Philippines", "Germany", "Canada", "India", "England", "Cuba"},
	"workclass":      {"Private", "Self-emp-not-inc", "Self-emp-inc", "Federal-gov", "Local-gov", "State-gov"},
	"occupation":     {"Tech-support", "Craft-repair", "Other-service", "Sales", "Exec-managerial", "Prof-specialty", "Adm-clerical"},
}

var adultOrder = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"}

// adultTable returns n synthetic rows with the adult features and a binary
// target "salary-class".
func adultTable(n int, seed uint64) *model.Table {
	r := rand.New(rand.NewPCG(seed, 1))
	t := &model.Table{}
	cols := map[string]*model.Column{}
	for _, name := range adultOrder {
		t.Cols = append(t.Cols, model.Column{Name: name})
	}
	t.Cols = append(t.Cols, model.Column{Name: "salary-class"})
	for i := range t.Cols {
		cols[t.Cols[i].Name] = &t.Cols[i]
	}
	for range n {
		score := -2.0
		for _, name := range adultOrder {
			if name == "age" {
				age := float64(17 + r.IntN(70))
				cols["age"].Num = append(cols["age"].Num, age)
				score += (age - 40) / 15
				continue
			}
			cats := adultCats[name]
			k := r.IntN(len(cats))
			cols[name].Text = append(cols[name].Text, cats[k])
			score += float64(k%3) * 0.4
		}
		label := "<=50K"
		if r.Float64() < 1/(1+math.Exp(-score)) {
			label = ">50K"
		}
		cols["salary-class"].Text = append(cols["salary-class"].Text, label)
	}
	return t
}

// adultModel fits a small gradient-boosted model on adult-like data.
func adultModel(t testing.TB) (*model.Model, *model.Table) {
	t.Helper()
	tab := adultTable(3000, 1)
	p, err := model.ParseParams(model.GBDT, map[string]string{"trees": "100", "seed": "1"})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := model.Prepare(tab, "salary-class", ">50K", adultOrder, p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pb.Fit(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m, tab
}

// adultRequest is an inference request for rows [from, to) of tab.
func adultRequest(tab *model.Table, from, to int) serve.Request {
	var req serve.Request
	for _, name := range adultOrder {
		c := tab.Col(name)
		tn := serve.Tensor{Name: name, Shape: []int64{int64(to - from)}}
		if c.Num != nil {
			tn.Datatype = "FP64"
			tn.Data, _ = json.Marshal(c.Num[from:to])
		} else {
			tn.Datatype = "BYTES"
			tn.Data, _ = json.Marshal(c.Text[from:to])
		}
		req.Inputs = append(req.Inputs, tn)
	}
	return req
}

func versionOf(resp map[string]any) string { s, _ := resp["model_version"].(string); return s }

func itoa(n int) string { return strconv.Itoa(n) }

var _ = fmt.Sprint
