package annotate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/httpapi"
)

// TestHTTPScenarios drives the annotation routes over HTTP: statuses and
// messages of the refusals, and the happy path (table of scenarios).
func TestHTTPScenarios(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	au := auth.NewService(d, e.aLog)
	srv := httpapi.New(httpapi.Options{Auth: au, Audit: e.aLog, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.AddAnnotationAPI(e.svc)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	tokens := map[string]string{}
	for _, u := range []string{"sam", "ann", "bob", "cat", "val", "vic"} {
		_, tok, err := au.CreateToken(context.Background(), u, "test", auth.KindAPI, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		tokens[u] = tok
	}
	base := ts.URL + "/api/v1/projects/notes/annotation"
	do := func(who, method, url, ctype, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[who])
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	const js = "application/json"
	steps := []struct {
		who, method, path, ctype, body string
		status                         int
		want                           string
	}{
		{"ann", "POST", "", js, `{"name": "n1", "kind": "span", "labels": "deid"}`, 403, ""},
		{"sam", "POST", "", js, `{"name": "n1", "kind": "span", "labels": [{"name": "A", "color": "red"}]}`, 400, "want #rrggbb"},
		{"sam", "POST", "", js, `{"name": "n1", "kind": "span", "labels": "deid", "guidelines": "# G"}`, 201, `"guidelines_version": 1`},
		{"sam", "POST", "", js, `{"name": "n1", "kind": "span", "labels": "deid"}`, 409, "already exists"},
		{"vic", "GET", "/n1", "", "", 200, `"shortcut": "1"`},
		{"sam", "POST", "/n1/tasks?format=jsonl&preannotate=deid", "application/x-ndjson", docs, 200, `"added": 3`},
		{"sam", "POST", "/n1/tasks?format=csv", "text/csv", "a", 400, "want jsonl"},
		{"sam", "POST", "/n1/assign", js, `{"annotators": ["ann", "bob"]}`, 200, `"assigned": 6`},
		{"ann", "GET", "/n1/queue", "", "", 200, `"model": "hygie-deid"`},
		{"cat", "GET", "/n1/queue", "", "", 200, `"tasks": []`},
		{"cat", "POST", "/n1/tasks/1/submit", js, `{"spans": []}`, 403, "not assigned to cat"},
		{"ann", "POST", "/n1/tasks/1/submit", js, `{"spans": [{"start": 6, "end": 11, "label": "NOM"}, {"start": 9, "end": 13, "label": "NOM"}]}`, 400, "overlap"},
		{"ann", "POST", "/n1/tasks/1/submit", js, `{"spans": [{"start": 6, "end": 99, "label": "NOM"}]}`, 400, "outside the text"},
		{"ann", "POST", "/n1/tasks/1/submit", js, `{"spans": [{"start": 6, "end": 11, "label": "DIAG"}]}`, 400, "not in the schema"},
		{"ann", "POST", "/n1/tasks/1/submit", js, `{"spans": [{"start": 6, "end": 11, "label": "NOM"}]}`, 200, ""},
		{"bob", "POST", "/n1/tasks/1/skip", js, `{"reason": "unreadable"}`, 200, ""},
		{"ann", "GET", "/n1/adjudication", "", "", 403, ""},
		{"val", "GET", "/n1/adjudication", "", "", 200, `"skip_reason": "unreadable"`},
		{"sam", "GET", "/n1/agreement", "", "", 200, `"warnings"`},
		{"val", "POST", "/n1/tasks/1/adjudicate", js, `{"spans": [{"start": 6, "end": 11, "label": "NOM"}]}`, 200, `"adjudicator": "val"`},
		{"ann", "POST", "/n1/tasks/1/submit", js, `{"spans": []}`, 409, "adjudicated by val"},
		{"sam", "GET", "/n1/progress", "", "", 200, `"adjudicated": 1`},
		{"sam", "GET", "/n1/export?format=jsonl", "", "", 200, `"entities":[{"start":6,"end":11,"label":"NOM","text":"LEROY"}]`},
		{"sam", "GET", "/n1/export?format=conll", "", "", 200, "LEROY\tB-NOM"},
		{"sam", "GET", "/n1/export?format=labelstudio", "", "", 200, `"completed_by"`},
		{"ann", "GET", "/n1/export?format=jsonl", "", "", 403, ""},
		{"sam", "PUT", "/n1/guidelines", "text/markdown", "# G v2", 200, `"guidelines_version": 2`},
	}
	for i, s := range steps {
		status, body := do(s.who, s.method, base+s.path, s.ctype, s.body)
		if status != s.status || !strings.Contains(body, s.want) {
			t.Fatalf("step %d: %s %s as %s = %d\n%s\nwant %d and %q", i, s.method, s.path, s.who, status, body, s.status, s.want)
		}
	}
	_, body := do("sam", "GET", base+"/n1/agreement", "", "")
	var rep annotate.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(fmt.Errorf("agreement JSON: %w", err))
	}
}
