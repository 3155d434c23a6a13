package resilience

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// csvRows generates a CSV table of n rows, different for each variant,
// without holding it in memory.
type csvRows struct {
	n, variant, i int
	buf           []byte
}

func newCSV(n, variant int) *csvRows {
	return &csvRows{n: n, variant: variant, buf: []byte("patient_id,age,sex,weight_kg,readmitted\n")}
}

func (c *csvRows) Read(p []byte) (int, error) {
	for len(c.buf) < len(p) && c.i < c.n {
		i := c.i
		c.buf = fmt.Appendf(c.buf, "P%07d,%d,%s,%d.%d,%d\n", i, 18+(i*7+c.variant)%80, [2]string{"F", "M"}[(i+c.variant)%2], 40+(i*13)%90, (i+c.variant)%10, (i/3+c.variant)%2)
		c.i++
	}
	if len(c.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

type datasetVersion struct {
	Version int    `json:"version"`
	Digest  string `json:"digest"`
	Rows    int    `json:"rows"`
}

const importPath = "/api/v1/projects/crash/datasets/cohort/versions"

func importCSV(ctx context.Context, c *Client, rows, variant int) (datasetVersion, error) {
	var out struct {
		Version datasetVersion `json:"version"`
	}
	err := c.Do(ctx, "POST", importPath+"?level=identifying&format=csv&role.patient_id=patient_id", newCSV(rows, variant), &out)
	return out.Version, err
}

// TestKillDuringImport kills the server at a random moment of a 200,000-row
// CSV import (while the body is uploaded, or while it is converted,
// encrypted and stored) and checks after a restart that the earlier
// versions are intact, that a version is listed only if it is complete
// (every row, readable, matching its digest), that an acknowledged import
// is there, and that the audit chain verifies.
func TestKillDuringImport(t *testing.T) {
	engines(t, testKillDuringImport)
}

func testKillDuringImport(t *testing.T, env []string) {
	const big = 200_000
	ctx := context.Background()
	in := start(t, env)
	v1, err := importCSV(ctx, in.admin, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	v2, err := importCSV(ctx, in.admin, big, 1)
	if err != nil {
		t.Fatal(err)
	}
	full := time.Since(t0)
	t.Logf("a %d-row import takes %s", big, full.Round(time.Millisecond))
	if v1.Version != 1 || v2.Version != 2 || v2.Rows != big {
		t.Fatalf("versions before the crash: %+v, %+v", v1, v2)
	}
	want := map[int]datasetVersion{1: v1, 2: v2}

	rng := rand.New(rand.NewPCG(uint64(seed(t)), 0))
	for it := range 3 {
		// Kill somewhere in the first 110% of a full import's time.
		delay := time.Duration((0.05 + 1.05*rng.Float64()) * float64(full))
		variant := 10 + it
		var acked *datasetVersion
		done := make(chan error, 1)
		go func() {
			v, err := importCSV(ctx, in.admin, big, variant)
			if err == nil {
				acked = &v
			}
			done <- err
		}()
		time.Sleep(delay)
		in.kill(t)
		err := <-done
		t.Logf("iteration %d: killed %s after the import started; the import answered %v", it, delay.Round(time.Millisecond), err)
		if acked != nil {
			want[acked.Version] = *acked
		}
		in.restart(t)

		var list struct {
			Versions []datasetVersion `json:"versions"`
		}
		if err := in.admin.Do(ctx, "GET", importPath, nil, &list); err != nil {
			t.Fatal(err)
		}
		got := map[int]datasetVersion{}
		for _, v := range list.Versions {
			got[v.Version] = v
		}
		for n, w := range want {
			if g, ok := got[n]; !ok || g.Digest != w.Digest || g.Rows != w.Rows {
				t.Fatalf("iteration %d: acknowledged version %d (%d rows, %s) after the restart: %+v (present %v)", it, n, w.Rows, w.Digest, g, ok)
			}
		}
		for _, v := range list.Versions {
			if _, ok := want[v.Version]; ok {
				continue
			}
			// Imported, but the answer was lost in the crash: then complete.
			if v.Rows != big {
				t.Fatalf("iteration %d: version %d has %d rows, want %d: a half-written version is visible", it, v.Version, v.Rows, big)
			}
			want[v.Version] = v
		}
		// Every listed version reads back in full (the server checks the
		// content against its digest as it streams it).
		for n, v := range want {
			rows, err := countRows(ctx, in.admin, fmt.Sprintf("%s/%d/content?format=csv", importPath, n))
			if err != nil || rows != v.Rows {
				t.Fatalf("iteration %d: version %d reads back %d rows (want %d): %v", it, n, rows, v.Rows, err)
			}
		}
		in.verifyAudit(t)
	}
	// The instance still takes imports, numbered after the surviving ones.
	next, err := importCSV(ctx, in.admin, 50, 99)
	if err != nil || next.Version != len(want)+1 {
		t.Fatalf("import after the crashes: version %d (want %d), %v", next.Version, len(want)+1, err)
	}
}

// countRows downloads a CSV and counts its data rows.
func countRows(ctx context.Context, c *Client, path string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(resp.Body)
	n := -1 // the header
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}

const mlflow = "/api/2.0/mlflow/"

func createRuns(t *testing.T, c *Client, experiment string, n int) (expID string, runIDs []string) {
	t.Helper()
	ctx := context.Background()
	expID, err := c.CreateExperiment(ctx, "crash/"+experiment)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id, err := c.CreateRun(ctx, expID, fmt.Sprint("client-", i))
		if err != nil {
			t.Fatal(err)
		}
		runIDs = append(runIDs, id)
	}
	return expID, runIDs
}

// TestKillDuringLogBatchStorm kills the server while 16 clients send
// MLflow runs/log-batch requests of 10 metrics each as fast as they can,
// and checks after a restart that every acknowledged batch is stored, and
// that every batch is stored whole or not at all.
func TestKillDuringLogBatchStorm(t *testing.T) {
	engines(t, testKillDuringLogBatchStorm)
}

func testKillDuringLogBatchStorm(t *testing.T, env []string) {
	const clients, perBatch = 16, 10
	ctx := context.Background()
	in := start(t, env)
	_, runs := createRuns(t, in.admin, "storm", clients)
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 0))
	acked := make([][]int, clients) // acknowledged steps per client
	nextStep := make([]int, clients)
	for it := range 2 {
		var wg sync.WaitGroup
		var total atomic.Int64
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					step := nextStep[c]
					nextStep[c]++
					metrics := make([]map[string]any, perBatch)
					for k := range metrics {
						metrics[k] = map[string]any{"key": fmt.Sprint("m", k), "value": float64(step) + float64(k)/100, "timestamp": time.Now().UnixMilli(), "step": step}
					}
					if err := in.admin.Do(ctx, "POST", mlflow+"runs/log-batch", map[string]any{"run_id": runs[c], "metrics": metrics}, nil); err != nil {
						var se *StatusError
						if errors.As(err, &se) {
							t.Errorf("log-batch answered %v before the kill", err)
						}
						return // the server is gone
					}
					acked[c] = append(acked[c], step)
					total.Add(1)
				}
			}()
		}
		delay := time.Duration(300+rng.IntN(1200)) * time.Millisecond
		time.Sleep(delay)
		in.kill(t)
		wg.Wait()
		t.Logf("iteration %d: killed after %s, %d batches acknowledged so far", it, delay, total.Load())
		if total.Load() == 0 {
			t.Fatal("no batch was acknowledged before the kill")
		}
		in.restart(t)

		for c, run := range runs {
			stored := map[int]int{} // step → metrics stored
			for k := range perBatch {
				var h struct {
					Metrics []struct {
						Step  int     `json:"step"`
						Value float64 `json:"value"`
					} `json:"metrics"`
				}
				if err := in.admin.Do(ctx, "GET", fmt.Sprintf("%smetrics/get-history?run_id=%s&metric_key=m%d", mlflow, run, k), nil, &h); err != nil {
					t.Fatal(err)
				}
				for _, m := range h.Metrics {
					if m.Value != float64(m.Step)+float64(k)/100 {
						t.Fatalf("run %s: m%d at step %d = %v", run, k, m.Step, m.Value)
					}
					stored[m.Step]++
				}
			}
			for _, step := range acked[c] {
				if stored[step] != perBatch {
					t.Fatalf("iteration %d: run %s: acknowledged batch of step %d has %d of its %d metrics after the restart", it, run, step, stored[step], perBatch)
				}
			}
			for step, n := range stored {
				if n != perBatch {
					t.Fatalf("iteration %d: run %s: batch of step %d is half stored (%d of %d metrics)", it, run, step, n, perBatch)
				}
				if !slices.Contains(acked[c], step) {
					acked[c] = append(acked[c], step) // stored, its answer lost in the crash
				}
			}
		}
		in.verifyAudit(t)
	}
}

