// Command anon-bench runs hygie's anonymisation on the adult benchmark and
// prints, as Markdown tables, the optimum of each configuration next to
// ARX's published result for the same configuration, and (with -exhaustive)
// next to a scan of every transformation.
//
//	go run ./bench/anon                # from the repository root
//	go run ./bench/anon -exhaustive    # also check every node (slower)
package main

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/hygie-health/hygie/internal/privacy/anon"
)

type run struct {
	name      string
	qis       []string
	cfg       anon.Config
	arxLevels []int // ARX's published optimum; nil when ARX published none for it
	arxValue  float64
	arxChecks int // ARX's published nodes checked; 0 when unknown
}

var (
	issue = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"}
	all9  = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation", "salary-class"}
	noOcc = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "salary-class"}
)

func main() {
	data := flag.String("data", "internal/privacy/anon/testdata/adult", "directory with adult.csv.gz and adult_hierarchy_*.csv")
	exhaustive := flag.Bool("exhaustive", false, "also check every transformation and compare")
	flag.Parse()
	tab, h, err := load(*data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "anon-bench:", err)
		os.Exit(1)
	}
	var runs []run
	for _, sup := range []float64{0, 0.04} {
		for _, m := range []anon.Metric{anon.MetricEntropy, anon.MetricEntropyNM, anon.MetricLoss, anon.MetricDiscernibility, anon.MetricPrecision, anon.MetricAECS} {
			runs = append(runs, run{name: fmt.Sprintf("issue: k=5, %g, %s", sup, m), qis: issue, cfg: anon.Config{K: 5, MaxSuppression: sup, Metric: m}})
		}
	}
	occ := h["occupation"]
	runs = append(runs,
		run{"ARX 9 QIs: k=5, 0.04, entropy", all9, anon.Config{K: 5, MaxSuppression: 0.04, Metric: anon.MetricEntropy}, []int{1, 0, 1, 1, 3, 2, 2, 0, 1}, 255559.85455731067, 2773},
		run{"ARX 9 QIs: k=100, 0.04, entropy", all9, anon.Config{K: 100, MaxSuppression: 0.04, Metric: anon.MetricEntropy}, []int{1, 1, 1, 1, 3, 2, 2, 1, 1}, 379417.3460570988, 728},
		run{"ARX 9 QIs: k=5, 0, entropy", all9, anon.Config{K: 5, Metric: anon.MetricEntropy}, []int{1, 2, 1, 1, 3, 2, 2, 1, 1}, 407289.5388925293, 170},
		run{"ARX 9 QIs: k=100, 0, entropy", all9, anon.Config{K: 100, Metric: anon.MetricEntropy}, []int{0, 4, 1, 1, 3, 2, 2, 1, 1}, 453196.8932458743, 63},
		run{"ARX 8 QIs: entropy-l=5, 0.04, entropy-nm", noOcc, anon.Config{L: &anon.LDiversity{L: 5, Entropy: true}, MaxSuppression: 0.04, Metric: anon.MetricEntropyNM}, []int{1, 0, 1, 1, 2, 2, 2, 1}, 228878.2039109517, 2326},
		run{"ARX 8 QIs: entropy-l=5, 0, entropy-nm", noOcc, anon.Config{L: &anon.LDiversity{L: 5, Entropy: true}, Metric: anon.MetricEntropyNM}, []int{1, 1, 1, 1, 3, 2, 2, 1}, 324620.5269918692, 100},
		run{"ARX 8 QIs: k=5 + t=0.2 equal, 0.04, DM*", noOcc, anon.Config{K: 5, T: &anon.TCloseness{T: 0.2}, MaxSuppression: 0.04, Metric: anon.MetricDiscernibilityMonotonic}, []int{1, 4, 1, 0, 3, 2, 2, 1}, 3.11880088e8, 0},
		run{"ARX 8 QIs: k=5 + t=0.2 equal, 0, DM*", noOcc, anon.Config{K: 5, T: &anon.TCloseness{T: 0.2}, Metric: anon.MetricDiscernibilityMonotonic}, []int{1, 4, 1, 1, 3, 2, 2, 1}, 4.56853172e8, 0},
		run{"ARX 8 QIs: k=5 + t=0.2 hier., 0.04, entropy", noOcc, anon.Config{K: 5, T: &anon.TCloseness{T: 0.2, Hierarchy: occ}, MaxSuppression: 0.04, Metric: anon.MetricEntropy}, []int{1, 4, 0, 0, 3, 2, 2, 1}, 377622.78458729305, 0},
		run{"ARX 8 QIs: k=5 + t=0.2 hier., 0, entropy", noOcc, anon.Config{K: 5, T: &anon.TCloseness{T: 0.2, Hierarchy: occ}, Metric: anon.MetricEntropy}, []int{0, 4, 1, 1, 3, 2, 2, 1}, 398400.0741806447, 0},
		run{"Flash paper lattice: k=5, 0, entropy", noOcc, anon.Config{K: 5, Metric: anon.MetricEntropy}, nil, 0, 115},
	)
	fmt.Println("| configuration | levels | metric value | suppressed | nodes checked (ruled out) / lattice | ARX checks | seconds | ARX optimum | exhaustive |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range runs {
		cfg := r.cfg
		for _, q := range r.qis {
			cfg.QIs = append(cfg.QIs, anon.QI{Column: q, Hierarchy: h[q]})
		}
		if cfg.L != nil || cfg.T != nil {
			cfg.Sensitive = []string{"occupation"}
		}
		res, err := anon.Anonymize(context.Background(), tab, cfg)
		if err != nil {
			fmt.Printf("| %s | error: %v |\n", r.name, err)
			continue
		}
		rep := res.Report
		arx, arxChecks := "–", "–"
		if r.arxLevels != nil {
			arx = "differs"
			if reflect.DeepEqual(res.Levels, r.arxLevels) && math.Abs(rep.MetricValue-r.arxValue) <= 1e-6*math.Abs(r.arxValue) {
				arx = "same"
			}
		}
		if r.arxChecks > 0 {
			arxChecks = fmt.Sprint(r.arxChecks)
		}
		ex := "–"
		if *exhaustive {
			c := cfg
			c.Exhaustive = true
			t0 := time.Now()
			all, err := anon.Anonymize(context.Background(), tab, c)
			switch {
			case err != nil:
				ex = "error: " + err.Error()
			case math.Abs(all.Report.MetricValue-rep.MetricValue) <= 1e-9*math.Abs(rep.MetricValue):
				ex = fmt.Sprintf("same (%.0fs)", time.Since(t0).Seconds())
			default:
				ex = fmt.Sprintf("differs: %v %.17g", all.Levels, all.Report.MetricValue)
			}
		}
		fmt.Printf("| %s | %v | %.17g | %d | %d (%d) / %.0f | %s | %.2f | %s | %s |\n", r.name, res.Levels, rep.MetricValue, rep.Suppressed,
			rep.NodesChecked, rep.NodesRuledOut, rep.LatticeSize, arxChecks, rep.Seconds, arx, ex)
	}
}

func load(dir string) (*anon.Table, map[string]*anon.Hierarchy, error) {
	f, err := os.Open(filepath.Join(dir, "adult.csv.gz"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, err
	}
	tab, err := anon.ReadCSV(z, ';', "adult.csv")
	if err != nil {
		return nil, nil, err
	}
	h := map[string]*anon.Hierarchy{}
	for _, c := range tab.Header {
		hf, err := os.Open(filepath.Join(dir, "adult_hierarchy_"+c+".csv"))
		if err != nil {
			return nil, nil, err
		}
		h[c], err = anon.ParseHierarchy(hf, ';', hf.Name())
		hf.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	return tab, h, nil
}
