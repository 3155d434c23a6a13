package track_test

import (
	"context"
	"io"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/track"
)

// newService returns a tracking service over d with a project "proj", and a
// context acting as "sam".
func newService(t testing.TB, d *db.DB) (*track.Service, *audit.Log, context.Context) {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "sam")
	a := audit.New(d)
	if _, err := project.NewService(d, a).Create(ctx, "proj", "", ""); err != nil {
		t.Fatal(err)
	}
	return track.NewService(d, blob.NewMemory(), a), a, ctx
}

func TestStartRun(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		r1, err := s.StartRun(ctx, "proj", "", "first", nil)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := s.StartRun(ctx, "proj", "default", "second", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartRun(ctx, "nope", "", "x", nil); !errs.Is(err, errs.NotFound) {
			t.Errorf("StartRun in an unknown project: %v", err)
		}
		got, err := s.Get(ctx, r1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Experiment != "default" || got.Status != track.Running || got.CreatedBy != "sam" || got.EndedAt != nil || got.Project != "proj" {
			t.Errorf("Get = %+v", got)
		}
		list, err := s.List(ctx, "proj")
		if err != nil || len(list) != 2 || list[0].ID != r2.ID {
			t.Errorf("List = %v, %v; want 2 runs, newest first", list, err)
		}
		if _, err := s.Get(ctx, r2.ID+100); !errs.Is(err, errs.NotFound) {
			t.Errorf("Get unknown run: %v", err)
		}
	})
}

func TestParamsCannotChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		r, err := s.StartRun(ctx, "proj", "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name, key, value string
			want             errs.Code
		}{
			{"first value", "alpha", "0.1", ""},
			{"other key", "features", "age,glycemie", ""},
			{"changed value", "alpha", "0.2", errs.Conflict},
			{"empty value is a value", "note", "", ""},
			{"changed empty value", "note", "x", errs.Conflict},
			{"empty key", "", "1", errs.Invalid},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				if err := s.LogParam(ctx, r.ID, st.key, st.value); errs.CodeOf(err) != st.want {
					t.Fatalf("LogParam(%q, %q) = %v, want %q", st.key, st.value, err, st.want)
				}
			})
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"alpha": "0.1", "features": "age,glycemie", "note": ""}
		if !maps.Equal(got.Params, want) {
			t.Errorf("params = %v, want %v", got.Params, want)
		}
	})
}

func TestMetrics(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		r, err := s.StartRun(ctx, "proj", "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		invalid := []struct {
			name  string
			key   string
			value float64
		}{
			{"empty key", "", 1},
		}
		for _, tt := range invalid {
			t.Run("rejects "+tt.name, func(t *testing.T) {
				if err := s.LogMetric(ctx, r.ID, tt.key, tt.value, 0); !errs.Is(err, errs.Invalid) {
					t.Fatalf("LogMetric = %v, want invalid", err)
				}
			})
		}
		type point struct {
			key   string
			value float64
			step  int64
		}
		logs := []point{
			{"loss", 0.9, 0},
			{"loss", 0.5, 1},
			{"loss", 0.7, 3}, // highest step wins, whatever the order of logging
			{"loss", 0.3, 2},
			{"auc", 0.71, 0},
			{"auc", 0.74, 0}, // same step: the later value wins
			{"zero", 0, 0},
			{"neg", -1.5, 5},
			{"diverged", 0.4, 0},
			{"diverged", math.NaN(), 1}, // MLflow accepts NaN and ±Inf
			{"recovered", math.NaN(), 0},
			{"recovered", 0.2, 1},
			{"big", math.Inf(1), 0},
			{"small", math.Inf(-1), 0},
		}
		for _, p := range logs {
			if err := s.LogMetric(ctx, r.ID, p.key, p.value, p.step); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // distinct times at PostgreSQL's microsecond resolution
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{"loss": 0.7, "auc": 0.74, "zero": 0, "neg": -1.5,
			"diverged": math.NaN(), "recovered": 0.2, "big": math.Inf(1), "small": math.Inf(-1)}
		for k, w := range want {
			t.Run("latest "+k, func(t *testing.T) {
				if v, ok := got.Metrics[k]; !ok || !(v == w || math.IsNaN(v) && math.IsNaN(w)) {
					t.Errorf("metric %s = %v (present %v), want %v", k, v, ok, w)
				}
			})
		}
		if len(got.Metrics) != len(want) {
			t.Errorf("metrics = %v, want keys of %v (no rejected value stored)", got.Metrics, want)
		}
	})
}