// TestKillDuringPromotion kills the server while model versions are being
// promoted (dev → test → integration) by four clients, and checks after a
// restart that each version's environment, its promotion records and its
// audit events agree: a promotion happened whole (environment, record and
// audit event) or not at all, and every acknowledged one happened.
func TestKillDuringPromotion(t *testing.T) {
	engines(t, testKillDuringPromotion)
}

func testKillDuringPromotion(t *testing.T, env []string) {
	const versions, workers = 120, 4
	envs := []string{"none", "dev", "test", "integration"}
	ctx := context.Background()
	in := start(t, env)
	expID, runs := createRuns(t, in.admin, "promotion", 1)
	run := runs[0]
	if err := in.admin.Do(ctx, "PUT", fmt.Sprintf("/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/model.bin", expID, run), strings.NewReader("weights"), nil); err != nil {
		t.Fatal(err)
	}
	if err := in.admin.Do(ctx, "POST", mlflow+"runs/update", map[string]any{"run_id": run, "status": "FINISHED"}, nil); err != nil {
		t.Fatal(err)
	}
	runID, _ := strconv.ParseInt(run, 10, 64)
	for range versions {
		if err := in.admin.Do(ctx, "POST", "/api/v1/projects/crash/models", map[string]any{"model": "crash-model", "run_id": runID, "artifact": "model.bin", "flavor": "custom"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	level := make([]int, versions+1) // acknowledged environment (index in envs) per version
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 0))
	for it := range 3 {
		var wg sync.WaitGroup
		var total atomic.Int64
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := 1 + w; v <= versions; v += workers {
					for level[v] < len(envs)-1 {
						to := envs[level[v]+1]
						err := in.admin.Do(ctx, "POST", fmt.Sprintf("/api/v1/projects/crash/models/crash-model/versions/%d/promote", v), map[string]any{"to": to}, nil)
						if err != nil {
							var se *StatusError
							if errors.As(err, &se) {
								t.Errorf("promote version %d to %s: %v", v, to, err)
							}
							return
						}
						level[v]++ // each worker has its own versions
						total.Add(1)
					}
				}
			}()
		}
		delay := time.Duration(10+rng.IntN(140)) * time.Millisecond
		time.Sleep(delay)
		in.kill(t)
		wg.Wait()
		t.Logf("iteration %d: killed after %s, %d promotions acknowledged", it, delay, total.Load())
		in.restart(t)

		var list struct {
			Versions []struct {
				Model       string `json:"model"`
				Version     int    `json:"version"`
				Environment string `json:"environment"`
			} `json:"versions"`
		}
		if err := in.admin.Do(ctx, "GET", "/api/v1/projects/crash/models", nil, &list); err != nil {
			t.Fatal(err)
		}
		var proms struct {
			Promotions []struct {
				Version int    `json:"version"`
				From    string `json:"from"`
				To      string `json:"to"`
				Outcome string `json:"outcome"`
			} `json:"promotions"`
		}
		if err := in.admin.Do(ctx, "GET", "/api/v1/projects/crash/models/crash-model/promotions", nil, &proms); err != nil {
			t.Fatal(err)
		}
		var events struct {
			Events []struct {
				Target  string `json:"target"`
				Outcome string `json:"outcome"`
				Detail  string `json:"detail"`
			} `json:"events"`
		}
		if err := in.admin.Do(ctx, "GET", "/api/v1/audit?action=model.promote&limit=10000", nil, &events); err != nil {
			t.Fatal(err)
		}
		promoted := map[int][]string{}
		for _, p := range proms.Promotions {
			if p.Outcome != "success" {
				t.Fatalf("promotion of version %d to %s: outcome %s", p.Version, p.To, p.Outcome)
			}
			promoted[p.Version] = append(promoted[p.Version], p.To)
		}
		audited := map[int]int{}
		for _, e := range events.Events {
			var v int
			if _, err := fmt.Sscanf(e.Target, "model:crash-model/%d", &v); err != nil || e.Outcome != "success" {
				t.Fatalf("audit event %+v", e)
			}
			audited[v]++
		}
		if len(list.Versions) != versions {
			t.Fatalf("%d model versions after the restart, want %d", len(list.Versions), versions)
		}
		for _, v := range list.Versions {
			k := slices.Index(envs, v.Environment)
			if k < 0 {
				t.Fatalf("version %d in environment %q", v.Version, v.Environment)
			}
			if k < level[v.Version] {
				t.Fatalf("iteration %d: version %d is in %s, but its promotion to %s was acknowledged", it, v.Version, v.Environment, envs[level[v.Version]])
			}
			// Environment, promotion records and audit events tell the same story.
			slices.Sort(promoted[v.Version]) // dev < integration < test: compare as sets
			wantTo := slices.Clone(envs[1 : k+1])
			slices.Sort(wantTo)
			if !slices.Equal(promoted[v.Version], wantTo) || audited[v.Version] != k {
				t.Fatalf("iteration %d: version %d is in %s, with promotions to %v and %d audit events: a half promotion", it, v.Version, v.Environment, promoted[v.Version], audited[v.Version])
			}
			level[v.Version] = k
		}
		in.verifyAudit(t)
	}
}
