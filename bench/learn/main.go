// Command learn is the hygie side of the learner comparison with
// scikit-learn (see README.md and compare.sh). It calls the gbdt and
// logistic packages directly, so it measures the learners and not the CLI.
//
//	go run ./bench/learn gen -rows 1000000 -seed 1 -out DIR
//	    writes DIR/train.csv (80 %) and DIR/test.csv (20 %), a synthetic
//	    binary table: 10 numeric and 2 categorical features, missing values
//	    (empty cells), a non-linear signal; target column "y", positive "1".
//	go run ./bench/learn fit -train F -test F [-sep ,] -target y -positive 1 \
//	    -learner gbdt|logistic [-trees 100 -leaves 31 -lr 0.1] [-runs 3]
//	    trains on F (train) and prints one JSON line: test ROC AUC and the
//	    wall and CPU seconds of each fit and their medians.
//
// Columns: a column whose non-empty training cells all parse as numbers is
// numeric, any other is categorical with its sorted distinct non-empty
// training values as categories; empty cells are missing. gbdt gets the
// numbers and category codes with NaN for missing or unseen values. The
// logistic design is the numeric columns (missing replaced by the training
// mean) followed by one 0/1 indicator per category of each categorical
// column (all zero when missing). compare.py builds the same inputs for
// scikit-learn.
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/hygie-health/hygie/internal/learn"
	"github.com/hygie-health/hygie/internal/learn/gbdt"
	"github.com/hygie-health/hygie/internal/learn/logistic"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: learn gen|fit [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "fit":
		err = fit(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "learn:", err)
		os.Exit(1)
	}
}

// ---- synthetic data ----

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	rows := fs.Int("rows", 1000000, "rows in all (80 % train, 20 % test)")
	seed := fs.Int64("seed", 1, "random seed")
	out := fs.String("out", ".", "output directory")
	fs.Parse(args)
	r := rand.New(rand.NewSource(*seed))
	// category effects, fixed by the seed
	eff0 := make([]float64, 8)
	for k := range eff0 {
		eff0[k] = r.NormFloat64() * 0.7
	}
	eff1 := make([]float64, 40)
	for k := range eff1 {
		eff1[k] = r.NormFloat64() * 0.4
	}
	ntr := int(math.Round(0.8 * float64(*rows)))
	var files [2]*os.File
	var ws [2]*bufio.Writer
	for k, name := range []string{"train.csv", "test.csv"} {
		f, err := os.Create(filepath.Join(*out, name))
		if err != nil {
			return err
		}
		defer f.Close()
		files[k] = f
		ws[k] = bufio.NewWriterSize(f, 1<<20)
		fmt.Fprintln(ws[k], "x0,x1,x2,x3,x4,x5,x6,x7,x8,x9,c0,c1,y")
	}
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 7, 64)
	}
	var x [10]float64
	buf := make([]byte, 0, 256)
	for i := 0; i < *rows; i++ {
		for j := 0; j < 6; j++ {
			x[j] = r.NormFloat64()
		}
		x[6] = r.Float64() * 10
		x[7] = r.ExpFloat64()
		x[8] = float64(r.Intn(100))
		x[9] = r.NormFloat64()
		c0, c1 := r.Intn(len(eff0)), r.Intn(len(eff1))
		z := x[0] + math.Sin(2*x[2]) + 0.5*x[3]*x[4] - 0.3*x[1]*x[1] + 0.4*x[5]
		if x[6] > 5 {
			z += 0.8
		}
		z += 0.5*math.Log1p(x[7]) + 0.01*x[8] - 1 + eff0[c0] + eff1[c1]
		// missing values: x1 5 %, x7 10 %, c1 3 %; x1 missing carries signal
		if r.Float64() < 0.05 {
			x[1] = math.NaN()
			z += 0.5
		}
		if r.Float64() < 0.10 {
			x[7] = math.NaN()
		}
		c1s := fmt.Sprintf("k%02d", c1)
		if r.Float64() < 0.03 {
			c1s = ""
		}
		y := 0
		if r.Float64() < sigmoid(z) {
			y = 1
		}
		buf = buf[:0]
		for j := range x {
			buf = append(buf, num(x[j])...)
			buf = append(buf, ',')
		}
		buf = append(buf, fmt.Sprintf("g%d,%s,%d\n", c0, c1s, y)...)
		w := ws[0]
		if i >= ntr {
			w = ws[1]
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	for k := range ws {
		if err := ws[k].Flush(); err != nil {
			return err
		}
		if err := files[k].Close(); err != nil {
			return err
		}
	}
	return nil
}

// ---- reading a table ----

type table struct {
	header []string
	rows   [][]string
}

func readCSV(path string, sep rune) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	cr.Comma = sep
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, err
	}
	t := &table{header: header}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		t.rows = append(t.rows, rec)
	}
	return t, nil
}

