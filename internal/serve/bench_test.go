package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/serve"
)

// BenchmarkInfer measures inference with a gradient-boosted model (100
// trees) on the adult features: the service alone, and over HTTP through
// the whole middleware (authentication, authorization, logging, metrics)
// with every prediction logged in SQLite, next to a trivial handler that
// returns a fixed JSON body. Compare the ns/op of http/1-row and
// http/trivial. bench/serve runs the same comparison as a load test.
//
//	go test ./internal/serve/ -run '^$' -bench Infer -benchtime 3s -count 5
func BenchmarkInfer(b *testing.B) {
	e := newEnv(b, dbtest.SQLite(b), serve.Options{})
	m, tab := adultModel(b)
	e.register(b, "adult", m)
	e.promote(b, "adult", 1, allEnvs...)
	one := adultRequest(tab, 0, 1)
	batch := adultRequest(tab, 0, 32)
	ctx := context.Background()
	if _, err := e.svc.Infer(ctx, "adult", 0, one); err != nil {
		b.Fatal(err)
	}

	b.Run("service/1-row", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.svc.Infer(ctx, "adult", 0, one); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	body1, _ := json.Marshal(one)
	body32, _ := json.Marshal(batch)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(b *testing.B, url string, body []byte, auth bool) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth {
			req.Header.Set("Authorization", "Bearer "+e.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("HTTP %d", resp.StatusCode)
		}
	}
	trivial := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(trivialBody)
	}))
	defer trivial.Close()
	url := e.srv.URL + "/v2/models/adult/infer"
	b.Run("http/trivial", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, trivial.URL, body1, false)
			}
		})
	})
	b.Run("http/1-row", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, url, body1, true)
			}
		})
	})
	b.Run("http/32-rows", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, url, body32, true)
			}
		})
		b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// trivialBody is the size of hygie's answer to one row.
var trivialBody = []byte(`{"model_name":"adult","model_version":"1","parameters":{"prediction_ids":["9b2f1c8e-6f0e-4a57-9a43-2b8c1f7d0e11"]},"outputs":[{"name":"salary-class_probability","shape":[1],"datatype":"FP64","data":[0.2345]}]}` + "\n")
