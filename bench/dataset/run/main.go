// Command run is hygie's side of the dataset benchmark (see ../compare.sh):
// it imports a CSV file as a dataset version (SQLite metadata, local blob
// store, in a temporary directory), then makes one pass per numeric column
// computing what pandas' DataFrame.describe() does (count, mean, std, min,
// quartiles, max), and prints the timings as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/keys"
	"github.com/hygie-health/hygie/internal/project"
)

func main() {
	csvPath := flag.String("csv", "", "CSV file to import")
	level := flag.String("level", "pseudonymized", "privacy level of the version (identifying: encrypted at rest)")
	describe := flag.Bool("describe", true, "describe the numeric columns after the import")
	show := flag.Bool("show", false, "print the description")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*csvPath, dataset.Level(*level), *describe, *show); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(csvPath string, level dataset.Level, describe, show bool) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hygie-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d, err := db.OpenSQLite(ctx, filepath.Join(dir, "hygie.db"))
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	blobs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	kr, err := keys.New(keys.Random())
	if err != nil {
		return err
	}
	al := audit.New(d)
	admin := audit.WithActor(ctx, "admin")
	if _, err := project.NewService(d, al).Create(admin, "bench", "", ""); err != nil {
		return err
	}
	u, err := auth.NewService(d, al).CreateUser(admin, "bench", "", "", false)
	if err != nil {
		return err
	}
	ctx = auth.WithPrincipal(ctx, &auth.Principal{UserID: u.ID, Username: "bench", Roles: map[string][]auth.Role{"bench": {auth.RoleSteward}}})
	ds := dataset.NewService(d, blobs, kr, al)

	start := time.Now()
	res, err := ds.Import(ctx, dataset.File(csvPath, "csv"), dataset.ImportOptions{Project: "bench", Dataset: "bench", Level: level})
	if err != nil {
		return err
	}
	importTime := time.Since(start)
	fi, _ := os.Stat(csvPath)
	var stored int64
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if i, err := e.Info(); err == nil {
				stored += i.Size()
			}
		}
		return nil
	})
	out := map[string]any{
		"rows": res.Version.Rows, "columns": len(res.Version.Columns), "csv_bytes": fi.Size(), "stored_bytes": stored,
		"import_seconds": importTime.Seconds(), "gomaxprocs": runtime.GOMAXPROCS(0),
	}
	if res.Dialect != nil {
		out["dialect"] = res.Dialect
	}
	if describe {
		start = time.Now()
		desc, err := describeNumeric(ctx, ds, res.Version)
		if err != nil {
			return err
		}
		out["describe_seconds"] = time.Since(start).Seconds()
		out["described_columns"] = len(desc)
		if show {
			out["describe"] = desc
		}
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	return nil
}

// stats is one column of DataFrame.describe().
type stats struct {
	Column                          string
	Count                           int
	Mean, Std, Min, Q1, Q2, Q3, Max float64
}

// describeNumeric reads the integer and float columns one at a time (Parquet
// reads only that column) and describes each.
func describeNumeric(ctx context.Context, ds *dataset.Service, v dataset.Version) ([]stats, error) {
	var out []stats
	xs := make([]float64, 0, v.Rows)
	for _, c := range v.Columns {
		if c.Type != dataset.TypeInteger && c.Type != dataset.TypeFloat {
			continue
		}
		xs = xs[:0]
		err := ds.Scan(ctx, v, []string{c.Name}, func(f *dataset.Frame) error {
			vec := f.Vecs[0]
			for i := range vec.Len() {
				if x, ok := vec.Float(i); ok {
					xs = append(xs, x)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, describe(c.Name, xs))
	}
	return out, nil
}

func describe(name string, xs []float64) stats {
	s := stats{Column: name, Count: len(xs)}
	if len(xs) == 0 {
		return s
	}
	// Two passes: the mean, then the squared deviations.
	var sum float64
	s.Min, s.Max = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		sum += x
		s.Min = min(s.Min, x)
		s.Max = max(s.Max, x)
	}
	s.Mean = sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		d := x - s.Mean
		ss += d * d
	}
	if len(xs) > 1 {
		s.Std = math.Sqrt(ss / float64(len(xs)-1))
	}
	// Quartiles as numpy's default (linear) quantiles: the median first,
	// then the others within each half.
	n := len(xs)
	pos := func(q float64) (int, float64) {
		p := q * float64(n-1)
		return int(p), p - math.Floor(p)
	}
	k2, f2 := pos(0.5)
	selectK(xs, k2)
	s.Q2 = interpolate(xs, k2, f2)
	k1, f1 := pos(0.25)
	selectK(xs[:k2+1], k1)
	s.Q1 = interpolate(xs[:k2+1], k1, f1)
	k3, f3 := pos(0.75)
	selectK(xs[k2:], k3-k2)
	s.Q3 = interpolate(xs[k2:], k3-k2, f3)
	return s
}

// interpolate returns xs[k] + f × (next value − xs[k]), xs being partitioned
// around k.
func interpolate(xs []float64, k int, f float64) float64 {
	if f == 0 || k+1 >= len(xs) {
		return xs[k]
	}
	next := math.Inf(1)
	for _, x := range xs[k+1:] {
		next = min(next, x)
	}
	return xs[k] + (next-xs[k])*f
}

// selectK puts the k-th smallest value at xs[k] (quickselect) and returns it.
func selectK(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three as the pivot.
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		p := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < p {
				i++
			}
			for xs[j] > p {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}
