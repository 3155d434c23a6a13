package deid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/deid/synth"
)

func benchCorpus(b *testing.B) []string {
	b.Helper()
	var texts []string
	for _, sp := range []synth.Split{synth.Train, synth.HeldOut} {
		for _, d := range synth.Generate(synth.Options{Seed: 42, Split: sp, N: 300}) {
			texts = append(texts, d.Text)
		}
	}
	return texts
}

// BenchmarkDeidentify measures single-core throughput (MB/s of text) of
// the whole pipeline in mask mode on synthetic clinical documents. Run it
// with GOMAXPROCS=1; besides the wall-clock MB/s it reports cpu-MB/s, the
// throughput per second of CPU time of the process, which load from other
// jobs on a shared machine disturbs less.
func BenchmarkDeidentify(b *testing.B) {
	d, err := deid.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	texts := benchCorpus(b)
	size := 0
	for _, t := range texts {
		size += len(t)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for _, t := range texts {
			d.Deidentify(t, deid.Mask, nil)
		}
	}
	if c := cpuTime() - c0; c > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/c.Seconds()/1e6, "cpu-MB/s")
	}
}

// BenchmarkDetectLong measures one long document (a week of notes).
func BenchmarkDetectLong(b *testing.B) {
	d, err := deid.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Join(benchCorpus(b), "\n\n")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Detect(text)
	}
}

// BenchmarkProcess measures the JSONL pipeline on all cores.
func BenchmarkProcess(b *testing.B) {
	d, err := deid.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	var in bytes.Buffer
	size := 0
	for i, t := range benchCorpus(b) {
		line, _ := json.Marshal(map[string]any{"id": i, "text": t})
		in.Write(line)
		in.WriteByte('\n')
		size += len(t)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Process(context.Background(), bytes.NewReader(in.Bytes()), io.Discard, deid.BatchOptions{}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