type column struct {
	name  string
	j     int // index in the CSV
	cats  []string
	code  map[string]int
	mean  float64 // numeric: training mean (logistic imputation)
	isCat bool
}

// schema infers the columns from the training table.
func schema(t *table, target string) ([]column, int, error) {
	tj := -1
	var cols []column
	for j, name := range t.header {
		if name == target {
			tj = j
			continue
		}
		c := column{name: name, j: j}
		var s float64
		var n int
		for _, r := range t.rows {
			if r[j] == "" {
				continue
			}
			v, err := strconv.ParseFloat(r[j], 64)
			if err != nil {
				c.isCat = true
				break
			}
			s += v
			n++
		}
		if c.isCat {
			set := map[string]bool{}
			for _, r := range t.rows {
				if r[j] != "" {
					set[r[j]] = true
				}
			}
			for v := range set {
				c.cats = append(c.cats, v)
			}
			sort.Strings(c.cats)
			c.code = map[string]int{}
			for k, v := range c.cats {
				c.code[v] = k
			}
		} else if n > 0 {
			c.mean = s / float64(n)
		}
		cols = append(cols, c)
	}
	if tj < 0 {
		return nil, 0, fmt.Errorf("no target column %q", target)
	}
	return cols, tj, nil
}

// raw is the gbdt input: numbers and category codes, NaN when missing.
func raw(t *table, cols []column) [][]float64 {
	X := make([][]float64, len(t.rows))
	flat := make([]float64, len(t.rows)*len(cols))
	for i, r := range t.rows {
		x := flat[i*len(cols) : (i+1)*len(cols) : (i+1)*len(cols)]
		for k, c := range cols {
			s := r[c.j]
			x[k] = math.NaN()
			if s == "" {
				continue
			}
			if c.isCat {
				if code, ok := c.code[s]; ok {
					x[k] = float64(code)
				}
			} else if v, err := strconv.ParseFloat(s, 64); err == nil {
				x[k] = v
			}
		}
		X[i] = x
	}
	return X
}

// design is the logistic input: imputed numbers, then one-hot categories.
func design(X [][]float64, cols []column) ([]string, [][]float64) {
	var names []string
	for _, c := range cols {
		if !c.isCat {
			names = append(names, c.name)
		}
	}
	for _, c := range cols {
		for _, v := range c.cats {
			names = append(names, c.name+"="+v)
		}
	}
	d := len(names)
	D := make([][]float64, len(X))
	flat := make([]float64, len(X)*d)
	for i, x := range X {
		row := flat[i*d : (i+1)*d : (i+1)*d]
		k := 0
		for j, c := range cols {
			if !c.isCat {
				row[k] = x[j]
				if math.IsNaN(x[j]) {
					row[k] = c.mean
				}
				k++
			}
		}
		for j, c := range cols {
			if c.isCat {
				if !math.IsNaN(x[j]) {
					row[k+int(x[j])] = 1
				}
				k += len(c.cats)
			}
		}
		D[i] = row
	}
	return names, D
}

func labels(t *table, tj int, positive string) []float64 {
	y := make([]float64, len(t.rows))
	for i, r := range t.rows {
		if r[tj] == positive {
			y[i] = 1
		}
	}
	return y
}

