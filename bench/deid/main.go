// Command deid-bench measures the French clinical de-identifier
// (internal/privacy/deid) on documents it has never seen and reports
// throughput. Run from the repository root:
//
//	go run ./bench/deid                 # held-out set, OOV variant, sample, MB/s
//	go run ./bench/deid -n 2000 -seed 7
//
// The held-out set comes from template families, person names, communes,
// streets and facilities that the training split never uses. The "OOV"
// variant also removes those names and places from the gazetteer, so that
// only context finds them. Results are in bench/deid/README.md.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/privacy/deid"
	"github.com/hygie-health/hygie/internal/privacy/deid/synth"
)

func main() {
	n := flag.Int("n", 2000, "held-out documents")
	seed := flag.Uint64("seed", 7, "seed of the held-out set")
	sample := flag.String("sample", "../shared/data/deid/sample.jsonl", "annotated sample (skipped if missing)")
	flag.Parse()

	docs := synth.Generate(synth.Options{Seed: *seed, Split: synth.HeldOut, N: *n})
	d, err := deid.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	report("held-out (unseen templates, names and places)", d, docs)
	oov, err := deid.NewWithout(nil, synth.HeldOutNames())
	if err != nil {
		log.Fatal(err)
	}
	report("held-out, names and places also removed from the gazetteer (OOV)", oov, docs)
	if f, err := os.Open(*sample); err == nil {
		var s []deid.Document
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var doc deid.Document
			if json.Unmarshal(sc.Bytes(), &doc) == nil {
				s = append(s, doc)
			}
		}
		f.Close()
		report("shared sample.jsonl", d, s)
	}

	// Throughput on one core: CPU time of the process, so that other load
	// on the machine does not count.
	runtime.GOMAXPROCS(1)
	size := 0
	for _, doc := range docs {
		size += len(doc.Text)
	}
	for _, doc := range docs[:100] {
		d.Deidentify(doc.Text, deid.Mask, nil)
	}
	c0, w0 := cpu(), time.Now()
	reps := 5
	for r := 0; r < reps; r++ {
		for _, doc := range docs {
			d.Deidentify(doc.Text, deid.Mask, nil)
		}
	}
	c, w := cpu()-c0, time.Since(w0)
	fmt.Printf("\nthroughput, mask mode, one core: %.1f MB/s of CPU time (%.1f MB/s wall clock) over %.1f MB\n",
		float64(size*reps)/c.Seconds()/1e6, float64(size*reps)/w.Seconds()/1e6, float64(size*reps)/1e6)
}

func report(title string, d *deid.Deidentifier, docs []deid.Document) {
	var ev deid.Evaluator
	for _, doc := range docs {
		ev.Add(doc.Entities, d.Detect(doc.Text), utf8.RuneCountInString(doc.Text))
	}
	r := ev.Report()
	fmt.Printf("\n## %s: %d documents\n\n| label | precision | recall | F1 | TP | FP | FN |\n|---|---|---|---|---|---|---|\n", title, r.Documents)
	for _, l := range r.SortedLabels() {
		s := r.Labels[l]
		fmt.Printf("| %s | %.4f | %.4f | %.4f | %d | %d | %d |\n", l, s.Precision, s.Recall, s.F1, s.TP, s.FP, s.FN)
	}
	m := r.Micro
	fmt.Printf("| **micro** | %.4f | %.4f | **%.4f** | %d | %d | %d |\n\nleak %.3f%% (%d of %d identifying characters), over-masking %.3f%%\n",
		m.Precision, m.Recall, m.F1, m.TP, m.FP, m.FN, 100*r.Leak, r.LeakedChars, r.GoldChars, 100*r.OverMask)
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
