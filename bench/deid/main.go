// Command deid-bench measures the French clinical de-identifier
// (internal/privacy/deid) on documents it has never seen and reports
// throughput. Run from the repository root:
//
//	go run ./bench/deid                 # held-out set, OOV variant, sample, MB/s
//	go run ./bench/deid -n 2000 -seed 7
//	go run ./bench/deid -model m.bin.gz -errors errs.txt -throughput=false
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
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
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
	modelPath := flag.String("model", "", "model file (default: the embedded model)")
	errPath := flag.String("errors", "", "write the OOV errors (missed and spurious spans, in context) to this file")
	through := flag.Bool("throughput", true, "measure single-core throughput")
	reps := flag.Int("reps", 5, "passes over the held-out set for the throughput")
	quality := flag.Bool("quality", true, "measure quality")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the throughput measurement to this file")
	flag.Parse()

	var m *deid.Model
	if *modelPath != "" {
		f, err := os.Open(*modelPath)
		if err != nil {
			log.Fatal(err)
		}
		if m, err = deid.ReadModel(bufio.NewReader(f)); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	docs := synth.Generate(synth.Options{Seed: *seed, Split: synth.HeldOut, N: *n})
	d, err := deid.New(m)
	if err != nil {
		log.Fatal(err)
	}
	if *quality {
		measureQuality(d, m, docs, *errPath, *sample)
	}
	if *through {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				log.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
			defer pprof.StopCPUProfile()
		}
		throughput(d, docs, *reps)
	}
}

func measureQuality(d *deid.Deidentifier, m *deid.Model, docs []deid.Document, errPath, sample string) {
	report("held-out (unseen templates, names and places)", d, docs, nil)
	oov, err := deid.NewWithout(m, synth.HeldOutNames())
	if err != nil {
		log.Fatal(err)
	}
	var ew io.Writer
	if errPath != "" {
		f, err := os.Create(errPath)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		ew = f
	}
	report("held-out, names and places also removed from the gazetteer (OOV)", oov, docs, ew)
	if f, err := os.Open(sample); err == nil {
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
		report("shared sample.jsonl", d, s, nil)
	}
}

func throughput(d *deid.Deidentifier, docs []deid.Document, reps int) {
	// Throughput on one core: CPU time of the process, so that other load
	// on the machine does not count.
	runtime.GOMAXPROCS(1)
	runtime.GC()
	size := 0
	for _, doc := range docs {
		size += len(doc.Text)
	}
	for _, doc := range docs[:100] {
		d.Deidentify(doc.Text, deid.Mask, nil)
	}
	var cpuRates, wallRates []float64
	for r := 0; r < reps; r++ {
		c0, w0 := cpu(), time.Now()
		for _, doc := range docs {
			d.Deidentify(doc.Text, deid.Mask, nil)
		}
		c, w := cpu()-c0, time.Since(w0)
		cpuRates = append(cpuRates, float64(size)/c.Seconds()/1e6)
		wallRates = append(wallRates, float64(size)/w.Seconds()/1e6)
	}
	fmt.Printf("\nthroughput, mask mode, one core (GOMAXPROCS=1), %d passes over %.1f MB: median %.1f MB/s of CPU time (min %.1f, max %.1f), median %.1f MB/s wall clock\n",
		reps, float64(size)/1e6, median(cpuRates), slices.Min(cpuRates), slices.Max(cpuRates), median(wallRates))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(title string, d *deid.Deidentifier, docs []deid.Document, errs io.Writer) {
	var ev deid.Evaluator
	for _, doc := range docs {
		pred := d.Detect(doc.Text)
		ev.Add(doc.Entities, pred, utf8.RuneCountInString(doc.Text))
		if errs != nil {
			writeErrors(errs, doc, pred)
		}
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

// writeErrors writes the missed (FN) and spurious (FP) spans of one
// document, each with 40 characters of context either side.
func writeErrors(w io.Writer, doc deid.Document, pred []deid.Entity) {
	type key struct {
		s, e  int
		label deid.Label
	}
	g, p := map[key]bool{}, map[key]bool{}
	for _, e := range doc.Entities {
		g[key{e.Start, e.End, e.Label}] = true
	}
	for _, e := range pred {
		p[key{e.Start, e.End, e.Label}] = true
	}
	rs := []rune(doc.Text)
	var lines []string
	ctx := func(k key, kind string) {
		a, b := max(0, k.s-40), min(len(rs), k.e+40)
		lines = append(lines, fmt.Sprintf("%s %-8s %d-%d %q  | %q[[%s]]%q", kind, k.label, k.s, k.e, string(rs[k.s:k.e]), string(rs[a:k.s]), string(rs[k.s:k.e]), string(rs[k.e:b])))
	}
	for k := range g {
		if !p[k] {
			ctx(k, "FN")
		}
	}
	for k := range p {
		if !g[k] {
			ctx(k, "FP")
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintf(w, "%s %s\n", doc.ID, l)
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