func fit(args []string) error {
	fs := flag.NewFlagSet("fit", flag.ExitOnError)
	trainPath := fs.String("train", "", "training CSV")
	testPath := fs.String("test", "", "test CSV")
	sep := fs.String("sep", ",", "field separator")
	target := fs.String("target", "y", "target column")
	positive := fs.String("positive", "1", "positive target value")
	learner := fs.String("learner", "gbdt", "gbdt or logistic")
	trees := fs.Int("trees", 100, "gbdt: trees")
	leaves := fs.Int("leaves", 31, "gbdt: leaves per tree")
	lr := fs.Float64("lr", 0.1, "gbdt: learning rate")
	minLeaf := fs.Int("min-samples-leaf", 20, "gbdt: min samples per leaf")
	workers := fs.Int("workers", 1, "gbdt: histogram workers")
	l2 := fs.Float64("l2", 1, "logistic: L2 penalty (1/C)")
	runs := fs.Int("runs", 3, "fits to time")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the fits to this file")
	fs.Parse(args)
	if len(*sep) != 1 {
		return fmt.Errorf("-sep must be one character")
	}
	tr, err := readCSV(*trainPath, rune((*sep)[0]))
	if err != nil {
		return err
	}
	te, err := readCSV(*testPath, rune((*sep)[0]))
	if err != nil {
		return err
	}
	cols, tj, err := schema(tr, *target)
	if err != nil {
		return err
	}
	Xtr, Xte := raw(tr, cols), raw(te, cols)
	ytr, yte := labels(tr, tj, *positive), labels(te, tj, *positive)
	tr, te = nil, nil
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var times, cpus []float64 // wall and CPU (user+system) seconds of each fit
	var pred []float64
	out := map[string]any{"rows_train": len(Xtr), "rows_test": len(Xte)}
	switch *learner {
	case "gbdt":
		feats := make([]gbdt.Feature, len(cols))
		for k, c := range cols {
			feats[k] = gbdt.Feature{Name: c.name, Type: gbdt.Numeric}
			if c.isCat {
				feats[k] = gbdt.Feature{Name: c.name, Type: gbdt.Categorical, Categories: c.cats}
			}
		}
		p := gbdt.DefaultParams()
		p.Loss, p.Trees, p.MaxLeaves, p.LearningRate, p.MinSamplesLeaf, p.Workers = gbdt.LogLoss, *trees, *leaves, *lr, *minLeaf, *workers
		var m *gbdt.Model
		for range *runs {
			start, c := time.Now(), cpuSeconds()
			m, err = gbdt.Fit(feats, Xtr, ytr, p)
			if err != nil {
				return err
			}
			times, cpus = append(times, time.Since(start).Seconds()), append(cpus, cpuSeconds()-c)
		}
		if pred, err = m.PredictBatch(Xte); err != nil {
			return err
		}
		out["learner"] = fmt.Sprintf("hygie gbdt (trees %d, leaves %d, lr %g, workers %d)", *trees, *leaves, *lr, *workers)
	case "logistic":
		names, Dtr := design(Xtr, cols)
		_, Dte := design(Xte, cols)
		p := logistic.DefaultParams()
		p.L2 = *l2
		var m *logistic.Model
		for range *runs {
			start, c := time.Now(), cpuSeconds()
			m, err = logistic.Fit(names, Dtr, ytr, p)
			if err != nil {
				return err
			}
			times, cpus = append(times, time.Since(start).Seconds()), append(cpus, cpuSeconds()-c)
		}
		pred = make([]float64, len(Dte))
		for i, x := range Dte {
			if pred[i], err = m.Predict(x); err != nil {
				return err
			}
		}
		out["learner"] = fmt.Sprintf("hygie logistic (Newton, l2 %g)", *l2)
		out["features"] = len(names)
		out["n_iter"] = m.Iterations
	default:
		return fmt.Errorf("unknown learner %q", *learner)
	}
	auc, err := learn.ROCAUC(yte, pred)
	if err != nil {
		return err
	}
	out["auc"] = auc
	out["fit_seconds"], out["fit_seconds_median"] = times, median(times)
	out["fit_cpu_seconds"], out["fit_cpu_seconds_median"] = cpus, median(cpus)
	return json.NewEncoder(os.Stdout).Encode(out)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// cpuSeconds is the user and system CPU time of the process so far: on a
// shared machine it varies less than the wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