func TestArtifacts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, _, ctx := newService(t, d)
		r, err := s.StartRun(ctx, "proj", "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			path string
			want errs.Code
		}{
			{"model.json", ""},
			{"plots/roc.json", ""},
			{"../model.json", errs.Invalid},
			{"plots/../../etc/passwd", errs.Invalid},
			{"plots/../model2.json", errs.Invalid},
			{"..", errs.Invalid},
			{".", errs.Invalid},
			{"", errs.Invalid},
			{"/etc/passwd", errs.Invalid},
			{"/model.json", errs.Invalid},
			{"./model.json", errs.Invalid},
			{"plots//roc.json", errs.Invalid},
			{"plots/", errs.Invalid},
			{`..\model.json`, errs.Invalid},
			{"model.json", errs.Conflict}, // already stored
		}
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				err := s.PutArtifact(ctx, r.ID, tt.path, strings.NewReader("content of "+tt.path))
				if errs.CodeOf(err) != tt.want {
					t.Fatalf("PutArtifact(%q) = %v, want %q", tt.path, err, tt.want)
				}
			})
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, a := range got.Artifacts {
			paths = append(paths, a.Path)
		}
		if strings.Join(paths, ",") != "model.json,plots/roc.json" {
			t.Errorf("artifacts = %q", paths)
		}
		rc, err := s.OpenArtifact(ctx, r.ID, "model.json")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if string(data) != "content of model.json" {
			t.Errorf("artifact content = %q (the refused second put must not replace it)", data)
		}
		if got.Artifacts[0].Size != int64(len("content of model.json")) {
			t.Errorf("size = %d", got.Artifacts[0].Size)
		}
		if _, err := s.OpenArtifact(ctx, r.ID, "missing.json"); !errs.Is(err, errs.NotFound) {
			t.Errorf("OpenArtifact missing: %v", err)
		}
	})
}

func TestEnd(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s, a, ctx := newService(t, d)
		r, err := s.StartRun(ctx, "proj", "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name, status string
			want         errs.Code
		}{
			{"unknown status", "done", errs.Invalid},
			{"empty status", "", errs.Invalid},
			{"back to running", track.Running, errs.Invalid},
			{"finish", track.Finished, ""},
			{"finish again", track.Finished, errs.Conflict},
			{"fail after finishing", track.Failed, errs.Conflict},
			{"kill after finishing", track.Killed, errs.Conflict},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				if err := s.End(ctx, r.ID, st.status); errs.CodeOf(err) != st.want {
					t.Fatalf("End(%q) = %v, want %q", st.status, err, st.want)
				}
			})
		}
		got, err := s.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != track.Finished || got.EndedAt == nil || got.EndedAt.Before(got.StartedAt) {
			t.Errorf("run = status %s, ended %v", got.Status, got.EndedAt)
		}
		evs, err := a.List(context.Background(), audit.Filter{Action: "run.end"})
		if err != nil || len(evs) != 1 || evs[0].Project != "proj" || evs[0].Actor != "sam" {
			t.Errorf("run.end events = %+v, %v; want one, in proj, by sam", evs, err)
		}
		if err := s.End(ctx, r.ID+100, track.Finished); err == nil {
			t.Error("End of an unknown run succeeded")
		}
		for _, status := range []string{track.Failed, track.Killed} {
			r, _ := s.StartRun(ctx, "proj", "", status, nil)
			if err := s.End(ctx, r.ID, status); err != nil {
				t.Errorf("End(%s): %v", status, err)
			}
			if got, _ := s.Get(ctx, r.ID); got.Status != status {
				t.Errorf("status = %s, want %s", got.Status, status)
			}
		}
	})
}
